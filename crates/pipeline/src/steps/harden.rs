//! Harden (`[image.harden]`): the built image made minimal and non-root by
//! the `harden` crate, its smoke checks run in the hardened root. Push,
//! scan, gate and tags see only the hardened image. A failing smoke check
//! blocks the image (it would not run); anything else that stops hardening
//! fails the image at this step.

use std::path::PathBuf;
use std::time::Duration;

use model::{Hardening, Step};
use oci::Platform;

use crate::config::HardenSpec;
use crate::cx::ImageCx;
use crate::engine::Built;
use crate::steps::{StepError, Stop};

/// The hardened image, and its `-debug` sibling when asked for.
#[derive(Debug)]
pub struct Hardened {
    /// The hardened image's layout (what gets pushed and scanned).
    pub built: Built,
    /// The `-debug` sibling's layout.
    pub debug: Option<PathBuf>,
    /// Sizes and what was kept.
    pub summary: Hardening,
}

/// The step.
pub fn run(
    cx: &ImageCx<'_>,
    spec: &HardenSpec,
    built: &Built,
    platform: &Platform,
) -> Result<Hardened, Stop> {
    let fail = |e: StepError| Stop::Failed(Step::Harden, Box::new(e));
    let src = oci::Source::OciLayout {
        dir: built.layout.clone(),
        tag: None,
    };
    let opts = oci::Options {
        platform: platform.clone(),
        ..Default::default()
    };
    let a = harden::analyze(&src, &opts).map_err(|e| fail(StepError::Analyze(e)))?;
    let busybox = if spec.debug_variant {
        Some(harden::read_busybox(&spec.busybox, platform).map_err(|e| fail(e.into()))?)
    } else {
        None
    };
    let options = harden::Options {
        spec: harden::Spec {
            entrypoint: spec.entrypoint.clone(),
            keep: spec.keep.clone(),
            user: spec.user.clone(),
            env: Vec::new(),
        },
        checks: spec.checks.clone(),
        check_timeout: Duration::from_secs(spec.check_timeout),
        busybox,
    };
    let slug: String = platform
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let dir = cx.work.join(format!("harden-{slug}"));
    let layout = dir.join("layout");
    let debug_layout = dir.join("debug");
    let h = match harden::harden(&a, None, &options, &layout, "latest", Some(&debug_layout)) {
        Ok(h) => h,
        Err(e @ harden::HardenError::Check { .. }) => {
            return Err(Stop::Blocked(vec![format!(
                "hardened image ({platform}) failed its smoke check: {e}"
            )]));
        }
        Err(e) => return Err(fail(e.into())),
    };
    let r = &h.report;
    Ok(Hardened {
        built: Built {
            layout,
            seconds: 0.0,
        },
        debug: h.debug_digest.as_ref().map(|_| debug_layout),
        summary: Hardening {
            before_compressed: r.before.compressed,
            after_compressed: r.after.compressed,
            before_uncompressed: r.before.uncompressed,
            after_uncompressed: r.after.uncompressed,
            files: r.files,
            packages: r.packages.len(),
            checks: r.checks.iter().map(|(c, _)| c.clone()).collect(),
            debug_digest: None,
        },
    })
}
