//! The shared vocabulary of every safeimage check.
//!
//! Lint, vulnerability and secret checks all produce [`Finding`]s: a stable
//! `code`, a [`Level`], a [`Location`] and a message. Checks never print or
//! exit; renderers (the `report` crate) and gates read these values.
//! [`time::Timestamp`] is the one way times are written (RFC 3339, UTC).

pub mod text;
pub mod time;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How serious a finding is, from a linter's point of view.
///
/// Ordered: `Style < Info < Warning < Error`, so thresholds compare with `>=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Cosmetic or convention.
    Style,
    /// Worth knowing; rarely a reason to fail a build.
    Info,
    /// Likely a problem.
    Warning,
    /// A defect or a policy violation.
    Error,
}

impl Level {
    /// All levels, least serious first.
    pub const ALL: [Level; 4] = [Level::Style, Level::Info, Level::Warning, Level::Error];

    /// The lowercase name used in config files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Style => "style",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }

    /// The SARIF `level` this maps to.
    pub fn sarif(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info | Level::Style => "note",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a level name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown level `{0}` (expected one of: error, warning, info, style)")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "error" => Ok(Level::Error),
            "warning" | "warn" => Ok(Level::Warning),
            "info" | "note" => Ok(Level::Info),
            "style" => Ok(Level::Style),
            _ => Err(UnknownLevel(s.to_string())),
        }
    }
}

/// A place in a text file: 1-based line and column (columns count characters).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Location {
    /// The file, as the user named it (relative paths stay relative).
    pub path: String,
    /// First line, 1-based.
    pub line: u32,
    /// First column, 1-based.
    pub column: u32,
    /// Last line, 1-based, inclusive.
    pub end_line: u32,
    /// Column just past the end, 1-based.
    pub end_column: u32,
}

/// Equivalent rule codes in other tools, so users can map their existing
/// configuration and reviewers can compare.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Equivalents {
    /// Hadolint codes (`DLxxxx`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hadolint: Vec<String>,
    /// Docker build check names (`docker build --check`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub docker: Vec<String>,
    /// Trivy misconfiguration IDs (`DS-xxxx`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trivy: Vec<String>,
}

/// Static description of a rule: what every finding with this code means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    /// Stable code, kebab-case (`last-user-root`), or an external code such as `SC2086`.
    pub code: String,
    /// The level findings get unless configuration overrides it.
    pub default_level: Level,
    /// One line: what the rule checks.
    pub summary: String,
    /// Where the rule's documentation page lives, relative to the repository.
    pub help_uri: Option<String>,
    /// Equivalent codes in other tools.
    pub equivalents: Equivalents,
}

/// One result of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule code.
    pub code: String,
    /// Level after configuration overrides.
    pub level: Level,
    /// Human message, specific to this occurrence.
    pub message: String,
    /// Where it was found.
    pub location: Location,
    /// Extra facts a reviewer needs (e.g. the policy tier and pattern).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub properties: std::collections::BTreeMap<String, String>,
}

impl Finding {
    /// A finding with no extra properties.
    pub fn new(
        code: impl Into<String>,
        level: Level,
        message: impl Into<String>,
        location: Location,
    ) -> Self {
        Finding {
            code: code.into(),
            level,
            message: message.into(),
            location,
            properties: Default::default(),
        }
    }

    /// Adds one property, builder style.
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }
}

/// Whether any finding is at or above `threshold`.
pub fn any_at_or_above(findings: &[Finding], threshold: Level) -> bool {
    findings.iter().any(|f| f.level >= threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_and_parse() {
        assert!(Level::Error > Level::Warning);
        assert!(Level::Warning > Level::Info);
        assert!(Level::Info > Level::Style);
        assert_eq!("WARN".parse::<Level>(), Ok(Level::Warning));
        assert!("fatal".parse::<Level>().is_err());
    }

    #[test]
    fn threshold() {
        let loc = Location {
            path: "Dockerfile".into(),
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 2,
        };
        let f = vec![Finding::new("x", Level::Info, "m", loc)];
        assert!(any_at_or_above(&f, Level::Info));
        assert!(!any_at_or_above(&f, Level::Warning));
    }
}
