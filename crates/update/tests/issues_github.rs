//! Security issues on GitHub, against the local GitHub that holds every
//! request and response to GitHub's own OpenAPI description: found again
//! by the marker among the open issues with the label (pull requests and
//! other issues ignored), opened with labels, commented, closed.

use std::sync::{Arc, Mutex};

use testkit::github::{State, github};
use update::forge::IssueTracker;
use update::forge::github::GitHub;

#[test]
fn an_issue_is_opened_once_found_again_by_its_marker_commented_and_closed() {
    let state = Arc::new(Mutex::new(State::default()));
    // someone else's open issue with the label, and one without it
    state.lock().unwrap().issues.push((
        1,
        "other".into(),
        "not ours".into(),
        vec!["security".into()],
        vec![],
        true,
    ));
    let gh = github(state.clone());
    let forge = GitHub::new(&gh.url, "o/r", "tok").unwrap();
    let marker = "<!-- safeimage-security-issue: app -->";
    assert_eq!(forge.find_issue(marker, "security").unwrap(), None);
    let opened = forge
        .open_issue(
            "Security: app",
            &format!("{marker}\nfindings"),
            &["security".to_string(), "safeimage".to_string()],
        )
        .unwrap();
    assert_eq!(opened.url, "https://github.invalid/o/r/issues/2");
    let found = forge.find_issue(marker, "security").unwrap().unwrap();
    assert_eq!(found, opened);
    forge
        .comment(&found, "### 2026-12-07\n\nnew block")
        .unwrap();
    forge.close_issue(&found).unwrap();
    assert_eq!(
        forge.find_issue(marker, "security").unwrap(),
        None,
        "closed"
    );
    let st = state.lock().unwrap();
    assert_eq!(st.issues.len(), 2);
    assert_eq!(st.issues[1].3, ["security", "safeimage"]);
    assert_eq!(st.issues[1].4, ["### 2026-12-07\n\nnew block"]);
    assert!(!st.issues[1].5);
    assert!(st.issues[0].5, "the other issue is untouched");
    drop(st);
    let paths: Vec<String> = gh
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path.split('?').next().unwrap()))
        .collect();
    assert_eq!(
        paths,
        [
            "GET /repos/o/r/issues",
            "POST /repos/o/r/issues",
            "GET /repos/o/r/issues",
            "POST /repos/o/r/issues/2/comments",
            "PATCH /repos/o/r/issues/2",
            "GET /repos/o/r/issues"
        ]
    );
    assert_eq!(gh.violations(), Vec::<String>::new());
}

#[test]
fn an_issue_kept_in_place_has_its_body_replaced_and_stays_findable() {
    let state = Arc::new(Mutex::new(State::default()));
    let gh = github(state.clone());
    let forge = GitHub::new(&gh.url, "o/r", "tok").unwrap();
    let marker = "<!-- safeimage-weekly-summary -->";
    let i = forge
        .open_issue(
            "Weekly",
            &format!("{marker}\nweek 49"),
            &["security".to_string()],
        )
        .unwrap();
    forge.set_body(&i, &format!("{marker}\nweek 50")).unwrap();
    assert_eq!(forge.find_issue(marker, "security").unwrap(), Some(i));
    let st = state.lock().unwrap();
    assert_eq!(st.issues.len(), 1);
    assert_eq!(st.issues[0].2, format!("{marker}\nweek 50"));
    assert!(
        st.issues[0].4.is_empty(),
        "no comment: the body itself changed"
    );
}
