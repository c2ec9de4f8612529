//! Making a plan's proposals real in the fleet repository: one branch per
//! proposal, committed on the current base branch and pushed; a rerun with
//! the same files leaves the branch alone, a newer digest replaces it (the
//! same branch, so the same pull request). When the proposal's judgement
//! allows it and the forge is git itself, the commit is pushed to the base
//! branch as a fast-forward and the proposal's branch deleted.

use serde::Serialize;

use crate::forge::{Forge, ForgeError};
use crate::git::{Author, GitError, Repo};
use crate::plan::{Change, Proposal};
use crate::settings::UpdateSettings;

/// What happened to a proposal's branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BranchState {
    /// Pushed for the first time.
    Created,
    /// Replaced with newer content.
    Updated,
    /// Already had exactly this content on the current base.
    Unchanged,
}

/// Whether a proposal may be merged, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Judgement {
    /// Merge allowed.
    pub merge: bool,
    /// Why (shown in the pull request and the report).
    pub reason: String,
    /// The pull request body (the diff's Markdown), when it was evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// A proposal after it was pushed.
#[derive(Debug, Clone, Serialize)]
pub struct Pushed {
    /// The branch.
    pub branch: String,
    /// The commit it points at.
    pub commit: String,
    /// Created, updated or unchanged.
    pub state: BranchState,
    /// The judgement.
    pub judgement: Judgement,
    /// Merged into the base branch (by git, or by the forge).
    pub merged: bool,
    /// The pull request, on a forge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<String>,
    /// What the forge refused, when it did (the branch is pushed; the next
    /// run finds the branch's pull request or opens it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A pull request closed because its update is no longer proposed.
#[derive(Debug, Clone, Serialize)]
pub struct Closed {
    /// Its branch (deleted).
    pub branch: String,
    /// Where it was.
    pub url: String,
}

/// Pushing failed.
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    /// Git.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The forge.
    #[error(transparent)]
    Forge(#[from] ForgeError),
    /// The author setting.
    #[error("`update.author` = `{0}` is not `Name <email>`")]
    Author(String),
}

/// The commit message of a proposal.
pub fn message(p: &Proposal, s: &UpdateSettings, author: &Author) -> String {
    let title = match p.images.as_slice() {
        [one] => format!("safeimage: update the base images of {one}"),
        more => format!("safeimage: update the base images of {} images", more.len()),
    };
    let mut m = format!("{title}\n\n");
    for u in &p.updates {
        let what = match u.change {
            Change::Digest => "new digest",
            Change::Tag => "newer tag",
            Change::Pin => "pinned",
        };
        let file = u.file.file_name().unwrap_or_default().to_string_lossy();
        m.push_str(&format!(
            "- {} ({file}:{}, {what}): {} -> {}\n",
            u.image, u.line, u.from, u.to
        ));
    }
    if s.signoff {
        m.push_str(&format!(
            "\nSigned-off-by: {} <{}>\n",
            author.name, author.email
        ));
    }
    m
}

/// The proposal's pull request: found (edited when its title or body
/// changed) or opened, merged when the judgement allows; its URL and
/// whether it was merged.
fn pull_request_for(
    f: &dyn Forge,
    p: &Proposal,
    s: &UpdateSettings,
    message: &str,
    judgement: &Judgement,
    commit: &str,
) -> Result<(String, bool), ForgeError> {
    let title = message.lines().next().unwrap_or_default().to_string();
    let body = judgement
        .body
        .clone()
        .unwrap_or_else(|| message.to_string());
    let pr = match f.find(&p.branch)? {
        Some(pr) => {
            if pr.title != title || pr.body != body {
                f.edit(&pr, &title, &body)?;
            }
            pr
        }
        None => f.open(&p.branch, &s.base_branch, &title, &body, &s.labels)?,
    };
    if judgement.merge {
        f.merge(&pr, commit)?;
    }
    Ok((pr.url, judgement.merge))
}

/// Pushes each proposal; `judge` decides each merge. With a forge, each
/// proposal's pull request is opened once and then edited (never a second
/// one for the same branch), merged by the forge when allowed; open pull
/// requests of ours whose branch is neither proposed nor in `keep` (still
/// waiting) are closed and their branches deleted. Without one (git mode),
/// an allowed proposal is merged by a fast-forward push.
pub fn push(
    repo: &Repo,
    proposals: &[Proposal],
    s: &UpdateSettings,
    now: i64,
    judge: &mut dyn FnMut(&Proposal) -> Judgement,
    forge: Option<&dyn Forge>,
    keep: &[String],
) -> Result<(Vec<Pushed>, Vec<Closed>), ProposeError> {
    let author = Author::parse(&s.author).ok_or_else(|| ProposeError::Author(s.author.clone()))?;
    let mut out = Vec::new();
    for p in proposals {
        let base = repo.fetch(&s.base_branch)?;
        let existing = repo.remote_branch(&p.branch)?;
        let message = message(p, s, &author);
        let (commit, tree) = repo.commit(&base, &p.files, &message, &author, now)?;
        let (state, commit) = match existing {
            Some(old) => {
                let (old_tree, old_parent) = repo.tree_and_parent(&old)?;
                if old_tree == tree && old_parent.as_deref() == Some(base.as_str()) {
                    (BranchState::Unchanged, old)
                } else {
                    repo.push_branch(&commit, &p.branch)?;
                    (BranchState::Updated, commit)
                }
            }
            None => {
                repo.push_branch(&commit, &p.branch)?;
                (BranchState::Created, commit)
            }
        };
        let judgement = judge(p);
        let mut merged = false;
        let mut pull_request = None;
        let mut error = None;
        match forge {
            Some(f) => match pull_request_for(f, p, s, &message, &judgement, &commit) {
                Ok((url, m)) => {
                    pull_request = Some(url);
                    merged = m;
                }
                // one proposal's forge error is reported with it; the
                // others go on
                Err(e) => error = Some(e.to_string()),
            },
            None if judgement.merge => {
                repo.push_fast_forward(&commit, &s.base_branch)?;
                repo.delete_branch(&p.branch)?;
                merged = true;
            }
            None => {}
        }
        out.push(Pushed {
            branch: p.branch.clone(),
            commit,
            state,
            judgement,
            merged,
            pull_request,
            error,
        });
    }
    let mut closed = Vec::new();
    if let Some(f) = forge {
        for pr in f.list(&s.branch_prefix)? {
            if proposals.iter().any(|p| p.branch == pr.branch) || keep.contains(&pr.branch) {
                continue;
            }
            f.close(&pr)?;
            repo.delete_branch(&pr.branch)?;
            closed.push(Closed {
                branch: pr.branch,
                url: pr.url,
            });
        }
    }
    Ok((out, closed))
}
