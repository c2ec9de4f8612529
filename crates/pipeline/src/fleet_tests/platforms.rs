//! Images of several platforms (an index of per-platform manifests, gated
//! as a whole) and runs that overlap.

use super::*;

/// A fleet whose `app` is built for amd64 and arm64 on an index base:
/// index `i` over amd64 manifest `a`, arm64 manifest `b`.
pub(super) fn two_platform_world(extra_image: &str) -> World {
    two_platform_world_with(extra_image, "")
}

pub(super) fn two_platform_world_with(extra_image: &str, extra: &str) -> World {
    let w = world(
        &format!("platforms = [\"linux/amd64\", \"linux/arm64\"]\n{extra_image}"),
        extra,
    );
    w.registry.set_index(
        BASE,
        &dg('9'),
        &[("linux/amd64", &dg('a')), ("linux/arm64", &dg('b'))],
    );
    w.engine
        .base_platform(&dg('9'), "linux/amd64", &[("openssl", "1.1")]);
    w.engine
        .base_platform(&dg('9'), "linux/arm64", &[("openssl", "1.1")]);
    w
}

#[test]
fn a_two_platform_image_is_pushed_as_an_index_and_tagged_as_one() {
    let mut w = two_platform_world("");
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Promoted, "{:?}", a.reasons);
    assert_eq!(a.platforms.len(), 2);
    assert_eq!(w.engine.build_count(), 2);
    let index = a.digest.clone().unwrap();
    assert_eq!(w.tag("latest"), Some(index.clone()));
    let doc: serde_json::Value =
        serde_json::from_slice(&w.registry.document(&index).unwrap()).unwrap();
    assert_eq!(doc["mediaType"], "application/vnd.oci.image.index.v1+json");
    let ms = doc["manifests"].as_array().unwrap();
    assert_eq!(ms.len(), 2);
    for (m, p) in ms.iter().zip(&a.platforms) {
        assert_eq!(m["digest"], p.digest.as_ref().unwrap().to_string());
        assert_eq!(
            m["platform"]["architecture"],
            p.platform.architecture.as_str()
        );
        assert_eq!(m["platform"]["os"], "linux");
    }
    assert_ne!(
        a.platforms[0].digest, a.platforms[1].digest,
        "each platform its own manifest"
    );
    // The base was resolved per platform.
    let bp: Vec<_> = a.bases[0]
        .platforms
        .iter()
        .map(|p| p.digest.clone())
        .collect();
    assert_eq!(bp, vec![dg('a'), dg('b')]);
    let h = w.store.history(&"app".into(), None).unwrap();
    assert_eq!(h.promoted.unwrap().platforms.len(), 2);
}

#[test]
fn an_arm64_only_gate_failure_blocks_the_whole_index() {
    let mut w = two_platform_world("");
    w.run();
    let good = w.tag("latest").unwrap();
    // arm64's base gets the vulnerable openssl; amd64 stays clean.
    w.registry.set_index(
        BASE,
        &dg('8'),
        &[("linux/amd64", &dg('c')), ("linux/arm64", &dg('d'))],
    );
    w.engine
        .base_platform(&dg('8'), "linux/amd64", &[("openssl", "1.1")]);
    w.engine
        .base_platform(&dg('8'), "linux/arm64", &[("openssl", "1.0")]);
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Blocked);
    assert!(
        a.reasons.iter().all(|x| x.starts_with("linux/arm64: ")) && !a.reasons.is_empty(),
        "{:?}",
        a.reasons
    );
    let arm = a
        .platforms
        .iter()
        .find(|p| p.platform.architecture == "arm64")
        .unwrap();
    let amd = a
        .platforms
        .iter()
        .find(|p| p.platform.architecture == "amd64")
        .unwrap();
    assert!(!arm.reasons.is_empty() && amd.reasons.is_empty());
    assert_eq!(w.tag("latest"), Some(good), "no tag moved");
}

#[test]
fn a_new_arm64_base_rebuilds_only_arm64_when_rebuilding_on_change() {
    let mut w = two_platform_world("rebuild = \"on-change\"");
    let first = app(&w.run()).clone();
    assert_eq!(w.engine.build_count(), 2);
    // Same amd64 manifest under a new index; a new arm64 manifest.
    w.registry.set_index(
        BASE,
        &dg('7'),
        &[("linux/amd64", &dg('a')), ("linux/arm64", &dg('e'))],
    );
    w.engine.base_platform(
        &dg('7'),
        "linux/arm64",
        &[("openssl", "1.1"), ("zlib", "1.3")],
    );
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Promoted, "{:?}", a.reasons);
    assert_eq!(w.engine.build_count(), 3, "only arm64 was built");
    let amd = a
        .platforms
        .iter()
        .find(|p| p.platform.architecture == "amd64")
        .unwrap();
    let arm = a
        .platforms
        .iter()
        .find(|p| p.platform.architecture == "arm64")
        .unwrap();
    assert!(!amd.rebuilt && arm.rebuilt);
    let old_amd = first
        .platforms
        .iter()
        .find(|p| p.platform.architecture == "amd64")
        .unwrap();
    assert_eq!(amd.digest, old_amd.digest, "amd64 keeps its manifest");
    assert_ne!(a.digest, first.digest, "a new index");
    // Nothing new at all: unchanged.
    assert_eq!(app(&w.run()).outcome, Outcome::Unchanged);
}

#[test]
fn an_image_an_overlapping_run_already_decided_is_left_alone() {
    let mut w = world("", "");
    // Another run, still going, promoted `app` after this one started.
    let other = w
        .store
        .begin_run(model::Timestamp(DAY - 10), "fleet.toml", &"".into())
        .unwrap();
    let mut done = model::ImageOutcome::new("app", &"r.example/fleet/app".parse().unwrap(), None);
    done.outcome = Outcome::Promoted;
    done.digest = Some(dg('c'));
    w.store
        .decide(&store::Decision {
            run: other,
            time: model::Timestamp(DAY + 5),
            outcome: &done,
            version: None,
        })
        .unwrap();
    // Number that decision after where the next run begins, as if it
    // landed while that run was going.
    w.store.decision_count = 0;
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Skipped, "{:?}", a.reasons);
    assert!(
        a.reasons[0].contains(&format!("run {other} decided it")),
        "{:?}",
        a.reasons
    );
    assert_eq!(w.engine.build_count(), 0);
    // A run that begins after that decision does its work: built and gated.
    w.store.decision_count = 1;
    let r = w.run();
    // (Blocked: the other run's promotion is the baseline, without findings.)
    assert_eq!(app(&r).outcome, Outcome::Blocked, "{:?}", app(&r).reasons);
    assert_eq!(w.engine.build_count(), 1);
}
