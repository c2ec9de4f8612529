//! Push the built layout by digest: blobs and the manifest, no tag. The
//! image exists in the registry from here on, but nothing points at it
//! until promotion.

use oci::Digest;

use crate::engine::Built;
use crate::image::ImageCx;
use crate::steps::StepError;

/// The step.
pub fn run(cx: &ImageCx<'_>, built: &Built) -> Result<Digest, StepError> {
    cx.registry
        .push_layout(&cx.spec.repository, &built.layout)
        .map_err(|source| StepError::Push {
            repository: cx.spec.repository.clone(),
            source,
        })
}
