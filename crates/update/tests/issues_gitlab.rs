//! Security issues on GitLab, against the local GitLab that holds every
//! request and response to GitLab's own OpenAPI description (the pinned
//! extract): found again by the marker among the open issues with the
//! label, opened with labels, a block appended to the description, closed.

use std::sync::{Arc, Mutex};

use testkit::gitlab::{PROJECT, State, gitlab};
use update::forge::IssueTracker;
use update::forge::gitlab::GitLab;

#[test]
fn an_issue_is_opened_once_found_again_by_its_marker_appended_and_closed() {
    let state = Arc::new(Mutex::new(State::default()));
    let gl = gitlab(state.clone());
    let forge = GitLab::new(&format!("{}/api/v4", gl.url), PROJECT, "tok").unwrap();
    let marker = "<!-- safeimage-security-issue: app -->";
    assert_eq!(forge.find_issue(marker, "security").unwrap(), None);
    let opened = forge
        .open_issue(
            "Security: app",
            &format!("{marker}\nfindings"),
            &["security".to_string()],
        )
        .unwrap();
    assert_eq!(opened.url, "https://gitlab.invalid/group/app/-/issues/1");
    assert_eq!(
        forge.find_issue(marker, "security").unwrap(),
        Some(opened.clone())
    );
    assert_eq!(
        forge.find_issue("<!-- other -->", "security").unwrap(),
        None
    );
    forge
        .comment(&opened, "### 2026-12-07\n\nnew block")
        .unwrap();
    forge.close_issue(&opened).unwrap();
    assert_eq!(
        forge.find_issue(marker, "security").unwrap(),
        None,
        "closed"
    );
    let st = state.lock().unwrap();
    assert_eq!(st.issues.len(), 1);
    assert_eq!(st.issues[0].3, ["security"]);
    assert!(
        st.issues[0]
            .2
            .ends_with("findings\n\n### 2026-12-07\n\nnew block")
    );
    assert!(!st.issues[0].4);
    drop(st);
    let find = &gl.requests()[0].path;
    assert!(
        find.contains("state=opened") && find.contains("labels=security"),
        "{find}"
    );
    assert_eq!(gl.violations(), Vec::<String>::new());
}

#[test]
fn an_issue_kept_in_place_has_its_description_replaced_and_stays_findable() {
    let state = Arc::new(Mutex::new(State::default()));
    let gl = gitlab(state.clone());
    let forge = GitLab::new(&format!("{}/api/v4", gl.url), PROJECT, "tok").unwrap();
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
    assert_eq!(
        st.issues[0].2,
        format!("{marker}\nweek 50"),
        "replaced, not appended"
    );
}
