//! Patch deadlines over many runs with a fake clock: a finding of the
//! promoted image past its `[sla]` deadline is in the run report every run,
//! notified once when it becomes overdue (to every notifier), then again
//! only after `renotify`; fixing it stops it counting.

use super::*;

const H: i64 = 3600;

fn overdue_sent(w: &World) -> Vec<usize> {
    w.notifier
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(_, d)| d.overdue.len())
        .collect()
}

#[test]
fn an_overdue_critical_is_reported_every_run_and_notified_once_then_after_renotify() {
    let mut w = world("", "[sla]\ncritical = \"48h\"\nrenotify = \"3d\"\n");
    let r = w.run();
    assert_eq!(app(&r).outcome, Outcome::Promoted);
    assert!(r.overdue.is_empty(), "just seen");

    // two days and more later: past 48 h
    w.clock.advance(48 * H);
    let r = w.run();
    assert_eq!(r.overdue.len(), 1, "{:?}", r.overdue);
    let o = &r.overdue[0];
    assert_eq!(
        (o.finding.advisory.as_str(), o.finding.severity.as_str()),
        ("CVE-2099-0001", "CRITICAL")
    );
    assert!(o.notice);
    assert_eq!(o.deadline, model::Timestamp(DAY + 48 * H));
    // both notifiers, the blocked-only one too, were told
    assert_eq!(overdue_sent(&w), vec![0, 1, 1]);

    // the next run: still overdue in the report, but no second notice
    let r = w.run();
    assert_eq!(r.overdue.len(), 1);
    assert!(!r.overdue[0].notice);
    assert_eq!(overdue_sent(&w).iter().sum::<usize>(), 2);

    // after renotify (3 days): told again
    w.clock.advance(72 * H);
    let r = w.run();
    assert!(r.overdue[0].notice);
    assert_eq!(overdue_sent(&w).iter().sum::<usize>(), 4);

    // the patched base: fixed, no longer overdue
    w.base('b');
    let r = w.run();
    assert_eq!(app(&r).outcome, Outcome::Promoted, "{:?}", app(&r).reasons);
    assert!(r.overdue.is_empty(), "{:?}", r.overdue);
    let all = w.store.tracked(Some("app"), true).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].state, store::lifecycle::TrackState::Fixed);
}

#[test]
fn a_notifier_that_fails_leaves_the_notice_due_for_the_next_run() {
    let mut w = world("", "");
    w.run();
    w.clock.advance(49 * H);
    w.notifier.fail = true;
    let r = w.run();
    assert!(r.overdue[0].notice);
    w.notifier.fail = false;
    let r = w.run();
    assert!(r.overdue[0].notice, "not delivered before, so still due");
    let r = w.run();
    assert!(!r.overdue[0].notice);
}

fn rebuild_same_base(w: &World) {
    // a changed Dockerfile: rebuilt on the same base, the same findings
    let p = w.dir.path().join("app/Dockerfile");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, format!("{text}LABEL rebuilt=\"{}\"\n", text.len())).unwrap();
}

#[test]
fn block_on_overdue_stops_a_rebuild_that_still_carries_an_overdue_finding() {
    let mut w = world("[image.gate]\nblock_on_overdue = true\n", "");
    assert_eq!(app(&w.run()).outcome, Outcome::Promoted);
    // within its deadline a rebuild is promoted
    rebuild_same_base(&w);
    assert_eq!(app(&w.run()).outcome, Outcome::Promoted);
    w.clock.advance(49 * H);
    rebuild_same_base(&w);
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Blocked, "{:?}", a.reasons);
    assert!(
        a.reasons.iter().any(|x| x.contains("CRITICAL CVE-2099-0001 in deb/openssl is past its patch deadline")),
        "{:?}",
        a.reasons
    );
    // the patched base clears it
    w.base('b');
    assert_eq!(app(&w.run()).outcome, Outcome::Promoted);
}

#[test]
fn without_block_on_overdue_an_overdue_finding_does_not_block() {
    let mut w = world("", "");
    w.run();
    w.clock.advance(49 * H);
    rebuild_same_base(&w);
    let r = w.run();
    assert_eq!(app(&r).outcome, Outcome::Promoted, "{:?}", app(&r).reasons);
    assert_eq!(r.overdue.len(), 1);
}

/// A replica whose clock runs three days ahead.
struct AheadClock(model::Timestamp);

impl crate::deps::Clock for AheadClock {
    fn now(&self) -> model::Timestamp {
        self.0
    }
    fn is_system(&self) -> bool {
        true
    }
}

#[test]
fn a_replica_whose_clock_is_ahead_takes_first_seen_and_deadlines_from_the_stores_time() {
    let mut w = world("", "[sla]\ncritical = \"48h\"\n");
    let first = crate::deps::Clock::now(&w.clock);
    assert_eq!(app(&w.run()).outcome, Outcome::Promoted);
    // an hour later by the store, 73 hours later by this replica
    let store_now = crate::deps::Clock::now(&w.clock);
    w.store.time = Some(store_now);
    let ahead = AheadClock(model::Timestamp(store_now.0 + 3 * 86_400));
    let cfg = w.config();
    let r = crate::fleet::run(
        &cfg,
        Deps {
            registry: &w.registry,
            engine: &w.engine,
            store: &mut w.store,
            notifier: &w.notifier,
            advisories: &w.advisories,
            clock: &ahead,
            observer: &RecordingObserver::default(),
            issues: None,
        },
        &Options {
            jobs: 1,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        r.overdue.is_empty(),
        "by its own clock 73 h passed since first seen, by the store's one: {:?}",
        r.overdue
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("259200 s ahead of the store's")),
        "{:?}",
        r.notes
    );
    let t = w.store.tracked(Some("app"), false).unwrap();
    assert_eq!(t[0].first_seen, first, "kept");
    assert_eq!(t[0].last_seen, store_now, "seen again at the store's time");
    assert_eq!(r.started, store_now);
}
