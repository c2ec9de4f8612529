//! The gate, per platform: the image's severity threshold, and the
//! comparison with the last promoted build of that platform (a new finding
//! at or above a severity, or any increase). One failing platform blocks
//! the whole image, with reasons a person can act on (prefixed with the
//! platform when there are several).

use model::PlatformOutcome;

use crate::cx::ImageCx;
use crate::steps::Stop;

/// Gate findings reused from the last promotion (a rebuilt platform is
/// gated when it is judged, in the scan step): the reasons, empty when
/// they pass.
pub fn evaluate(cx: &ImageCx<'_>, findings: &[scan::Finding]) -> Vec<String> {
    let d = scan::gate::evaluate(&cx.spec.gate, findings, None);
    if d.failed { d.reasons } else { Vec::new() }
}

/// `[gate] block_on_overdue`: each platform's findings that are still
/// there and already past their `[sla]` deadline become reasons.
pub fn overdue(overdue: &[model::tracked::Overdue], platforms: &mut [PlatformOutcome]) {
    for p in platforms {
        let name = p.platform.to_string();
        let mut hits: Vec<String> = overdue
            .iter()
            .filter(|o| o.finding.platform == name || o.finding.platform == "*")
            .filter(|o| {
                p.findings.iter().any(|f| {
                    f.id.to_string() == o.finding.advisory
                        && format!("{}/{}", f.package.kind, f.package.name) == o.finding.package
                })
            })
            .map(|o| {
                format!(
                    "{} {} in {} is past its patch deadline ({})",
                    o.finding.severity, o.finding.advisory, o.finding.package, o.deadline
                )
            })
            .collect();
        hits.sort();
        hits.dedup();
        p.reasons.extend(hits);
    }
}

/// The step: blocks when any platform's gate fails.
pub fn run(platforms: &[PlatformOutcome]) -> Result<(), Stop> {
    let several = platforms.len() > 1;
    let reasons: Vec<String> = platforms
        .iter()
        .flat_map(|p| {
            p.reasons.iter().map(move |r| {
                if several {
                    format!("{}: {r}", p.platform)
                } else {
                    r.clone()
                }
            })
        })
        .collect();
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Stop::Blocked(reasons))
    }
}
