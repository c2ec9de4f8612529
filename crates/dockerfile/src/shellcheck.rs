//! ShellCheck on RUN scripts, when Debian's `shellcheck` is installed.
//!
//! Scripts from many Dockerfiles go to one ShellCheck process per CPU
//! (`-f json1` with many files), and results are mapped back to Dockerfile
//! lines: shell-form text keeps its line breaks (continuation backslashes are
//! valid shell too; comment lines inside a continuation become a lone `\`),
//! and heredoc bodies are offset by their first line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use findings::Level;
use serde::Deserialize;

/// Codes that make no sense for Dockerfile scripts (variables come from ENV/ARG,
/// sourced files are not in the context).
const EXCLUDED: &str = "SC1090,SC1091,SC2154";

/// One script to check.
#[derive(Debug, Clone)]
pub struct Script {
    /// Caller's key (file index).
    pub key: usize,
    /// 1-based line and column where the text starts.
    pub line: u32,
    /// 1-based column where the text starts.
    pub column: u32,
    /// Shell dialect: `sh` or `bash`.
    pub dialect: &'static str,
    /// The script, line-preserving.
    pub text: String,
}

/// One ShellCheck result mapped to the Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScFinding {
    /// Caller's key.
    pub key: usize,
    /// `SC2086`.
    pub code: String,
    /// Level.
    pub level: Level,
    /// Message.
    pub message: String,
    /// Line in the Dockerfile.
    pub line: u32,
    /// Column in the Dockerfile.
    pub column: u32,
    /// End line.
    pub end_line: u32,
    /// End column.
    pub end_column: u32,
}

/// Why ShellCheck could not run.
#[derive(Debug, thiserror::Error)]
pub enum ShellcheckError {
    /// Temp files.
    #[error("shellcheck: cannot write temporary scripts: {0}")]
    Io(#[from] std::io::Error),
    /// Output not understood.
    #[error("shellcheck: unexpected output: {0}")]
    Output(String),
}

/// Finds `shellcheck` on PATH.
pub fn find() -> Option<PathBuf> {
    settings::env::on_path("shellcheck")
}

/// Turns shell-form RUN text into a line-preserving script.
pub fn prepare_shell_form(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut continued = false;
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let trimmed = line.trim_start();
        if continued && trimmed.starts_with('#') {
            out.push('\\');
            continue;
        }
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        continued = line.trim_end().ends_with('\\');
    }
    out
}

#[derive(Deserialize)]
struct Output {
    comments: Vec<Comment>,
}

/// One `json1` comment: the file it is about, and the finding.
#[derive(Deserialize)]
struct Comment {
    file: String,
    #[serde(flatten)]
    raw: Raw,
}

/// A ShellCheck finding, in ShellCheck's own field names. Read from its
/// output with lines relative to the temp file, stored in the cache with
/// lines relative to the script (line 1 = first script line).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    line: u32,
    end_line: u32,
    column: u32,
    end_column: u32,
    level: String,
    code: u32,
    message: String,
}

/// Identifies the ShellCheck binary for cache keys: path, size and mtime,
/// which change whenever the package is upgraded. (Asking `--version` costs a
/// process start on every run, warm ones included.)
fn version(exe: &Path) -> String {
    let meta = std::fs::metadata(exe).ok();
    let mtime = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    format!(
        "{}:{}:{:?}",
        exe.display(),
        meta.map_or(0, |m| m.len()),
        mtime
    )
}

fn cache_key(version: &str, dialect: &str, text: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [version, "\0", EXCLUDED, "\0", dialect, "\0", text] {
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Runs ShellCheck over all scripts, in up to `jobs` parallel processes.
///
/// Identical scripts are checked once. With a `cache` directory, results are
/// stored under `shellcheck/<sha256>.json` (written by atomic rename, so
/// several processes can share the directory) and reused.
pub fn run(
    exe: &Path,
    scripts: &[Script],
    jobs: usize,
    cache: Option<&Path>,
) -> Result<Vec<ScFinding>, ShellcheckError> {
    if scripts.is_empty() {
        return Ok(vec![]);
    }
    let version = version(exe);
    let keys: Vec<String> = scripts
        .iter()
        .map(|s| cache_key(&version, s.dialect, &s.text))
        .collect();
    let mut results: std::collections::HashMap<&str, Vec<Raw>> = std::collections::HashMap::new();
    let cache_dir = cache.map(|c| c.join("shellcheck"));
    // unique scripts not in the cache
    let mut todo: Vec<usize> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        if results.contains_key(k.as_str()) || todo.iter().any(|&j| keys[j] == *k) {
            continue;
        }
        let cached = cache_dir
            .as_ref()
            .and_then(|d| std::fs::read(d.join(format!("{k}.json"))).ok())
            .and_then(|b| serde_json::from_slice::<Vec<Raw>>(&b).ok());
        match cached {
            Some(r) => {
                results.insert(k, r);
            }
            None => todo.push(i),
        }
    }
    if !todo.is_empty() {
        let dir = tempfile::tempdir()?;
        let mut files: Vec<(PathBuf, usize)> = Vec::with_capacity(todo.len());
        for &i in &todo {
            let s = &scripts[i];
            let path = dir.path().join(format!("s{i}.{}", s.dialect));
            let mut f = std::fs::File::create(&path)?;
            writeln!(f, "#!/bin/{}", s.dialect)?;
            f.write_all(s.text.as_bytes())?;
            files.push((path, i));
        }
        let buckets = balance(files, |&(_, i)| scripts[i].text.len(), jobs);
        let outs: Vec<Result<Vec<(usize, Raw)>, ShellcheckError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = buckets
                .iter()
                .map(|part| scope.spawn(move || run_chunk(exe, part)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(ShellcheckError::Output("worker panicked".into())))
                })
                .collect()
        });
        let mut fresh: std::collections::HashMap<usize, Vec<Raw>> =
            todo.iter().map(|&i| (i, Vec::new())).collect();
        for o in outs {
            for (i, raw) in o? {
                fresh.entry(i).or_default().push(raw);
            }
        }
        for (i, raws) in fresh {
            if let Some(d) = &cache_dir {
                store(d, &keys[i], &raws);
            }
            results.insert(&keys[i], raws);
        }
    }
    let mut out = Vec::new();
    for (s, k) in scripts.iter().zip(&keys) {
        for c in results
            .get(k.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let (line, column, end_line, end_column) =
                to_dockerfile(s, c.line, c.column, c.end_line, c.end_column);
            let level = match c.level.as_str() {
                "error" => Level::Error,
                "warning" => Level::Warning,
                "info" => Level::Info,
                _ => Level::Style,
            };
            out.push(ScFinding {
                key: s.key,
                code: format!("SC{}", c.code),
                level,
                message: c.message.clone(),
                line,
                column,
                end_line,
                end_column,
            });
        }
    }
    Ok(out)
}

/// Maps a script range (1-based lines and columns, line 1 = the script's
/// first line) to the Dockerfile.
pub fn to_dockerfile(
    s: &Script,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
) -> (u32, u32, u32, u32) {
    let map = |line: u32, col: u32| {
        (
            s.line + line.max(1) - 1,
            if line <= 1 {
                s.column + col.max(1) - 1
            } else {
                col
            },
        )
    };
    let (l, c) = map(line, column);
    let (el, ec) = map(end_line.max(line), end_column);
    (l, c, el, ec)
}

/// Splits work into at most `jobs` buckets of similar total cost: largest
/// first, each onto the least-loaded bucket. ShellCheck's time grows with
/// script size, and similar scripts sit next to each other in a corpus, so
/// contiguous chunks leave one worker with most of the work.
fn balance<T>(items: Vec<T>, cost: impl Fn(&T) -> usize, jobs: usize) -> Vec<Vec<T>> {
    let jobs = jobs.clamp(1, items.len().max(1));
    let mut items = items;
    items.sort_by_key(|t| std::cmp::Reverse(cost(t)));
    let mut buckets: Vec<(usize, Vec<T>)> = (0..jobs).map(|_| (0, Vec::new())).collect();
    for t in items {
        let c = cost(&t);
        let b = buckets
            .iter_mut()
            .min_by_key(|(load, _)| *load)
            .expect("at least one bucket");
        b.0 += c;
        b.1.push(t);
    }
    buckets
        .into_iter()
        .map(|(_, b)| b)
        .filter(|b| !b.is_empty())
        .collect()
}

/// Writes a cache entry by temp file + rename; failures only cost a re-run.
fn store(dir: &Path, key: &str, raws: &[Raw]) {
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir) else {
        return;
    };
    let Ok(bytes) = serde_json::to_vec(raws) else {
        return;
    };
    if tmp.write_all(&bytes).is_ok() {
        let _ = tmp.persist(dir.join(format!("{key}.json")));
    }
}

fn run_chunk(exe: &Path, part: &[(PathBuf, usize)]) -> Result<Vec<(usize, Raw)>, ShellcheckError> {
    let output = Command::new(exe)
        .args(["-f", "json1", "-e", EXCLUDED])
        .args(part.iter().map(|(p, _)| p.as_os_str()))
        .output()?;
    let parsed: Output = serde_json::from_slice(&output.stdout).map_err(|e| {
        ShellcheckError::Output(format!("{e}: {}", String::from_utf8_lossy(&output.stderr)))
    })?;
    let mut out = Vec::new();
    for c in parsed.comments {
        let Some(idx) = Path::new(&c.file)
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_prefix('s'))
            .and_then(|s| s.parse::<usize>().ok())
        else {
            continue;
        };
        // line 1 is the shebang we added
        let mut raw = c.raw;
        let Some(line) = raw.line.checked_sub(1).filter(|l| *l >= 1) else {
            continue;
        };
        raw.end_line = raw.end_line.saturating_sub(1).max(line);
        raw.line = line;
        out.push((idx, raw));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_spreads_cost_evenly() {
        let b = balance(vec![9, 1, 1, 1, 8, 1, 1, 2], |&c| c, 2);
        let loads: Vec<usize> = b.iter().map(|x| x.iter().sum()).collect();
        assert_eq!(loads, [12, 12]);
        assert_eq!(balance(vec![5], |&c| c, 4).len(), 1);
        assert!(balance(Vec::<usize>::new(), |&c| c, 2).is_empty());
    }

    #[test]
    fn comment_lines_inside_continuations_keep_line_numbers() {
        let t = "apt-get install \\\n  # comment\n  curl";
        let p = prepare_shell_form(t);
        assert_eq!(p, "apt-get install \\\n\\\n  curl");
        assert_eq!(p.lines().count(), t.lines().count());
    }
}
