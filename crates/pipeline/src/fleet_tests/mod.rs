//! The run's logic with in-memory doubles (no buildah, registry or
//! network): promotion, rebuild policy, the gate against the last good
//! image, failures at push and at tag moves, recovery, notifier failures,
//! dry runs and the policy block. One scenario per test.

use std::path::PathBuf;

use model::{Outcome, RunReport, Step};
use oci::Digest;
use store::{MemoryStore, StateStore};
use vulndb::Severity;

use super::*;
use crate::testing::*;

const BASE: &str = "r.example/base/debian:12";
const DAY: i64 = 1_795_478_400; // 2026-11-24

fn dg(c: char) -> Digest {
    format!("sha256:{}", c.to_string().repeat(64))
        .parse()
        .unwrap()
}

/// A fleet on disk, the doubles, and a store that lives across runs.
struct World {
    dir: tempfile::TempDir,
    registry: FakeRegistry,
    engine: FakeEngine,
    advisories: FakeAdvisories,
    notifier: RecordingNotifier,
    clock: FixedClock,
    store: MemoryStore,
    tracker: Option<RecordingTracker>,
}

fn world(extra_image: &str, extra: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("app")).unwrap();
    std::fs::write(
        d.join("app/Dockerfile"),
        format!("FROM {BASE}\nRUN true\nUSER 10001\nHEALTHCHECK NONE\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("fleet.toml"),
        format!(
            r#"
[[image]]
name = "app"
context = "app"
repository = "r.example/fleet/app"
tags = ["latest", "{{date}}", "stable"]
{extra_image}

[gate]
fail_on = "none"
fail_on_new = "critical"
fail_on_increase = true

[lint]
shellcheck = false

[report]
dir = "reports"

[[notify.webhook]]
url = "http://hooks.example/secret-path"

[[notify.webhook]]
url = "http://only-blocked.example/x"
on = ["blocked"]
{extra}
"#
        ),
    )
    .unwrap();
    let registry = FakeRegistry::new();
    registry.set(BASE, &dg('a'));
    let engine = FakeEngine::new();
    // Base a: a fixable CRITICAL. Base b: patched. Base c: a also a MEDIUM.
    engine.base(&dg('a'), &[("openssl", "1.0"), ("zlib", "1.3")]);
    engine.base(&dg('b'), &[("openssl", "1.1"), ("zlib", "1.3")]);
    engine.base(&dg('c'), &[("openssl", "1.0"), ("zlib", "1.2")]);
    World {
        dir,
        registry,
        engine,
        advisories: FakeAdvisories {
            eol: Vec::new(),
            eol_cycles: Vec::new(),
            built: None,
            vulns: vec![
                FakeVuln {
                    id: "CVE-2099-0001",
                    package: "openssl",
                    versions: &["1.0"],
                    severity: Severity::Critical,
                    fixed: Some("1.1"),
                },
                FakeVuln {
                    id: "CVE-2099-0002",
                    package: "zlib",
                    versions: &["1.2"],
                    severity: Severity::Medium,
                    fixed: Some("1.3"),
                },
            ],
            stale: false,
            warnings: Vec::new(),
        },
        notifier: RecordingNotifier::default(),
        clock: FixedClock::at(DAY),
        store: MemoryStore::new(),
        tracker: None,
    }
}

impl World {
    fn path(&self) -> PathBuf {
        self.dir.path().join("fleet.toml")
    }

    fn config(&self) -> FleetConfig {
        FleetConfig::load_fleet(&self.path()).unwrap()
    }

    fn run_with(&mut self, opts: Options) -> Result<RunReport, FleetError> {
        let cfg = self.config();
        let observer = RecordingObserver::default();
        let r = run(
            &cfg,
            Deps {
                registry: &self.registry,
                engine: &self.engine,
                store: &mut self.store,
                notifier: &self.notifier,
                advisories: &self.advisories,
                clock: &self.clock,
                observer: &observer,
                issues: self
                    .tracker
                    .as_ref()
                    .map(|t| t as &dyn update::forge::IssueTracker),
            },
            &opts,
        );
        self.clock.advance(3600);
        r
    }

    fn run(&mut self) -> RunReport {
        self.run_with(Options {
            jobs: 2,
            ..Options::default()
        })
        .unwrap()
    }

    fn base(&self, c: char) {
        self.registry.set(BASE, &dg(c));
    }

    fn tag(&self, t: &str) -> Option<Digest> {
        self.registry.get(&format!("r.example/fleet/app:{t}"))
    }

    fn promoted(&self) -> Option<Digest> {
        self.store
            .history(&"app".into(), None)
            .unwrap()
            .promoted
            .map(|p| p.digest)
    }
}

fn app(r: &RunReport) -> &model::ImageOutcome {
    r.images.iter().find(|i| i.name == "app").unwrap()
}

#[test]
fn first_promotion_moves_every_tag_records_and_notifies_once() {
    let mut w = world("", "");
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Promoted, "{:?}", a.reasons);
    let d = a.digest.clone().unwrap();
    assert_eq!(a.tags, vec!["latest", "20261124", "stable"]);
    for t in ["latest", "20261124", "stable"] {
        assert_eq!(w.tag(t), Some(d.clone()), "{t}");
    }
    assert_eq!(a.counts[&Severity::Critical], 1);
    assert_eq!(a.bases[0].digest, dg('a'));
    assert!(a.bases[0].previous.is_none());
    assert_eq!(w.promoted(), Some(d));
    assert_eq!(w.store.records("app").len(), 1);
    assert_eq!(w.store.records("app")[0]["outcome"], "promoted");
    // The blocked-only route stays quiet.
    let sent = w.notifier.sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].1.headline(),
        "safeimage run 1: 1 promoted, 0 blocked, 0 failed"
    );
    assert!(
        store::verify(&w.store, None)
            .unwrap()
            .iter()
            .all(|v| v.problems.is_empty())
    );
    // The push happened before any tag moved.
    let calls = w.registry.calls();
    let push = calls.iter().position(|c| c.starts_with("push")).unwrap();
    let tag = calls.iter().position(|c| c.starts_with("tag")).unwrap();
    assert!(push < tag, "{calls:?}");
}

#[test]
fn a_patched_base_is_promoted_with_the_baseline_and_the_base_change() {
    let mut w = world("", "");
    let first = app(&w.run()).digest.clone().unwrap();
    w.base('b');
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Promoted, "{:?}", a.reasons);
    assert_ne!(a.digest.as_ref(), Some(&first));
    assert_eq!(a.previous_digest, Some(first));
    assert_eq!(a.bases[0].previous, Some(dg('a')));
    let b = a.baseline.as_ref().unwrap();
    assert_eq!((b.fixed.len(), b.new.len()), (1, 0));
    assert_eq!(w.tag("latest"), a.digest);
}

#[test]
fn unchanged_inputs_are_not_rebuilt_when_the_config_says_on_change() {
    let mut w = world("rebuild = \"on-change\"", "");
    assert_eq!(app(&w.run()).outcome, Outcome::Promoted);
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Unchanged, "{:?}", a.reasons);
    assert!(
        a.reasons[0].contains("unchanged since run 1"),
        "{:?}",
        a.reasons
    );
    assert_eq!(w.engine.build_count(), 1);
    // A new base digest, or a changed context file, rebuilds.
    w.base('b');
    assert_eq!(app(&w.run()).outcome, Outcome::Promoted);
    assert_eq!(w.engine.build_count(), 2);
    std::fs::write(w.dir.path().join("app/extra.txt"), "x").unwrap();
    assert_eq!(app(&w.run()).outcome, Outcome::Promoted);
    assert_eq!(w.engine.build_count(), 3);
    assert_eq!(app(&w.run()).outcome, Outcome::Unchanged);
}

#[test]
fn unchanged_inputs_are_rebuilt_by_default() {
    let mut w = world("", "");
    w.run();
    assert_eq!(app(&w.run()).outcome, Outcome::Promoted);
    assert_eq!(w.engine.build_count(), 2);
}

#[test]
fn a_new_critical_blocks_and_latest_stays_on_the_last_good_digest() {
    let mut w = world("", "");
    w.base('b');
    let good = app(&w.run()).digest.clone().unwrap();
    w.base('a');
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Blocked);
    assert!(
        a.reasons.iter().any(|x| x.contains("CVE-2099-0001")),
        "{:?}",
        a.reasons
    );
    assert!(a.tags.is_empty());
    assert!(a.digest.is_some(), "pushed by digest, never tagged");
    for t in ["latest", "20261124", "stable"] {
        assert_eq!(w.tag(t), Some(good.clone()), "{t}");
    }
    assert_eq!(w.promoted(), Some(good));
    // Both routes match a blocked run.
    assert_eq!(w.notifier.sent.lock().unwrap().len(), 3);
}

#[test]
fn a_count_increase_blocks() {
    let mut w = world("", "");
    w.run(); // base a: one CRITICAL
    w.base('c'); // the same CRITICAL and a new MEDIUM
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Blocked);
    assert!(
        a.reasons.iter().any(|x| x.contains("went up from 1 to 2")),
        "{:?}",
        a.reasons
    );
}

#[test]
fn a_decrease_is_promoted() {
    let mut w = world("", "");
    w.base('c');
    w.run();
    w.base('a');
    let r = w.run();
    assert_eq!(app(&r).outcome, Outcome::Promoted, "{:?}", app(&r).reasons);
}

#[test]
fn a_failing_push_moves_nothing_and_records_the_failure() {
    let mut w = world("", "");
    w.registry.fail_push(true);
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Failed);
    assert_eq!(a.failure.as_ref().unwrap().step, Step::Push);
    assert!(
        a.reasons[0].contains("pushing r.example/fleet/app"),
        "{:?}",
        a.reasons
    );
    assert!(w.tag("latest").is_none());
    assert!(w.promoted().is_none());
    assert_eq!(w.store.records("app")[0]["outcome"], "failed");
    assert!(!w.registry.calls().iter().any(|c| c.starts_with("tag")));
}

#[test]
fn a_failing_tag_move_puts_moved_tags_back_and_the_next_run_repairs() {
    let mut w = world("", "");
    let good = app(&w.run()).digest.clone().unwrap();
    w.base('b');
    w.registry.fail_tag_after(Some(1)); // latest moves, the date tag fails
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Failed);
    assert_eq!(a.failure.as_ref().unwrap().step, Step::Promote);
    assert!(
        a.reasons[0].contains("moving tag 20261124"),
        "{:?}",
        a.reasons
    );
    assert!(a.reasons[0].contains("put back: latest"), "{:?}", a.reasons);
    assert!(a.tags.is_empty());
    for t in ["latest", "20261124", "stable"] {
        assert_eq!(w.tag(t), Some(good.clone()), "{t} is not half-promoted");
    }
    assert_eq!(w.promoted(), Some(good.clone()));
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Promoted, "{:?}", a.reasons);
    let new = a.digest.clone().unwrap();
    assert_ne!(new, good);
    // The date moved on a day with the clock; both date tags are there.
    for t in ["latest", "stable"] {
        assert_eq!(w.tag(t), Some(new.clone()), "{t}");
    }
    assert_eq!(w.promoted(), Some(new));
}

#[test]
fn an_interrupted_run_is_recovered_and_the_next_run_completes() {
    let mut w = world("", "");
    // A run that was killed after pushing an hour ago: begun, staged,
    // never finished, no heartbeat since.
    let killed = w
        .store
        .begin_run(model::Timestamp(DAY - 3600), "fleet.toml", &"".into())
        .unwrap();
    w.store
        .stage(killed, &"app".into(), model::Stage::Pushed, Some(&dg('f')))
        .unwrap();
    let r = w.run();
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("1 interrupted run(s) marked (1 image(s) had not finished)")),
        "{:?}",
        r.notes
    );
    assert_eq!(app(&r).outcome, Outcome::Promoted);
    assert_eq!(w.store.runs[0].status, store::RunStatus::Interrupted);
    assert_eq!(w.store.runs[1].status, store::RunStatus::Completed);
    // Recovery happens once.
    assert!(w.run().notes.is_empty());
}

#[test]
fn a_failing_notifier_changes_no_decision() {
    let mut w = world("", "");
    w.notifier = RecordingNotifier {
        fail: true,
        ..Default::default()
    };
    let r = w.run();
    assert_eq!(app(&r).outcome, Outcome::Promoted);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("webhook notification to http://hooks.example/… failed: HTTP 503")),
        "{:?}",
        r.notes
    );
    assert!(!r.notes.iter().any(|n| n.contains("secret-path")));
    assert!(r.errors.is_empty());
    assert_eq!(w.tag("latest"), app(&r).digest);
    assert!(w.promoted().is_some());
}

#[test]
fn a_prohibited_base_is_blocked_before_building() {
    let mut w = world(
        "",
        "[policy.base_images]\nprohibited = [\"r.example/base/*\"]\ndefault_tier = \"permitted\"\n",
    );
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Blocked);
    assert!(
        a.reasons[0].contains("Dockerfile:1: base image `r.example/base/debian` is prohibited"),
        "{:?}",
        a.reasons
    );
    assert_eq!(w.engine.build_count(), 0);
    assert!(a.digest.is_none());
}

#[test]
fn an_image_s_own_policy_permits_a_base_the_fleet_prohibits() {
    let fleet =
        "[policy.base_images]\nprohibited = [\"r.example/base/*\"]\ndefault_tier = \"permitted\"\n";
    let mut w = world(
        "[image.policy.base_images]\nrestricted = [\"r.example/base/debian\"]\n",
        fleet,
    );
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Promoted, "{:?}", a.reasons);
    assert_eq!(w.engine.build_count(), 1);
    // Restricted (the image's tier) is a lint warning, not a block.
    assert!(
        a.lint.iter().any(|f| f.code == "base-restricted"),
        "{:?}",
        a.lint
    );
}

#[test]
fn an_image_s_own_policy_can_be_stricter_than_the_fleet_s() {
    let mut w = world(
        "[image.policy.base_images]\nprohibited = [\"r.example/base/*\"]\n",
        "[policy.base_images]\npermitted = [\"r.example/**\"]\n",
    );
    let r = w.run();
    assert_eq!(app(&r).outcome, Outcome::Blocked);
    assert_eq!(w.engine.build_count(), 0);
}

#[test]
fn a_dry_run_builds_moves_and_records_nothing() {
    let mut w = world("", "");
    let r = w
        .run_with(Options {
            dry_run: true,
            ..Options::default()
        })
        .unwrap();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::DryRun);
    assert_eq!(a.bases[0].digest, dg('a'));
    assert_eq!(w.engine.build_count(), 0);
    assert!(w.tag("latest").is_none());
    assert!(w.store.records("app").is_empty());
    assert!(w.notifier.sent.lock().unwrap().is_empty());
}

#[test]
fn preflight_errors_stop_the_run_before_anything_happens() {
    let mut w = world("", "");
    w.advisories.stale = true;
    let e = w.run_with(Options::default()).unwrap_err().to_string();
    assert!(e.contains("older than the limit"), "{e}");
    assert!(w.store.runs.is_empty());
    w.advisories.stale = false;
    let e = w
        .run_with(Options {
            only: vec!["nope".into()],
            ..Options::default()
        })
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("--only nope: no such image") && e.contains("(images: app)"),
        "{e}"
    );
    w.engine.missing = true;
    assert!(w.run_with(Options::default()).is_err());
    assert_eq!(w.engine.build_count(), 0);
}

#[test]
fn stale_feed_warnings_go_into_the_run_report() {
    let mut w = world("", "");
    w.base('b');
    w.advisories.warnings = vec!["feed osv:Debian: its newest record is 40 days old".into()];
    let r = w.run();
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("osv:Debian") && n.contains("40 days")),
        "{:?}",
        r.notes
    );
    // the run itself goes on
    assert_eq!(r.images[0].outcome, Outcome::Promoted);
}

#[test]
fn an_unreachable_registry_fails_the_image_with_its_base() {
    let mut w = world("", "");
    w.registry.unreachable(true);
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Failed);
    assert_eq!(a.failure.as_ref().unwrap().step, Step::Resolve);
    assert!(
        a.reasons[0].contains("resolving base image r.example/base/debian:12")
            && a.reasons[0].contains("cannot reach"),
        "{:?}",
        a.reasons
    );
}

#[test]
fn a_failed_record_is_reported_as_a_run_error() {
    let mut w = world("", "");
    w.store.fail_next_decision = Some("disk full".into());
    let r = w.run();
    assert!(
        r.errors
            .iter()
            .any(|e| e.contains("app: recording the decision") && e.contains("disk full")),
        "{:?}",
        r.errors
    );
    assert_eq!(
        w.store.runs[0].status,
        store::RunStatus::CompletedWithErrors
    );
}

#[test]
fn an_image_another_live_run_holds_is_skipped_and_taken_after_its_lease_expires() {
    let mut w = world("", "");
    // Another run (alive: fresh heartbeat) holds `app`.
    let other = w
        .store
        .begin_run(model::Timestamp(DAY), "fleet.toml", &"".into())
        .unwrap();
    let lease = w
        .store
        .acquire(
            &"app".into(),
            other,
            &"ci-7:4242".into(),
            model::Timestamp(DAY),
            900,
        )
        .unwrap();
    assert_eq!(lease, store::Lease::Acquired);
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Skipped);
    assert_eq!(a.reasons, vec!["skipped: held by run 1 (ci-7:4242)"]);
    assert!(
        r.notes.is_empty(),
        "a live run is not interrupted: {:?}",
        r.notes
    );
    assert_eq!(w.engine.build_count(), 0);
    assert!(
        w.store.records("app").is_empty(),
        "a skip is not a decision"
    );
    // The holder dies (no heartbeat); after the lease expires the next run
    // recovers it and builds.
    w.clock.advance(1000);
    let r = w.run();
    assert_eq!(app(&r).outcome, Outcome::Promoted, "{:?}", app(&r).reasons);
    assert!(
        r.notes.iter().any(|n| n.contains("interrupted run")),
        "{:?}",
        r.notes
    );
    assert!(w.store.leases.is_empty(), "leases released at the end");
}

#[test]
fn a_lease_lost_before_promotion_moves_no_tag() {
    let w = world("", "");
    let cfg = w.config();
    let history = model::History::default();
    let stage = |_: &model::ImageName, _: model::Stage, _: Option<&Digest>| {};
    // A fence that fails, as when another run took the image over.
    let fence = || Err(crate::cx::FenceError::Taken("app".into()));
    let cancel = crate::deps::Cancel::default();
    let cx = crate::cx::ImageCx {
        run: model::RunId(1),
        spec: &cfg.images[0],
        config: &cfg,
        history: &history,
        registry: &w.registry,
        engine: &w.engine,
        advisories: &w.advisories,
        suppress: &Default::default(),
        scan_opts: &Default::default(),
        registry_options: &Default::default(),
        work: w.dir.path().join("work"),
        cache_dir: None,
        today: model::Timestamp(DAY),
        dry_run: false,
        evaluate: false,
        stage: &stage,
        cancel: &cancel,
        fence: &fence,
        secrets: &crate::scanner::Scanner::builtin(),
        signer: None,
        overdue: Vec::new(),
    };
    let o = crate::image::run(&cx);
    assert_eq!(o.outcome, Outcome::Failed);
    assert_eq!(o.failure.as_ref().unwrap().step, Step::Promote);
    assert!(
        o.reasons[0].contains("another run took it"),
        "{:?}",
        o.reasons
    );
    assert!(w.tag("latest").is_none());
}

#[test]
fn shards_partition_the_fleet_exactly() {
    let names: Vec<String> = (0..200).map(|i| format!("image-{i}")).collect();
    for n in [1u32, 2, 3, 7] {
        let mut seen = vec![0; names.len()];
        for i in 1..=n {
            let s = Shard { index: i, count: n };
            for (k, name) in names.iter().enumerate() {
                if s.has(name) {
                    seen[k] += 1;
                }
            }
        }
        assert!(seen.iter().all(|c| *c == 1), "{n} shards");
    }
    assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
    for bad in ["0/2", "3/2", "1/0", "1", "a/b"] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
}

mod eol;
mod issues;
mod platforms;
mod rematch;
mod signing;
mod sla;
mod weekly;
