//! Baselines: compare a scan with an earlier one (our JSON report) and say
//! what is new, what was fixed and what is unchanged. A finding is the same
//! when the package (type and name) is the same and the ids overlap, so an
//! upgrade that leaves a vulnerability open is "unchanged", not "new".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vulndb::Severity;

use crate::{Finding, REPORT_SCHEMA, counts};

/// Errors reading a baseline.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// Unreadable.
    #[error("baseline {}: {source}", path.display())]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Not our report.
    #[error("baseline {}: {message}", path.display())]
    Invalid {
        /// File.
        path: PathBuf,
        /// What.
        message: String,
    },
}

/// What an earlier report says it scanned.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportTarget {
    /// Image reference, source or SBOM path.
    pub name: String,
    /// Digest, when known.
    #[serde(default)]
    pub digest: Option<String>,
    /// `debian 12`.
    #[serde(default)]
    pub distro: Option<String>,
}

/// An earlier `safeimage scan --format json` report, as read back.
#[derive(Debug, Deserialize)]
pub struct Report {
    schema: String,
    /// What it scanned.
    #[serde(default)]
    pub target: ReportTarget,
    /// Its findings.
    pub findings: Vec<Finding>,
}

/// Whether `bytes` (a file's first bytes) look like one of our scan reports.
pub fn looks_like_report(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(bytes);
    head.trim_start().starts_with('{') && head.contains(&format!("\"{REPORT_SCHEMA}\""))
}

/// Read the findings of an earlier `safeimage scan --format json` report.
pub fn read(path: &Path) -> Result<Vec<Finding>, BaselineError> {
    read_report(path).map(|r| r.findings)
}

/// Read an earlier `safeimage scan --format json` report whole.
pub fn read_report(path: &Path) -> Result<Report, BaselineError> {
    let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Io {
        path: path.into(),
        source,
    })?;
    let r: Report = serde_json::from_str(&text).map_err(|e| BaselineError::Invalid {
        path: path.into(),
        message: format!(
            "not a safeimage scan report (line {}, column {}): {e}",
            e.line(),
            e.column()
        ),
    })?;
    if r.schema != REPORT_SCHEMA {
        return Err(BaselineError::Invalid {
            path: path.into(),
            message: format!("schema `{}`, expected `{REPORT_SCHEMA}`", r.schema),
        });
    }
    Ok(r)
}

/// A finding in the diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Id.
    pub id: vulndb::AdvisoryId,
    /// Package name.
    pub package: String,
    /// Version (current for new, baseline for fixed).
    pub version: String,
    /// Severity.
    pub severity: Severity,
}

impl From<&Finding> for Change {
    fn from(f: &Finding) -> Self {
        Change {
            id: f.id.clone(),
            package: f.package.name.clone(),
            version: f.package.version.clone(),
            severity: f.severity,
        }
    }
}

/// The comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    /// In this scan, not in the baseline.
    pub new: Vec<Change>,
    /// In the baseline, not in this scan.
    pub fixed: Vec<Change>,
    /// In both.
    pub unchanged: usize,
    /// Counted findings before.
    pub before_total: usize,
    /// Counted findings now.
    pub after_total: usize,
    /// Counts by severity before.
    pub before: BTreeMap<Severity, usize>,
    /// Counts by severity now.
    pub after: BTreeMap<Severity, usize>,
}

/// The findings of `before` (counted there) that `now` no longer has.
pub fn gone<'a>(now: &[Finding], before: &'a [Finding]) -> Vec<&'a Finding> {
    before
        .iter()
        .filter(|b| b.suppressed.is_none() && !now.iter().any(|n| same(n, b)))
        .collect()
}

fn same(a: &Finding, b: &Finding) -> bool {
    a.package.kind == b.package.kind
        && a.package.name == b.package.name
        && a.ids().any(|x| b.ids().any(|y| x == y))
}

/// Compare current findings with a baseline's (suppressed ones ignored on
/// both sides).
pub fn diff(current: &[Finding], baseline: &[Finding]) -> Diff {
    let cur: Vec<&Finding> = current.iter().filter(|f| f.suppressed.is_none()).collect();
    let base: Vec<&Finding> = baseline.iter().filter(|f| f.suppressed.is_none()).collect();
    let new: Vec<Change> = cur
        .iter()
        .filter(|f| !base.iter().any(|b| same(f, b)))
        .map(|f| Change::from(*f))
        .collect();
    let fixed: Vec<Change> = base
        .iter()
        .filter(|b| !cur.iter().any(|f| same(f, b)))
        .map(|f| Change::from(*f))
        .collect();
    Diff {
        unchanged: cur.len() - new.len(),
        new,
        fixed,
        before_total: base.len(),
        after_total: cur.len(),
        before: counts(baseline),
        after: counts(current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suppress::tests::finding;

    #[test]
    fn new_fixed_unchanged() {
        let base = vec![
            finding("CVE-1", &[], "a", ""),
            finding("CVE-2", &["GHSA-2"], "b", ""),
        ];
        let mut cur = vec![
            finding("GHSA-2", &[], "b", ""),
            finding("CVE-3", &[], "a", ""),
        ];
        cur[1].severity = Severity::Critical;
        let d = diff(&cur, &base);
        assert_eq!(d.unchanged, 1, "alias match across id choice");
        assert_eq!(d.new.len(), 1);
        assert_eq!(d.new[0].id, "CVE-3");
        assert_eq!(d.fixed[0].id, "CVE-1");
        assert_eq!((d.before_total, d.after_total), (2, 2));
    }
}
