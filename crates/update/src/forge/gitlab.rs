//! GitLab's REST API (v4) for merge requests: found by source branch,
//! opened with labels and "delete the source branch", edited, set to merge
//! when the pipeline succeeds (`auto_merge`, pinned to the pushed commit so
//! a moved branch is not merged), closed.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Forge, ForgeError, Http, Issue, IssueTracker, PullRequest, enc};

/// A project on GitLab.com or a self-managed GitLab.
pub struct GitLab {
    http: Http,
    /// The project's ID or URL-encoded path.
    id: String,
}

/// `https://gitlab.com/api/v4` (in GitLab CI: `$CI_API_V4_URL`).
pub const API: &str = "https://gitlab.com/api/v4";

/// How many merge requests one list call asks for.
const PER_PAGE: usize = 100;

impl GitLab {
    /// `project` is the project's path (`group/sub/name`) or numeric ID;
    /// `token` a token allowed to push and open merge requests (`api` scope).
    pub fn new(api: &str, project: &str, token: &str) -> Result<GitLab, ForgeError> {
        let project = project.trim_matches('/');
        if project.is_empty() || project.split('/').any(str::is_empty) {
            return Err(ForgeError {
                forge: "GitLab",
                call: "config".into(),
                status: None,
                message: format!(
                    "`update.project` = `{project}`: expected the project's path (group/name) or ID"
                ),
            });
        }
        let http = Http::new("GitLab", api, vec![("PRIVATE-TOKEN", token.to_string())])?;
        Ok(GitLab {
            http,
            id: enc(project),
        })
    }

    fn path(&self, rest: &str) -> String {
        format!("/projects/{}/merge_requests{rest}", self.id)
    }

    fn mr(v: &Value) -> PullRequest {
        PullRequest {
            number: v["iid"].as_u64().unwrap_or_default(),
            url: v["web_url"].as_str().unwrap_or_default().to_string(),
            branch: v["source_branch"].as_str().unwrap_or_default().to_string(),
            title: v["title"].as_str().unwrap_or_default().to_string(),
            body: v["description"].as_str().unwrap_or_default().to_string(),
        }
    }
}

impl Forge for GitLab {
    fn find(&self, branch: &str) -> Result<Option<PullRequest>, ForgeError> {
        let (_, v) = self.http.call(
            Method::GET,
            &self.path(&format!(
                "?state=opened&source_branch={}&per_page={PER_PAGE}",
                enc(branch)
            )),
            None,
        )?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .map(Self::mr)
            .find(|m| m.branch == branch))
    }

    fn list(&self, prefix: &str) -> Result<Vec<PullRequest>, ForgeError> {
        let mut out = Vec::new();
        for page in 1..=10 {
            let (_, v) = self.http.call(
                Method::GET,
                &self.path(&format!("?state=opened&per_page={PER_PAGE}&page={page}")),
                None,
            )?;
            let items = v.as_array().cloned().unwrap_or_default();
            out.extend(
                items
                    .iter()
                    .map(Self::mr)
                    .filter(|m| m.branch.starts_with(prefix)),
            );
            if items.len() < PER_PAGE {
                break;
            }
        }
        Ok(out)
    }

    fn open(
        &self,
        branch: &str,
        base: &str,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<PullRequest, ForgeError> {
        let mut req = json!({
            "source_branch": branch,
            "target_branch": base,
            "title": title,
            "description": body,
            "remove_source_branch": true,
        });
        if !labels.is_empty() {
            req["labels"] = json!(labels);
        }
        let (_, v) = self.http.call(Method::POST, &self.path(""), Some(&req))?;
        Ok(Self::mr(&v))
    }

    fn edit(&self, pr: &PullRequest, title: &str, body: &str) -> Result<(), ForgeError> {
        self.http.call(
            Method::PUT,
            &self.path(&format!("/{}", pr.number)),
            Some(&json!({"title": title, "description": body})),
        )?;
        Ok(())
    }

    fn merge(&self, pr: &PullRequest, sha: &str) -> Result<(), ForgeError> {
        self.http.call(
            Method::PUT,
            &self.path(&format!("/{}/merge", pr.number)),
            Some(&json!({
                "sha": sha,
                "auto_merge": true,
                "should_remove_source_branch": true,
            })),
        )?;
        Ok(())
    }

    fn close(&self, pr: &PullRequest) -> Result<(), ForgeError> {
        self.http.call(
            Method::PUT,
            &self.path(&format!("/{}", pr.number)),
            Some(&json!({"state_event": "close"})),
        )?;
        Ok(())
    }
}

impl GitLab {
    fn issues(&self, rest: &str) -> String {
        format!("/projects/{}/issues{rest}", self.id)
    }
}

/// The issues a list answers: an array, as GitLab returns it, or one issue
/// object, as its OpenAPI description declares (an object without an `iid`
/// is none).
fn issue_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Object(o) if o.contains_key("iid") => vec![v.clone()],
        _ => Vec::new(),
    }
}

fn issue(v: &Value) -> Issue {
    Issue {
        number: v["iid"].as_u64().unwrap_or_default(),
        url: v["web_url"].as_str().unwrap_or_default().to_string(),
    }
}

impl IssueTracker for GitLab {
    fn find_issue(&self, marker: &str, label: &str) -> Result<Option<Issue>, ForgeError> {
        for page in 1..=10 {
            let (_, v) = self.http.call(
                Method::GET,
                &self.issues(&format!(
                    "?state=opened&labels={}&per_page={PER_PAGE}&page={page}",
                    enc(label)
                )),
                None,
            )?;
            let items = issue_list(&v);
            if let Some(i) = items.iter().find(|i| {
                i["description"]
                    .as_str()
                    .is_some_and(|d| d.contains(marker))
            }) {
                return Ok(Some(issue(i)));
            }
            if items.len() < PER_PAGE {
                break;
            }
        }
        Ok(None)
    }

    fn open_issue(&self, title: &str, body: &str, labels: &[String]) -> Result<Issue, ForgeError> {
        let (_, v) = self.http.call(
            Method::POST,
            &self.issues(""),
            Some(&json!({"title": title, "description": body, "labels": labels})),
        )?;
        Ok(issue(&v))
    }

    /// GitLab keeps the blocks in the issue's description (appended), as
    /// its merge-request-style notes are another API.
    fn comment(&self, i: &Issue, body: &str) -> Result<(), ForgeError> {
        let (_, v) = self
            .http
            .call(Method::GET, &self.issues(&format!("/{}", i.number)), None)?;
        let old = v["description"].as_str().unwrap_or_default();
        self.http.call(
            Method::PUT,
            &self.issues(&format!("/{}", i.number)),
            Some(&json!({ "description": format!("{old}\n\n{body}") })),
        )?;
        Ok(())
    }

    fn set_body(&self, i: &Issue, body: &str) -> Result<(), ForgeError> {
        self.http.call(
            Method::PUT,
            &self.issues(&format!("/{}", i.number)),
            Some(&json!({ "description": body })),
        )?;
        Ok(())
    }

    fn close_issue(&self, i: &Issue) -> Result<(), ForgeError> {
        self.http.call(
            Method::PUT,
            &self.issues(&format!("/{}", i.number)),
            Some(&json!({"state_event": "close"})),
        )?;
        Ok(())
    }
}
