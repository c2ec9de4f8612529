//! Inventory and match the built image, read from the same layout bytes
//! that were pushed; then the ignore rules and VEX statements, and the
//! comparison with the last promoted image's findings.

use std::collections::BTreeMap;

use oci::Digest;
use scan::Finding;
use scan::baseline::Diff;
use vulndb::Severity;

use crate::engine::Built;
use crate::image::ImageCx;
use crate::steps::StepError;

/// Counted findings by severity and how many have a fix.
pub fn counts(findings: &[Finding]) -> (BTreeMap<Severity, usize>, usize) {
    let counted: Vec<&Finding> = findings.iter().filter(|f| f.suppressed.is_none()).collect();
    let counts = Severity::ALL
        .iter()
        .map(|s| (*s, counted.iter().filter(|f| f.severity == *s).count()))
        .collect();
    (counts, counted.iter().filter(|f| f.has_fix()).count())
}

/// What the scan found.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// Findings (suppressed ones marked).
    pub findings: Vec<Finding>,
    /// Counted findings by severity.
    pub counts: BTreeMap<Severity, usize>,
    /// Counted findings with a fix.
    pub fixable: usize,
    /// Against the last promoted image.
    pub baseline: Option<Diff>,
}

/// The step, for one platform's build.
pub fn run(
    cx: &ImageCx<'_>,
    built: &Built,
    digest: &Digest,
    platform: &oci::Platform,
) -> Result<Scanned, StepError> {
    let source = oci::Source::OciLayout {
        dir: built.layout.clone(),
        tag: Some("latest".into()),
    };
    let opts = oci::Options {
        cache_dir: cx.cache_dir.clone(),
        platform: platform.clone(),
        // our own build, about to be pushed: its config must match its layers
        verify_diff_ids: true,
        ..Default::default()
    };
    let want = oci::Want {
        select: inventory::select(),
        key: inventory::CATALOGER_VERSION,
    };
    let analysis = oci::analyze(&source, &opts, &want, &|_| {})?;
    let inv = inventory::catalog(&analysis);
    if cx.signer.is_some() {
        // Kept for the signed SBOM attachment.
        let subject = inventory::sbom::Subject {
            name: cx.spec.repository.full_name(),
            digest: Some(digest.to_string()),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            created: cx.today.to_string(),
        };
        let bom = serde_json::to_vec(&inventory::sbom::cyclonedx(&inv, &subject))
            .expect("an SBOM serialises");
        let file = crate::steps::provenance::sbom_file(cx, platform);
        std::fs::write(&file, bom).map_err(|source| StepError::Work { path: file, source })?;
    }
    let mut m = cx.advisories.matches(&inv, cx.scan_opts)?;
    scan::suppress::apply_rules(&mut m.findings, &cx.suppress.rules, &cx.today.date());
    let full = format!(
        "{}/{}@{digest}",
        cx.spec.repository.registry(),
        cx.spec.repository.repository()
    );
    scan::suppress::apply_vex(
        &mut m.findings,
        &cx.suppress.vex,
        &full,
        Some(&digest.to_string()),
    );
    let (counts, fixable) = counts(&m.findings);
    let baseline = cx
        .history
        .promoted
        .as_ref()
        .and_then(|p| p.findings_for(platform))
        .map(|before| scan::baseline::diff(&m.findings, before));
    Ok(Scanned {
        findings: m.findings,
        counts,
        fixable,
        baseline,
    })
}
