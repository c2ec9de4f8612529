//! The weekly summary from what the runs left: the week a CRITICAL
//! appeared (new, open, past its 48 hours, one build) and the week it was
//! fixed (fixed, days to fix, open before and not after, the history).

use crate::weekly::{parse_week, summary};

use super::*;

#[test]
fn the_week_a_finding_appears_and_the_week_it_is_fixed() {
    let mut w = world("", "");
    // 2026-11-24 (a Tuesday of 2026-W48): the CRITICAL arrives
    assert_eq!(app(&w.run()).outcome, Outcome::Promoted);
    // 2026-W49, Wednesday: the patched base
    w.clock.advance(8 * 86_400);
    w.base('b');
    assert_eq!(app(&w.run()).outcome, Outcome::Promoted);
    let now = crate::deps::Clock::now(&w.clock);
    let cfg = w.config();
    let images = vec!["app".to_string()];

    let s = summary(
        &images,
        &w.store,
        &cfg.sla,
        parse_week("2026-W48").unwrap(),
        now,
    )
    .unwrap();
    let a = &s.images[0];
    assert_eq!(s.week, "2026-W48");
    assert_eq!((a.new, a.fixed, a.rebuilds, a.blocked), (1, 0, 1, 0));
    assert_eq!(a.open.get("CRITICAL"), Some(&1));
    assert_eq!(a.overdue, 1, "48 hours passed before the week ended");

    let s = summary(
        &images,
        &w.store,
        &cfg.sla,
        parse_week("2026-W49").unwrap(),
        now,
    )
    .unwrap();
    let a = &s.images[0];
    assert_eq!((a.new, a.fixed, a.rebuilds), (0, 1, 1));
    assert_eq!(a.previous.get("CRITICAL"), Some(&1));
    assert!(a.open.is_empty());
    let days = a.mean_days_to_fix.unwrap();
    assert!((8.0..8.1).contains(&days), "{days}");
    assert_eq!(s.weeks.len(), 12);
    assert_eq!(s.weeks[11], "2026-W49");
    assert_eq!(&a.history[9..], &[0, 1, 0]);
    assert_eq!(s.fleet_history()[10], 1);
}

fn route(url: &str, weekly: bool) -> notify::Route {
    notify::Route {
        target: notify::Target::Webhook {
            url: url.into(),
            secret_env: None,
        },
        on: notify::config::DEFAULT_ON.to_vec(),
        weekly,
        rematch: true,
    }
}

#[test]
fn the_summary_goes_to_notifiers_taking_weekly_and_stays_one_issue_replaced_each_week() {
    let mut w = world("", "");
    assert_eq!(app(&w.run()).outcome, Outcome::Promoted);
    let cfg = w.config();
    let images = vec!["app".to_string()];
    let now = crate::deps::Clock::now(&w.clock);
    let notifier = RecordingNotifier::default();
    let tracker = RecordingTracker::default();
    let routes = [
        route("http://127.0.0.1:9/weekly", true),
        route("http://127.0.0.1:9/runs-only", false),
    ];
    let labels = vec!["security".to_string()];
    for week in ["2026-W48", "2026-W49"] {
        let s = summary(&images, &w.store, &cfg.sla, parse_week(week).unwrap(), now).unwrap();
        let sent = crate::weekly::send(&s, &routes, &notifier, Some(&tracker), &labels);
        assert!(sent.errors.is_empty(), "{:?}", sent.errors);
        assert_eq!(sent.notified.len(), 1, "only the route that takes weekly");
        assert_eq!(
            sent.issue.as_deref(),
            Some("https://forge.invalid/issues/1")
        );
    }
    let other = notifier.other.lock().unwrap();
    assert_eq!(other.len(), 2);
    assert!(matches!(&other[1].1, notify::Message::Weekly(d) if d.summary.week == "2026-W49"));
    let issues = tracker.issues.lock().unwrap();
    assert_eq!(issues.len(), 1, "one persistent issue");
    assert!(
        issues[0].2.contains("summary 2026-W49") && !issues[0].2.contains("summary 2026-W48"),
        "its text is this week's: {}",
        issues[0].2
    );
    assert!(issues[0].3.is_empty(), "replaced in place, no comments");
    assert!(notifier.sent.lock().unwrap().is_empty(), "no run digest");
}
