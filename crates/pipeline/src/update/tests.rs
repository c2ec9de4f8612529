//! The decision an evaluation leads to, from the hard rules' verdicts of
//! real comparisons: a CRITICAL present blocks under every `automerge`,
//! with the reason naming the image; more findings block; fewer merge when
//! allowed; a failed evaluation never merges.

use super::*;

fn finding(id: &str, pkg: &str, sev: &str) -> scan::Finding {
    serde_json::from_value(serde_json::json!({
        "id": id, "aliases": [], "advisories": [id],
        "package": {"type": "deb", "name": pkg, "version": "1", "purl": ""},
        "ecosystem": "Debian:12", "matched": "", "state": "fixed",
        "fixed_version": "9", "severity": sev,
        "severity_source": "debian", "severity_detail": "",
        "summary": "", "references": []
    }))
    .unwrap()
}

fn verdict(image: &str, before: Vec<scan::Finding>, after: Vec<scan::Finding>) -> ImageVerdict {
    let c = compare::compare(
        &side_of_findings("before", None, before),
        &side_of_findings("after", None, after),
    );
    ImageVerdict {
        image: image.into(),
        outcome: Outcome::Evaluated,
        reasons: vec![],
        promoted: None,
        built: None,
        security: compare::security(&c),
    }
}

const ALL: [Automerge; 3] = [
    Automerge::Never,
    Automerge::SecurityImproved,
    Automerge::GatePasses,
];

#[test]
fn a_critical_present_blocks_under_every_automerge_and_names_the_image() {
    let fewer_but_critical = verdict(
        "api",
        vec![
            finding("CVE-1", "a", "HIGH"),
            finding("CVE-2", "b", "HIGH"),
            finding("CVE-3", "c", "CRITICAL"),
        ],
        vec![finding("CVE-3", "c", "CRITICAL")],
    );
    let improved = verdict("web", vec![finding("CVE-1", "a", "HIGH")], vec![]);
    for mode in ALL {
        let (merge, reason) = decide(mode, &[improved.clone(), fewer_but_critical.clone()]);
        assert!(!merge, "{mode:?}: {reason}");
        if mode != Automerge::Never {
            assert!(
                reason.contains("api") && reason.contains("CRITICAL"),
                "{mode:?}: {reason}"
            );
        }
    }
}

#[test]
fn findings_going_up_block_and_going_down_merge_when_allowed() {
    let up = verdict(
        "app",
        vec![finding("CVE-1", "a", "LOW")],
        vec![finding("CVE-1", "a", "LOW"), finding("CVE-2", "b", "LOW")],
    );
    for mode in ALL {
        assert!(!decide(mode, std::slice::from_ref(&up)).0, "{mode:?}");
    }
    let down = verdict("app", vec![finding("CVE-1", "a", "HIGH")], vec![]);
    assert!(decide(Automerge::SecurityImproved, std::slice::from_ref(&down)).0);
    assert!(decide(Automerge::GatePasses, std::slice::from_ref(&down)).0);
    assert!(!decide(Automerge::Never, std::slice::from_ref(&down)).0);
    // the same findings: not an improvement, but the gate passes
    let same = verdict(
        "app",
        vec![finding("CVE-1", "a", "LOW")],
        vec![finding("CVE-1", "a", "LOW")],
    );
    assert!(!decide(Automerge::SecurityImproved, std::slice::from_ref(&same)).0);
    assert!(decide(Automerge::GatePasses, std::slice::from_ref(&same)).0);
}

#[test]
fn an_evaluation_that_failed_never_merges() {
    let mut failed = verdict("app", vec![finding("CVE-1", "a", "HIGH")], vec![]);
    failed.outcome = Outcome::Failed;
    failed.reasons = vec!["build failed".into()];
    for mode in [Automerge::SecurityImproved, Automerge::GatePasses] {
        let (merge, reason) = decide(mode, std::slice::from_ref(&failed));
        assert!(!merge);
        assert!(reason.contains("build failed"), "{reason}");
    }
}
