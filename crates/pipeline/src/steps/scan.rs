//! Inventory and match the built image, read from the same layout bytes
//! that were pushed, and judge it (`scan::session`): the ignore rules and
//! VEX statements, the comparison with the last promoted image's findings,
//! and the image's gate.

use std::collections::BTreeMap;

use oci::Digest;
use scan::Finding;
use scan::baseline::Diff;
use vulndb::Severity;

use crate::cx::ImageCx;
use crate::engine::Built;
use crate::steps::StepError;

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
    /// Why the gate blocks this platform (empty: it passes).
    pub reasons: Vec<String>,
    /// The inventory, as JSON (kept with a promotion for `rematch`).
    pub inventory: String,
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
    let inv = inventory::inventory(&source, &opts, &|_| {})?.inventory;
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
    let m = cx.advisories.matches(&inv, cx.scan_opts)?;
    let inventory = serde_json::to_string(&inv).expect("an inventory serialises");
    let subject = format!(
        "{}/{}@{digest}",
        cx.spec.repository.registry(),
        cx.spec.repository.repository()
    );
    let digest = digest.to_string();
    let today = cx.today.date();
    let j = scan::session::judge(
        m,
        &scan::session::Judging {
            rules: &cx.suppress.rules,
            vex: &cx.suppress.vex,
            today: &today,
            subject: &subject,
            digest: Some(&digest),
            baseline: cx
                .history
                .promoted
                .as_ref()
                .and_then(|p| p.findings_for(platform))
                .map(Vec::as_slice),
            gate: &cx.spec.gate,
        },
    );
    Ok(Scanned {
        findings: j.findings,
        counts: j.counts,
        fixable: j.fixable,
        baseline: j.baseline,
        reasons: if j.decision.failed {
            j.decision.reasons
        } else {
            Vec::new()
        },
        inventory,
    })
}
