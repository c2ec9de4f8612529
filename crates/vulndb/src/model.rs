//! The advisory model every feed is imported into: OSV's shape (id, aliases,
//! affected packages with ranges and version lists, CVSS vectors), plus the
//! fix status and vendor rating the distro trackers carry.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Severity levels, ordered.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Not rated by any source we know.
    #[default]
    Unknown,
    /// Low.
    Low,
    /// Medium (GHSA "moderate").
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
    /// All levels, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Unknown,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    /// The CVSS qualitative rating of a base score.
    pub fn from_score(score: f64) -> Severity {
        if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else if score > 0.0 {
            Severity::Low
        } else {
            Severity::Unknown
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not a severity name.
#[derive(Debug, thiserror::Error)]
#[error("unknown severity `{0}` (expected unknown, low, medium, high or critical)")]
pub struct SeverityError(pub String);

impl FromStr for Severity {
    type Err = SeverityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "unknown" | "negligible" | "none" => Severity::Unknown,
            "low" => Severity::Low,
            "medium" | "moderate" => Severity::Medium,
            "high" | "important" => Severity::High,
            "critical" => Severity::Critical,
            _ => return Err(SeverityError(s.to_string())),
        })
    }
}

/// A rating given by a named source (`debian`, `ghsa`, `alpine`...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// Who rated it.
    pub source: String,
    /// The level.
    pub severity: Severity,
    /// The source's own word for it (`high`, `moderate`, `unimportant`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A CVSS vector as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CvssVector {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`.
    pub kind: String,
    /// The vector string.
    pub vector: String,
    /// Who scored it, when the feed says (`nvd@nist.gov`, a CNA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// An advisory or vulnerability id (`CVE-2024-3094`, `GHSA-xxxx-xxxx-xxxx`,
/// `DEBIAN-CVE-2023-44487`, `PYSEC-2021-108`): parsed once where a feed,
/// an ignore file or a report is read, and kept typed from there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct AdvisoryId(String);

/// Not an advisory id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not an advisory id (1-256 printable characters, no spaces)")]
pub struct BadAdvisoryId(pub String);

impl AdvisoryId {
    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Whether it is a CVE id.
    pub fn is_cve(&self) -> bool {
        self.0.starts_with("CVE-")
    }
    /// Whether it is a GitHub advisory id.
    pub fn is_ghsa(&self) -> bool {
        self.0.starts_with("GHSA-")
    }
}

impl FromStr for AdvisoryId {
    type Err = BadAdvisoryId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() || t.len() > 256 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(BadAdvisoryId(s.to_string()));
        }
        Ok(AdvisoryId(t.to_string()))
    }
}

impl<'de> Deserialize<'de> for AdvisoryId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for AdvisoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl std::ops::Deref for AdvisoryId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for AdvisoryId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for AdvisoryId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for AdvisoryId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// One advisory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// Its id in its feed (`DEBIAN-CVE-2023-44487`, `PYSEC-2021-108`).
    pub id: AdvisoryId,
    /// Other ids for the same issue (OSV aliases and upstream).
    #[serde(default)]
    pub aliases: Vec<AdvisoryId>,
    /// One-line summary.
    #[serde(default)]
    pub summary: String,
    /// Longer text (may be trimmed to a few KB).
    #[serde(default)]
    pub details: String,
    /// Published timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Modified timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// CVSS vectors.
    #[serde(default)]
    pub cvss: Vec<CvssVector>,
    /// Vendor ratings.
    #[serde(default)]
    pub ratings: Vec<Rating>,
    /// Reference URLs.
    #[serde(default)]
    pub references: Vec<String>,
    /// The feed it came from.
    #[serde(default)]
    pub feed: String,
}

impl Advisory {
    /// The id plus every alias.
    pub fn all_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(AdvisoryId::as_str))
    }
}

/// An OSV range event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// First affected version (`0` = all before).
    Introduced(String),
    /// First fixed version.
    Fixed(String),
    /// Last affected version.
    LastAffected(String),
    /// Upper limit.
    Limit(String),
}

/// How a range's versions are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeKind {
    /// The ecosystem's own scheme.
    Ecosystem,
    /// Semantic versioning 2.0.
    Semver,
}

/// One range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// Ordering.
    pub kind: RangeKind,
    /// Events, in feed order.
    pub events: Vec<Event>,
}

/// What the vendor says about fixing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Affected; fixed where a range says so.
    #[default]
    Affected,
    /// The vendor will not fix it (Debian `no-dsa` ignored, tracker "ignored").
    WillNotFix,
    /// Fix postponed (Debian `postponed`).
    FixDeferred,
    /// The release is out of support for this package.
    EndOfLife,
    /// The vendor rates it unimportant (Debian): hidden by default.
    Unimportant,
}

impl Status {
    /// Kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Affected => "affected",
            Status::WillNotFix => "will-not-fix",
            Status::FixDeferred => "fix-deferred",
            Status::EndOfLife => "end-of-life",
            Status::Unimportant => "unimportant",
        }
    }
}

/// One affected package of an advisory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// OSV ecosystem (`Debian:12`, `PyPI`).
    pub ecosystem: String,
    /// Package name as published.
    pub name: String,
    /// Ranges (GIT ranges are dropped: images carry no commits).
    #[serde(default)]
    pub ranges: Vec<Range>,
    /// Explicitly listed affected versions.
    #[serde(default)]
    pub versions: Vec<String>,
    /// Fix status.
    #[serde(default)]
    pub status: Status,
    /// A rating for this package only (Debian urgency per source package).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
}

/// Normalise a package name for lookup in an ecosystem: PEP 503 for PyPI,
/// lower case for npm, as published elsewhere.
pub fn normalize_name(ecosystem: &str, name: &str) -> String {
    match ecosystem {
        "PyPI" => {
            let mut out = String::with_capacity(name.len());
            let mut sep = false;
            for c in name.trim().chars() {
                if c == '-' || c == '_' || c == '.' {
                    sep = true;
                } else {
                    if sep && !out.is_empty() {
                        out.push('-');
                    }
                    sep = false;
                    out.push(c.to_ascii_lowercase());
                }
            }
            out
        }
        "npm" => name.trim().to_ascii_lowercase(),
        _ => name.trim().to_string(),
    }
}

/// The ecosystem name used for a distro release (`debian` `12` →
/// `Debian:12`, `alpine` `3.20.3` → `Alpine:v3.20`), or `None` when we have
/// no feed for it.
pub fn distro_ecosystem(id: &str, version_id: &str) -> Option<String> {
    let major = version_id.split('.').next().unwrap_or(version_id);
    let major_minor: String = version_id.split('.').take(2).collect::<Vec<_>>().join(".");
    Some(match id {
        "debian" => format!("Debian:{major}"),
        "ubuntu" => {
            // OSV names LTS releases `Ubuntu:22.04:LTS`.
            let (y, m) = major_minor.split_once('.')?;
            let lts = m == "04" && y.parse::<u32>().ok()? % 2 == 0;
            if lts {
                format!("Ubuntu:{major_minor}:LTS")
            } else {
                format!("Ubuntu:{major_minor}")
            }
        }
        "alpine" => format!("Alpine:v{major_minor}"),
        "almalinux" => format!("AlmaLinux:{major}"),
        "rocky" => format!("Rocky Linux:{major}"),
        "wolfi" => "Wolfi".to_string(),
        "chainguard" => "Chainguard".to_string(),
        "opensuse-leap" => format!("openSUSE:Leap {major_minor}"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503() {
        assert_eq!(normalize_name("PyPI", "Jinja2"), "jinja2");
        assert_eq!(normalize_name("PyPI", "PyYAML"), "pyyaml");
        assert_eq!(normalize_name("PyPI", "zope.interface"), "zope-interface");
        assert_eq!(normalize_name("PyPI", "a__b--c"), "a-b-c");
        assert_eq!(normalize_name("Debian:12", "Foo"), "Foo");
    }

    #[test]
    fn ecosystems() {
        assert_eq!(distro_ecosystem("debian", "12").unwrap(), "Debian:12");
        assert_eq!(
            distro_ecosystem("alpine", "3.20.3").unwrap(),
            "Alpine:v3.20"
        );
        assert_eq!(
            distro_ecosystem("ubuntu", "22.04").unwrap(),
            "Ubuntu:22.04:LTS"
        );
        assert_eq!(distro_ecosystem("ubuntu", "23.10").unwrap(), "Ubuntu:23.10");
        assert!(distro_ecosystem("plan9", "4").is_none());
    }

    #[test]
    fn severity_names_and_scores() {
        assert_eq!("moderate".parse::<Severity>().unwrap(), Severity::Medium);
        assert!("urgent".parse::<Severity>().is_err());
        assert_eq!(Severity::from_score(9.8), Severity::Critical);
        assert_eq!(Severity::from_score(7.0), Severity::High);
        assert_eq!(Severity::from_score(3.9), Severity::Low);
    }
}
