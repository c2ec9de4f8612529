//! One image's security report for its consumers, as a self-contained
//! HTML page (print-ready; `safeimage report image -f pdf` prints it with
//! headless Chromium) or JSON. Everything from the image (names, advisory
//! text, justifications) is escaped; the page runs no script.

use model::dossier::Dossier;
use serde_json::json;

const HTML: &str = include_str!("../templates/dossier.html");

/// JSON.
pub fn json(d: &Dossier) -> String {
    serde_json::to_string_pretty(d).unwrap_or_default() + "\n"
}

/// The page.
pub fn html(d: &Dossier) -> String {
    let rows: Vec<serde_json::Value> = d
        .findings
        .iter()
        .map(|f| {
            let t = &f.finding;
            let mut reason = t.reason.clone().unwrap_or_default();
            if let Some(e) = &t.expires {
                reason.push_str(&format!(" (until {e})"));
            }
            if let Some(k) = &t.kev_due {
                reason.push_str(&format!(" KEV, CISA due {k}"));
            }
            json!({
                "severity": t.severity, "advisory": t.advisory, "package": t.package,
                "platform": t.platform, "state": t.state, "first_seen": t.first_seen.date(),
                "deadline": f.deadline.map_or("none".to_string(), |x| x.date()),
                "overdue": f.deadline.is_some_and(|x| x <= d.created),
                "reason": reason.trim(),
            })
        })
        .collect();
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    if env.add_template("dossier.html", HTML).is_err() {
        return String::new();
    }
    env.get_template("dossier.html")
        .and_then(|t| t.render(minijinja::value::Serde(&json!({"d": d, "rows": rows}))))
        .unwrap_or_else(|e| format!("<!doctype html><p>report template error: {e}</p>"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::Timestamp;
    use model::dossier::DossierFinding;
    use model::tracked::{TrackState, Tracked};

    #[test]
    fn the_page_lists_findings_with_deadlines_and_escapes_what_the_image_says() {
        let d = Dossier {
            image: "app".into(),
            repository: "r.example/app".into(),
            created: Timestamp(10 * 86_400),
            digest: "sha256:aa".into(),
            findings: vec![DossierFinding {
                finding: Tracked {
                    image: "app".into(),
                    platform: "linux/amd64".into(),
                    advisory: "CVE-1".into(),
                    package: "deb/<img src=x onerror=alert(1)>".into(),
                    occurrence: 1,
                    severity: "HIGH".into(),
                    state: TrackState::Ignored,
                    reason: Some("not reachable <b>".into()),
                    expires: Some("2027-01-01".into()),
                    first_seen: Timestamp(0),
                    last_seen: Timestamp(0),
                    fixed_at: None,
                    fix_available: None,
                    digest: "sha256:aa".into(),
                    kev_due: None,
                    notified_at: None,
                },
                deadline: Some(Timestamp(7 * 86_400)),
            }],
            ..Default::default()
        };
        let h = html(&d);
        assert!(!h.contains("<img"), "{h}");
        assert!(h.contains("&lt;img src=x"));
        assert!(
            h.contains("not reachable &lt;b&gt; (until 2027-01-01)"),
            "{h}"
        );
        assert!(h.contains("class=\"overdue\">1970-01-08"), "{h}");
        assert!(h.contains("none edited, removed or reordered"));
        assert!(h.contains("Nothing was signed at promotion.") && h.contains("Not hardened."));
        assert!(h.contains("Not verified by this report"));
    }

    #[test]
    fn signatures_verified_and_hardening_are_stated() {
        let d = Dossier {
            image: "app".into(),
            signed: vec!["signature".into(), "<sbom>".into()],
            hardened: [(
                "linux/amd64".to_string(),
                model::Hardening {
                    before_compressed: 900,
                    after_compressed: 300,
                    files: 12,
                    packages: 3,
                    checks: vec!["runs".into()],
                    ..Default::default()
                },
            )]
            .into(),
            verified: Some(model::dossier::Verified {
                signatures: vec!["registry key 0f00".into()],
                attestations: vec!["https://slsa.dev/provenance/v1".into()],
                failure: None,
            }),
            ..Default::default()
        };
        let h = html(&d);
        assert!(
            h.contains("Signed and attached at promotion: signature, &lt;sbom&gt;."),
            "{h}"
        );
        assert!(h.contains("900 → 300 bytes"), "{h}");
        assert!(h.contains("1 signature(s), 1 attestation(s)"), "{h}");
        let failed = Dossier {
            verified: Some(model::dossier::Verified {
                failure: Some("no signature".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(html(&failed).contains("Verification in the registry failed: no signature"));
    }
}
