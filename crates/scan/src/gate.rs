//! The gate: decide pass/fail from findings (and optionally a baseline
//! diff). Suppressed findings never count; `only_fixed` counts only
//! findings with a fix. Every failure carries a reason a person can act on.

use serde::Serialize;
use vulndb::Severity;

use crate::Finding;
use crate::baseline::Diff;

/// Gate settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gate {
    /// Fail when a counted finding is at or above this severity.
    pub fail_on: Option<Severity>,
    /// Count only findings that have a fix.
    pub only_fixed: bool,
    /// Fail when the baseline diff has a new finding at or above this.
    pub fail_on_new: Option<Severity>,
    /// Fail when the counted total went up against the baseline.
    pub fail_on_increase: bool,
    /// (The run) fail when a finding still in the image is past its
    /// `[sla]` patch deadline.
    pub block_on_overdue: bool,
    /// (The run) fail when the image's distribution release or a runtime
    /// in it is past its end of life or ends within this many days.
    pub block_on_eol_days: Option<i64>,
}

impl Gate {
    /// The daily run's default: block fixable HIGH and above, a new
    /// CRITICAL against the last promoted image, and any increase.
    pub fn daily() -> Gate {
        Gate {
            fail_on: Some(Severity::High),
            only_fixed: true,
            fail_on_new: Some(Severity::Critical),
            fail_on_increase: true,
            block_on_overdue: false,
            block_on_eol_days: None,
        }
    }

    /// Reads a gate table (`[gate]`, `[image.gate]`) over `base`.
    pub fn read(
        v: &mut settings::Reader<'_>,
        val: &settings::Value<'_>,
        base: &Gate,
        section: &str,
    ) -> Gate {
        let mut g = base.clone();
        let Some(t) = v.table(val, section) else {
            return g;
        };
        const KEYS: &[&str] = &[
            "fail_on",
            "only_fixed",
            "fail_on_new",
            "fail_on_increase",
            "block_on_overdue",
            "block_on_eol_days",
        ];
        let severity = |v: &mut settings::Reader<'_>, x: &settings::Value<'_>, what: &str| {
            let s = v.string(x, what)?;
            if s == "none" || s.is_empty() {
                return Some(None);
            }
            match s.parse::<Severity>() {
                Ok(sev) => Some(Some(sev)),
                Err(e) => {
                    v.err(x.span, format!("`{what}`: {e} (or \"none\")"));
                    None
                }
            }
        };
        for (k, x) in t {
            let what = format!("{section}.{}", k.name);
            match k.name.as_ref() {
                "fail_on" => {
                    if let Some(s) = severity(v, x, &what) {
                        g.fail_on = s;
                    }
                }
                "fail_on_new" => {
                    if let Some(s) = severity(v, x, &what) {
                        g.fail_on_new = s;
                    }
                }
                "only_fixed" => g.only_fixed = v.boolean(x, &what).unwrap_or(g.only_fixed),
                "fail_on_increase" => {
                    g.fail_on_increase = v.boolean(x, &what).unwrap_or(g.fail_on_increase)
                }
                "block_on_overdue" => {
                    g.block_on_overdue = v.boolean(x, &what).unwrap_or(g.block_on_overdue)
                }
                "block_on_eol_days" => match v.integer(x, &what) {
                    Some(n) if n >= 0 => g.block_on_eol_days = Some(n),
                    Some(n) => v.err(
                        x.span,
                        format!("`{what}`: {n} is negative (0 blocks only what has ended)"),
                    ),
                    None => {}
                },
                other => v.unknown(k.span, section, other, KEYS),
            }
        }
        g
    }
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Whether the gate failed.
    pub failed: bool,
    /// Why (empty when it passed).
    pub reasons: Vec<String>,
}

fn counted<'a>(g: &Gate, f: &'a [Finding]) -> impl Iterator<Item = &'a Finding> {
    let only_fixed = g.only_fixed;
    f.iter()
        .filter(move |x| x.suppressed.is_none() && (!only_fixed || x.has_fix()))
}

/// Evaluate the gate.
pub fn evaluate(g: &Gate, findings: &[Finding], diff: Option<&Diff>) -> Decision {
    let mut reasons = Vec::new();
    if let Some(t) = g.fail_on {
        let hits: Vec<&Finding> = counted(g, findings).filter(|f| f.severity >= t).collect();
        if !hits.is_empty() {
            let mut ids: Vec<String> = hits
                .iter()
                .take(5)
                .map(|f| format!("{} in {} {}", f.id, f.package.name, f.package.version))
                .collect();
            if hits.len() > 5 {
                ids.push(format!("and {} more", hits.len() - 5));
            }
            reasons.push(format!(
                "{} {}finding(s) at or above {t}: {}",
                hits.len(),
                if g.only_fixed { "fixable " } else { "" },
                ids.join(", ")
            ));
        }
    }
    if let Some(d) = diff {
        if let Some(t) = g.fail_on_new {
            let new: Vec<String> = d
                .new
                .iter()
                .filter(|c| c.severity >= t)
                .map(|c| format!("{} ({}) in {} {}", c.id, c.severity, c.package, c.version))
                .collect();
            if !new.is_empty() {
                reasons.push(format!(
                    "{} new finding(s) at or above {t} since the baseline: {}",
                    new.len(),
                    new.join(", ")
                ));
            }
        }
        if g.fail_on_increase && d.after_total > d.before_total {
            reasons.push(format!(
                "the number of findings went up from {} to {}",
                d.before_total, d.after_total
            ));
        }
    }
    Decision {
        failed: !reasons.is_empty(),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FixState;
    use crate::baseline::diff;
    use crate::suppress::tests::finding;

    #[test]
    fn thresholds_only_fixed_and_baseline() {
        let mut f = vec![
            finding("CVE-1", &[], "a", ""),
            finding("CVE-2", &[], "b", ""),
        ];
        f[0].severity = Severity::Critical;
        f[0].state = FixState::NotFixed;
        f[1].severity = Severity::Medium;
        let g = Gate {
            fail_on: Some(Severity::High),
            ..Gate::default()
        };
        let d = evaluate(&g, &f, None);
        assert!(d.failed);
        assert!(d.reasons[0].contains("CVE-1 in a 1"), "{:?}", d.reasons);
        let g = Gate {
            fail_on: Some(Severity::High),
            only_fixed: true,
            ..Gate::default()
        };
        assert!(!evaluate(&g, &f, None).failed, "the critical has no fix");
        f[0].state = FixState::Fixed;
        assert!(evaluate(&g, &f, None).failed);
        f[0].suppressed = Some(crate::Suppression {
            kind: "vex".into(),
            file: "v".into(),
            reason: "r".into(),
            status: None,
            justification: None,
            expires: None,
        });
        assert!(!evaluate(&g, &f, None).failed, "suppressed never counts");

        // Baseline: a decrease passes, a new critical fails.
        let base = vec![
            finding("CVE-2", &[], "b", ""),
            finding("CVE-9", &[], "c", ""),
        ];
        let cur = vec![finding("CVE-2", &[], "b", "")];
        let g = Gate {
            fail_on_new: Some(Severity::Critical),
            fail_on_increase: true,
            block_on_overdue: false,
            block_on_eol_days: None,
            ..Gate::default()
        };
        assert!(!evaluate(&g, &cur, Some(&diff(&cur, &base))).failed);
        let mut cur2 = cur.clone();
        cur2.push(finding("CVE-5", &[], "d", ""));
        cur2[1].severity = Severity::Critical;
        cur2.push(finding("CVE-6", &[], "e", ""));
        let d = evaluate(&g, &cur2, Some(&diff(&cur2, &base)));
        assert_eq!(d.reasons.len(), 2, "{:?}", d.reasons);
    }
}
