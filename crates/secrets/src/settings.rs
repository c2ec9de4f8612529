//! `[secrets]` in the fleet config: the rules (a `.gitleaks.toml`, else the
//! built-in set), extra allowlisted paths and regexes, a fingerprint ignore
//! file, and for each kind of finding whether it blocks the image.

use std::path::{Path, PathBuf};

use settings::{Reader, Value};

use crate::config::{self, Config};
use crate::rule::{Allowlist, compile};
use crate::{Engine, RuleError};

/// What a kind of finding does to the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Blocks it (the default).
    Block,
    /// Reported, does not block.
    Warn,
    /// Not looked for.
    Off,
}

/// `[secrets]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// A `.gitleaks.toml`.
    pub rules: Option<PathBuf>,
    /// A fingerprint ignore file.
    pub ignore_file: Option<PathBuf>,
    /// Paths never reported (regexes).
    pub allow_paths: Vec<String>,
    /// Secrets never reported (regexes over the secret).
    pub allow_regexes: Vec<String>,
    /// The build context (files, `.gitignore` honoured).
    pub context: Action,
    /// The repository's history (every added line).
    pub history: Action,
    /// The built image (every layer, the config).
    pub image: Action,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rules: None,
            ignore_file: None,
            allow_paths: Vec::new(),
            allow_regexes: Vec::new(),
            context: Action::Block,
            history: Action::Block,
            image: Action::Block,
        }
    }
}

/// Why the engine for a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Reading a file.
    #[error("{}: {source}", path.display())]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The rules file.
    #[error(transparent)]
    Config(#[from] settings::ConfigErrors),
    /// A rule.
    #[error(transparent)]
    Rule(#[from] RuleError),
}

impl Settings {
    /// Reads `[secrets]` (paths relative to `dir`).
    pub fn read(v: &mut Reader<'_>, val: &Value<'_>, dir: &Path) -> Settings {
        let mut s = Settings::default();
        let Some(t) = v.table(val, "secrets") else {
            return s;
        };
        const KEYS: &[&str] = &[
            "rules",
            "ignore_file",
            "allow_paths",
            "allow_regexes",
            "context",
            "history",
            "image",
        ];
        for (k, x) in t {
            let what = format!("secrets.{}", k.name);
            match k.name.as_ref() {
                "rules" => s.rules = v.string(x, &what).map(|p| settings::resolve_path(dir, &p)),
                "ignore_file" => {
                    s.ignore_file = v.string(x, &what).map(|p| settings::resolve_path(dir, &p))
                }
                "allow_paths" | "allow_regexes" => {
                    let mut ok = Vec::new();
                    for (p, span) in v.strings(x, &what) {
                        match compile("secrets", &what, &p) {
                            Ok(_) => ok.push(p),
                            Err(e) => v.err(span, e.to_string()),
                        }
                    }
                    if k.name == "allow_paths" {
                        s.allow_paths = ok;
                    } else {
                        s.allow_regexes = ok;
                    }
                }
                "context" | "history" | "image" => {
                    let a = match v.string(x, &what).as_deref() {
                        Some("block") => Action::Block,
                        Some("warn") => Action::Warn,
                        Some("off") => Action::Off,
                        Some(o) => {
                            v.err(
                                x.span,
                                format!("`{what}`: `{o}` (expected block, warn or off)"),
                            );
                            continue;
                        }
                        None => continue,
                    };
                    match k.name.as_ref() {
                        "context" => s.context = a,
                        "history" => s.history = a,
                        _ => s.image = a,
                    }
                }
                other => v.unknown(k.span, "[secrets]", other, KEYS),
            }
        }
        s
    }

    /// The engine these settings describe, and the fingerprints to ignore.
    pub fn engine(&self) -> Result<(Engine, Vec<String>), SettingsError> {
        let read = |p: &PathBuf| {
            std::fs::read_to_string(p).map_err(|source| SettingsError::Read {
                path: p.clone(),
                source,
            })
        };
        let Config {
            rules,
            mut allowlists,
        } = match &self.rules {
            Some(p) => config::read(&p.display().to_string(), &read(p)?)?,
            None => Config {
                rules: crate::builtin::rules()?,
                allowlists: Vec::new(),
            },
        };
        if !self.allow_paths.is_empty() || !self.allow_regexes.is_empty() {
            allowlists.push(Allowlist {
                description: "[secrets] in the fleet config".into(),
                paths: self
                    .allow_paths
                    .iter()
                    .map(|p| compile("secrets", "allow_paths", p))
                    .collect::<Result<_, _>>()?,
                regexes: self
                    .allow_regexes
                    .iter()
                    .map(|p| compile("secrets", "allow_regexes", p))
                    .collect::<Result<_, _>>()?,
                ..Default::default()
            });
        }
        let ignored = match &self.ignore_file {
            Some(p) => config::ignore_file(&read(p)?),
            None => Vec::new(),
        };
        Ok((Engine::new(rules, allowlists)?, ignored))
    }
}
