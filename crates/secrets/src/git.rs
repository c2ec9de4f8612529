//! A repository's history: every line any commit added, read from `git log
//! -p -U0` (all refs, full history), with the commit, author and date. A
//! secret a later commit deleted is still in the history, and found. The
//! repository is not trusted: git runs through `sandbox::git` (no textconv,
//! external diff, signature program, hooks, pager or implicit bare
//! repository), and a range must be a revision, not an option.

use std::path::Path;
use std::process::Stdio;

use crate::engine::Engine;
use crate::found::{Found, Place};

/// Why the history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// git could not be started.
    #[error("cannot run git: {0}")]
    Spawn(std::io::Error),
    /// A range that is not a revision.
    #[error("--since-commit: {0}")]
    Revision(String),
    /// git said no.
    #[error("git log in {dir}: {message}")]
    Failed {
        /// Repository.
        dir: String,
        /// Its stderr.
        message: String,
    },
}

/// What a history scan saw.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct History {
    /// Commits read.
    pub commits: usize,
    /// Bytes of added lines.
    pub bytes: u64,
}

struct Cursor {
    commit: String,
    author: String,
    date: String,
    path: String,
    /// Added lines of the current file, with their new line numbers.
    lines: Vec<(usize, String)>,
    next_line: usize,
    /// Between `diff --git` and the first hunk: `+++ ` names the file.
    in_header: bool,
}

const MARK: &str = "\u{1}commit ";

/// The first new line of a hunk (`@@ -a,b +c,d @@`).
fn hunk_start(h: &str) -> usize {
    h.split_whitespace()
        .find_map(|w| w.strip_prefix('+'))
        .and_then(|w| w.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Scans the lines added in `range` (e.g. `OLD..HEAD`; `None`: all refs).
pub fn scan(
    dir: &Path,
    range: Option<&str>,
    engine: &Engine,
) -> Result<(Vec<Found>, History), GitError> {
    let mut cmd = sandbox::git::command(dir);
    cmd.args([
        "-c",
        "core.quotepath=off",
        "log",
        "-p",
        "-U0",
        "--full-history",
        "--no-color",
        "--no-renames",
        "--diff-filter=ACMRTUXB",
        "--format=%x01commit %H%x09%an <%ae>%x09%aI",
    ])
    .args(sandbox::git::DIFF_FLAGS);
    match range {
        Some(r) => {
            let r = sandbox::git::revision(r).map_err(GitError::Revision)?;
            cmd.args(["--end-of-options", r]);
        }
        None => {
            cmd.arg("--all");
        }
    }
    let out = cmd.stdin(Stdio::null()).output().map_err(GitError::Spawn)?;
    if !out.status.success() {
        return Err(GitError::Failed {
            dir: dir.display().to_string(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut found = Vec::new();
    let mut seen = History::default();
    let mut cur: Option<Cursor> = None;
    let flush = |c: &mut Cursor, found: &mut Vec<Found>, seen: &mut History| {
        if c.lines.is_empty() || c.path.is_empty() {
            c.lines.clear();
            return;
        }
        // scanned as one text of the added lines; line numbers mapped back
        let body: String = c.lines.iter().map(|(_, l)| format!("{l}\n")).collect();
        seen.bytes += body.len() as u64;
        for mut hit in engine.scan(&c.path, body.as_bytes()) {
            if let Some((n, _)) = c.lines.get(hit.line - 1) {
                hit.line = *n;
            }
            found.push(Found {
                place: Place::Commit {
                    commit: c.commit.clone(),
                    author: c.author.clone(),
                    date: c.date.clone(),
                    path: c.path.clone(),
                },
                hit,
            });
        }
        c.lines.clear();
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(MARK) {
            if let Some(c) = cur.as_mut() {
                flush(c, &mut found, &mut seen);
            }
            let mut parts = rest.splitn(3, '\t');
            seen.commits += 1;
            cur = Some(Cursor {
                commit: parts.next().unwrap_or("").to_string(),
                author: parts.next().unwrap_or("").to_string(),
                date: parts.next().unwrap_or("").to_string(),
                path: String::new(),
                lines: Vec::new(),
                next_line: 0,
                in_header: false,
            });
            continue;
        }
        let Some(c) = cur.as_mut() else { continue };
        if line.starts_with("diff --git ") {
            flush(c, &mut found, &mut seen);
            c.path.clear();
            c.in_header = true;
        } else if c.in_header {
            if let Some(p) = line.strip_prefix("+++ ") {
                c.path = p.strip_prefix("b/").unwrap_or(p).to_string();
                if c.path == "/dev/null" {
                    c.path.clear();
                }
            } else if let Some(h) = line.strip_prefix("@@ ") {
                c.in_header = false;
                c.next_line = hunk_start(h);
            }
        } else if let Some(h) = line.strip_prefix("@@ ") {
            c.next_line = hunk_start(h);
        } else if let Some(added) = line.strip_prefix('+')
            && !c.path.is_empty()
        {
            c.lines.push((c.next_line, added.to_string()));
            c.next_line += 1;
        }
    }
    if let Some(c) = cur.as_mut() {
        flush(c, &mut found, &mut seen);
    }
    Ok((found, seen))
}
