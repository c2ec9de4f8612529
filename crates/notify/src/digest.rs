//! The run digest: the documented webhook payload (`safeimage-run/1`,
//! docs/notifications.md), its plain-text form for email, and the Slack
//! Block Kit message (text escaped as Slack documents, so a package named
//! `<!channel>` cannot ping anyone).

use std::collections::BTreeMap;

use model::{ImageOutcome, Outcome, RunReport};
use serde::Serialize;
use vulndb::Severity;

/// The payload schema name.
pub const SCHEMA: &str = "safeimage-run/1";

/// One image in the digest.
#[derive(Debug, Clone, Serialize)]
pub struct ImageLine {
    /// Name.
    pub name: String,
    /// The decision.
    pub outcome: Outcome,
    /// Why.
    pub reasons: Vec<String>,
    /// Repository.
    pub repository: String,
    /// Built digest.
    pub digest: Option<String>,
    /// Digest before.
    pub previous_digest: Option<String>,
    /// Tags moved.
    pub tags: Vec<String>,
    /// Counts by severity.
    pub counts: BTreeMap<Severity, usize>,
    /// Fixable findings.
    pub fixable: usize,
    /// New findings vs the last promoted image.
    pub new: Option<usize>,
    /// Fixed findings vs the last promoted image.
    pub fixed: Option<usize>,
}

impl From<&ImageOutcome> for ImageLine {
    fn from(i: &ImageOutcome) -> Self {
        ImageLine {
            name: i.name.clone(),
            outcome: i.outcome,
            reasons: i.reasons.clone(),
            repository: i.repository.to_string(),
            digest: i.digest.as_ref().map(|d| d.to_string()),
            previous_digest: i.previous_digest.as_ref().map(|d| d.to_string()),
            tags: i.tags.clone(),
            counts: i.counts.clone(),
            fixable: i.fixable,
            new: i.baseline.as_ref().map(|b| b.new.len()),
            fixed: i.baseline.as_ref().map(|b| b.fixed.len()),
        }
    }
}

/// A finding past its patch deadline, notified this run (the first time it
/// is overdue, then every `[sla] renotify`).
#[derive(Debug, Clone, Serialize)]
pub struct OverdueLine {
    /// Image.
    pub image: String,
    /// Platform (`*`: the image's only results).
    pub platform: String,
    /// Advisory.
    pub advisory: String,
    /// `type/name`.
    pub package: String,
    /// Severity.
    pub severity: String,
    /// First seen (RFC 3339).
    pub first_seen: String,
    /// The deadline it passed (RFC 3339).
    pub deadline: String,
}

/// The run digest.
#[derive(Debug, Clone, Serialize)]
pub struct RunDigest {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// Run id.
    pub run: i64,
    /// Start (RFC 3339).
    pub started: String,
    /// End.
    pub finished: String,
    /// Counts per outcome.
    pub summary: BTreeMap<Outcome, usize>,
    /// Images.
    pub images: Vec<ImageLine>,
    /// HTML report path.
    pub report: Option<String>,
    /// Findings overdue and due a notice this run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overdue: Vec<OverdueLine>,
}

impl RunDigest {
    /// The digest of a run; `report` is the HTML report's path.
    pub fn new(r: &RunReport, report: Option<String>) -> Self {
        RunDigest {
            schema: SCHEMA,
            run: r.run.0,
            started: r.started.to_string(),
            finished: r.finished.to_string(),
            summary: r.summary(),
            images: r.images.iter().map(ImageLine::from).collect(),
            report,
            overdue: r
                .overdue
                .iter()
                .filter(|o| o.notice)
                .map(|o| OverdueLine {
                    image: o.finding.image.clone(),
                    platform: o.finding.platform.clone(),
                    advisory: o.finding.advisory.clone(),
                    package: o.finding.package.clone(),
                    severity: o.finding.severity.clone(),
                    first_seen: o.finding.first_seen.to_string(),
                    deadline: o.deadline.to_string(),
                })
                .collect(),
        }
    }

    /// One-line summary.
    pub fn headline(&self) -> String {
        let c = |k: Outcome| self.summary.get(&k).copied().unwrap_or(0);
        format!(
            "safeimage run {}: {} promoted, {} blocked, {} failed",
            self.run,
            c(Outcome::Promoted),
            c(Outcome::Blocked),
            c(Outcome::Failed)
        )
    }

    /// Plain-text body (email).
    pub fn text(&self) -> String {
        let mut s = format!("{}\n\n", self.headline());
        for i in &self.images {
            s.push_str(&format!("{} [{}] {}\n", i.name, i.outcome, i.repository));
            if let Some(d) = &i.digest {
                s.push_str(&format!("  digest: {d}\n"));
            }
            if !i.tags.is_empty() {
                s.push_str(&format!("  tags: {}\n", i.tags.join(", ")));
            }
            s.push_str(&format!(
                "  vulnerabilities: {} ({} fixable)\n",
                counts(i).unwrap_or_else(|| "none".into()),
                i.fixable
            ));
            for r in &i.reasons {
                s.push_str(&format!("  why: {r}\n"));
            }
        }
        if !self.overdue.is_empty() {
            s.push_str(&format!(
                "\npast their patch deadline ({}):\n",
                self.overdue.len()
            ));
            for o in &self.overdue {
                s.push_str(&format!("  {}\n", overdue_line(o)));
            }
        }
        if let Some(r) = &self.report {
            s.push_str(&format!("\nreport: {r}\n"));
        }
        s
    }
}

fn overdue_line(o: &OverdueLine) -> String {
    format!(
        "{} {} in {} ({}{}), due {}",
        o.severity,
        o.advisory,
        o.image,
        o.package,
        if o.platform == "*" {
            String::new()
        } else {
            format!(", {}", o.platform)
        },
        o.deadline
    )
}

fn counts(i: &ImageLine) -> Option<String> {
    let c: Vec<String> = i
        .counts
        .iter()
        .rev()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    (!c.is_empty()).then(|| c.join(", "))
}

/// Text escaped for Slack's mrkdwn: `&`, `<` and `>` are control
/// characters there (links, `<!channel>` mentions).
pub fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Slack Block Kit message.
pub fn slack_message(d: &RunDigest) -> serde_json::Value {
    let mut blocks = vec![
        serde_json::json!({"type": "header", "text": {"type": "plain_text", "text": d.headline()}}),
    ];
    for i in &d.images {
        let icon = match i.outcome {
            Outcome::Promoted => ":white_check_mark:",
            Outcome::Blocked => ":no_entry:",
            Outcome::Failed => ":x:",
            Outcome::Unchanged | Outcome::Skipped | Outcome::DryRun | Outcome::Evaluated => {
                ":grey_question:"
            }
        };
        let mut text = format!(
            "{icon} *{}* {}\n{}",
            slack_escape(&i.name),
            i.outcome,
            counts(i).unwrap_or_else(|| "no known vulnerabilities".into())
        );
        if !i.tags.is_empty() {
            text.push_str(&format!("\ntags: `{}`", slack_escape(&i.tags.join("`, `"))));
        }
        for r in i.reasons.iter().take(3) {
            text.push_str(&format!("\n> {}", slack_escape(r)));
        }
        blocks
            .push(serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    if !d.overdue.is_empty() {
        let mut text = format!(
            ":alarm_clock: *{} past their patch deadline*",
            d.overdue.len()
        );
        for o in d.overdue.iter().take(20) {
            text.push_str(&format!("\n• {}", slack_escape(&overdue_line(o))));
        }
        blocks
            .push(serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    if let Some(r) = &d.report {
        blocks.push(serde_json::json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("report: {}", slack_escape(r))}]}));
    }
    serde_json::json!({"text": slack_escape(&d.headline()), "blocks": blocks})
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{RunId, Timestamp};

    fn report(name: &str, reason: &str) -> RunReport {
        let mut o = ImageOutcome::new(name, &"r.example/a".parse().unwrap(), None);
        o.outcome = Outcome::Blocked;
        o.reasons.push(reason.into());
        o.counts.insert(Severity::High, 2);
        RunReport {
            schema: model::RUN_REPORT_SCHEMA.into(),
            run: RunId(7),
            started: Timestamp(0),
            finished: Timestamp(1),
            config: "f".into(),
            engine: "buildah".into(),
            images: vec![o],
            notes: vec![],
            errors: vec![],
            interrupted: false,
            wall_seconds: 1.0,
            overdue: vec![],
            issues: vec![],
        }
    }

    fn overdue(advisory: &str, image: &str, notice: bool) -> model::tracked::Overdue {
        model::tracked::Overdue {
            finding: model::tracked::Tracked {
                image: image.into(),
                platform: "*".into(),
                advisory: advisory.into(),
                package: "deb/openssl".into(),
                occurrence: 1,
                severity: "HIGH".into(),
                state: model::tracked::TrackState::Open,
                reason: None,
                expires: None,
                first_seen: Timestamp(0),
                last_seen: Timestamp(0),
                fixed_at: None,
                fix_available: None,
                digest: "sha256:00".into(),
                kev_due: None,
                notified_at: None,
            },
            deadline: Timestamp(7 * 86_400),
            notice,
        }
    }

    #[test]
    fn only_findings_due_a_notice_are_in_the_digest_escaped_for_slack() {
        let mut r = report("app", "gate");
        r.overdue = vec![
            overdue("CVE-2024-1", "<!channel>", true),
            overdue("CVE-2024-2", "app", false),
        ];
        let d = RunDigest::new(&r, None);
        assert_eq!(d.overdue.len(), 1);
        let text = d.text();
        assert!(
            text.contains("past their patch deadline (1)")
                && text.contains("HIGH CVE-2024-1 in <!channel> (deb/openssl), due 1970-01-08"),
            "{text}"
        );
        assert!(!text.contains("CVE-2024-2"));
        let slack = slack_message(&d).to_string();
        assert!(
            slack.contains("&lt;!channel&gt;") && !slack.contains("<!channel>"),
            "{slack}"
        );
        // nothing overdue: the payload has no `overdue` key (unchanged shape)
        let j = serde_json::to_value(RunDigest::new(&report("app", "gate"), None)).unwrap();
        assert!(j.get("overdue").is_none());
    }

    #[test]
    fn payload_shape() {
        let d = RunDigest::new(&report("app", "gate"), Some("/r/run-7.html".into()));
        let j = serde_json::to_value(&d).unwrap();
        assert_eq!(j["schema"], "safeimage-run/1");
        assert_eq!(j["summary"]["blocked"], 1);
        assert_eq!(j["summary"]["promoted"], 0);
        assert_eq!(j["images"][0]["outcome"], "blocked");
        assert_eq!(j["images"][0]["counts"]["HIGH"], 2);
        assert_eq!(
            d.headline(),
            "safeimage run 7: 0 promoted, 1 blocked, 0 failed"
        );
        assert!(d.text().contains("vulnerabilities: 2 HIGH (0 fixable)"));
    }

    #[test]
    fn slack_text_is_escaped() {
        let d = RunDigest::new(&report("app", "<!channel> in pkg <x|y> & co"), None);
        let m = slack_message(&d).to_string();
        assert!(!m.contains("<!channel>"), "{m}");
        assert!(
            m.contains("&lt;!channel&gt; in pkg &lt;x|y&gt; &amp; co"),
            "{m}"
        );
    }
}
