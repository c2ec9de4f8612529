//! GitHub's REST API for pull requests: listed by head branch, opened,
//! edited, labelled (through the issues API, as GitHub keeps labels there),
//! merged at the commit the proposal pushed, closed.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Forge, ForgeError, Http, Issue, IssueTracker, PullRequest, enc};

/// A repository on GitHub (or GitHub Enterprise: another API URL).
pub struct GitHub {
    http: Http,
    owner: String,
    repo: String,
}

/// `https://api.github.com`.
pub const API: &str = "https://api.github.com";

fn bad(message: String) -> ForgeError {
    ForgeError {
        forge: "GitHub",
        call: "config".into(),
        status: None,
        message,
    }
}

impl GitHub {
    /// `project` is `owner/name`; `token` a token allowed to push and open
    /// pull requests.
    pub fn new(api: &str, project: &str, token: &str) -> Result<GitHub, ForgeError> {
        let (owner, repo) = project
            .split_once('/')
            .filter(|(o, r)| !o.is_empty() && !r.is_empty() && !r.contains('/'))
            .ok_or_else(|| {
                bad(format!(
                    "`update.project` = `{project}`: expected owner/name"
                ))
            })?;
        let http = Http::new(
            "GitHub",
            api,
            vec![
                ("Authorization", format!("Bearer {token}")),
                ("Accept", "application/vnd.github+json".into()),
                ("X-GitHub-Api-Version", "2022-11-28".into()),
            ],
        )?;
        Ok(GitHub {
            http,
            owner: owner.to_string(),
            repo: repo.to_string(),
        })
    }

    fn path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", enc(&self.owner), enc(&self.repo))
    }

    fn pr(v: &Value) -> PullRequest {
        PullRequest {
            number: v["number"].as_u64().unwrap_or_default(),
            url: v["html_url"].as_str().unwrap_or_default().to_string(),
            branch: v["head"]["ref"].as_str().unwrap_or_default().to_string(),
            title: v["title"].as_str().unwrap_or_default().to_string(),
            body: v["body"].as_str().unwrap_or_default().to_string(),
        }
    }
}

impl Forge for GitHub {
    fn find(&self, branch: &str) -> Result<Option<PullRequest>, ForgeError> {
        let head = format!("{}:{branch}", self.owner);
        let (_, v) = self.http.call(
            Method::GET,
            &self.path(&format!(
                "/pulls?state=open&head={}&per_page=100",
                enc(&head)
            )),
            None,
        )?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .map(Self::pr)
            .find(|p| p.branch == branch))
    }

    fn list(&self, prefix: &str) -> Result<Vec<PullRequest>, ForgeError> {
        let mut out = Vec::new();
        for page in 1..=10 {
            let (_, v) = self.http.call(
                Method::GET,
                &self.path(&format!("/pulls?state=open&per_page=100&page={page}")),
                None,
            )?;
            let items = v.as_array().cloned().unwrap_or_default();
            out.extend(
                items
                    .iter()
                    .map(Self::pr)
                    .filter(|p| p.branch.starts_with(prefix)),
            );
            if items.len() < 100 {
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
        let (_, v) = self.http.call(
            Method::POST,
            &self.path("/pulls"),
            Some(&json!({"title": title, "head": branch, "base": base, "body": body})),
        )?;
        let pr = Self::pr(&v);
        if !labels.is_empty() {
            self.http.call(
                Method::POST,
                &self.path(&format!("/issues/{}/labels", pr.number)),
                Some(&json!({ "labels": labels })),
            )?;
        }
        Ok(pr)
    }

    fn edit(&self, pr: &PullRequest, title: &str, body: &str) -> Result<(), ForgeError> {
        self.http.call(
            Method::PATCH,
            &self.path(&format!("/pulls/{}", pr.number)),
            Some(&json!({"title": title, "body": body})),
        )?;
        Ok(())
    }

    fn merge(&self, pr: &PullRequest, sha: &str) -> Result<(), ForgeError> {
        self.http.call(
            Method::PUT,
            &self.path(&format!("/pulls/{}/merge", pr.number)),
            Some(&json!({"sha": sha, "merge_method": "merge"})),
        )?;
        Ok(())
    }

    fn close(&self, pr: &PullRequest) -> Result<(), ForgeError> {
        self.http.call(
            Method::PATCH,
            &self.path(&format!("/pulls/{}", pr.number)),
            Some(&json!({"state": "closed"})),
        )?;
        Ok(())
    }
}

impl IssueTracker for GitHub {
    fn find_issue(&self, marker: &str, label: &str) -> Result<Option<Issue>, ForgeError> {
        for page in 1..=10 {
            let (_, v) = self.http.call(
                Method::GET,
                &self.path(&format!(
                    "/issues?state=open&labels={}&per_page=100&page={page}",
                    enc(label)
                )),
                None,
            )?;
            let items = v.as_array().cloned().unwrap_or_default();
            if let Some(i) = items.iter().find(|i| {
                i.get("pull_request").is_none()
                    && i["body"].as_str().is_some_and(|b| b.contains(marker))
            }) {
                return Ok(Some(Issue {
                    number: i["number"].as_u64().unwrap_or_default(),
                    url: i["html_url"].as_str().unwrap_or_default().to_string(),
                }));
            }
            if items.len() < 100 {
                break;
            }
        }
        Ok(None)
    }

    fn open_issue(&self, title: &str, body: &str, labels: &[String]) -> Result<Issue, ForgeError> {
        let (_, v) = self.http.call(
            Method::POST,
            &self.path("/issues"),
            Some(&json!({"title": title, "body": body, "labels": labels})),
        )?;
        Ok(Issue {
            number: v["number"].as_u64().unwrap_or_default(),
            url: v["html_url"].as_str().unwrap_or_default().to_string(),
        })
    }

    fn comment(&self, issue: &Issue, body: &str) -> Result<(), ForgeError> {
        self.http.call(
            Method::POST,
            &self.path(&format!("/issues/{}/comments", issue.number)),
            Some(&json!({ "body": body })),
        )?;
        Ok(())
    }

    fn set_body(&self, issue: &Issue, body: &str) -> Result<(), ForgeError> {
        self.http.call(
            Method::PATCH,
            &self.path(&format!("/issues/{}", issue.number)),
            Some(&json!({ "body": body })),
        )?;
        Ok(())
    }

    fn close_issue(&self, issue: &Issue) -> Result<(), ForgeError> {
        self.http.call(
            Method::PATCH,
            &self.path(&format!("/issues/{}", issue.number)),
            Some(&json!({"state": "closed", "state_reason": "completed"})),
        )?;
        Ok(())
    }
}
