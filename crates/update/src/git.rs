//! The fleet repository as update proposals use it, through git's plumbing
//! so the checkout someone works in is never touched: the base branch is
//! fetched into a private ref, the proposal's files are written as blobs
//! into a tree built in a temporary index, committed on top of the base
//! with the configured author, and pushed to the proposal's branch (forced:
//! a newer digest replaces the branch, so one pull request follows one
//! update group). Merging in git mode is a push of that commit to the base
//! branch, refused by the remote unless it is a fast-forward. Every git
//! runs through `sandbox::git` (no hooks, textconv, pager, fsmonitor or
//! other command the repository could name); only the `file`, `https` and
//! `http` transports are allowed for fetch and push.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A git command failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// git could not be started.
    #[error("git: {0}")]
    Spawn(std::io::Error),
    /// git said no.
    #[error("git {what} in {dir}: {message}")]
    Failed {
        /// The subcommand.
        what: String,
        /// The repository.
        dir: PathBuf,
        /// git's message (credentials in URLs redacted).
        message: String,
    },
    /// A file to commit is outside the repository.
    #[error("{0} is not inside the repository")]
    Outside(PathBuf),
}

/// Who commits.
#[derive(Debug, Clone)]
pub struct Author {
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
}

impl Author {
    /// From `Name <email>`.
    pub fn parse(s: &str) -> Option<Author> {
        let (name, rest) = s.split_once('<')?;
        let email = rest.strip_suffix('>')?;
        Some(Author {
            name: name.trim().to_string(),
            email: email.trim().to_string(),
        })
    }
}

/// The fleet repository.
pub struct Repo {
    top: PathBuf,
    remote: String,
}

fn redact(s: &str) -> String {
    // `https://user:token@host/...` → `https://***@host/...`
    let mut out = String::new();
    for word in s.split_inclusive(char::is_whitespace) {
        match (word.find("://"), word.find('@')) {
            (Some(i), Some(j)) if j > i => {
                out.push_str(&word[..i + 3]);
                out.push_str("***");
                out.push_str(&word[j..]);
            }
            _ => out.push_str(word),
        }
    }
    out
}

impl Repo {
    fn git(&self) -> Command {
        let mut c = sandbox::git::command(&self.top);
        for o in [
            "protocol.file.allow=always",
            "protocol.https.allow=always",
            "protocol.http.allow=always",
        ] {
            c.args(["-c", o]);
        }
        c
    }

    /// The programs run on the other side of a local (`file`) remote, named
    /// here so neither the repository's `remote.*.uploadpack` /
    /// `receivepack` settings nor the remote repository's hooks run.
    fn transport(&self, c: &mut Command, push: bool) {
        if push {
            c.arg("--receive-pack=git -c core.hooksPath=/dev/null receive-pack");
        } else {
            c.arg("--upload-pack=git -c core.hooksPath=/dev/null upload-pack");
        }
    }

    fn run(&self, what: &str, mut c: Command) -> Result<Output, GitError> {
        let out = c.output().map_err(GitError::Spawn)?;
        if !out.status.success() {
            return Err(GitError::Failed {
                what: what.to_string(),
                dir: self.top.clone(),
                message: redact(String::from_utf8_lossy(&out.stderr).trim()),
            });
        }
        Ok(out)
    }

    fn text(&self, what: &str, c: Command) -> Result<String, GitError> {
        Ok(String::from_utf8_lossy(&self.run(what, c)?.stdout)
            .trim()
            .to_string())
    }

    /// The repository that holds `dir`, pushing to `remote`.
    pub fn open(dir: &Path, remote: &str) -> Result<Repo, GitError> {
        let probe = Repo {
            top: dir.to_path_buf(),
            remote: remote.to_string(),
        };
        let mut c = probe.git();
        c.args(["rev-parse", "--show-toplevel"]);
        let top = PathBuf::from(probe.text("rev-parse", c)?);
        Ok(Repo {
            top: std::fs::canonicalize(&top).unwrap_or(top),
            remote: remote.to_string(),
        })
    }

    /// The repository's top directory.
    pub fn top(&self) -> &Path {
        &self.top
    }

    /// Fetches `branch` from the remote; returns its commit.
    pub fn fetch(&self, branch: &str) -> Result<String, GitError> {
        let private = format!("refs/safeimage/remote/{branch}");
        let mut c = self.git();
        c.args([
            "fetch",
            "--no-tags",
            "--no-write-fetch-head",
            "--quiet",
            "--end-of-options",
        ])
        .arg(&self.remote)
        .arg(format!("+refs/heads/{branch}:{private}"));
        self.run("fetch", c)?;
        let mut c = self.git();
        c.args(["rev-parse", "--verify", "--end-of-options"])
            .arg(format!("{private}^{{commit}}"));
        self.text("rev-parse", c)
    }

    /// The commit `branch` is at on the remote, if it exists.
    pub fn remote_branch(&self, branch: &str) -> Result<Option<String>, GitError> {
        let mut c = self.git();
        c.args(["ls-remote", "--heads"]);
        self.transport(&mut c, false);
        c.arg("--end-of-options")
            .arg(&self.remote)
            .arg(format!("refs/heads/{branch}"));
        let out = self.text("ls-remote", c)?;
        Ok(out.split_whitespace().next().map(str::to_string))
    }

    /// The tree and first parent of `commit` (after fetching it, for a
    /// branch that is only on the remote).
    pub fn tree_and_parent(&self, commit: &str) -> Result<(String, Option<String>), GitError> {
        let mut c = self.git();
        c.args([
            "fetch",
            "--no-tags",
            "--no-write-fetch-head",
            "--quiet",
            "--end-of-options",
        ])
        .arg(&self.remote)
        .arg(commit);
        // a commit we already have needs no fetch; one we cannot fetch is
        // reported by the rev-parse below
        let _ = c.output();
        let mut c = self.git();
        c.args([
            "show",
            "-s",
            "--format=%T %P",
            "--no-show-signature",
            "--end-of-options",
        ])
        .arg(
            sandbox::git::revision(commit).map_err(|m| GitError::Failed {
                what: "show".into(),
                dir: self.top.clone(),
                message: m,
            })?,
        );
        let out = self.text("show", c)?;
        let mut it = out.split_whitespace();
        Ok((
            it.next().unwrap_or_default().to_string(),
            it.next().map(str::to_string),
        ))
    }

    /// The files that differ between two revisions (repository-relative).
    pub fn changed(&self, base: &str, head: &str) -> Result<Vec<PathBuf>, GitError> {
        let rev = |r: &str| {
            sandbox::git::revision(r)
                .map(str::to_string)
                .map_err(|m| GitError::Failed {
                    what: "diff".into(),
                    dir: self.top.clone(),
                    message: m,
                })
        };
        let mut c = self.git();
        c.args(["diff", "--name-only", "--no-renames", "-z"])
            .args(sandbox::git::DIFF_FLAGS)
            .arg("--end-of-options")
            .arg(rev(base)?)
            .arg(rev(head)?);
        let out = self.run("diff", c)?;
        Ok(out
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .collect())
    }

    /// Writes the tree of `rev` into `dest` (through `git archive` and a tar
    /// reader that never writes outside `dest`): no checkout, so no filter,
    /// hook or attribute-driven command runs.
    pub fn export(&self, rev: &str, dest: &Path) -> Result<(), GitError> {
        let rev = sandbox::git::revision(rev).map_err(|m| GitError::Failed {
            what: "archive".into(),
            dir: self.top.clone(),
            message: m,
        })?;
        let mut c = self.git();
        c.args(["archive", "--format=tar", "--end-of-options", rev]);
        let out = self.run("archive", c)?;
        std::fs::create_dir_all(dest).map_err(GitError::Spawn)?;
        let mut a = tar::Archive::new(std::io::Cursor::new(out.stdout));
        a.set_preserve_permissions(false);
        a.set_overwrite(false);
        for entry in a.entries().map_err(GitError::Spawn)? {
            let mut e = entry.map_err(GitError::Spawn)?;
            e.unpack_in(dest).map_err(GitError::Spawn)?;
        }
        Ok(())
    }

    /// Commits `files` (absolute paths inside the repository, with their
    /// new text) on top of `base`; returns (commit, tree). Nothing in the
    /// working tree or the index changes.
    pub fn commit(
        &self,
        base: &str,
        files: &[(PathBuf, String)],
        message: &str,
        author: &Author,
        time: i64,
    ) -> Result<(String, String), GitError> {
        let index = tempfile::Builder::new()
            .prefix("safeimage-index-")
            .tempfile()
            .map_err(GitError::Spawn)?;
        let with_index = |mut c: Command| {
            c.env("GIT_INDEX_FILE", index.path());
            c
        };
        let mut c = with_index(self.git());
        c.args(["read-tree", "--end-of-options", base]);
        self.run("read-tree", c)?;
        for (path, text) in files {
            let canon = path
                .parent()
                .and_then(|p| std::fs::canonicalize(p).ok())
                .map(|p| p.join(path.file_name().unwrap_or_default()))
                .unwrap_or_else(|| path.clone());
            let rel = canon
                .strip_prefix(&self.top)
                .map_err(|_| GitError::Outside(path.clone()))?;
            let tmp = tempfile::NamedTempFile::new().map_err(GitError::Spawn)?;
            std::fs::write(tmp.path(), text).map_err(GitError::Spawn)?;
            let mut c = self.git();
            c.args(["hash-object", "-w", "--no-filters", "--"])
                .arg(tmp.path());
            let blob = self.text("hash-object", c)?;
            // keep the file's mode as the base has it (100644 otherwise)
            let mut c = with_index(self.git());
            c.args(["ls-files", "-s", "--"]).arg(rel);
            let mode = self
                .text("ls-files", c)?
                .split_whitespace()
                .next()
                .unwrap_or("100644")
                .to_string();
            let mut c = with_index(self.git());
            c.args(["update-index", "--add", "--cacheinfo"])
                .arg(format!("{mode},{blob},{}", rel.display()));
            self.run("update-index", c)?;
        }
        let mut c = with_index(self.git());
        c.arg("write-tree");
        let tree = self.text("write-tree", c)?;
        let mut c = self.git();
        let date = format!("@{time} +0000");
        c.env("GIT_AUTHOR_NAME", &author.name)
            .env("GIT_AUTHOR_EMAIL", &author.email)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_NAME", &author.name)
            .env("GIT_COMMITTER_EMAIL", &author.email)
            .env("GIT_COMMITTER_DATE", &date)
            .args(["commit-tree", &tree, "-p", base, "-m", message]);
        let commit = self.text("commit-tree", c)?;
        Ok((commit, tree))
    }

    /// Points the remote's `branch` at `commit` (forced: the proposal's
    /// branch is ours).
    pub fn push_branch(&self, commit: &str, branch: &str) -> Result<(), GitError> {
        let mut c = self.git();
        c.args(["push", "--quiet", "--force"]);
        self.transport(&mut c, true);
        c.arg("--end-of-options")
            .arg(&self.remote)
            .arg(format!("{commit}:refs/heads/{branch}"));
        self.run("push", c).map(|_| ())
    }

    /// Merges by pushing `commit` to the base branch: the remote accepts
    /// only a fast-forward (someone else's newer commit is never lost).
    pub fn push_fast_forward(&self, commit: &str, branch: &str) -> Result<(), GitError> {
        let mut c = self.git();
        c.args(["push", "--quiet"]);
        self.transport(&mut c, true);
        c.arg("--end-of-options")
            .arg(&self.remote)
            .arg(format!("{commit}:refs/heads/{branch}"));
        self.run("push", c).map(|_| ())
    }

    /// Deletes the remote's `branch`.
    pub fn delete_branch(&self, branch: &str) -> Result<(), GitError> {
        let mut c = self.git();
        c.args(["push", "--quiet"]);
        self.transport(&mut c, true);
        c.arg("--end-of-options")
            .arg(&self.remote)
            .arg(format!(":refs/heads/{branch}"));
        self.run("push", c).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_redacted_from_git_messages() {
        let m = redact(
            "fatal: unable to access 'https://x-access-token:ghp_secret@github.com/o/r/': 403",
        );
        assert!(!m.contains("ghp_secret"), "{m}");
        assert!(m.contains("https://***@github.com"), "{m}");
    }

    #[test]
    fn an_author_is_name_and_email() {
        let a = Author::parse("Fleet Bot <bot@example.com>").unwrap();
        assert_eq!(
            (a.name.as_str(), a.email.as_str()),
            ("Fleet Bot", "bot@example.com")
        );
        assert!(Author::parse("nobody").is_none());
    }
}
