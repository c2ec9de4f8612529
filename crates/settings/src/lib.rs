//! The settings layer shared by every command: a TOML config file is parsed
//! once into a [`Document`]; each crate reads the sections it owns through a
//! [`Reader`] that collects every problem with its file:line:column; what no
//! crate claimed is reported as unknown. Environment variables are read
//! only through the registry in [`env`].

pub mod env;
mod reader;

pub use reader::{ConfigError, ConfigErrors, Document, Reader};

use std::path::{Path, PathBuf};

/// A path from the config file: relative ones are resolved against the
/// file's directory, with `.` and `..` dropped lexically so reports show
/// clean paths.
pub fn resolve_path(dir: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let mut out = dir.to_path_buf();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
pub use toml_span::value::Table;
pub use toml_span::{Span, Value};

/// `3d`, `12h`, `30m`, `2w`, `45s`, `0` as seconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = n.parse().ok()?;
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(mul)
}
