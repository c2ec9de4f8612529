//! The security issue per image over many runs with a fake clock, on
//! SQLite and on a real PostgreSQL, mirrored to the local GitHub that holds
//! every request and response to GitHub's OpenAPI description: opened when
//! a HIGH appears, appended when it becomes overdue and when a MEDIUM
//! joins, left alone when nothing changed, closed when the image is clean;
//! a second process on the same store (a replica) never opens a second
//! issue, and the forge holds one issue per image.

use std::sync::{Arc, Mutex};

use model::tracked::IssueAction;
use model::{ImageOutcome, Outcome, Timestamp};
use pipeline::issues::{IssueSettings, update_issues};
use store::{Decision, Postgres, Sqlite, StateStore};
use testkit::github::{State, github};
use update::forge::github::GitHub;

const DAY: i64 = 86_400;

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

fn promote(s: &mut dyn StateStore, day: i64, d: char, findings: Vec<scan::Finding>) {
    let t = Timestamp(day * DAY);
    let run = s.begin_run(t, "fleet.toml", &"".into()).unwrap();
    let mut o = ImageOutcome::new("app", &"r.example/fleet/app".parse().unwrap(), None);
    o.outcome = Outcome::Promoted;
    o.digest = Some(
        format!("sha256:{}", d.to_string().repeat(64))
            .parse()
            .unwrap(),
    );
    o.findings = findings;
    s.decide(&Decision {
        run,
        time: t,
        outcome: &o,
        version: None,
    })
    .unwrap();
}

fn scenario(name: &str, open: &dyn Fn() -> Box<dyn StateStore>) {
    let state = Arc::new(Mutex::new(State::default()));
    let gh = github(state.clone());
    let forge = GitHub::new(&gh.url, "o/r", "tok").unwrap();
    let settings = IssueSettings {
        mirror: true,
        ..Default::default()
    };
    let sla = store::sla::Sla::default();
    let images = vec!["app".to_string()];
    let mut s = open();
    let step = |s: &mut dyn StateStore, day: i64| {
        update_issues(
            &images,
            s,
            &sla,
            &settings,
            Some(&forge),
            Timestamp(day * DAY),
        )
        .unwrap()
    };
    let high = || finding("CVE-1", "openssl", "HIGH");
    let medium = || finding("CVE-2", "curl", "MEDIUM");
    let low = || finding("CVE-3", "zlib", "LOW");

    // day 0: a LOW alone opens nothing
    promote(&mut *s, 0, '1', vec![low()]);
    assert!(step(&mut *s, 0).is_empty(), "{name}");
    // day 1: a HIGH: opened
    promote(&mut *s, 1, '2', vec![low(), high()]);
    let c = step(&mut *s, 1);
    assert_eq!(c.len(), 1, "{name}");
    assert_eq!(c[0].action, IssueAction::Opened);
    assert_eq!(
        c[0].url.as_deref(),
        Some("https://github.invalid/o/r/issues/1")
    );
    assert!(c[0].error.is_none(), "{:?}", c[0].error);
    // day 3: a rebuild with the same findings: nothing to say
    promote(&mut *s, 3, '3', vec![low(), high()]);
    assert!(step(&mut *s, 3).is_empty(), "{name}");
    // day 9: the HIGH is past its seven days: a block says so
    let c = step(&mut *s, 9);
    assert_eq!(c[0].action, IssueAction::Appended, "{name}");
    // day 10, another process on the same store: a MEDIUM joins
    let mut replica = open();
    promote(&mut *replica, 10, '4', vec![low(), high(), medium()]);
    let c = step(&mut *replica, 10);
    assert_eq!(c[0].action, IssueAction::Appended, "{name}");
    assert_eq!(
        c[0].url.as_deref(),
        Some("https://github.invalid/o/r/issues/1"),
        "the same issue"
    );
    // day 12: both fixed: closed
    promote(&mut *s, 12, '5', vec![low()]);
    let c = step(&mut *s, 12);
    assert_eq!(c[0].action, IssueAction::Closed, "{name}");
    assert!(step(&mut *s, 13).is_empty(), "closed once");

    let kept = open().security_issue("app").unwrap().unwrap();
    assert!(!kept.open, "{name}");
    assert_eq!(kept.blocks.len(), 4, "opened, overdue, medium, closed");
    assert!(
        kept.blocks[1].contains("1 past the patch deadline"),
        "{}",
        kept.blocks[1]
    );
    let st = state.lock().unwrap();
    assert_eq!(st.issues.len(), 1, "{name}: one issue on the forge");
    assert!(!st.issues[0].5, "closed on the forge");
    assert_eq!(st.issues[0].4.len(), 3, "the later blocks as comments");
    assert!(
        st.issues[0]
            .2
            .contains("<!-- safeimage-security-issue: app -->")
    );
}

#[test]
fn the_security_issue_opens_grows_and_closes_at_the_right_runs_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (db, audit) = (dir.path().join("state.db"), dir.path().join("audit"));
    scenario("sqlite", &|| Box::new(Sqlite::open(&db, &audit).unwrap()));
}

#[test]
fn the_security_issue_opens_grows_and_closes_at_the_right_runs_on_postgresql() {
    let server = testkit::PgServer::start();
    let url = server.createdb("t_issues");
    scenario("postgres", &|| Box::new(Postgres::connect(&url).unwrap()));
}
