//! A GitHub for tests: one repository's pull requests in memory, served by
//! [`crate::openapi::Server`] so every request and response is held to
//! GitHub's own OpenAPI description (target/test-schemas/github-api.json,
//! fetched by scripts/fetch-test-schemas). It wants the token `tok`
//! (`Bearer tok`), answers a pull request whose head is
//! `safeimage/update/refused` with 422, and gives the answers queued in
//! [`State::forced`] first.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};

use crate::openapi::{Request, Response, Server, Spec};

/// GitHub's description, loaded once.
pub fn spec() -> Arc<Spec> {
    static SPEC: OnceLock<Arc<Spec>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/test-schemas/github-api.json");
        Arc::new(Spec::load(&p))
    })
    .clone()
}

/// A pull request.
#[derive(Clone, Debug)]
pub struct Pr {
    /// See GitHub.
    pub number: u64,
    /// See GitHub.
    pub branch: String,
    /// See GitHub.
    pub title: String,
    /// See GitHub.
    pub body: String,
    /// See GitHub.
    pub open: bool,
    /// See GitHub.
    pub merged_at: Option<String>,
}

/// GitHub's pull requests for one repository, in memory.
#[derive(Default)]
pub struct State {
    /// Pull requests, in order.
    pub prs: Vec<Pr>,
    /// Answers given before the real one (status, Retry-After).
    pub forced: VecDeque<(u16, Option<u64>)>,
    /// Issues: (number, title, body, labels, comments, open).
    pub issues: Vec<IssueRow>,
}

/// An issue: number, title, body, labels, comments, open.
pub type IssueRow = (u64, String, String, Vec<String>, Vec<String>, bool);

fn issue_json(spec: &Spec, i: &IssueRow) -> Value {
    let mut v = spec.example("issue");
    v["number"] = json!(i.0);
    v["title"] = json!(i.1);
    v["body"] = json!(i.2);
    v["state"] = json!(if i.5 { "open" } else { "closed" });
    v["html_url"] = json!(format!("https://github.invalid/o/r/issues/{}", i.0));
    v
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

/// Serves `state` on a loopback port.
pub fn github(state: Arc<Mutex<State>>) -> Server {
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
        ("GET", ["repos", "o", "r", "issues"]) => {
            let label = r
                .path
                .split("labels=")
                .nth(1)
                .map(|l| l.split('&').next().unwrap().to_string());
            let list: Vec<Value> = st
                .issues
                .iter()
                .filter(|i| i.5 && label.as_ref().is_none_or(|l| i.3.contains(l)))
                .map(|i| issue_json(spec, i))
                .collect();
            Response::json(200, json!(list))
        }
        ("POST", ["repos", "o", "r", "issues"]) => {
            let b = r.body.clone().unwrap();
            let n = st.prs.len() as u64 + st.issues.len() as u64 + 1;
            let row: IssueRow = (
                n,
                b["title"].as_str().unwrap_or_default().into(),
                b["body"].as_str().unwrap_or_default().into(),
                b["labels"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l.as_str().map(str::to_string))
                    .collect(),
                vec![],
                true,
            );
            st.issues.push(row.clone());
            Response::json(201, issue_json(spec, &row))
        }
        ("POST", ["repos", "o", "r", "issues", n, "comments"]) => {
            let body = r.body.as_ref().unwrap()["body"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let Some(i) = st.issues.iter_mut().find(|i| i.0.to_string() == *n) else {
                return Response::json(
                    404,
                    json!({"message": "Not Found", "documentation_url": "https://docs.github.com"}),
                );
            };
            i.4.push(body.clone());
            let mut v = spec.example("issue-comment");
            v["body"] = json!(body);
            Response::json(201, v)
        }
        ("PATCH", ["repos", "o", "r", "issues", n]) => {
            let b = r.body.clone().unwrap();
            let Some(i) = st.issues.iter_mut().find(|i| i.0.to_string() == *n) else {
                return Response::json(
                    404,
                    json!({"message": "Not Found", "documentation_url": "https://docs.github.com"}),
                );
            };
            if b["state"] == "closed" {
                i.5 = false;
            }
            if let Some(body) = b["body"].as_str() {
                i.2 = body.into();
            }
            let i = i.clone();
            Response::json(200, issue_json(spec, &i))
        }
        _ => Response::json(
            404,
            json!({"message": "Not Found", "documentation_url": "https://docs.github.com"}),
        ),
    }
}
