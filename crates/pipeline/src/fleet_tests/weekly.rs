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
