//! One image's security report for its consumers (`safeimage report
//! image`), assembled from the store: the promotion (digest, platforms,
//! bases), the kept inventories (packages per type), the findings the
//! promoted image carries with their deadlines and justifications, and the
//! image's audit trail, verified. Reads only.

use std::collections::BTreeMap;

use model::Timestamp;
use model::dossier::{Dossier, DossierFinding, TrailEntry};

/// The report of `image` (a fleet image name), or `None` when it was never
/// promoted.
pub fn dossier(
    image: &str,
    repository: &str,
    store: &dyn store::StateStore,
    sla: &store::sla::Sla,
    now: Timestamp,
) -> Result<Option<Dossier>, store::StoreError> {
    let Some(p) = store.history(&image.into(), None)?.promoted else {
        return Ok(None);
    };
    let mut packages: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for k in store
        .promoted_inventories()?
        .into_iter()
        .filter(|k| k.image == image)
    {
        let counts = packages.entry(k.platform.clone()).or_default();
        match serde_json::from_str::<inventory::Inventory>(&k.inventory) {
            Ok(inv) => {
                for pkg in &inv.packages {
                    *counts.entry(pkg.kind.as_str().to_string()).or_default() += 1;
                }
            }
            Err(e) => {
                counts.insert(format!("(unreadable kept inventory: {e})"), 0);
            }
        }
    }
    let mut findings: Vec<DossierFinding> = store
        .tracked(Some(image), false)?
        .into_iter()
        .map(|t| DossierFinding {
            deadline: sla.deadline(&t),
            finding: t,
        })
        .collect();
    let rank = |s: &str| {
        ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
            .iter()
            .position(|x| *x == s)
            .unwrap_or(5)
    };
    findings.sort_by(|a, b| {
        rank(&a.finding.severity)
            .cmp(&rank(&b.finding.severity))
            .then_with(|| a.finding.key().cmp(&b.finding.key()))
    });
    let mut trail = Vec::new();
    let mut signed = Vec::new();
    let mut hardened = BTreeMap::new();
    let mut trail_problems = Vec::new();
    for v in store::verify(store, None)?
        .into_iter()
        .filter(|v| v.image == image)
    {
        trail_problems.extend(v.problems.iter().map(|p| p.message.clone()));
    }
    for log in store.audit_logs()?.into_iter().filter(|l| l.image == image) {
        for r in &log.chain.records {
            let s = |k: &str| {
                r.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            // the record that promoted this digest says what was attached
            if s("outcome") == "promoted" && s("digest") == p.digest.to_string() {
                signed = r
                    .get("signed")
                    .and_then(|v| v.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                hardened = r
                    .get("hardened")
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default();
            }
            trail.push(TrailEntry {
                time: s("time"),
                // a decision's outcome, or an event (`ignored` through serve)
                outcome: Some(s("outcome"))
                    .filter(|o| !o.is_empty())
                    .unwrap_or_else(|| s("event")),
                digest: s("digest"),
                tags: r
                    .get("tags")
                    .and_then(|v| v.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
    }
    Ok(Some(Dossier {
        image: image.to_string(),
        repository: repository.to_string(),
        created: now,
        digest: p.digest.to_string(),
        platforms: p
            .platforms
            .iter()
            .map(|x| (x.platform.to_string(), x.digest.to_string()))
            .collect(),
        bases: p
            .bases
            .iter()
            .map(|b| (b.reference.to_string(), b.digest.to_string()))
            .collect(),
        packages,
        findings,
        trail,
        trail_problems,
        signed,
        hardened,
        verified: None,
    }))
}

/// Checks the promoted digest's signatures and attestations in the
/// registry with `keys`, requiring every attestation its promotion record
/// says was attached; the report states what holds, or why not.
pub fn verify_in_registry(
    d: &mut Dossier,
    repository: &oci::ImageRef,
    opts: &oci::source::RegistryOptions,
    keys: &[provenance::keys::PublicKey],
) {
    let req = provenance::verify::Requirements {
        attestations: d
            .signed
            .iter()
            .filter(|s| *s != "signature")
            // `TYPE (PLATFORM)` for an index's platforms
            .map(|s| s.split(" (").next().unwrap_or(s).to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        ..Default::default()
    };
    let checked = (|| -> Result<provenance::verify::Report, String> {
        let digest: oci::Digest = d.digest.parse().map_err(|e| format!("{e}"))?;
        let repo = oci::push::Repo::connect(repository, opts).map_err(|e| e.to_string())?;
        provenance::verify::verify(&repo, &repository.full_name(), &digest, keys, &req)
            .map_err(|e| e.to_string())
    })();
    d.verified = Some(match checked {
        Ok(r) => model::dossier::Verified {
            signatures: r
                .signatures
                .iter()
                .map(|s| {
                    format!(
                        "{} (key {}, SHA-256 {})",
                        s.source,
                        s.key,
                        s.fingerprint.get(..16).unwrap_or(&s.fingerprint)
                    )
                })
                .collect(),
            attestations: r
                .attestations
                .iter()
                .map(|a| a.predicate_type.clone())
                .collect(),
            failure: r.failure(&req).map(|f| r.message(&f)),
        },
        Err(e) => model::dossier::Verified {
            failure: Some(e),
            ..Default::default()
        },
    });
}

/// The report could not be printed.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// No Chromium on `PATH`.
    #[error("a PDF is printed with headless Chromium: install chromium")]
    NoChromium,
    /// A file could not be written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Chromium ran and printed nothing.
    #[error("headless Chromium did not print {0}")]
    NotPrinted(String),
}

/// Prints `html` (our own page: it runs no script, its CSP forbids any) to
/// the PDF `out` with headless Chromium's print-to-PDF.
pub fn print_pdf(html: &str, out: &std::path::Path) -> Result<(), PdfError> {
    let page = tempfile::Builder::new()
        .prefix(".safeimage-report-")
        .suffix(".html")
        .tempfile()?;
    std::fs::write(page.path(), html)?;
    let bin = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find_map(settings::env::on_path)
        .ok_or(PdfError::NoChromium)?;
    let profile = tempfile::tempdir()?;
    let dest = std::path::absolute(out)?;
    let status = std::process::Command::new(bin)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--no-pdf-header-footer",
        ])
        // as root Chromium refuses its own sandbox; the page is ours and
        // runs no script
        .arg("--no-sandbox")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--print-to-pdf={}", dest.display()))
        .arg(format!("file://{}", page.path().display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()?;
    if status.success() && dest.is_file() {
        Ok(())
    } else {
        Err(PdfError::NotPrinted(dest.display().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::StateStore as _;

    #[test]
    fn the_promotion_record_says_what_was_signed_and_what_hardening_did() {
        let mut s = store::MemoryStore::new();
        let t0 = Timestamp(1_795_478_400);
        let run = s.begin_run(t0, "f", &"".into()).unwrap();
        let mut o = model::ImageOutcome::new("app", &"r.example/app".parse().unwrap(), None);
        o.outcome = model::Outcome::Promoted;
        let digest: oci::Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        o.digest = Some(digest.clone());
        o.signed = vec!["signature".into(), "https://slsa.dev/provenance/v1".into()];
        o.platforms = vec![model::PlatformOutcome {
            platform: "linux/amd64".parse().unwrap(),
            digest: Some(digest),
            rebuilt: true,
            counts: Default::default(),
            fixable: 0,
            baseline: None,
            reasons: vec![],
            findings: vec![],
            hardened: Some(model::Hardening {
                before_compressed: 1000,
                after_compressed: 250,
                files: 40,
                packages: 5,
                checks: vec!["starts".into()],
                ..Default::default()
            }),
            inventory: None,
            eol: Vec::new(),
        }];
        s.decide(&store::Decision {
            run,
            time: t0,
            outcome: &o,
            version: None,
        })
        .unwrap();
        let d = dossier("app", "r.example/app", &s, &store::sla::Sla::default(), t0)
            .unwrap()
            .unwrap();
        assert_eq!(d.signed, ["signature", "https://slsa.dev/provenance/v1"]);
        let h = &d.hardened["linux/amd64"];
        assert_eq!(
            (h.before_compressed, h.after_compressed, h.files),
            (1000, 250, 40)
        );
        assert!(d.trail_problems.is_empty(), "{:?}", d.trail_problems);
    }
}
