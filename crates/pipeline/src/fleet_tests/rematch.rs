//! Re-matching the kept inventories when the advisory DB changes: a new
//! advisory reaches the promoted image without a rebuild and enters the
//! lifecycle first seen now; a re-match with nothing new changes nothing;
//! a withdrawn advisory leaves the image's findings. `run` re-matches the
//! promoted images it did not replace when the DB changed since the last
//! match, and only then.

use super::*;
use crate::rematch::{RematchDeps, rematch};

fn again(w: &mut World) -> crate::rematch::RematchReport {
    let cfg = w.config();
    rematch(
        &cfg,
        RematchDeps {
            store: &mut w.store,
            advisories: &w.advisories,
            clock: &w.clock,
            notifier: &w.notifier,
        },
    )
    .unwrap()
}

#[test]
fn a_new_advisory_reaches_the_promoted_image_without_a_rebuild() {
    let mut w = world("", "");
    assert_eq!(app(&w.run()).outcome, Outcome::Promoted);
    assert_eq!(
        w.store.promoted_inventories().unwrap().len(),
        1,
        "kept with the promotion"
    );
    let builds = w.engine.build_count();

    // nothing new in the DB: silent
    let r = again(&mut w);
    assert_eq!((r.matched, r.changed.len()), (1, 0));

    // an advisory for zlib 1.3, which the promoted image has
    w.advisories.vulns.push(FakeVuln {
        id: "CVE-2099-0003",
        package: "zlib",
        versions: &["1.3"],
        severity: Severity::High,
        fixed: Some("1.4"),
    });
    w.clock.advance(3600);
    let r = again(&mut w);
    assert_eq!(r.changed.len(), 1);
    assert_eq!(r.changed[0].new.len(), 1);
    assert_eq!(
        r.notified,
        ["http://hooks.example/…"],
        "told to the notifier taking rematch, not to the one on blocked runs only"
    );
    {
        let other = w.notifier.other.lock().unwrap();
        assert_eq!(other.len(), 1);
        let notify::Message::Rematch(d) = &other[0].1 else {
            panic!("{:?}", other[0].1)
        };
        assert_eq!(d.images[0].new[0].advisory, "CVE-2099-0003");
        assert_eq!(d.images[0].new[0].severity, "HIGH");
    }
    assert_eq!(r.changed[0].new[0].id.to_string(), "CVE-2099-0003");
    assert!(r.changed[0].gone.is_empty());
    assert_eq!(w.engine.build_count(), builds, "nothing built or pulled");
    let tracked = w.store.tracked(Some("app"), false).unwrap();
    let t = tracked
        .iter()
        .find(|t| t.advisory == "CVE-2099-0003")
        .unwrap();
    assert_eq!(
        t.first_seen,
        crate::deps::Clock::now(&w.clock),
        "first seen at the re-match"
    );
    let promoted = w
        .store
        .history(&"app".into(), None)
        .unwrap()
        .promoted
        .unwrap();
    assert!(
        promoted
            .findings
            .values()
            .flatten()
            .any(|f| f.id == "CVE-2099-0003")
    );
    assert_eq!(
        again(&mut w).changed.len(),
        0,
        "only the change is reported"
    );
    assert_eq!(w.notifier.other.lock().unwrap().len(), 1, "and told once");

    // the advisory withdrawn: it leaves, and is fixed in the lifecycle
    w.advisories.vulns.retain(|v| v.id != "CVE-2099-0003");
    let r = again(&mut w);
    assert_eq!(r.changed[0].gone.len(), 1);
    let all = w.store.tracked(Some("app"), true).unwrap();
    let t = all.iter().find(|t| t.advisory == "CVE-2099-0003").unwrap();
    assert_eq!(t.state, store::lifecycle::TrackState::Fixed);
}

#[test]
fn a_run_after_the_db_changed_matches_the_promoted_image_its_gate_kept() {
    let mut w = world("", "");
    w.advisories.built = Some("2026-11-24T00:00:00Z".parse().unwrap());
    assert_eq!(app(&w.run()).outcome, Outcome::Promoted);
    let first = w.promoted();
    assert_eq!(
        w.store.meta(store::MATCHED_DB).unwrap().as_deref(),
        Some("2026-11-24T00:00:00Z"),
        "the first run matched (nothing changed) and kept the DB it used"
    );
    // a new DB with a CRITICAL in zlib 1.3: the rebuild is blocked as new
    w.advisories.vulns.push(FakeVuln {
        id: "CVE-2099-0009",
        package: "zlib",
        versions: &["1.3"],
        severity: Severity::Critical,
        fixed: Some("1.4"),
    });
    w.advisories.built = Some("2026-11-25T00:00:00Z".parse().unwrap());
    w.clock.advance(86_400);
    let r = w.run();
    assert_eq!(app(&r).outcome, Outcome::Blocked);
    assert_eq!(w.promoted(), first, "latest stays");
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("the advisory DB changed") && n.contains("1 new finding")),
        "{:?}",
        r.notes
    );
    let t = w.store.tracked(Some("app"), false).unwrap();
    assert!(
        t.iter().any(|t| t.advisory == "CVE-2099-0009"),
        "the promoted image carries it now, and its deadline runs"
    );
    let told = w.notifier.other.lock().unwrap().len();
    assert_eq!(told, 1);
    // the same DB again: no re-match
    w.clock.advance(86_400);
    let r = w.run();
    assert!(!r.notes.iter().any(|n| n.contains("advisory DB changed")));
    assert_eq!(w.notifier.other.lock().unwrap().len(), told);
}

#[test]
fn rejudging_one_image_after_its_ignore_file_changed_marks_the_finding_ignored() {
    let mut w = world("", "[scan]\nignore_files = [\"ignore.yaml\"]\n");
    std::fs::write(w.dir.path().join("ignore.yaml"), "ignore: []\n").unwrap();
    assert_eq!(app(&w.run()).outcome, Outcome::Promoted);
    let open = |w: &World| {
        w.store
            .tracked(Some("app"), false)
            .unwrap()
            .into_iter()
            .find(|t| t.advisory == "CVE-2099-0001")
            .unwrap()
    };
    assert_eq!(open(&w).state, store::lifecycle::TrackState::Open);
    std::fs::write(
        w.dir.path().join("ignore.yaml"),
        "ignore:\n  - id: CVE-2099-0001\n    reason: not reachable\n    expires: \"2099-01-01\"\n",
    )
    .unwrap();
    w.advisories.built = Some("2026-11-30T00:00:00Z".parse().unwrap());
    let cfg = w.config();
    let r = crate::rematch::rematch_with(
        &cfg,
        RematchDeps {
            store: &mut w.store,
            advisories: &w.advisories,
            clock: &w.clock,
            notifier: &w.notifier,
        },
        &crate::rematch::RematchOptions {
            only: Some("app".into()),
            rejudge: true,
        },
    )
    .unwrap();
    assert!(r.changed.is_empty(), "the DB gives the same findings");
    let t = open(&w);
    assert_eq!(t.state, store::lifecycle::TrackState::Ignored);
    assert_eq!(t.reason.as_deref(), Some("not reachable"));
    assert_eq!(
        w.store.meta(store::MATCHED_DB).unwrap(),
        None,
        "one image does not stand for the fleet"
    );
}
