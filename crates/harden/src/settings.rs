//! `[image.harden]` in the config file, read here because this crate owns
//! hardening: the program the image runs, what else to keep, the user, the
//! smoke checks and the `-debug` sibling. The `[[image]]` reader hands the
//! table over.

use std::path::{Path, PathBuf};

use settings::{Reader, Value};

use crate::{Check, User};

/// `[image.harden]`: the built image is made minimal and non-root, and
/// that is what gets scanned, gated, pushed and tagged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardenSpec {
    /// The program the image runs.
    pub entrypoint: String,
    /// More paths to keep.
    pub keep: Vec<String>,
    /// Who it runs as.
    pub user: User,
    /// Smoke checks (`cmd:ARGS`, `http:PORT[/PATH]`).
    pub checks: Vec<Check>,
    /// Seconds per check.
    pub check_timeout: u64,
    /// Also push a `-debug` sibling with a static busybox (its tags get `-debug`).
    pub debug_variant: bool,
    /// The static busybox for it.
    pub busybox: PathBuf,
}

/// Reads `[image.harden]`; the busybox path against `dir`.
pub fn read(v: &mut Reader<'_>, dir: &Path, val: &Value<'_>) -> Option<HardenSpec> {
    let t = v.table(val, "image.harden")?;
    const KEYS: &[&str] = &[
        "entrypoint",
        "keep",
        "user",
        "checks",
        "check_timeout",
        "debug_variant",
        "busybox",
    ];
    let mut entrypoint = None;
    let mut h = HardenSpec {
        entrypoint: String::new(),
        keep: Vec::new(),
        user: crate::DEFAULT_USER,
        checks: Vec::new(),
        check_timeout: 30,
        debug_variant: false,
        busybox: PathBuf::from("/bin/busybox"),
    };
    for (k, x) in t {
        let what = format!("image.harden.{}", k.name);
        match k.name.as_ref() {
            "entrypoint" => entrypoint = v.string(x, &what),
            "keep" => h.keep = v.string_list(x, &what),
            "user" => {
                if let Some(u) = v.parsed(x, &what) {
                    h.user = u;
                }
            }
            "checks" => {
                for (c, span) in v.strings(x, &what) {
                    match c.parse::<Check>() {
                        Ok(c) => h.checks.push(c),
                        Err(e) => v.err(span, format!("`{what}`: {e}")),
                    }
                }
            }
            "check_timeout" => match v.integer(x, &what) {
                Some(n) if (1..=3600).contains(&n) => h.check_timeout = n as u64,
                Some(_) => v.err(
                    x.span,
                    "`image.harden.check_timeout` must be 1 to 3600 seconds",
                ),
                None => {}
            },
            "debug_variant" => h.debug_variant = v.boolean(x, &what).unwrap_or(false),
            "busybox" => {
                if let Some(b) = v.string(x, &what) {
                    h.busybox = settings::resolve_path(dir, &b);
                }
            }
            other => v.unknown(k.span, "[image.harden]", other, KEYS),
        }
    }
    match entrypoint {
        Some(e) if e.starts_with('/') => h.entrypoint = e,
        Some(e) => {
            v.err(
                val.span,
                format!("`image.harden.entrypoint` `{e}` must be an absolute path in the image"),
            );
            return None;
        }
        None => {
            v.err(
                val.span,
                "[image.harden] needs an `entrypoint` (the program the image runs)",
            );
            return None;
        }
    }
    Some(h)
}
