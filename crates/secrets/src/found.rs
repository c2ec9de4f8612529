//! A secret found somewhere (a file, a commit, an image layer, an image
//! config), and how it becomes a [`findings::Finding`] that the shared
//! renderers turn into a table, JSON or SARIF. The secret is redacted
//! (first 4 characters, then `****`) unless the caller asks to show it.

use std::collections::BTreeMap;

use findings::{Finding, Level, Location, RuleInfo};

use crate::engine::Hit;
use crate::rule::Severity;

/// Where a secret was found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Place {
    /// A file in a directory tree.
    File {
        /// Path relative to the scanned root.
        path: String,
    },
    /// A line a commit added.
    Commit {
        /// Commit id.
        commit: String,
        /// Author (`name <email>`).
        author: String,
        /// Author date (ISO 8601).
        date: String,
        /// File.
        path: String,
    },
    /// A file in one image layer.
    Layer {
        /// 0-based layer index.
        index: usize,
        /// The layer's diffID.
        diff_id: String,
        /// The history entry that created it.
        created_by: String,
        /// Path in the image.
        path: String,
        /// What later layers did to the file: `present`, `deleted`, `overwritten`.
        fate: String,
    },
    /// The image config (ENV, labels, history).
    Config {
        /// Which field (`Env`, `Labels.KEY`, `history[3].created_by`).
        field: String,
    },
}

impl Place {
    /// The path shown as the location.
    pub fn path(&self) -> String {
        match self {
            Place::File { path } | Place::Commit { path, .. } => path.clone(),
            Place::Layer { path, .. } => format!("/{}", path.trim_start_matches('/')),
            Place::Config { field } => format!("image config: {field}"),
        }
    }
}

/// One secret found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Found {
    /// Where.
    pub place: Place,
    /// What the engine said.
    pub hit: Hit,
}

/// The level a severity is reported at.
pub fn level(s: Severity) -> Level {
    match s {
        Severity::Critical | Severity::High => Level::Error,
        Severity::Medium | Severity::Low => Level::Warning,
        Severity::Info => Level::Info,
    }
}

impl Found {
    /// Gitleaks-style fingerprint: `[commit:]file:rule:line` (for layers,
    /// `diffID:file:rule:line`).
    pub fn fingerprint(&self) -> String {
        let (prefix, path) = match &self.place {
            Place::File { path } => (None, path.clone()),
            Place::Commit { commit, path, .. } => (Some(commit.clone()), path.clone()),
            Place::Layer { diff_id, path, .. } => (Some(diff_id.clone()), path.clone()),
            Place::Config { field } => (Some("config".to_string()), field.clone()),
        };
        let base = format!("{path}:{}:{}", self.hit.rule, self.hit.line);
        match prefix {
            Some(p) => format!("{p}:{base}"),
            None => base,
        }
    }

    /// As a finding for the renderers; the secret redacted unless `show`.
    pub fn to_finding(&self, show: bool) -> Finding {
        let shown = if show {
            self.hit.secret.clone()
        } else {
            crate::redact(&self.hit.secret)
        };
        let example = if self.hit.example {
            " (a documented example value)"
        } else {
            ""
        };
        let end = self.hit.column + self.hit.secret.chars().count();
        let mut props = BTreeMap::new();
        props.insert(
            "severity".to_string(),
            self.hit.severity.as_str().to_string(),
        );
        props.insert("secret".to_string(), shown.clone());
        props.insert("fingerprint".to_string(), self.fingerprint());
        let mut message = format!("{}{example}: {shown}", self.hit.description);
        match &self.place {
            Place::File { .. } => {}
            Place::Commit {
                commit,
                author,
                date,
                ..
            } => {
                props.insert("commit".into(), commit.clone());
                props.insert("author".into(), author.clone());
                props.insert("date".into(), date.clone());
                message.push_str(&format!(
                    " (added in commit {} by {author}, {date})",
                    short(commit)
                ));
            }
            Place::Layer {
                index,
                diff_id,
                created_by,
                fate,
                ..
            } => {
                props.insert("layer".into(), index.to_string());
                props.insert("diff_id".into(), diff_id.clone());
                props.insert("created_by".into(), created_by.clone());
                props.insert("fate".into(), fate.clone());
                let fate = match fate.as_str() {
                    "deleted" => ", deleted by a later layer but still in the image",
                    "overwritten" => ", overwritten by a later layer but still in the image",
                    _ => "",
                };
                message.push_str(&format!(" (layer {index} {}{fate})", short(diff_id)));
            }
            Place::Config { .. } => {}
        }
        Finding {
            code: self.hit.rule.clone(),
            level: level(self.hit.severity),
            message,
            location: Location {
                path: self.place.path(),
                line: self.hit.line as u32,
                column: self.hit.column as u32,
                end_line: self.hit.line as u32,
                end_column: end as u32,
            },
            properties: props,
        }
    }
}

fn short(id: &str) -> String {
    let hex = id.rsplit(':').next().unwrap_or(id);
    id[..id.len() - hex.len()].to_string() + &hex[..hex.len().min(12)]
}

/// Rule descriptions for the renderers (SARIF `rules`).
pub fn rule_infos(rules: &[crate::Rule]) -> Vec<RuleInfo> {
    rules
        .iter()
        .map(|r| RuleInfo {
            code: r.id.clone(),
            default_level: level(r.severity),
            summary: r.description.clone(),
            help_uri: None,
            equivalents: Default::default(),
        })
        .collect()
}
