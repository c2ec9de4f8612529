//! Proposals as GitLab merge requests, against a local GitLab that holds
//! every request and every response to GitLab's own OpenAPI description
//! (the merge-request part of `doc/api/openapi/openapi_v3.yaml`, committed
//! and pinned in testkit): one merge request per branch, edited when the
//! update changes, set to merge when its pipeline succeeds at the pushed
//! commit when allowed, closed when superseded; the rate limiter's 429
//! waited out as Retry-After says; a refused token named without its value.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use serde_json::json;
use testkit::gitlab::{PROJECT, State, gitlab, spec};
use testkit::openapi::Server;
use update::forge::Forge;
use update::forge::gitlab::GitLab;
use update::plan::Proposal;
use update::propose::{Judgement, push};
use update::settings::{ForgeKind, UpdateSettings};

fn settings() -> UpdateSettings {
    UpdateSettings {
        forge: ForgeKind::Gitlab,
        project: Some(PROJECT.into()),
        ..Default::default()
    }
}

fn api(s: &Server) -> String {
    format!("{}/api/v4", s.url)
}

fn requests(s: &Server) -> Vec<String> {
    s.requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path.split('?').next().unwrap()))
        .collect()
}

fn with_body(_: &Proposal) -> Judgement {
    Judgement {
        merge: false,
        reason: "blocked: findings went up".into(),
        body: Some("### Image diff\n\nfindings went up".into()),
    }
}

const MRS: &str = "/api/v4/projects/group%2Fapp/merge_requests";

#[test]
fn one_merge_request_per_branch_opened_once_with_labels_then_edited_never_duplicated() {
    let f = fleet();
    let state = Arc::new(Mutex::new(State::default()));
    let gl = gitlab(state.clone());
    let forge = GitLab::new(&api(&gl), PROJECT, "tok").unwrap();
    let repo = update::git::Repo::open(&f.clone, "origin").unwrap();
    let s = settings();

    let (first, _) = push(
        &repo,
        &[proposal(&f, A)],
        &s,
        1_790_000_000,
        &mut with_body,
        Some(&forge),
        &[],
    )
    .unwrap();
    assert_eq!(
        first[0].pull_request.as_deref(),
        Some("https://gitlab.invalid/group/app/-/merge_requests/1")
    );
    assert_eq!(
        requests(&gl),
        [
            format!("GET {MRS}"),
            format!("POST {MRS}"),
            format!("GET {MRS}")
        ]
    );
    let find = &gl.requests()[0].path;
    assert!(
        find.contains("state=opened") && find.contains("source_branch=safeimage%2Fupdate%2Fapp"),
        "{find}"
    );
    let opened = gl.requests()[1].body.clone().unwrap();
    assert_eq!(opened["source_branch"], "safeimage/update/app");
    assert_eq!(opened["target_branch"], "main");
    assert_eq!(opened["description"], "### Image diff\n\nfindings went up");
    assert_eq!(opened["labels"], json!(["dependencies", "security"]));
    assert_eq!(opened["remove_source_branch"], true);

    // a newer digest: the same merge request, its branch and body replaced
    let mut newer = |_: &Proposal| Judgement {
        merge: false,
        reason: "blocked: a CRITICAL is present".into(),
        body: Some("### Image diff\n\na CRITICAL is present".into()),
    };
    let (second, _) = push(
        &repo,
        &[proposal(&f, B)],
        &s,
        1_790_000_100,
        &mut newer,
        Some(&forge),
        &[],
    )
    .unwrap();
    assert_eq!(second[0].pull_request, first[0].pull_request);
    assert!(requests(&gl).contains(&format!("PUT {MRS}/1")));
    let st = state.lock().unwrap();
    assert_eq!(st.mrs.len(), 1, "never a second merge request");
    assert!(st.mrs[0].description.contains("a CRITICAL is present"));
    drop(st);
    assert!(git(&f.remote, &["show", "safeimage/update/app:app/Dockerfile"]).contains(B));
    assert_eq!(gl.violations(), Vec::<String>::new());
}

#[test]
fn an_allowed_update_is_set_to_merge_when_the_pipeline_succeeds_at_the_pushed_commit() {
    let f = fleet();
    let state = Arc::new(Mutex::new(State::default()));
    let gl = gitlab(state.clone());
    let forge = GitLab::new(&api(&gl), PROJECT, "tok").unwrap();
    let repo = update::git::Repo::open(&f.clone, "origin").unwrap();
    let mut yes = |_: &Proposal| Judgement {
        merge: true,
        reason: "security improved".into(),
        body: None,
    };
    let (out, _) = push(
        &repo,
        &[proposal(&f, A)],
        &settings(),
        1_790_000_000,
        &mut yes,
        Some(&forge),
        &[],
    )
    .unwrap();
    assert!(out[0].merged);
    let merge = gl
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/merge"))
        .expect("the merge call");
    assert_eq!(merge.method, "PUT");
    let b = merge.body.unwrap();
    assert_eq!(
        b["auto_merge"], true,
        "GitLab merges once the pipeline passes"
    );
    assert_eq!(
        b["sha"],
        json!(out[0].commit),
        "pinned to the pushed commit"
    );
    let st = state.lock().unwrap();
    assert_eq!(
        st.mrs[0].auto_merge_sha.as_deref(),
        Some(out[0].commit.as_str())
    );
    assert!(st.mrs[0].remove_source_branch);
    assert_eq!(gl.violations(), Vec::<String>::new());
}

#[test]
fn a_merge_request_no_longer_proposed_is_closed_and_one_still_waiting_is_kept() {
    let f = fleet();
    let state = Arc::new(Mutex::new(State::default()));
    let gl = gitlab(state.clone());
    let forge = GitLab::new(&api(&gl), PROJECT, "tok").unwrap();
    let repo = update::git::Repo::open(&f.clone, "origin").unwrap();
    let s = settings();
    let mut other = proposal(&f, A);
    other.branch = "safeimage/update/old".into();
    let mut waiting = proposal(&f, A);
    waiting.branch = "safeimage/update/waiting".into();
    push(
        &repo,
        &[other, waiting],
        &s,
        1_790_000_000,
        &mut with_body,
        Some(&forge),
        &[],
    )
    .unwrap();
    let (_, closed) = push(
        &repo,
        &[proposal(&f, B)],
        &s,
        1_790_000_100,
        &mut with_body,
        Some(&forge),
        &["safeimage/update/waiting".to_string()],
    )
    .unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].branch, "safeimage/update/old");
    let close = gl
        .requests()
        .into_iter()
        .find(|r| r.body.as_ref().is_some_and(|b| b["state_event"] == "close"))
        .expect("a close call");
    assert_eq!(close.path, format!("{MRS}/1"));
    let branches = git(&f.remote, &["branch", "--list"]);
    assert!(!branches.contains("safeimage/update/old"), "{branches}");
    assert!(branches.contains("safeimage/update/waiting"), "{branches}");
    let st = state.lock().unwrap();
    let open: Vec<&str> = st
        .mrs
        .iter()
        .filter(|m| m.state == "opened")
        .map(|m| m.source_branch.as_str())
        .collect();
    assert_eq!(open, ["safeimage/update/waiting", "safeimage/update/app"]);
    assert_eq!(gl.violations(), Vec::<String>::new());
}

#[test]
fn the_rate_limiters_429_is_waited_out_as_retry_after_says() {
    let state = Arc::new(Mutex::new(State::default()));
    state.lock().unwrap().forced.push_back((429, Some(1)));
    let gl = gitlab(state.clone());
    let forge = GitLab::new(&api(&gl), PROJECT, "tok").unwrap();
    let t = std::time::Instant::now();
    let mr = forge
        .open("safeimage/update/app", "main", "t", "b", &[])
        .unwrap();
    assert!(
        t.elapsed() >= std::time::Duration::from_secs(1),
        "waited as the rate limiter asked"
    );
    assert_eq!(mr.number, 1);
    assert_eq!(gl.requests().len(), 2);
    assert_eq!(state.lock().unwrap().mrs.len(), 1, "opened once, not twice");

    // limited every time: the error says so after the last attempt
    for _ in 0..3 {
        state.lock().unwrap().forced.push_back((429, Some(0)));
    }
    let e = forge
        .open("safeimage/update/other", "main", "t", "b", &[])
        .unwrap_err();
    assert_eq!(e.status, Some(429));
    assert!(e.to_string().contains("after 3 attempts"), "{e}");
    assert_eq!(state.lock().unwrap().mrs.len(), 1);
    assert_eq!(gl.violations(), Vec::<String>::new());
}

#[test]
fn a_refused_token_is_named_and_never_printed() {
    let state = Arc::new(Mutex::new(State::default()));
    let gl = gitlab(state);
    let forge = GitLab::new(&api(&gl), PROJECT, "glpat-wrongtoken123").unwrap();
    let e = forge.open("b", "main", "t", "x", &[]).unwrap_err();
    let text = e.to_string();
    assert_eq!(e.status, Some(401));
    assert!(
        text.contains("GitLab")
            && text.contains("POST /projects/group%2Fapp/merge_requests")
            && text.contains("401"),
        "{text}"
    );
    assert!(!text.contains("glpat-wrongtoken123"), "{text}");
    assert_eq!(gl.requests().len(), 1, "a 401 is not retried");
    assert_eq!(gl.violations(), Vec::<String>::new());
}

#[test]
fn a_proposal_gitlab_refuses_is_reported_and_the_others_go_on() {
    let f = fleet();
    let state = Arc::new(Mutex::new(State::default()));
    let gl = gitlab(state.clone());
    let forge = GitLab::new(&api(&gl), PROJECT, "tok").unwrap();
    let repo = update::git::Repo::open(&f.clone, "origin").unwrap();
    let mut refused = proposal(&f, A);
    refused.branch = "safeimage/update/refused".into();
    let (out, _) = push(
        &repo,
        &[refused, proposal(&f, B)],
        &settings(),
        1_790_000_000,
        &mut with_body,
        Some(&forge),
        &[],
    )
    .unwrap();
    let e = out[0].error.as_deref().unwrap();
    assert!(
        e.contains("GitLab")
            && e.contains("POST /projects/group%2Fapp/merge_requests")
            && e.contains("409"),
        "{e}"
    );
    assert!(out[1].error.is_none());
    assert_eq!(
        out[1].pull_request.as_deref(),
        Some("https://gitlab.invalid/group/app/-/merge_requests/1")
    );
    assert_eq!(state.lock().unwrap().mrs.len(), 1);
    assert_eq!(gl.violations(), Vec::<String>::new());
}

#[test]
fn the_local_gitlab_refuses_what_gitlabs_description_does_not_allow() {
    // the validator itself, on GitLab's description: a merge request without
    // its source branch, GitHub's `state=open` (GitLab says `opened`), a
    // non-numeric iid, an unknown endpoint, a response of the wrong type
    let spec = spec();
    assert!(
        !spec
            .check_request(
                "POST",
                "/api/v4/projects/group%2Fapp/merge_requests",
                Some(&json!({"title": "t", "target_branch": "main"}))
            )
            .is_empty()
    );
    assert!(
        !spec
            .check_request("GET", "/api/v4/projects/1/merge_requests?state=open", None)
            .is_empty()
    );
    assert!(
        spec.check_request(
            "GET",
            "/api/v4/projects/1/merge_requests?state=opened",
            None
        )
        .is_empty()
    );
    assert!(
        !spec
            .check_request(
                "PUT",
                "/api/v4/projects/1/merge_requests/abc",
                Some(&json!({}))
            )
            .is_empty()
    );
    assert!(
        !spec
            .check_request(
                "PUT",
                "/api/v4/projects/1/merge_requests/1/merge",
                Some(&json!({"auto_merge": "yes"}))
            )
            .is_empty()
    );
    assert!(
        !spec
            .check_request("POST", "/api/v4/projects/1/pull_requests", Some(&json!({})))
            .is_empty()
    );
    assert!(
        !spec
            .check_response(
                "POST",
                "/api/v4/projects/1/merge_requests",
                201,
                Some(&json!({"iid": "one"}))
            )
            .is_empty()
    );
    assert!(
        !spec
            .check_response("POST", "/api/v4/projects/1/merge_requests", 200, None)
            .is_empty(),
        "201 is the declared success"
    );
}
