//! What a notifier sends: a run's digest, the weekly security summary, or
//! the new findings a re-match found in already promoted images. Each has
//! its webhook payload (its own `schema` and `X-Safeimage-Event`), a
//! plain-text form for email and a Slack Block Kit form (escaped).

use serde::Serialize;

use crate::digest::{RunDigest, slack_escape, slack_message};

/// The weekly payload's schema name.
pub const WEEKLY_SCHEMA: &str = "safeimage-weekly/1";
/// The re-match payload's schema name.
pub const REMATCH_SCHEMA: &str = "safeimage-rematch/1";

/// A message for the notifiers.
#[derive(Debug, Clone)]
pub enum Message {
    /// A run's digest.
    Run(RunDigest),
    /// The weekly security summary.
    Weekly(WeeklyDigest),
    /// New findings in promoted images after the advisory DB changed.
    Rematch(RematchDigest),
}

/// The weekly summary as sent.
#[derive(Debug, Clone, Serialize)]
pub struct WeeklyDigest {
    /// Always [`WEEKLY_SCHEMA`].
    pub schema: &'static str,
    /// The summary.
    #[serde(flatten)]
    pub summary: model::weekly::WeeklySummary,
}

impl WeeklyDigest {
    /// The digest of a summary.
    pub fn new(summary: model::weekly::WeeklySummary) -> Self {
        WeeklyDigest {
            schema: WEEKLY_SCHEMA,
            summary,
        }
    }
}

/// A finding a re-match added.
#[derive(Debug, Clone, Serialize)]
pub struct NewFinding {
    /// Advisory id.
    pub advisory: String,
    /// `type/name`.
    pub package: String,
    /// Installed version.
    pub version: String,
    /// Severity.
    pub severity: String,
    /// The fixed version, when there is one.
    pub fixed: Option<String>,
    /// In CISA's KEV catalog.
    pub kev: bool,
}

/// One promoted platform whose findings changed.
#[derive(Debug, Clone, Serialize)]
pub struct RematchLine {
    /// Image.
    pub image: String,
    /// Platform (`*`: the image's only results).
    pub platform: String,
    /// The promoted manifest.
    pub digest: String,
    /// Findings the DB has now that the promotion did not.
    pub new: Vec<NewFinding>,
    /// Advisory ids the DB no longer gives for it.
    pub gone: Vec<String>,
}

/// A re-match's changes as sent.
#[derive(Debug, Clone, Serialize)]
pub struct RematchDigest {
    /// Always [`REMATCH_SCHEMA`].
    pub schema: &'static str,
    /// When the advisory DB was built (RFC 3339).
    pub db_built: String,
    /// Promoted platforms matched again.
    pub matched: usize,
    /// Those whose findings changed.
    pub images: Vec<RematchLine>,
}

fn total(m: &std::collections::BTreeMap<String, usize>) -> usize {
    m.values().sum()
}

fn counts_text(m: &std::collections::BTreeMap<String, usize>) -> String {
    let order = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"];
    let parts: Vec<String> = order
        .iter()
        .filter_map(|k| m.get(*k).filter(|n| **n > 0).map(|n| format!("{n} {k}")))
        .collect();
    if parts.is_empty() {
        "none open".into()
    } else {
        parts.join(", ")
    }
}

fn weekly_line(i: &model::weekly::WeeklyImage) -> String {
    let (now, before) = (total(&i.open) as i64, total(&i.previous) as i64);
    let change = match now - before {
        0 => "±0".to_string(),
        d if d > 0 => format!("+{d}"),
        d => d.to_string(),
    };
    format!(
        "{}: {} ({change}); {} new, {} fixed{}; {} overdue; {} builds, {} blocked",
        i.image,
        counts_text(&i.open),
        i.new,
        i.fixed,
        i.mean_days_to_fix
            .map(|d| format!(" (mean {d:.1} days to fix)"))
            .unwrap_or_default(),
        i.overdue,
        i.rebuilds,
        i.blocked
    )
}

fn new_line(l: &RematchLine, f: &NewFinding) -> String {
    format!(
        "{} {} in {} ({} {}{}){}{}",
        f.severity,
        f.advisory,
        l.image,
        f.package,
        f.version,
        if l.platform == "*" {
            String::new()
        } else {
            format!(", {}", l.platform)
        },
        f.fixed
            .as_deref()
            .map(|v| format!(", fixed in {v}"))
            .unwrap_or_default(),
        if f.kev { ", known exploited" } else { "" }
    )
}

impl Message {
    /// The `X-Safeimage-Event` header value.
    pub fn event(&self) -> &'static str {
        match self {
            Message::Run(_) => "run",
            Message::Weekly(_) => "weekly",
            Message::Rematch(_) => "rematch",
        }
    }

    /// The webhook body.
    pub fn body(&self) -> Vec<u8> {
        match self {
            Message::Run(d) => serde_json::to_vec(d),
            Message::Weekly(d) => serde_json::to_vec(d),
            Message::Rematch(d) => serde_json::to_vec(d),
        }
        .unwrap_or_default()
    }

    /// One line: the email subject, Slack's notification text.
    pub fn headline(&self) -> String {
        match self {
            Message::Run(d) => d.headline(),
            Message::Weekly(d) => {
                let open: usize = d.summary.images.iter().map(|i| total(&i.open)).sum();
                let overdue: usize = d.summary.images.iter().map(|i| i.overdue).sum();
                format!(
                    "safeimage weekly summary {}: {open} open findings, {overdue} overdue",
                    d.summary.week
                )
            }
            Message::Rematch(d) => {
                let new: usize = d.images.iter().map(|l| l.new.len()).sum();
                let images: std::collections::BTreeSet<&str> =
                    d.images.iter().map(|l| l.image.as_str()).collect();
                format!(
                    "safeimage: {new} new findings in {} promoted images (advisory DB of {})",
                    images.len(),
                    d.db_built
                )
            }
        }
    }

    /// The plain-text body (email).
    pub fn text(&self) -> String {
        match self {
            Message::Run(d) => d.text(),
            Message::Weekly(d) => {
                let mut s = format!(
                    "{}\n{} to {}\n\n",
                    self.headline(),
                    d.summary.from,
                    d.summary.to
                );
                for i in &d.summary.images {
                    s.push_str(&weekly_line(i));
                    s.push('\n');
                }
                s
            }
            Message::Rematch(d) => {
                let mut s = format!("{}\n\n", self.headline());
                for l in &d.images {
                    for f in &l.new {
                        s.push_str(&format!("new: {}\n", new_line(l, f)));
                    }
                    if !l.gone.is_empty() {
                        s.push_str(&format!(
                            "no longer reported in {}: {}\n",
                            l.image,
                            l.gone.join(", ")
                        ));
                    }
                }
                s
            }
        }
    }

    /// The Slack Block Kit message.
    pub fn slack(&self) -> serde_json::Value {
        let lines: Vec<String> = match self {
            Message::Run(d) => return slack_message(d),
            Message::Weekly(d) => d.summary.images.iter().map(weekly_line).collect(),
            Message::Rematch(d) => d
                .images
                .iter()
                .flat_map(|l| l.new.iter().map(move |f| new_line(l, f)))
                .collect(),
        };
        let mut blocks = vec![
            serde_json::json!({"type": "header", "text": {"type": "plain_text", "text": self.headline()}}),
        ];
        // Slack caps a message at 50 blocks and a section at 3,000 characters
        for chunk in lines.chunks(15).take(40) {
            let text: Vec<String> = chunk
                .iter()
                .map(|l| format!("• {}", slack_escape(l)))
                .collect();
            let mut text = text.join("\n");
            if text.len() > 2900 {
                let mut cut = 2900;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                text.push('…');
            }
            blocks.push(
                serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}),
            );
        }
        serde_json::json!({"text": slack_escape(&self.headline()), "blocks": blocks})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::weekly::{WeeklyImage, WeeklySummary};

    fn weekly() -> Message {
        Message::Weekly(WeeklyDigest::new(WeeklySummary {
            week: "2026-W50".into(),
            images: vec![WeeklyImage {
                image: "<!channel>".into(),
                open: [("HIGH".to_string(), 2)].into(),
                previous: [("HIGH".to_string(), 3)].into(),
                new: 1,
                fixed: 2,
                mean_days_to_fix: Some(3.5),
                overdue: 1,
                rebuilds: 7,
                blocked: 1,
                history: vec![3, 2],
            }],
            weeks: vec!["2026-W49".into(), "2026-W50".into()],
            ..Default::default()
        }))
    }

    #[test]
    fn the_weekly_payload_carries_its_schema_and_the_summary_flat() {
        let m = weekly();
        let j: serde_json::Value = serde_json::from_slice(&m.body()).unwrap();
        assert_eq!(j["schema"], WEEKLY_SCHEMA);
        assert_eq!(j["week"], "2026-W50");
        assert_eq!(j["images"][0]["open"]["HIGH"], 2);
        assert_eq!(m.event(), "weekly");
        assert_eq!(
            m.headline(),
            "safeimage weekly summary 2026-W50: 2 open findings, 1 overdue"
        );
        assert!(
            m.text().contains(
                "2 HIGH (-1); 1 new, 2 fixed (mean 3.5 days to fix); 1 overdue; 7 builds, 1 blocked"
            ),
            "{}",
            m.text()
        );
    }

    #[test]
    fn names_in_slack_messages_cannot_mention_anyone() {
        let s = weekly().slack().to_string();
        assert!(
            !s.contains("<!channel>") && s.contains("&lt;!channel&gt;"),
            "{s}"
        );
        let r = Message::Rematch(RematchDigest {
            schema: REMATCH_SCHEMA,
            db_built: "2026-12-07T00:00:00Z".into(),
            matched: 3,
            images: vec![RematchLine {
                image: "app".into(),
                platform: "*".into(),
                digest: "sha256:00".into(),
                new: vec![NewFinding {
                    advisory: "CVE-2026-1".into(),
                    package: "deb/<@U123>".into(),
                    version: "1.0".into(),
                    severity: "HIGH".into(),
                    fixed: Some("1.1".into()),
                    kev: true,
                }],
                gone: vec![],
            }],
        });
        let s = r.slack().to_string();
        assert!(!s.contains("<@U123>"), "{s}");
        assert!(
            r.text().contains(
                "new: HIGH CVE-2026-1 in app (deb/<@U123> 1.0), fixed in 1.1, known exploited"
            ),
            "{}",
            r.text()
        );
        assert_eq!(
            r.headline(),
            "safeimage: 1 new findings in 1 promoted images (advisory DB of 2026-12-07T00:00:00Z)"
        );
    }
}
