//! The weekly security summary (`safeimage report weekly`), computed from
//! what the store keeps: the findings over time (open at a week's end:
//! first seen before it and not fixed by then; new and fixed in the week;
//! days to fix; past the `[sla]` deadline) and the audit log (the week's
//! builds and blocked promotions). Read only: nothing is written to the
//! store. [`send`] hands it to the notifiers that take `weekly` and keeps it
//! as one issue on the forge, its text replaced each time.

use std::collections::BTreeMap;

use model::Timestamp;
use model::tracked::Tracked;
use model::weekly::{WeeklyImage, WeeklySummary};

const WEEK: i64 = 7 * 86_400;
/// Weeks of history.
pub const HISTORY: usize = 12;

/// A week asked for, `YYYY-Www`, as its Monday.
pub fn parse_week(s: &str) -> Option<Timestamp> {
    let (y, w) = s.split_once("-W")?;
    let y: i32 = y.parse().ok()?;
    let w: u32 = w.parse().ok()?;
    let start = Timestamp::iso_week_start(y, w)?;
    // week 53 exists only in years whose week 53 is still theirs
    (start.iso_week() == (y, w)).then_some(start)
}

fn open_at(t: &Tracked, at: Timestamp) -> bool {
    t.first_seen < at
        && t.fixed_at.is_none_or(|f| f >= at)
        && t.state != model::tracked::TrackState::Ignored
}

/// The summary of the week starting `monday` for `images`, as of `now`
/// (a week in progress ends now).
pub fn summary(
    images: &[String],
    store: &dyn store::StateStore,
    sla: &store::sla::Sla,
    monday: Timestamp,
    now: Timestamp,
) -> Result<WeeklySummary, store::StoreError> {
    let end = Timestamp((monday.0 + WEEK).min(now.0.max(monday.0)));
    let rows = store.tracked(None, true)?;
    let logs = store.audit_logs()?;
    let weeks: Vec<Timestamp> = (0..HISTORY as i64)
        .rev()
        .map(|i| Timestamp(monday.0 - i * WEEK))
        .collect();
    let mut out = WeeklySummary {
        week: monday.iso_week_label(),
        from: monday,
        to: end,
        images: Vec::new(),
        weeks: weeks.iter().map(|w| w.iso_week_label()).collect(),
    };
    for image in images {
        let mine: Vec<&Tracked> = rows.iter().filter(|t| &t.image == image).collect();
        let count = |at: Timestamp| {
            let mut m: BTreeMap<String, usize> = BTreeMap::new();
            for t in mine.iter().filter(|t| open_at(t, at)) {
                *m.entry(t.severity.clone()).or_default() += 1;
            }
            m
        };
        let fixed: Vec<&&Tracked> = mine
            .iter()
            .filter(|t| t.fixed_at.is_some_and(|f| f >= monday && f < end))
            .collect();
        let mean_days_to_fix = (!fixed.is_empty()).then(|| {
            fixed
                .iter()
                .map(|t| t.fixed_at.map_or(0, |f| f.0 - t.first_seen.0) as f64 / 86_400.0)
                .sum::<f64>()
                / fixed.len() as f64
        });
        let overdue = mine
            .iter()
            .filter(|t| open_at(t, end))
            .filter(|t| {
                // as the week ended: a finding fixed later still counted open then
                let mut as_then = (**t).clone();
                as_then.state = model::tracked::TrackState::Open;
                sla.deadline(&as_then).is_some_and(|d| d <= end)
            })
            .count();
        let mut rebuilds = 0;
        let mut blocked = 0;
        for log in logs.iter().filter(|l| &l.image == image) {
            for r in &log.chain.records {
                let Some(at) = r
                    .get("time")
                    .and_then(|v| v.as_str())
                    .and_then(|s| s.parse::<Timestamp>().ok())
                else {
                    continue;
                };
                if at < monday || at >= end {
                    continue;
                }
                match r.get("outcome").and_then(|v| v.as_str()) {
                    Some("promoted" | "failed") => rebuilds += 1,
                    Some("blocked") => {
                        rebuilds += 1;
                        blocked += 1;
                    }
                    _ => {}
                }
            }
        }
        out.images.push(WeeklyImage {
            image: image.clone(),
            open: count(end),
            previous: count(monday),
            new: mine
                .iter()
                .filter(|t| t.first_seen >= monday && t.first_seen < end)
                .count(),
            fixed: fixed.len(),
            mean_days_to_fix,
            overdue,
            rebuilds,
            blocked,
            history: weeks
                .iter()
                .map(|w| {
                    let at = Timestamp((w.0 + WEEK).min(end.0));
                    mine.iter().filter(|t| open_at(t, at)).count()
                })
                .collect(),
        });
    }
    Ok(out)
}

/// The marker that finds the weekly summary's forge issue again.
pub const MARKER: &str = "<!-- safeimage-weekly-summary -->";

/// Where a summary went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// Notifiers that took it (their redacted targets).
    pub notified: Vec<String>,
    /// The forge issue holding it.
    pub issue: Option<String>,
    /// What failed (a notifier, the forge); nothing else is undone by it.
    pub errors: Vec<String>,
}

/// Sends `summary` to every notifier whose `on` takes `weekly`, and keeps
/// it as one issue on the forge (found by [`MARKER`] under `label`; opened
/// the first time, its text replaced afterwards: never a second one).
pub fn send(
    summary: &model::weekly::WeeklySummary,
    routes: &[notify::Route],
    notifier: &dyn notify::Notifier,
    tracker: Option<&dyn update::forge::IssueTracker>,
    labels: &[String],
) -> Sent {
    let mut out = Sent::default();
    let message = notify::Message::Weekly(notify::WeeklyDigest::new(summary.clone()));
    for r in routes.iter().filter(|r| r.wants_message(&message)) {
        match notifier.send(&r.target, &message) {
            Ok(()) => out.notified.push(r.target.shown()),
            Err(e) => out.errors.push(e.to_string()),
        }
    }
    if let Some(t) = tracker {
        let body = format!(
            "{MARKER}\n{}\n_Kept up to date by safeimage (`safeimage report weekly --send`); earlier weeks are in this issue's history._\n",
            report::weekly::markdown(summary)
        );
        let label = labels.first().map(String::as_str).unwrap_or("security");
        let kept = t.find_issue(MARKER, label).and_then(|found| match found {
            Some(i) => t.set_body(&i, &body).map(|()| i),
            None => t.open_issue("Weekly security summary", &body, labels),
        });
        match kept {
            Ok(i) => out.issue = Some(i.url),
            Err(e) => out.errors.push(format!("weekly summary issue: {e}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_are_read_as_iso_weeks_and_bad_ones_refused() {
        assert_eq!(
            parse_week("2026-W50").map(|t| t.to_string()).as_deref(),
            Some("2026-12-07T00:00:00Z")
        );
        assert!(parse_week("2025-W53").is_none(), "2025 has 52 weeks");
        assert!(
            parse_week("2026-W53").is_some(),
            "2026 begins on a Thursday: 53"
        );
        assert!(parse_week("2020-W53").is_some());
        assert!(parse_week("2026-50").is_none());
        assert!(parse_week("2026-W0").is_none());
    }
}
