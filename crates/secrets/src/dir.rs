//! A directory tree: every text file, skipping what `.gitignore` (and
//! `.ignore`, `.git/info/exclude`) ignores unless told not to, the `.git`
//! directory itself, binary files (a NUL byte in the first 8 KiB) and files
//! larger than a limit. Dotfiles are scanned: `.env` is where secrets live.

use std::path::Path;

use crate::engine::Engine;
use crate::found::{Found, Place};

/// How to walk.
#[derive(Debug, Clone)]
pub struct DirOptions {
    /// Honour `.gitignore` and friends.
    pub gitignore: bool,
    /// Skip files larger than this.
    pub max_file_bytes: u64,
    /// More ignore files to honour, by name (`.dockerignore` for a build
    /// context: what it excludes never reaches the builder).
    pub ignore_files: Vec<String>,
}

impl Default for DirOptions {
    fn default() -> Self {
        DirOptions {
            gitignore: true,
            max_file_bytes: 32 << 20,
            ignore_files: Vec::new(),
        }
    }
}

/// What a walk saw.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Scanned {
    /// Files read.
    pub files: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Files skipped (binary, too large, unreadable), with why.
    pub skipped: Vec<(String, String)>,
}

/// `true` for content that looks binary.
pub fn is_binary(data: &[u8]) -> bool {
    data.iter().take(8192).any(|b| *b == 0)
}

/// Scans every file under `root`.
pub fn scan(root: &Path, engine: &Engine, opts: &DirOptions) -> (Vec<Found>, Scanned) {
    let mut found = Vec::new();
    let mut seen = Scanned::default();
    let mut walker = ignore::WalkBuilder::new(root);
    for name in &opts.ignore_files {
        walker.add_custom_ignore_filename(name);
    }
    let walker = walker
        .hidden(false)
        .git_ignore(opts.gitignore)
        .git_exclude(opts.gitignore)
        .git_global(false)
        .ignore(opts.gitignore)
        .parents(opts.gitignore)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|e| e.file_name() != ".git")
        .build();
    for entry in walker {
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned();
        let rel = if rel.is_empty() {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            rel
        };
        if entry
            .metadata()
            .is_ok_and(|m| m.len() > opts.max_file_bytes)
        {
            seen.skipped.push((rel, "larger than the limit".into()));
            continue;
        }
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) => {
                seen.skipped.push((rel, e.to_string()));
                continue;
            }
        };
        if is_binary(&data) {
            continue;
        }
        seen.files += 1;
        seen.bytes += data.len() as u64;
        for hit in engine.scan(&rel, &data) {
            found.push(Found {
                place: Place::File { path: rel.clone() },
                hit,
            });
        }
    }
    (found, seen)
}
