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
    /// Byte offset where the text starts.
    pub offset: usize,
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
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("shellcheck")).find(|p| p.is_file())
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Comment {
    file: String,
    line: u32,
    end_line: u32,
    column: u32,
    end_column: u32,
    level: String,
    code: u32,
    message: String,
}

/// Runs ShellCheck over all scripts, in up to `jobs` parallel processes.
pub fn run(exe: &Path, scripts: &[Script], jobs: usize) -> Result<Vec<ScFinding>, ShellcheckError> {
    if scripts.is_empty() {
        return Ok(vec![]);
    }
    let dir = tempfile::tempdir()?;
    let mut files: Vec<(PathBuf, usize)> = Vec::with_capacity(scripts.len());
    for (i, s) in scripts.iter().enumerate() {
        let path = dir.path().join(format!("s{i}.{}", s.dialect));
        let mut f = std::fs::File::create(&path)?;
        writeln!(f, "#!/bin/{}", s.dialect)?;
        f.write_all(s.text.as_bytes())?;
        files.push((path, i));
    }
    let jobs = jobs.max(1).min(files.len());
    let chunk = files.len().div_ceil(jobs);
    let results: Vec<Result<Vec<ScFinding>, ShellcheckError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || run_chunk(exe, part, scripts)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(ShellcheckError::Output("worker panicked".into())))).collect()
    });
    let mut out = Vec::new();
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

fn run_chunk(exe: &Path, part: &[(PathBuf, usize)], scripts: &[Script]) -> Result<Vec<ScFinding>, ShellcheckError> {
    let output = Command::new(exe)
        .args(["-f", "json1", "-e", EXCLUDED])
        .args(part.iter().map(|(p, _)| p.as_os_str()))
        .output()?;
    let parsed: Output = serde_json::from_slice(&output.stdout).map_err(|e| ShellcheckError::Output(format!("{e}: {}", String::from_utf8_lossy(&output.stderr))))?;
    let mut out = Vec::new();
    for c in parsed.comments {
        let Some(idx) = Path::new(&c.file).file_stem().and_then(|s| s.to_str()).and_then(|s| s.strip_prefix('s')).and_then(|s| s.parse::<usize>().ok()) else { continue };
        let Some(s) = scripts.get(idx) else { continue };
        // line 1 is the shebang we added
        let Some(l) = c.line.checked_sub(1).filter(|l| *l >= 1) else { continue };
        let el = c.end_line.saturating_sub(1).max(l);
        let map = |line: u32, col: u32| (s.line + line - 1, if line == 1 { s.column + col - 1 } else { col });
        let (line, column) = map(l, c.column);
        let (end_line, end_column) = map(el, c.end_column);
        let level = match c.level.as_str() {
            "error" => Level::Error,
            "warning" => Level::Warning,
            "info" => Level::Info,
            _ => Level::Style,
        };
        out.push(ScFinding { key: s.key, code: format!("SC{}", c.code), level, message: c.message, line, column, end_line, end_column });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_lines_inside_continuations_keep_line_numbers() {
        let t = "apt-get install \\\n  # comment\n  curl";
        let p = prepare_shell_form(t);
        assert_eq!(p, "apt-get install \\\n\\\n  curl");
        assert_eq!(p.lines().count(), t.lines().count());
    }
}
