//! Renders any list of [`findings::Finding`]s: human text with the source line
//! and a caret, JSON, and SARIF 2.1.0 (as accepted by GitHub code scanning).
//! One stream of findings, several renderers; nothing here decides exit codes.

pub mod diff;
pub mod dossier;
pub mod gitlab;
pub mod harden;
mod human;
pub mod patch;
pub mod runs;
mod sarif;
pub mod vulns;
pub mod weekly;

pub use human::{human, summary};
pub use sarif::{ToolInfo, sarif};

use findings::{Finding, RuleInfo};
use serde::Serialize;

/// The JSON document `--format json` writes.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    /// Schema version of this document.
    pub version: u32,
    /// Tool name and version.
    pub tool: ToolInfo,
    /// Number of files checked.
    pub files: usize,
    /// Findings.
    pub findings: &'a [Finding],
    /// Rules referenced by the findings.
    pub rules: Vec<&'a RuleInfo>,
}

/// Renders findings as pretty JSON. Only rules that findings reference are listed.
pub fn json(findings: &[Finding], rules: &[RuleInfo], tool: &ToolInfo, files: usize) -> String {
    let used: std::collections::BTreeSet<&str> = findings.iter().map(|f| f.code.as_str()).collect();
    let doc = JsonReport {
        version: 1,
        tool: tool.clone(),
        files,
        findings,
        rules: rules
            .iter()
            .filter(|r| used.contains(r.code.as_str()))
            .collect(),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
}
