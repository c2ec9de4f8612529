//! One module per subcommand: its clap `Args` and its `run`.

pub mod audit;
pub mod completions;
pub mod db;
pub mod diff;
pub mod harden;
pub mod init;
pub mod keygen;
pub mod lint;
pub mod patch;
pub mod progress;
pub mod rematch;
pub mod report;
pub mod rules;
pub mod run;
pub mod sbom;
pub mod scan;
pub mod secrets;
pub mod serve;
pub mod sign;
pub mod signals;
pub mod update;
pub mod verify;

use std::io::{IsTerminal, Write};
use std::path::Path;

use findings::time::Timestamp;

/// Writes output to `-o FILE` (into what the user named: see `safefs`)
/// or to stdout.
pub fn write_output(output: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) => safefs::write(path, text.as_bytes(), safefs::Mode::Public)?,
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

/// The default cache directory (when neither `--cache-dir` nor
/// `SAFEIMAGE_CACHE_DIR` is given).
pub fn default_cache_dir() -> Option<std::path::PathBuf> {
    settings::env::default_cache_dir()
}

/// Now, for output documents (`SOURCE_DATE_EPOCH` wins, for reproducible output).
pub fn output_time() -> Timestamp {
    settings::env::source_date_epoch()
        .map(Timestamp)
        .unwrap_or_else(Timestamp::now)
}

/// Colour on stdout: a terminal, no `-o`, and no `NO_COLOR`.
pub fn stdout_color(output: Option<&Path>) -> bool {
    output.is_none() && std::io::stdout().is_terminal() && !settings::env::no_color()
}
