//! One security issue per image over many runs: opened with the first
//! finding at or above the threshold, left alone while nothing changes,
//! appended when a finding becomes overdue, closed when the base is
//! patched; mirrored to the forge as one issue, found again by its marker
//! (a replica that lost its record adds to it rather than opening another).

use model::tracked::IssueAction;

use super::*;

const H: i64 = 3600;

fn forge_issues(w: &World) -> Vec<ForgeIssue> {
    w.tracker.as_ref().unwrap().issues.lock().unwrap().clone()
}

#[test]
fn the_issue_opens_appends_when_overdue_and_closes_when_fixed_one_on_the_forge() {
    let mut w = world("", "[issues]\nmirror = true\n");
    w.tracker = Some(RecordingTracker::default());
    let r = w.run();
    assert_eq!(r.issues.len(), 1);
    assert_eq!(r.issues[0].action, IssueAction::Opened);
    assert_eq!(
        r.issues[0].url.as_deref(),
        Some("https://forge.invalid/issues/1")
    );
    let kept = w.store.security_issue("app").unwrap().unwrap();
    assert!(kept.open);
    assert!(
        kept.blocks[0].contains("`CVE-2099-0001`"),
        "{}",
        kept.blocks[0]
    );
    let f = forge_issues(&w);
    assert_eq!(f.len(), 1);
    assert!(f[0].2.contains("<!-- safeimage-security-issue: app -->"));
    assert_eq!(f[0].1, "Security: app");

    // nothing changed: nothing said
    let r = w.run();
    assert!(r.issues.is_empty());

    // past its 48 hours: a dated block, as a comment on the same issue
    w.clock.advance(49 * H);
    let r = w.run();
    assert_eq!(r.issues[0].action, IssueAction::Appended);
    let f = forge_issues(&w);
    assert_eq!(f.len(), 1, "never a second issue");
    assert!(f[0].3[0].contains("**overdue**"), "{}", f[0].3[0]);

    // a replica without the record: it finds the forge's issue by its marker
    w.store.issues.clear();
    w.clock.advance(H);
    let r = w.run();
    assert_eq!(r.issues[0].action, IssueAction::Opened);
    assert_eq!(forge_issues(&w).len(), 1, "found again, not duplicated");
    assert_eq!(forge_issues(&w)[0].3.len(), 2);

    // the patched base: closed, here and on the forge
    w.base('b');
    let r = w.run();
    assert_eq!(app(&r).outcome, Outcome::Promoted);
    assert_eq!(r.issues[0].action, IssueAction::Closed);
    assert!(!w.store.security_issue("app").unwrap().unwrap().open);
    assert!(!forge_issues(&w)[0].4, "closed on the forge");
}

#[test]
fn below_the_threshold_no_issue_is_opened_and_the_store_keeps_it_without_a_forge() {
    let mut w = world("", "[issues]\nthreshold = \"critical\"\n");
    let r = w.run();
    assert_eq!(
        r.issues[0].action,
        IssueAction::Opened,
        "a CRITICAL is there"
    );
    assert!(r.issues[0].url.is_none(), "kept in the store only");
    let mut w = world("", "[issues]\nthreshold = \"critical\"\n");
    w.advisories.vulns[0].severity = Severity::High;
    let r = w.run();
    assert!(r.issues.is_empty(), "a HIGH is below the threshold");
    assert!(w.store.security_issue("app").unwrap().is_none());
}
