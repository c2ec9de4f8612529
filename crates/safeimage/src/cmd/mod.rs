//! One module per subcommand: its clap `Args` and its `run`.

pub mod lint;
pub mod rules;

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Writes output to `-o FILE` atomically (temp file + rename) or to stdout.
pub fn write_output(output: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let tmp = dir.join(format!(
                ".{}.tmp{}",
                path.file_name().and_then(|s| s.to_str()).unwrap_or("out"),
                std::process::id()
            ));
            std::fs::write(&tmp, text)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                out.write_all(b"\n")?;
            }
        }
    }
    Ok(())
}

/// `$XDG_CACHE_HOME/safeimage`, else `$HOME/.cache/safeimage`.
pub fn default_cache_dir() -> Option<std::path::PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(base.join("safeimage"))
}
