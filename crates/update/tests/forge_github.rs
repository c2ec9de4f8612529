//! Proposals as GitHub pull requests, against a local GitHub that holds
//! every request and every response to GitHub's own OpenAPI description
//! (`@octokit/openapi`, fetched by scripts/fetch-test-schemas): one pull
//! request per branch, edited when the update changes, merged at the
//! pushed commit when allowed, closed when superseded; rate limits waited
//! out as the API says; a refused token named without its value.

mod common;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use common::*;
use serde_json::{Value, json};
use testkit::openapi::{Request, Response, Server, Spec};
use update::forge::Forge;
use update::forge::github::GitHub;
use update::propose::{Judgement, push};
use update::settings::{ForgeKind, UpdateSettings};

fn spec() -> Arc<Spec> {
    static SPEC: OnceLock<Arc<Spec>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/test-schemas/github-api.json");
        Arc::new(Spec::load(&p))
    })
    .clone()
}

#[derive(Clone, Debug)]
struct Pr {
    number: u64,
    branch: String,
    title: String,
    body: String,
    open: bool,
    merged_at: Option<String>,
}

/// GitHub's pull requests for one repository, in memory.
#[derive(Default)]
struct State {
    prs: Vec<Pr>,
    /// Answers given before the real one (status, Retry-After).
    forced: VecDeque<(u16, Option<u64>)>,
}

fn pr_json(spec: &Spec, kind: &str, p: &Pr) -> Value {
    let mut v = spec.example(kind);
    v["number"] = json!(p.number);
    v["html_url"] = json!(format!("https://github.invalid/o/r/pull/{}", p.number));
    v["title"] = json!(p.title);
    v["body"] = json!(p.body);
    v["state"] = json!(if p.open { "open" } else { "closed" });
    v["head"]["ref"] = json!(p.branch);
    v
}

fn github(state: Arc<Mutex<State>>) -> Server {
    let spec = spec();
    let s2 = spec.clone();
    Server::start(spec, "", move |r: &Request| handle(&s2, &state, r))
}

fn handle(spec: &Spec, state: &Mutex<State>, r: &Request) -> Response {
    let mut st = state.lock().unwrap();
    if r.headers.get("authorization").map(String::as_str) != Some("Bearer tok") {
        return Response::json(
            401,
            json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com"}),
        );
    }
    if let Some((status, after)) = st.forced.pop_front() {
        let mut resp = Response::json(
            status,
            json!({"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com"}),
        );
        if let Some(a) = after {
            resp.headers.push(("Retry-After".into(), a.to_string()));
        }
        return resp;
    }
    let path = r.path.split('?').next().unwrap();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (r.method.as_str(), parts.as_slice()) {
        ("GET", ["repos", "o", "r", "pulls"]) => {
            let head = r
                .path
                .split("head=o%3A")
                .nth(1)
                .map(|h| h.split('&').next().unwrap().replace("%2F", "/"));
            let list: Vec<Value> = st
                .prs
                .iter()
                .filter(|p| p.open && head.as_ref().is_none_or(|h| *h == p.branch))
                .map(|p| pr_json(spec, "pull-request-simple", p))
                .collect();
            Response::json(200, json!(list))
        }
        ("POST", ["repos", "o", "r", "pulls"]) => {
            let b = r.body.clone().unwrap();
            if b["head"] == "safeimage/update/refused" {
                return Response::json(
                    422,
                    json!({"message": "Validation Failed", "documentation_url": "https://docs.github.com"}),
                );
            }
            let p = Pr {
                number: st.prs.len() as u64 + 1,
                branch: b["head"].as_str().unwrap().to_string(),
                title: b["title"].as_str().unwrap_or_default().to_string(),
                body: b["body"].as_str().unwrap_or_default().to_string(),
                open: true,
                merged_at: None,
            };
            st.prs.push(p.clone());
            Response::json(201, pr_json(spec, "pull-request", &p))
        }
        ("PATCH", ["repos", "o", "r", "pulls", n]) => {
            let b = r.body.clone().unwrap();
            let p = st
                .prs
                .iter_mut()
                .find(|p| p.number.to_string() == *n)
                .unwrap();
            if let Some(t) = b["title"].as_str() {
                p.title = t.into();
            }
            if let Some(t) = b["body"].as_str() {
                p.body = t.into();
            }
            if b["state"] == "closed" {
                p.open = false;
            }
            let p = p.clone();
            Response::json(200, pr_json(spec, "pull-request", &p))
        }
        ("POST", ["repos", "o", "r", "issues", _, "labels"]) => {
            let labels: Vec<Value> = r.body.as_ref().unwrap()["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    let mut v = spec.example("label");
                    v["name"] = l.clone();
                    v
                })
                .collect();
            Response::json(200, json!(labels))
        }
        ("PUT", ["repos", "o", "r", "pulls", n, "merge"]) => {
            let sha = r.body.as_ref().unwrap()["sha"]
                .as_str()
                .unwrap()
                .to_string();
            let p = st
                .prs
                .iter_mut()
                .find(|p| p.number.to_string() == *n)
                .unwrap();
            p.merged_at = Some(sha.clone());
            p.open = false;
            Response::json(
                200,
                json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"}),
            )
        }
        _ => Response::json(
            404,
            json!({"message": "Not Found", "documentation_url": "https://docs.github.com"}),
        ),
    }
}

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
