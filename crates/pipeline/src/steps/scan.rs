//! Inventory and match the built image, read from the same layout bytes
//! that were pushed, and judge it (`scan::session`): the ignore rules and
//! VEX statements, the comparison with the last promoted image's findings,
//! and the image's gate.

use std::collections::BTreeMap;

use oci::Digest;
use scan::Finding;
use scan::baseline::Diff;
use vulndb::Severity;

use inventory::attribution::{Attribution, BaseImage};

use crate::cx::ImageCx;
use crate::engine::Built;
use crate::steps::StepError;
use crate::steps::dockerfile::Dockerfile;
use crate::steps::resolve::Resolved;

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
    /// Which layers are the base's, which instructions made the others.
    pub attribution: Attribution,
    /// Where its distribution release and runtimes stand (end of life).
    pub eol: Vec<vulndb::feed::eol::EolStatus>,
}

/// The layers of the build told as base or the image's own, and traced to
/// the Dockerfile's lines (per-instruction layers: BuildKit, podman; a
/// buildah build is one layer, told apart from the base only). The base's
/// layers come from the registry by the digest the build was pinned to;
/// what cannot be told is said in the attribution's notes, never an error.
fn attribution(
    cx: &ImageCx<'_>,
    image: &oci::Image,
    df: &Dockerfile,
    resolved: &Resolved,
    platform: &oci::Platform,
) -> Attribution {
    let (steps, from) =
        match crate::attribution::dockerfile_steps(&df.src, &df.args, cx.spec.target.as_deref()) {
            Ok(x) => x,
            Err(e) => {
                return Attribution {
                    notes: vec![format!(
                        "the Dockerfile could not be read for attribution: {e}"
                    )],
                    ..Default::default()
                };
            }
        };
    let mut notes = Vec::new();
    let base = from.and_then(|r| {
        let b = resolved.bases.iter().find(|b| {
            b.kind == dockerfile::BaseRefKind::From && b.reference.to_string() == r.to_string()
        })?;
        let d = b
            .platforms
            .iter()
            .find(|p| p.platform == *platform)
            .map_or(&b.digest, |p| &p.digest);
        match cx.registry.diff_ids(&b.reference, d) {
            Ok(ids) => Some(BaseImage {
                name: format!("{}@{d}", b.reference.full_name()),
                diff_ids: ids.iter().map(ToString::to_string).collect(),
            }),
            Err(e) => {
                notes.push(format!("the base {} could not be read: {e}", b.reference));
                None
            }
        }
    });
    let mut a = crate::attribution::attribute_with(image, base.as_ref(), Some(&steps));
    if !a.knows_base() {
        a.notes.extend(notes);
    }
    a
}

/// The step, for one platform's build.
pub fn run(
    cx: &ImageCx<'_>,
    built: &Built,
    df: &Dockerfile,
    resolved: &Resolved,
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
    let done = inventory::inventory(&source, &opts, &|_| {})?;
    let inv = done.inventory;
    let attribution = attribution(cx, &done.image, df, resolved, platform);
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
    scan::attribute(&mut m.findings, &attribution);
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
    let eol = cx.advisories.eol(&inv, &today)?;
    let mut reasons = if j.decision.failed {
        j.decision.reasons
    } else {
        Vec::new()
    };
    if let Some(days) = cx.spec.gate.block_on_eol_days {
        reasons.extend(
            scan::eol::blocking(&eol, days)
                .into_iter()
                .map(|r| format!("{r} (block_on_eol_days = {days})")),
        );
    }
    Ok(Scanned {
        findings: j.findings,
        counts: j.counts,
        fixable: j.fixable,
        baseline: j.baseline,
        reasons,
        inventory,
        attribution,
        eol,
    })
}
