//! Patch deadlines by severity: `[sla]` in the config (read here, as this
//! crate keeps the findings they apply to), each tracked finding's
//! deadline, which are overdue, and which are due a notice (once when they
//! become overdue, then every `renotify`, never every run).
//!
//! ```toml
//! [sla]
//! critical = "48h"   # defaults: seed 002's 48 h / 7 d / 30 d, LOW none
//! high = "7d"
//! medium = "30d"
//! low = "none"
//! from = "first-seen"   # or "fix-available": the clock starts when a fix exists
//! renotify = "7d"
//! ```

use model::Timestamp;
use serde::Serialize;
use settings::{Reader, Value};

use crate::lifecycle::Tracked;

/// Where a deadline counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum From {
    /// The finding's first-seen time.
    FirstSeen,
    /// When a fixed version first existed (no deadline before that).
    FixAvailable,
}

/// `[sla]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sla {
    /// Seconds allowed for CRITICAL, HIGH, MEDIUM, LOW (`None`: no deadline).
    pub critical: Option<i64>,
    /// See `critical`.
    pub high: Option<i64>,
    /// See `critical`.
    pub medium: Option<i64>,
    /// See `critical`.
    pub low: Option<i64>,
    /// Where the time counts from.
    pub from: From,
    /// How long after a notice an overdue finding is notified again.
    pub renotify_secs: i64,
}

const DAY: i64 = 86_400;

impl Default for Sla {
    fn default() -> Self {
        Sla {
            critical: Some(2 * DAY),
            high: Some(7 * DAY),
            medium: Some(30 * DAY),
            low: None,
            from: From::FirstSeen,
            renotify_secs: 7 * DAY,
        }
    }
}

pub use model::tracked::Overdue;

impl Sla {
    /// The time allowed for `severity` (`CRITICAL`...), if any.
    pub fn allowed(&self, severity: &str) -> Option<i64> {
        match severity {
            "CRITICAL" => self.critical,
            "HIGH" => self.high,
            "MEDIUM" => self.medium,
            "LOW" => self.low,
            _ => None,
        }
    }

    /// `t`'s deadline: none for a fixed or ignored finding, a severity
    /// without one, or (counting from fix-available) before a fix exists.
    pub fn deadline(&self, t: &Tracked) -> Option<Timestamp> {
        if !t.state.counts() {
            return None;
        }
        let by_severity = match self.from {
            From::FirstSeen => Some(t.first_seen),
            From::FixAvailable => t.fix_available,
        }
        .and_then(|start| {
            Some(Timestamp(
                start.0.saturating_add(self.allowed(&t.severity)?),
            ))
        });
        // a KEV due date wins when earlier (the end of that day, UTC)
        let kev = t
            .kev_due
            .as_deref()
            .and_then(|d| format!("{d}T23:59:59Z").parse::<Timestamp>().ok());
        match (by_severity, kev) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The findings of `rows` past their deadline at `now`.
    pub fn overdue(&self, rows: &[Tracked], now: Timestamp) -> Vec<Overdue> {
        rows.iter()
            .filter_map(|t| {
                let d = self.deadline(t)?;
                (d <= now).then(|| Overdue {
                    finding: t.clone(),
                    deadline: d,
                    notice: false,
                })
            })
            .collect()
    }

    /// Of `rows`, the overdue ones to notify at `now`: never notified, or
    /// last notified `renotify` ago or more.
    pub fn due_notice(&self, rows: &[Tracked], now: Timestamp) -> Vec<Overdue> {
        self.overdue_marked(rows, now)
            .into_iter()
            .filter(|o| o.notice)
            .collect()
    }

    /// [`Sla::overdue`], each marked whether a notice is due now.
    pub fn overdue_marked(&self, rows: &[Tracked], now: Timestamp) -> Vec<Overdue> {
        let mut v = self.overdue(rows, now);
        for o in &mut v {
            o.notice = o
                .finding
                .notified_at
                .is_none_or(|n| now.0 - n.0 >= self.renotify_secs);
        }
        v
    }

    /// Reads `[sla]` (absent: the defaults).
    pub fn read(v: &mut Reader<'_>, val: Option<&Value<'_>>) -> Sla {
        const KEYS: &[&str] = &["critical", "high", "medium", "low", "from", "renotify"];
        let mut s = Sla::default();
        let Some(val) = val else { return s };
        let Some(t) = v.table(val, "sla") else {
            return s;
        };
        for (k, x) in t {
            let what = format!("sla.{}", k.name);
            match k.name.as_ref() {
                name @ ("critical" | "high" | "medium" | "low" | "renotify") => {
                    let Some(text) = v.string(x, &what) else {
                        continue;
                    };
                    let secs = if text == "none" && name != "renotify" {
                        None
                    } else {
                        match settings::parse_duration(&text) {
                            Some(n) => Some(n),
                            None => {
                                v.err(
                                    x.span,
                                    format!(
                                        "`{what}`: `{text}` is not a duration (e.g. 48h, 7d, 2w{})",
                                        if name == "renotify" { "" } else { ", none" }
                                    ),
                                );
                                continue;
                            }
                        }
                    };
                    match name {
                        "critical" => s.critical = secs,
                        "high" => s.high = secs,
                        "medium" => s.medium = secs,
                        "low" => s.low = secs,
                        _ => s.renotify_secs = secs.unwrap_or(s.renotify_secs),
                    }
                }
                "from" => match v.string(x, &what).as_deref() {
                    Some("first-seen") => s.from = From::FirstSeen,
                    Some("fix-available") => s.from = From::FixAvailable,
                    Some(o) => v.err(
                        x.span,
                        format!("`{what}`: `{o}` (expected first-seen or fix-available)"),
                    ),
                    None => {}
                },
                other => v.unknown(k.span, "sla", other, KEYS),
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::TrackState;

    fn high(first_seen: i64, fix: Option<i64>) -> Tracked {
        Tracked {
            image: "app".into(),
            platform: "linux/amd64".into(),
            advisory: "CVE-2024-1".into(),
            package: "deb/openssl".into(),
            occurrence: 1,
            severity: "HIGH".into(),
            state: TrackState::Open,
            reason: None,
            expires: None,
            first_seen: Timestamp(first_seen),
            last_seen: Timestamp(first_seen),
            fixed_at: None,
            fix_available: fix.map(Timestamp),
            digest: "sha256:00".into(),
            kev_due: None,
            notified_at: None,
        }
    }

    #[test]
    fn an_earlier_kev_due_date_wins_even_where_the_severity_has_none() {
        let s = Sla::default();
        let mut t = high(0, None);
        t.kev_due = Some("1970-01-03".into());
        assert_eq!(s.deadline(&t), Some(Timestamp(3 * DAY - 1)));
        t.kev_due = Some("1970-03-01".into());
        assert_eq!(
            s.deadline(&t),
            Some(Timestamp(7 * DAY)),
            "the severity's is earlier"
        );
        t.severity = "LOW".into();
        assert_eq!(s.deadline(&t), Some(Timestamp(60 * DAY - 1)));
    }

    #[test]
    fn a_high_first_seen_eight_days_ago_is_overdue_by_the_default_seven_days() {
        let now = 100 * DAY;
        let s = Sla::default();
        let t = high(now - 8 * DAY, None);
        assert_eq!(s.deadline(&t), Some(Timestamp(now - DAY)));
        assert_eq!(s.overdue(std::slice::from_ref(&t), Timestamp(now)).len(), 1);
        assert!(
            s.overdue(&[high(now - 6 * DAY, None)], Timestamp(now))
                .is_empty()
        );
        let mut low = t.clone();
        low.severity = "LOW".into();
        assert_eq!(s.deadline(&low), None, "LOW has no deadline by default");
        let mut fixed = t;
        fixed.state = TrackState::Fixed;
        assert_eq!(s.deadline(&fixed), None);
    }

    #[test]
    fn counting_from_fix_available_starts_the_clock_when_a_fix_exists() {
        let s = Sla {
            from: From::FixAvailable,
            ..Sla::default()
        };
        assert_eq!(s.deadline(&high(0, None)), None);
        assert_eq!(
            s.deadline(&high(0, Some(3 * DAY))),
            Some(Timestamp(10 * DAY))
        );
    }

    #[test]
    fn a_notice_is_due_once_then_after_renotify() {
        let s = Sla::default();
        let now = 100 * DAY;
        let mut t = high(now - 8 * DAY, None);
        assert_eq!(
            s.due_notice(std::slice::from_ref(&t), Timestamp(now)).len(),
            1
        );
        t.notified_at = Some(Timestamp(now));
        assert!(
            s.due_notice(std::slice::from_ref(&t), Timestamp(now + DAY))
                .is_empty()
        );
        assert_eq!(s.due_notice(&[t], Timestamp(now + 7 * DAY)).len(), 1);
    }

    fn read_text(text: &str) -> Result<Sla, String> {
        let mut doc = settings::Document::parse("f.toml", text);
        let val = doc.take("sla");
        let s = Sla::read(&mut doc.reader, val.as_ref());
        doc.finish().map(|()| s).map_err(|e| e.to_string())
    }

    #[test]
    fn sla_settings_are_read_strictly() {
        let s = read_text(
            "[sla]\ncritical = \"24h\"\nlow = \"90d\"\nmedium = \"none\"\nfrom = \"fix-available\"\nrenotify = \"1d\"\n",
        )
        .unwrap();
        assert_eq!(s.critical, Some(DAY));
        assert_eq!(s.low, Some(90 * DAY));
        assert_eq!(s.medium, None);
        assert_eq!(s.high, Some(7 * DAY));
        assert_eq!(s.from, From::FixAvailable);
        assert_eq!(s.renotify_secs, DAY);
        assert_eq!(read_text("").unwrap(), Sla::default());

        let e = read_text("[sla]\nhigh = \"a week\"\nsoon = \"1d\"\nrenotify = \"none\"\n")
            .unwrap_err();
        assert!(e.contains("sla.high") && e.contains("a week"), "{e}");
        assert!(e.contains("soon"), "{e}");
        assert!(e.contains("sla.renotify"), "{e}");
    }
}
