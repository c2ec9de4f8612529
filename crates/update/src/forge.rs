//! Pull requests on a forge, behind [`Forge`] so proposals are made the
//! same way on GitHub and GitLab (and by a double in tests of the logic):
//! find the open one for a branch, open it, edit its title and body, merge
//! it (or have the forge merge it when its pipeline passes), close it. The
//! HTTP calls retry what the API says to retry (429, 5xx, a `Retry-After`)
//! a few times; errors name the forge, the call and the status, never the
//! token.

use std::time::Duration;

use serde_json::Value;

pub mod github;
pub mod gitlab;

/// A pull (or merge) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Its number (GitLab: iid).
    pub number: u64,
    /// Where people see it.
    pub url: String,
    /// Its source branch.
    pub branch: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
}

/// A forge call failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{forge}: {call}: {message}")]
pub struct ForgeError {
    /// `GitHub`, `GitLab`.
    pub forge: &'static str,
    /// `POST /repos/o/r/pulls`.
    pub call: String,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// What went wrong (the API's message, or the kind of failure).
    pub message: String,
}

/// What proposals need of a forge.
pub trait Forge {
    /// The open pull request from `branch`, if any.
    fn find(&self, branch: &str) -> Result<Option<PullRequest>, ForgeError>;
    /// Open pull requests whose branch starts with `prefix`.
    fn list(&self, prefix: &str) -> Result<Vec<PullRequest>, ForgeError>;
    /// Opens one from `branch` into `base`, with labels.
    fn open(
        &self,
        branch: &str,
        base: &str,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<PullRequest, ForgeError>;
    /// Replaces its title and body.
    fn edit(&self, pr: &PullRequest, title: &str, body: &str) -> Result<(), ForgeError>;
    /// Merges it at `sha` (refused by the forge if the branch moved since).
    fn merge(&self, pr: &PullRequest, sha: &str) -> Result<(), ForgeError>;
    /// Closes it without merging.
    fn close(&self, pr: &PullRequest) -> Result<(), ForgeError>;
}

/// `s` percent-encoded for a URL path segment or query value (unreserved
/// characters kept).
pub(crate) fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Attempts per call (the first and two retries).
pub const ATTEMPTS: u32 = 3;
/// The longest wait a `Retry-After` is honoured for.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// An HTTP client for one forge's API.
pub struct Http {
    forge: &'static str,
    base: String,
    client: reqwest::blocking::Client,
    headers: Vec<(&'static str, String)>,
}

impl Http {
    /// A client for `base` (the API's root URL) sending `headers` (the
    /// token among them) on every call.
    pub fn new(
        forge: &'static str,
        base: &str,
        headers: Vec<(&'static str, String)>,
    ) -> Result<Http, ForgeError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ForgeError {
                forge,
                call: "client".into(),
                status: None,
                message: e.to_string(),
            })?;
        Ok(Http {
            forge,
            base: base.trim_end_matches('/').to_string(),
            client,
            headers,
        })
    }

    /// `method path` with a JSON body; the status and JSON answer of a
    /// success (2xx), retried on 429, 5xx and a 403 that says when to
    /// come back.
    pub fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), ForgeError> {
        let call = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let err = |status: Option<u16>, message: String| ForgeError {
            forge: self.forge,
            call: call.clone(),
            status,
            message,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self
                .client
                .request(method.clone(), format!("{}{path}", self.base))
                .header(
                    "User-Agent",
                    concat!("safeimage/", env!("CARGO_PKG_VERSION")),
                );
            for (k, v) in &self.headers {
                req = req.header(*k, v);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            // reqwest errors can carry the URL: only their kind is kept
            let resp = req.send().map_err(|e| {
                err(
                    None,
                    if e.is_timeout() {
                        "timed out".into()
                    } else if e.is_connect() {
                        "cannot connect".into()
                    } else {
                        "request failed".into()
                    },
                )
            })?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = resp.text().unwrap_or_default();
            let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if (200..300).contains(&status) {
                return Ok((status, json));
            }
            let again = status == 429 || status >= 500 || (status == 403 && retry_after.is_some());
            if again && attempt < ATTEMPTS {
                let wait = retry_after
                    .unwrap_or(Duration::from_secs(u64::from(attempt)))
                    .min(MAX_WAIT);
                std::thread::sleep(wait);
                continue;
            }
            let said = json
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| {
                    json.get("error")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_default();
            let said: String = said.chars().take(300).collect();
            return Err(err(
                Some(status),
                match (status, retry_after) {
                    (401, _) => format!("HTTP 401: the token was refused {said}"),
                    (_, Some(w)) if again => format!(
                        "HTTP {status} after {attempt} attempts (the API asked to wait {}s) {said}",
                        w.as_secs()
                    ),
                    _ => format!("HTTP {status} {said}"),
                }
                .trim()
                .to_string(),
            ));
        }
    }
}

/// The token from the environment variable `var`.
pub fn token(forge: &'static str, var: &str) -> Result<String, ForgeError> {
    settings::env::named(var)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ForgeError {
            forge,
            call: "token".into(),
            status: None,
            message: format!("the environment variable {var} (update.token_env) is not set"),
        })
}

/// The forge `settings` name, with its token from the environment: `None`
/// for `forge = "git"`. `api_url` defaults to the forge's public API
/// (GitLab: `$CI_API_V4_URL` inside GitLab CI, else gitlab.com).
pub fn connect(
    settings: &crate::settings::UpdateSettings,
) -> Result<Option<Box<dyn Forge>>, ForgeError> {
    use crate::settings::ForgeKind;
    let (name, default_api, shape) = match settings.forge {
        ForgeKind::Git => return Ok(None),
        ForgeKind::Github => ("GitHub", github::API.to_string(), "owner/name"),
        ForgeKind::Gitlab => (
            "GitLab",
            settings::env::CI_API_V4_URL
                .get()
                .unwrap_or_else(|| gitlab::API.to_string()),
            "group/name",
        ),
    };
    let project = settings.project.as_deref().ok_or_else(|| ForgeError {
        forge: name,
        call: "config".into(),
        status: None,
        message: format!(
            "`update.forge` = \"{}\" needs `update.project` = \"{shape}\"",
            name.to_ascii_lowercase()
        ),
    })?;
    let token = token(name, &settings.token_env)?;
    let api = settings.api_url.clone().unwrap_or(default_api);
    Ok(Some(match settings.forge {
        ForgeKind::Github => Box::new(github::GitHub::new(&api, project, &token)?),
        _ => Box::new(gitlab::GitLab::new(&api, project, &token)?),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{ForgeKind, UpdateSettings};

    fn with(forge: ForgeKind, project: Option<&str>) -> UpdateSettings {
        UpdateSettings {
            forge,
            project: project.map(str::to_string),
            token_env: "SAFEIMAGE_UNIT_TEST_TOKEN_NEVER_SET".into(),
            ..Default::default()
        }
    }

    #[test]
    fn git_mode_needs_no_forge() {
        assert!(connect(&with(ForgeKind::Git, None)).unwrap().is_none());
    }

    #[test]
    fn a_forge_without_a_project_says_what_the_project_looks_like() {
        let e = connect(&with(ForgeKind::Gitlab, None)).err().unwrap();
        assert_eq!(e.forge, "GitLab");
        assert!(
            e.message.contains("update.project") && e.message.contains("group/name"),
            "{e}"
        );
        let e = connect(&with(ForgeKind::Github, None)).err().unwrap();
        assert!(e.message.contains("owner/name"), "{e}");
    }

    #[test]
    fn a_missing_token_names_the_variable() {
        let e = connect(&with(ForgeKind::Gitlab, Some("group/app")))
            .err()
            .unwrap();
        assert!(
            e.message.contains("SAFEIMAGE_UNIT_TEST_TOKEN_NEVER_SET"),
            "{e}"
        );
    }

    #[test]
    fn a_gitlab_project_path_must_have_no_empty_part() {
        let e = gitlab::GitLab::new(gitlab::API, "group//app", "t")
            .err()
            .unwrap();
        assert!(e.message.contains("group//app"), "{e}");
        assert!(gitlab::GitLab::new(gitlab::API, "1234", "t").is_ok());
    }
}

/// An issue on a forge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Its number (GitLab: iid).
    pub number: u64,
    /// Where people see it.
    pub url: String,
}

/// What per-image security issues need of a forge: found again by a marker
/// in their text (so reruns, shards and replicas never open a second one),
/// opened, appended to, closed.
pub trait IssueTracker {
    /// The open issue labelled `label` whose text contains `marker`.
    fn find_issue(&self, marker: &str, label: &str) -> Result<Option<Issue>, ForgeError>;
    /// Opens one.
    fn open_issue(&self, title: &str, body: &str, labels: &[String]) -> Result<Issue, ForgeError>;
    /// Adds a comment.
    fn comment(&self, issue: &Issue, body: &str) -> Result<(), ForgeError>;
    /// Closes it.
    fn close_issue(&self, issue: &Issue) -> Result<(), ForgeError>;
    /// Replaces its text (an issue kept up to date in place).
    fn set_body(&self, issue: &Issue, body: &str) -> Result<(), ForgeError>;
}

/// The issue tracker `settings` name (the forge `[update]` names), with its
/// token: `None` for `forge = "git"`.
pub fn connect_issues(
    settings: &crate::settings::UpdateSettings,
) -> Result<Option<Box<dyn IssueTracker>>, ForgeError> {
    use crate::settings::ForgeKind;
    match settings.forge {
        ForgeKind::Git => Ok(None),
        ForgeKind::Github => {
            let project = settings.project.as_deref().ok_or_else(|| ForgeError {
                forge: "GitHub",
                call: "config".into(),
                status: None,
                message: "`update.project` = \"owner/name\" is needed for security issues".into(),
            })?;
            let token = token("GitHub", &settings.token_env)?;
            let api = settings.api_url.clone().unwrap_or(github::API.to_string());
            Ok(Some(Box::new(github::GitHub::new(&api, project, &token)?)))
        }
        ForgeKind::Gitlab => {
            let project = settings.project.as_deref().ok_or_else(|| ForgeError {
                forge: "GitLab",
                call: "config".into(),
                status: None,
                message: "`update.project` = \"group/name\" is needed for security issues".into(),
            })?;
            let token = token("GitLab", &settings.token_env)?;
            let api = settings.api_url.clone().unwrap_or_else(|| {
                settings::env::CI_API_V4_URL
                    .get()
                    .unwrap_or_else(|| gitlab::API.to_string())
            });
            Ok(Some(Box::new(gitlab::GitLab::new(&api, project, &token)?)))
        }
    }
}
