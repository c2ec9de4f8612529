//! A GitLab for tests: one project's merge requests in memory, served under
//! `/api/v4` by [`crate::openapi::Server`] so every request and response is
//! held to GitLab's own OpenAPI description (the merge-request part of
//! `doc/api/openapi/openapi_v3.yaml`, committed in `schemas/` and pinned
//! here by SHA-256). The project is `group/app`; it wants the token `tok`
//! (`PRIVATE-TOKEN`), answers a merge request from
//! `safeimage/update/refused` with 409 (GitLab's answer when one is already
//! open for the branch), and gives the rate limiter's answers queued in
//! [`State::forced`] first.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::openapi::{Request, Response, Server, Spec};

/// The extract's SHA-256: a changed file fails every GitLab test.
pub const SPEC_SHA256: &str = "6213b9e89208b794c15fb60657f8c235bdc254a24518ebc5e861a7ec2b2d8fb9";

/// The project's path.
pub const PROJECT: &str = "group/app";

/// GitLab's description, loaded once after checking its pin.
pub fn spec() -> Arc<Spec> {
    static SPEC: OnceLock<Arc<Spec>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/gitlab-api-extract.yaml");
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let got = hex::encode(Sha256::digest(&bytes));
        assert_eq!(got, SPEC_SHA256, "{}: not the pinned extract", p.display());
        Arc::new(Spec::load(&p))
    })
    .clone()
}

/// A merge request.
#[derive(Clone, Debug)]
pub struct Mr {
    /// See GitLab.
    pub iid: u64,
    /// See GitLab.
    pub source_branch: String,
    /// See GitLab.
    pub target_branch: String,
    /// See GitLab.
    pub title: String,
    /// See GitLab.
    pub description: String,
    /// See GitLab.
    pub labels: Vec<String>,
    /// `opened`, `closed`, `merged`.
    pub state: String,
    /// Set to merge when its pipeline succeeds, at this commit.
    pub auto_merge_sha: Option<String>,
    /// Its source branch is removed when it merges.
    pub remove_source_branch: bool,
}

/// GitLab's merge requests for one project, in memory.
#[derive(Default)]
pub struct State {
    /// Merge requests, in order.
    pub mrs: Vec<Mr>,
    /// The rate limiter's answers given before the real one (status,
    /// Retry-After).
    pub forced: VecDeque<(u16, Option<u64>)>,
    /// Issues: (iid, title, description, labels, open).
    pub issues: Vec<IssueRow>,
}

/// An issue: iid, title, description, labels, open.
pub type IssueRow = (u64, String, String, Vec<String>, bool);

fn issue_json(spec: &Spec, i: &IssueRow) -> Value {
    let mut v = spec.example("APIEntitiesIssue");
    v["id"] = json!(5000 + i.0);
    v["iid"] = json!(i.0);
    v["project_id"] = json!(7);
    v["title"] = json!(i.1);
    v["description"] = json!(i.2);
    v["labels"] = json!(i.3);
    v["state"] = json!(if i.4 { "opened" } else { "closed" });
    v["web_url"] = json!(format!("https://gitlab.invalid/{PROJECT}/-/issues/{}", i.0));
    v
}

fn mr_json(spec: &Spec, kind: &str, m: &Mr) -> Value {
    let mut v = spec.example(kind);
    v["id"] = json!(1000 + m.iid);
    v["iid"] = json!(m.iid);
    v["project_id"] = json!(7);
    v["title"] = json!(m.title);
    v["description"] = json!(m.description);
    v["state"] = json!(m.state);
    v["source_branch"] = json!(m.source_branch);
    v["target_branch"] = json!(m.target_branch);
    v["labels"] = json!(m.labels);
    v["merge_when_pipeline_succeeds"] = json!(m.auto_merge_sha.is_some());
    v["web_url"] = json!(format!(
        "https://gitlab.invalid/{PROJECT}/-/merge_requests/{}",
        m.iid
    ));
    v
}

/// Serves `state` on a loopback port; the API root is `{url}/api/v4`.
pub fn gitlab(state: Arc<Mutex<State>>) -> Server {
    let spec = spec();
    let s2 = spec.clone();
    Server::start(spec, "", move |r: &Request| handle(&s2, &state, r))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn handle(spec: &Spec, state: &Mutex<State>, r: &Request) -> Response {
    let mut st = state.lock().unwrap();
    if let Some((status, after)) = st.forced.pop_front() {
        return Response::before_api(status, after);
    }
    if r.headers.get("private-token").map(String::as_str) != Some("tok") {
        return Response::empty(401);
    }
    let (path, query) = r.path.split_once('?').unwrap_or((&r.path, ""));
    let q = |name: &str| {
        query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| v.replace("%2F", "/"))
        })
    };
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let project = PROJECT.replace('/', "%2F");
    match (r.method.as_str(), parts.as_slice()) {
        (_, ["api", "v4", "projects", id, ..]) if *id != project => Response::empty(404),
        ("GET", ["api", "v4", "projects", _, "merge_requests"]) => {
            let (state_q, branch) = (q("state"), q("source_branch"));
            let list: Vec<Value> = st
                .mrs
                .iter()
                .filter(|m| state_q.as_ref().is_none_or(|s| s == "all" || *s == m.state))
                .filter(|m| branch.as_ref().is_none_or(|b| *b == m.source_branch))
                .map(|m| mr_json(spec, "APIEntitiesMergeRequestBasic", m))
                .collect();
            Response::json(200, json!(list))
        }
        ("POST", ["api", "v4", "projects", _, "merge_requests"]) => {
            let b = r.body.clone().unwrap();
            let branch = b["source_branch"].as_str().unwrap_or_default().to_string();
            if branch == "safeimage/update/refused"
                || st
                    .mrs
                    .iter()
                    .any(|m| m.state == "opened" && m.source_branch == branch)
            {
                return Response::empty(409);
            }
            let m = Mr {
                iid: st.mrs.len() as u64 + 1,
                source_branch: branch,
                target_branch: b["target_branch"].as_str().unwrap_or_default().into(),
                title: b["title"].as_str().unwrap_or_default().into(),
                description: b["description"].as_str().unwrap_or_default().into(),
                labels: strings(&b["labels"]),
                state: "opened".into(),
                auto_merge_sha: None,
                remove_source_branch: b["remove_source_branch"] == true,
            };
            st.mrs.push(m.clone());
            Response::json(201, mr_json(spec, "APIEntitiesMergeRequest", &m))
        }
        ("PUT", ["api", "v4", "projects", _, "merge_requests", n]) => {
            let b = r.body.clone().unwrap_or(Value::Null);
            let Some(m) = st.mrs.iter_mut().find(|m| m.iid.to_string() == *n) else {
                return Response::empty(404);
            };
            if let Some(t) = b["title"].as_str() {
                m.title = t.into();
            }
            if let Some(t) = b["description"].as_str() {
                m.description = t.into();
            }
            if b["state_event"] == "close" {
                m.state = "closed".into();
            }
            let m = m.clone();
            Response::json(200, mr_json(spec, "APIEntitiesMergeRequest", &m))
        }
        ("PUT", ["api", "v4", "projects", _, "merge_requests", n, "merge"]) => {
            let b = r.body.clone().unwrap_or(Value::Null);
            let Some(m) = st.mrs.iter_mut().find(|m| m.iid.to_string() == *n) else {
                return Response::empty(404);
            };
            if m.state != "opened" {
                return Response::empty(405);
            }
            // with auto_merge GitLab merges when the pipeline succeeds; this
            // project's pipeline never finishes, so the request stays open
            // and set to merge, at the commit given
            if b["auto_merge"] == true {
                m.auto_merge_sha = b["sha"].as_str().map(str::to_string);
            } else {
                m.state = "merged".into();
            }
            if b["should_remove_source_branch"] == true {
                m.remove_source_branch = true;
            }
            let m = m.clone();
            Response::json(200, mr_json(spec, "APIEntitiesMergeRequest", &m))
        }
        ("GET", ["api", "v4", "projects", _, "issues"]) => {
            let (state_q, labels) = (q("state"), q("labels"));
            // as GitLab's description declares it: one issue (the first
            // that matches), or an issue with nothing in it
            let first = st
                .issues
                .iter()
                .filter(|i| {
                    state_q
                        .as_ref()
                        .is_none_or(|s| s == "all" || (s == "opened") == i.4)
                })
                .find(|i| {
                    labels
                        .as_ref()
                        .is_none_or(|l| l.split(',').all(|x| i.3.iter().any(|y| y == x)))
                });
            Response::json(
                200,
                first.map_or_else(|| json!({}), |i| issue_json(spec, i)),
            )
        }
        ("POST", ["api", "v4", "projects", _, "issues"]) => {
            let b = r.body.clone().unwrap();
            let row: IssueRow = (
                st.issues.len() as u64 + 1,
                b["title"].as_str().unwrap_or_default().into(),
                b["description"].as_str().unwrap_or_default().into(),
                b["labels"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l.as_str().map(str::to_string))
                    .collect(),
                true,
            );
            st.issues.push(row.clone());
            Response::json(201, issue_json(spec, &row))
        }
        ("GET", ["api", "v4", "projects", _, "issues", n]) => {
            match st.issues.iter().find(|i| i.0.to_string() == *n) {
                Some(i) => Response::json(200, issue_json(spec, i)),
                None => Response::empty(404),
            }
        }
        ("PUT", ["api", "v4", "projects", _, "issues", n]) => {
            let b = r.body.clone().unwrap_or(Value::Null);
            let Some(i) = st.issues.iter_mut().find(|i| i.0.to_string() == *n) else {
                return Response::empty(404);
            };
            if let Some(d) = b["description"].as_str() {
                i.2 = d.into();
            }
            if b["state_event"] == "close" {
                i.4 = false;
            }
            let i = i.clone();
            Response::json(200, issue_json(spec, &i))
        }
        _ => Response::empty(404),
    }
}
