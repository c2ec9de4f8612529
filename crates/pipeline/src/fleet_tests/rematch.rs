//! Re-matching the kept inventories when the advisory DB changes: a new
//! advisory reaches the promoted image without a rebuild and enters the
//! lifecycle first seen now; a re-match with nothing new changes nothing;
//! a withdrawn advisory leaves the image's findings.

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

    // the advisory withdrawn: it leaves, and is fixed in the lifecycle
    w.advisories.vulns.retain(|v| v.id != "CVE-2099-0003");
    let r = again(&mut w);
    assert_eq!(r.changed[0].gone.len(), 1);
    let all = w.store.tracked(Some("app"), true).unwrap();
    let t = all.iter().find(|t| t.advisory == "CVE-2099-0003").unwrap();
    assert_eq!(t.state, store::lifecycle::TrackState::Fixed);
}
