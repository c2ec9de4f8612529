//! Feed parsers: each turns a feed's documents into [`Record`]s (an advisory
//! plus the packages it affects). They never touch the DB or the network.

pub mod alpine;
pub mod debian;
pub mod eol;
pub mod epss;
pub mod kev;
pub mod nvd;
pub mod osv;

use crate::model::{Advisory, Affected};

/// One advisory with its affected packages.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The advisory.
    pub advisory: Advisory,
    /// What it affects.
    pub affected: Vec<Affected>,
}

/// Why a feed document did not parse.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Not valid JSON, or JSON of the wrong shape.
    #[error("line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// Valid JSON that breaks the feed's rules.
    #[error("{0}")]
    Invalid(String),
}

impl From<serde_json::Error> for FeedError {
    fn from(e: serde_json::Error) -> Self {
        if e.line() == 0 {
            // From a `Value`: no position, the message says what was wrong.
            return FeedError::Invalid(e.to_string());
        }
        FeedError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }
    }
}

/// Which feed a JSON document belongs to, judged from its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One OSV record, or an array of them.
    Osv,
    /// The Debian security tracker's JSON dump.
    DebianTracker,
    /// An Alpine secdb file.
    AlpineSecdb,
    /// NVD CVE records (JSON 2.0 feed or API response): CVSS enrichment.
    Nvd,
}

/// Guess the feed of a JSON document.
pub fn sniff(v: &serde_json::Value) -> Option<Kind> {
    match v {
        serde_json::Value::Array(a) => a.first().map_or(Some(Kind::Osv), |x| {
            (x.get("id").is_some()).then_some(Kind::Osv)
        }),
        serde_json::Value::Object(_) if nvd::is_nvd(v) => Some(Kind::Nvd),
        serde_json::Value::Object(m) => {
            if m.contains_key("id") && (m.contains_key("affected") || m.contains_key("modified")) {
                Some(Kind::Osv)
            } else if m.contains_key("packages") && m.contains_key("distroversion") {
                Some(Kind::AlpineSecdb)
            } else if m.values().all(|p| {
                p.as_object().is_some_and(|cves| {
                    cves.keys()
                        .all(|k| k.starts_with("CVE-") || k.starts_with("TEMP-"))
                })
            }) && !m.is_empty()
            {
                Some(Kind::DebianTracker)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Parse a document of a known kind.
pub fn parse(kind: Kind, v: serde_json::Value) -> Result<Vec<Record>, FeedError> {
    match kind {
        Kind::Osv => match v {
            serde_json::Value::Array(a) => a.into_iter().map(osv::from_value).collect(),
            other => Ok(vec![osv::from_value(other)?]),
        },
        Kind::DebianTracker => debian::from_value(v),
        Kind::AlpineSecdb => alpine::from_value(v),
        Kind::Nvd => nvd::from_value(v),
    }
}

/// Parse bytes of any supported feed.
pub fn parse_bytes(bytes: &[u8]) -> Result<Vec<Record>, FeedError> {
    let v: serde_json::Value = serde_json::from_slice(bytes)?;
    let kind = sniff(&v).ok_or_else(|| {
        FeedError::Invalid(
            "not an OSV record, a Debian tracker dump, an Alpine secdb file, NVD CVE JSON, CISA's KEV catalog or an EPSS file".into(),
        )
    })?;
    parse(kind, v)
}
