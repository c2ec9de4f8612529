//! One judgement of what an image holds: its matches (from
//! [`crate::match_inventory`] or any [`crate::Matched`]) with the ignore
//! rules and VEX statements applied, counted by severity, compared with a
//! baseline and put through the gate, with the reasons. The `scan` command
//! and the daily run's scan and gate steps both come through [`judge`], so
//! an image is judged the same way wherever it is judged.

use std::collections::BTreeMap;

use vulndb::Severity;

use crate::baseline::{self, Diff};
use crate::gate::{self, Decision, Gate};
use crate::suppress::{self, Rule, VexStatement};
use crate::{Finding, Matched};

/// What an image is judged by.
#[derive(Debug, Clone, Copy)]
pub struct Judging<'a> {
    /// Ignore-file rules (`.safeimage-ignore.yaml`, `.trivyignore`).
    pub rules: &'a [Rule],
    /// OpenVEX statements.
    pub vex: &'a [VexStatement],
    /// Today (`YYYY-MM-DD`), for the rules' expiry.
    pub today: &'a str,
    /// The image as VEX products name it (`registry/repo@digest`, a
    /// reference, or an SBOM's subject).
    pub subject: &'a str,
    /// Its manifest digest, when known.
    pub digest: Option<&'a str>,
    /// The findings it is compared with (an earlier report, the last
    /// promoted image's).
    pub baseline: Option<&'a [Finding]>,
    /// The gate.
    pub gate: &'a Gate,
}

/// The judgement.
#[derive(Debug, Clone)]
pub struct Judged {
    /// Findings, most severe first; suppressed ones marked, not removed.
    pub findings: Vec<Finding>,
    /// Packages looked up.
    pub packages_checked: usize,
    /// Findings the vendor rates unimportant, left out.
    pub hidden_unimportant: usize,
    /// Notes for the report (expired ignore rules among them).
    pub notes: Vec<String>,
    /// Counted (not suppressed) findings by severity.
    pub counts: BTreeMap<Severity, usize>,
    /// Counted findings with a fix.
    pub fixable: usize,
    /// Against the baseline, when there is one.
    pub baseline: Option<Diff>,
    /// The gate's decision, with reasons.
    pub decision: Decision,
}

/// Counted findings by severity and how many of them have a fix.
pub fn counts(findings: &[Finding]) -> (BTreeMap<Severity, usize>, usize) {
    let counted: Vec<&Finding> = findings.iter().filter(|f| f.suppressed.is_none()).collect();
    let counts = Severity::ALL
        .iter()
        .map(|s| (*s, counted.iter().filter(|f| f.severity == *s).count()))
        .collect();
    (counts, counted.iter().filter(|f| f.has_fix()).count())
}

/// Judges `matched` by `j`: rules, then VEX, then counts, the baseline and
/// the gate.
pub fn judge(matched: Matched, j: &Judging<'_>) -> Judged {
    let Matched {
        mut findings,
        packages_checked,
        hidden_unimportant,
        mut notes,
        ..
    } = matched;
    notes.extend(suppress::apply_rules(&mut findings, j.rules, j.today));
    suppress::apply_vex(&mut findings, j.vex, j.subject, j.digest);
    let (counts, fixable) = counts(&findings);
    let baseline = j.baseline.map(|before| baseline::diff(&findings, before));
    let decision = gate::evaluate(j.gate, &findings, baseline.as_ref());
    Judged {
        findings,
        packages_checked,
        hidden_unimportant,
        notes,
        counts,
        fixable,
        baseline,
        decision,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_matched_passes_any_gate_with_zero_counts() {
        let gate = Gate {
            fail_on: Some(Severity::Low),
            ..Default::default()
        };
        let j = judge(
            Matched::default(),
            &Judging {
                rules: &[],
                vex: &[],
                today: "2026-12-07",
                subject: "r.example/a@sha256:00",
                digest: None,
                baseline: Some(&[]),
                gate: &gate,
            },
        );
        assert!(!j.decision.failed);
        assert_eq!(j.counts.values().sum::<usize>(), 0);
        assert_eq!(j.fixable, 0);
        assert!(j.baseline.is_some_and(|d| d.new.is_empty()));
    }
}
