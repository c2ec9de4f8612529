//! The gate: the image's severity threshold, and the comparison with the
//! last promoted image (a new finding at or above a severity, or any
//! increase). A failure blocks the image with reasons a person can act on.

use crate::image::ImageCx;
use crate::steps::Stop;
use crate::steps::scan::Scanned;

/// The step.
pub fn run(cx: &ImageCx<'_>, s: &Scanned) -> Result<(), Stop> {
    let d = scan::gate::evaluate(&cx.spec.gate, &s.findings, s.baseline.as_ref());
    if d.failed {
        Err(Stop::Blocked(d.reasons))
    } else {
        Ok(())
    }
}
