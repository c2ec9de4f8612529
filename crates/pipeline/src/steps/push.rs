//! Push the built layouts by digest: blobs and manifests, no tag; for
//! several platforms, then an OCI image index over their manifests (with
//! their platforms), also by digest. The image exists in the registry from
//! here on, but nothing points at it until promotion.

use oci::{Digest, Platform};

use crate::cx::ImageCx;
use crate::engine::Built;
use crate::steps::StepError;

/// The index over per-platform manifests, pushed by digest.
pub fn index(cx: &ImageCx<'_>, manifests: &[(Platform, Digest)]) -> Result<Digest, StepError> {
    let repo = &cx.spec.repository;
    let err = |source| StepError::Push {
        repository: repo.clone(),
        source,
    };
    let mut entries = Vec::new();
    for (p, d) in manifests {
        let m = cx.registry.describe(repo, d).map_err(err)?;
        entries.push((d.clone(), m.size, m.media_type, p.clone()));
    }
    let bytes = oci::write::index_json(&entries);
    cx.registry
        .push_manifest(repo, &bytes, oci::write::media::INDEX)
        .map_err(err)
}

/// The step.
pub fn run(cx: &ImageCx<'_>, built: &Built) -> Result<Digest, StepError> {
    cx.registry
        .push_layout(&cx.spec.repository, &built.layout)
        .map_err(|source| StepError::Push {
            repository: cx.spec.repository.clone(),
            source,
        })
}
