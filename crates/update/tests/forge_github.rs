//! Proposals as GitHub pull requests, against a local GitHub that holds
//! every request and every response to GitHub's own OpenAPI description
//! (`@octokit/openapi`, fetched by scripts/fetch-test-schemas): one pull
//! request per branch, edited when the update changes, merged at the
//! pushed commit when allowed, closed when superseded; rate limits waited
//! out as the API says; a refused token named without its value.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use serde_json::json;
use testkit::github::{State, github, spec};
use testkit::openapi::Server;
use update::forge::Forge;
use update::forge::github::GitHub;
use update::propose::{Judgement, push};
use update::settings::{ForgeKind, UpdateSettings};

fn settings() -> UpdateSettings {
    UpdateSettings {
        forge: ForgeKind::Github,
        project: Some("o/r".into()),
        ..Default::default()
    }
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
use update::plan::Proposal;

#[test]
fn one_pull_request_per_branch_opened_once_then_edited_never_duplicated() {
    let f = fleet();
    let state = Arc::new(Mutex::new(State::default()));
    let gh = github(state.clone());
    let forge = GitHub::new(&gh.url, "o/r", "tok").unwrap();
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
        Some("https://github.invalid/o/r/pull/1")
    );
    assert_eq!(
        requests(&gh),
        [
            "GET /repos/o/r/pulls",
            "POST /repos/o/r/pulls",
            "POST /repos/o/r/issues/1/labels",
            "GET /repos/o/r/pulls"
        ]
    );
    let opened = gh.requests()[1].body.clone().unwrap();
    assert_eq!(opened["head"], "safeimage/update/app");
    assert_eq!(opened["base"], "main");
    assert_eq!(opened["body"], "### Image diff\n\nfindings went up");

    // a newer digest: the same pull request, its branch and body replaced
    let (second, _) = push(
        &repo,
        &[proposal(&f, B)],
        &s,
        1_790_000_100,
        &mut with_body,
        Some(&forge),
        &[],
    )
    .unwrap();
    assert_eq!(second[0].pull_request, first[0].pull_request);
    let st = state.lock().unwrap();
    assert_eq!(st.prs.len(), 1, "never a second pull request");
    assert!(st.prs[0].body.contains("findings went up"));
    drop(st);
    assert!(git(&f.remote, &["show", "safeimage/update/app:app/Dockerfile"]).contains(B));
    assert_eq!(gh.violations(), Vec::<String>::new());
}

#[test]
fn an_allowed_merge_is_made_by_github_at_the_pushed_commit() {
    let f = fleet();
    let state = Arc::new(Mutex::new(State::default()));
    let gh = github(state.clone());
    let forge = GitHub::new(&gh.url, "o/r", "tok").unwrap();
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
    let st = state.lock().unwrap();
    assert_eq!(
        st.prs[0].merged_at.as_deref(),
        Some(out[0].commit.as_str()),
        "merged at the commit pushed"
    );
    assert_eq!(gh.violations(), Vec::<String>::new());
}

#[test]
fn a_pull_request_no_longer_proposed_is_closed_and_one_still_waiting_is_kept() {
    let f = fleet();
    let state = Arc::new(Mutex::new(State::default()));
    let gh = github(state.clone());
    let forge = GitHub::new(&gh.url, "o/r", "tok").unwrap();
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
    let branches = git(&f.remote, &["branch", "--list"]);
    assert!(!branches.contains("safeimage/update/old"), "{branches}");
    assert!(branches.contains("safeimage/update/waiting"), "{branches}");
    let st = state.lock().unwrap();
    assert_eq!(st.prs.iter().filter(|p| p.open).count(), 2);
    assert_eq!(gh.violations(), Vec::<String>::new());
}

#[test]
fn a_secondary_rate_limit_is_waited_out_as_retry_after_says() {
    // GitHub answers a secondary rate limit with 403 and Retry-After (the
    // only rate-limit status its description declares for these calls)
    let state = Arc::new(Mutex::new(State::default()));
    state.lock().unwrap().forced.push_back((403, Some(1)));
    let gh = github(state.clone());
    let forge = GitHub::new(&gh.url, "o/r", "tok").unwrap();
    let t = std::time::Instant::now();
    let pr = forge
        .open("safeimage/update/app", "main", "t", "b", &[])
        .unwrap();
    assert!(
        t.elapsed() >= std::time::Duration::from_secs(1),
        "waited as the API asked"
    );
    assert_eq!(pr.number, 1);
    assert_eq!(gh.requests().len(), 2);
    assert_eq!(state.lock().unwrap().prs.len(), 1, "opened once, not twice");

    // limited every time: the error says so after the last attempt
    for _ in 0..3 {
        state.lock().unwrap().forced.push_back((403, Some(0)));
    }
    let e = forge
        .open("safeimage/update/other", "main", "t", "b", &[])
        .unwrap_err();
    assert_eq!(e.status, Some(403));
    assert!(e.to_string().contains("after 3 attempts"), "{e}");
    assert_eq!(state.lock().unwrap().prs.len(), 1);
    assert_eq!(gh.violations(), Vec::<String>::new());
}

#[test]
fn a_refused_token_is_named_and_never_printed() {
    let state = Arc::new(Mutex::new(State::default()));
    let gh = github(state);
    let forge = GitHub::new(&gh.url, "o/r", "ghp_wrongtoken123").unwrap();
    let e = forge.open("b", "main", "t", "x", &[]).unwrap_err();
    let text = e.to_string();
    assert_eq!(e.status, Some(401));
    assert!(
        text.contains("GitHub") && text.contains("POST /repos/o/r/pulls") && text.contains("401"),
        "{text}"
    );
    assert!(!text.contains("ghp_wrongtoken123"), "{text}");
    assert_eq!(gh.requests().len(), 1, "a 401 is not retried");
}

#[test]
fn the_local_github_refuses_what_githubs_description_does_not_allow() {
    // the validator itself: a request without `head`, an unknown endpoint,
    // an unknown query parameter and a response missing required fields
    let spec = spec();
    assert!(
        !spec
            .check_request("POST", "/repos/o/r/pulls", Some(&json!({"base": "main"})))
            .is_empty()
    );
    assert!(
        !spec
            .check_request("POST", "/repos/o/r/pull-requests", Some(&json!({})))
            .is_empty()
    );
    assert!(
        !spec
            .check_request("GET", "/repos/o/r/pulls?colour=red", None)
            .is_empty()
    );
    assert!(
        spec.check_request("GET", "/repos/o/r/pulls?state=open&head=o%3Ab", None)
            .is_empty()
    );
    assert!(
        !spec
            .check_response("POST", "/repos/o/r/pulls", 201, Some(&json!({"number": 1})))
            .is_empty()
    );
    assert!(
        !spec
            .check_response("POST", "/repos/o/r/pulls", 200, None)
            .is_empty(),
        "201 is the declared success"
    );
    let full = spec.example("pull-request");
    assert!(
        spec.check_response("POST", "/repos/o/r/pulls", 201, Some(&full))
            .is_empty()
    );
}

#[test]
fn a_proposal_the_forge_refuses_is_reported_and_the_others_go_on() {
    let f = fleet();
    let state = Arc::new(Mutex::new(State::default()));
    let gh = github(state.clone());
    let forge = GitHub::new(&gh.url, "o/r", "tok").unwrap();
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
        e.contains("GitHub") && e.contains("POST /repos/o/r/pulls") && e.contains("422"),
        "{e}"
    );
    assert!(e.contains("Validation Failed"), "{e}");
    assert!(out[1].error.is_none());
    assert_eq!(
        out[1].pull_request.as_deref(),
        Some("https://github.invalid/o/r/pull/1")
    );
    assert_eq!(gh.violations(), Vec::<String>::new());
}
