//! One behaviour suite for every state store: SQLite (a file in a temp
//! directory) and PostgreSQL (a real server, `testkit::PgServer`, started
//! per scenario on a loopback port). Each scenario runs on both, against
//! fresh state.

use std::path::Path;
use std::process::Command;

use dockerfile::BaseRefKind;
use model::{BaseDigest, ImageOutcome, Outcome, RunId, Stage, Timestamp};
use oci::Digest;
use store::{Decision, Lease, Postgres, RunStatus, Sqlite, StateStore, audit, verify};

fn dg(c: char) -> Digest {
    format!("sha256:{}", c.to_string().repeat(64))
        .parse()
        .unwrap()
}

/// Opens a store on one backend's state (several times: several processes).
trait Backend: Sync {
    fn name(&self) -> &'static str;
    fn open(&self) -> Box<dyn StateStore>;
}

struct SqliteBackend(tempfile::TempDir);

impl Backend for SqliteBackend {
    fn name(&self) -> &'static str {
        "sqlite"
    }
    fn open(&self) -> Box<dyn StateStore> {
        Box::new(
            Sqlite::open(
                &self.0.path().join("state.db"),
                &self.0.path().join("audit"),
            )
            .unwrap(),
        )
    }
}

struct PostgresBackend {
    url: String,
    _server: testkit::PgServer,
}

impl PostgresBackend {
    /// A fresh server and database.
    fn new(tag: &str) -> Self {
        let server = testkit::PgServer::start();
        PostgresBackend {
            url: server.createdb(&format!("t_{tag}")),
            _server: server,
        }
    }
}

impl Backend for PostgresBackend {
    fn name(&self) -> &'static str {
        "postgres"
    }
    fn open(&self) -> Box<dyn StateStore> {
        Box::new(Postgres::connect(&self.url).unwrap())
    }
}

fn each(tag: &str, scenario: impl Fn(&dyn Backend)) {
    let sqlite = SqliteBackend(tempfile::tempdir().unwrap());
    scenario(&sqlite);
    let pg = PostgresBackend::new(tag);
    scenario(&pg);
}

fn outcome(image: &str, o: Outcome, d: char, base: char) -> ImageOutcome {
    let mut x = ImageOutcome::new(image, &"r.example/fleet/x".parse().unwrap(), None);
    x.outcome = o;
    x.digest = Some(dg(d));
    x.bases.push(BaseDigest {
        reference: "r.example/base:1".parse().unwrap(),
        kind: BaseRefKind::From,
        digest: dg(base),
        platforms: vec![],
        previous: None,
    });
    x
}

fn decide(s: &mut dyn StateStore, run: RunId, o: &ImageOutcome, version: Option<&str>) {
    s.decide(&Decision {
        run,
        time: Timestamp(10),
        outcome: o,
        version,
    })
    .unwrap();
}

#[test]
fn decisions_history_and_verification() {
    each("history", |b| {
        let mut s = b.open();
        let r = s.begin_run(Timestamp(0), "fleet.toml", &"".into()).unwrap();
        s.stage(r, &"api".into(), Stage::Pushed, Some(&dg('a')))
            .unwrap();
        decide(
            &mut *s,
            r,
            &outcome("api", Outcome::Promoted, 'a', 'e'),
            Some("1.0"),
        );
        decide(
            &mut *s,
            r,
            &outcome("worker", Outcome::Blocked, 'b', 'e'),
            None,
        );
        s.remember_platform(&dg('e'), &"linux/amd64".parse().unwrap(), &dg('f'))
            .unwrap();
        s.finish_run(r, Timestamp(20), RunStatus::Completed)
            .unwrap();
        let h = s.history(&"api".into(), Some("1.0")).unwrap();
        let p = h.promoted.as_ref().unwrap();
        assert_eq!(p.digest, dg('a'), "{}", b.name());
        assert_eq!(p.bases[0].digest, dg('e'));
        assert_eq!(h.n, 2);
        assert_eq!(
            h.platform_cache
                .get(&(dg('e'), "linux/amd64".parse().unwrap())),
            Some(&dg('f'))
        );
        assert!(
            s.history(&"worker".into(), None)
                .unwrap()
                .promoted
                .is_none()
        );
        // A second connection sees the same state, and the chains verify.
        let other = b.open();
        let v = verify(&*other, None).unwrap();
        assert_eq!(v.len(), 2, "{}", b.name());
        assert!(
            v.iter().all(|x| x.problems.is_empty()),
            "{}: {v:?}",
            b.name()
        );
    });
}

#[test]
fn only_stale_runs_are_recovered() {
    each("recover", |b| {
        let mut s = b.open();
        let dead = s.begin_run(Timestamp(1000), "f", &"".into()).unwrap();
        s.stage(dead, &"api".into(), Stage::Pushed, None).unwrap();
        let alive = s.begin_run(Timestamp(1000), "f", &"".into()).unwrap();
        s.heartbeat(alive, Timestamp(1900)).unwrap();
        let notes = s.recover(Timestamp(2000), 300, &|_| false).unwrap();
        assert_eq!(
            notes,
            vec!["1 interrupted run(s) marked (1 image(s) had not finished)".to_string()],
            "{}",
            b.name()
        );
        assert!(
            s.recover(Timestamp(2000), 300, &|_| false)
                .unwrap()
                .is_empty()
        );
        let _ = alive;
    });
}

#[test]
fn a_run_whose_process_is_gone_is_recovered_before_its_heartbeat_is_stale() {
    each("gone", |b| {
        let mut s = b.open();
        let killed = s.begin_run(Timestamp(1000), "f", &"proc-a".into()).unwrap();
        s.stage(killed, &"api".into(), Stage::Pushed, None).unwrap();
        assert_eq!(
            s.acquire(&"api".into(), killed, &"vm:1".into(), Timestamp(1000), 900)
                .unwrap(),
            Lease::Acquired
        );
        let other = s.begin_run(Timestamp(1000), "f", &"proc-b".into()).unwrap();
        let unknown = s.begin_run(Timestamp(1000), "f", &"".into()).unwrap();
        let asked = std::sync::Mutex::new(Vec::new());
        let gone = |o: &model::Origin| {
            asked.lock().unwrap().push(o.to_string());
            o.as_str() == "proc-a"
        };
        let notes = s.recover(Timestamp(1001), 900, &gone).unwrap();
        assert_eq!(
            notes,
            vec!["1 interrupted run(s) marked (1 image(s) had not finished)".to_string()],
            "{}",
            b.name()
        );
        let mut asked = asked.into_inner().unwrap();
        asked.sort();
        assert_eq!(
            asked,
            ["proc-a", "proc-b"],
            "an empty origin is never asked about"
        );
        // Its lease went with it: the image is free for the next run.
        assert_eq!(
            s.acquire(&"api".into(), other, &"vm:2".into(), Timestamp(1002), 900)
                .unwrap(),
            Lease::Acquired,
            "{}",
            b.name()
        );
        let _ = unknown;
    });
}

#[test]
fn a_decision_made_while_a_run_was_going_is_seen_by_that_run_only() {
    each("since", |b| {
        let mut s = b.open();
        let before = s.begin_run(Timestamp(0), "f", &"".into()).unwrap();
        decide(
            &mut *s,
            before,
            &outcome("api", Outcome::Promoted, 'a', 'b'),
            None,
        );
        // Began after that decision: nothing happened meanwhile.
        let during = s.begin_run(Timestamp(0), "f", &"".into()).unwrap();
        assert_eq!(
            s.decided_since(&"api".into(), during).unwrap(),
            None,
            "{}",
            b.name()
        );
        // Another run (one that began earlier) decides while it goes.
        decide(
            &mut *s,
            before,
            &outcome("api", Outcome::Blocked, 'c', 'b'),
            None,
        );
        assert_eq!(
            s.decided_since(&"api".into(), during).unwrap(),
            Some(before),
            "{}",
            b.name()
        );
        assert_eq!(s.decided_since(&"web".into(), during).unwrap(), None);
        // Its own decisions do not count; a later run sees none of these.
        decide(
            &mut *s,
            during,
            &outcome("web", Outcome::Promoted, 'd', 'b'),
            None,
        );
        assert_eq!(s.decided_since(&"web".into(), during).unwrap(), None);
        let after = s.begin_run(Timestamp(0), "f", &"".into()).unwrap();
        assert_eq!(s.decided_since(&"api".into(), after).unwrap(), None);
        assert_eq!(s.decided_since(&"web".into(), after).unwrap(), None);
        // A decision by a run that began later counts too.
        decide(
            &mut *s,
            after,
            &outcome("web", Outcome::Blocked, 'e', 'b'),
            None,
        );
        assert_eq!(
            s.decided_since(&"web".into(), during).unwrap(),
            Some(after),
            "{}",
            b.name()
        );
    });
}

#[test]
fn leases_exclude_expire_renew_and_release() {
    each("lease", |b| {
        let mut s = b.open();
        let (r1, r2) = (
            s.begin_run(Timestamp(0), "f", &"".into()).unwrap(),
            s.begin_run(Timestamp(0), "f", &"".into()).unwrap(),
        );
        let t = |x| Timestamp(x);
        assert_eq!(
            s.acquire(&"api".into(), r1, &"a:1".into(), t(100), 60)
                .unwrap(),
            Lease::Acquired
        );
        assert_eq!(
            s.acquire(&"api".into(), r2, &"b:2".into(), t(120), 60)
                .unwrap(),
            Lease::Held {
                run: r1,
                holder: "a:1".into()
            },
            "{}",
            b.name()
        );
        // Renewing keeps it; the other run still cannot take it.
        assert!(s.renew(&"api".into(), r1, t(150), 60).unwrap());
        assert!(matches!(
            s.acquire(&"api".into(), r2, &"b:2".into(), t(200), 60)
                .unwrap(),
            Lease::Held { .. }
        ));
        // Expired: taken over; the old holder's renewal now fails.
        assert_eq!(
            s.acquire(&"api".into(), r2, &"b:2".into(), t(211), 60)
                .unwrap(),
            Lease::Acquired
        );
        assert!(!s.renew(&"api".into(), r1, t(212), 60).unwrap());
        // Releasing by the holder frees it at once.
        s.release(&"api".into(), r2).unwrap();
        assert_eq!(
            s.acquire(&"api".into(), r1, &"a:1".into(), t(213), 60)
                .unwrap(),
            Lease::Acquired
        );
        // Finishing a run drops its leases.
        s.finish_run(r1, t(214), RunStatus::Completed).unwrap();
        assert_eq!(
            s.acquire(&"api".into(), r2, &"b:2".into(), t(215), 60)
                .unwrap(),
            Lease::Acquired
        );
    });
}

#[test]
fn concurrent_lease_requests_have_one_winner() {
    each("race", |b| {
        let mut s = b.open();
        let runs: Vec<RunId> = (0..4)
            .map(|_| s.begin_run(Timestamp(0), "f", &"".into()).unwrap())
            .collect();
        drop(s);
        for round in 0..5 {
            let image = format!("img-{round}");
            let winners: usize = std::thread::scope(|sc| {
                let hs: Vec<_> = runs
                    .iter()
                    .map(|r| {
                        let mut st = b.open();
                        let image = image.clone();
                        sc.spawn(move || {
                            st.acquire(&image.as_str().into(), *r, &"h".into(), Timestamp(100), 60)
                                .unwrap()
                        })
                    })
                    .collect();
                hs.into_iter()
                    .map(|h| h.join().unwrap())
                    .filter(|l| *l == Lease::Acquired)
                    .count()
            });
            assert_eq!(winners, 1, "{} round {round}", b.name());
        }
    });
}

#[test]
fn runners_opening_a_new_store_at_once_migrate_it_once() {
    each("open", |b| {
        let opened: Vec<Result<(), String>> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    sc.spawn(|| {
                        let mut s = b.open();
                        s.begin_run(Timestamp(0), "f", &"".into())
                            .map(drop)
                            .map_err(|e| e.to_string())
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(opened.iter().all(Result::is_ok), "{}: {opened:?}", b.name());
    });
}

#[test]
fn keyed_audit_detects_a_deleted_log_with_its_head() {
    let key = audit::AuditKey::new(b"behaviour-suite-audit-key".to_vec()).unwrap();
    // SQLite: the log is a file; PostgreSQL: rows. Both: the signed global
    // head and the numbers catch the deletion.
    let dir = tempfile::tempdir().unwrap();
    let mut s = Sqlite::open(&dir.path().join("s.db"), &dir.path().join("audit"))
        .unwrap()
        .with_audit_key(Some(key.clone()));
    let pgb = PostgresBackend::new("keyed");
    let mut p = Postgres::connect(&pgb.url)
        .unwrap()
        .with_audit_key(Some(key.clone()));
    for st in [&mut s as &mut dyn StateStore, &mut p as &mut dyn StateStore] {
        let r = st.begin_run(Timestamp(0), "f", &"".into()).unwrap();
        decide(st, r, &outcome("api", Outcome::Promoted, 'a', 'e'), None);
        decide(st, r, &outcome("worker", Outcome::Blocked, 'b', 'e'), None);
        assert!(
            verify(st, Some(&key))
                .unwrap()
                .iter()
                .all(|v| v.problems.is_empty())
        );
    }
    std::fs::remove_file(audit::file_for(&dir.path().join("audit"), "worker")).unwrap();
    drop(s);
    sqlite_delete_head(&dir.path().join("s.db"));
    let s = Sqlite::open(&dir.path().join("s.db"), &dir.path().join("audit")).unwrap();
    let bad = |v: Vec<store::Verified>| v.iter().any(|x| !x.problems.is_empty());
    assert!(bad(verify(&s, Some(&key)).unwrap()), "sqlite");
    let mut c = postgres::Client::connect(&pgb.url, postgres::NoTls).unwrap();
    c.batch_execute("DELETE FROM audit_log WHERE image = 'worker'; DELETE FROM audit_head WHERE image = 'worker';")
        .unwrap();
    assert!(
        !bad(verify(&p, None).unwrap()),
        "without the key it is not seen"
    );
    assert!(bad(verify(&p, Some(&key)).unwrap()), "postgres");
}

fn sqlite_delete_head(db: &Path) {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"delete from audit_head where image='worker'\"); c.commit()",
        ])
        .arg(db)
        .status()
        .unwrap();
    assert!(out.success());
}

#[test]
fn first_seen_is_recorded_once_per_subject_and_digest() {
    each("seen", |b| {
        let mut s = b.open();
        let subject = "r.example/base linux/amd64";
        assert_eq!(
            s.first_seen(subject, &dg('a'), Timestamp(100)).unwrap(),
            Timestamp(100)
        );
        assert_eq!(
            s.first_seen(subject, &dg('a'), Timestamp(900)).unwrap(),
            Timestamp(100),
            "{}: a later look keeps the first time",
            b.name()
        );
        assert_eq!(
            s.first_seen(subject, &dg('b'), Timestamp(900)).unwrap(),
            Timestamp(900)
        );
        assert_eq!(
            s.first_seen("r.example/base linux/arm64", &dg('a'), Timestamp(500))
                .unwrap(),
            Timestamp(500),
            "another subject has its own time"
        );
        drop(s);
        let mut again = b.open();
        assert_eq!(
            again.first_seen(subject, &dg('a'), Timestamp(999)).unwrap(),
            Timestamp(100)
        );
    });
}

fn finding(id: &str, pkg: &str, sev: &str, ignored: bool) -> scan::Finding {
    let mut v = serde_json::json!({
        "id": id, "aliases": [], "advisories": [id],
        "package": {"type": "deb", "name": pkg, "version": "1", "purl": ""},
        "ecosystem": "Debian:12", "matched": "", "state": "fixed",
        "fixed_version": "9", "severity": sev,
        "severity_source": "debian", "severity_detail": "",
        "summary": "", "references": []
    });
    if ignored {
        v["suppressed"] = serde_json::json!({"kind": "ignore-file", "file": ".safeimage-ignore",
            "reason": "not reachable", "expires": "2030-01-01"});
    }
    serde_json::from_value(v).unwrap()
}

const DAY: i64 = 86_400;

#[test]
fn findings_are_tracked_over_many_runs_with_deadlines_notices_fixes_and_returns() {
    use store::lifecycle::TrackState;
    use store::sla::Sla;
    each("lifecycle", |b| {
        let mut s = b.open();
        let sla = Sla::default();
        let promote = |s: &mut dyn StateStore,
                       day: i64,
                       d: char,
                       findings: Vec<scan::Finding>,
                       o: Outcome| {
            let run = s.begin_run(Timestamp(day * DAY), "f", &"".into()).unwrap();
            let mut x = outcome("app", o, d, 'b');
            x.findings = findings;
            s.decide(&Decision {
                run,
                time: Timestamp(day * DAY),
                outcome: &x,
                version: None,
            })
            .unwrap();
        };
        let open = |s: &dyn StateStore| s.tracked(Some("app"), false).unwrap();
        let high = || finding("CVE-1", "openssl", "HIGH", false);
        let low = || finding("CVE-2", "zlib", "LOW", false);

        promote(&mut *s, 0, '1', vec![high(), low()], Outcome::Promoted);
        // a rebuild that changes nothing keeps first-seen; the digest moves
        promote(&mut *s, 3, '2', vec![high(), low()], Outcome::Promoted);
        let rows = open(&*s);
        assert_eq!(rows.len(), 2, "{}", b.name());
        assert_eq!(rows[0].advisory, "CVE-1");
        assert_eq!(rows[0].first_seen, Timestamp(0));
        assert_eq!(rows[0].last_seen, Timestamp(3 * DAY));
        assert_eq!(rows[0].digest, dg('2').to_string());
        assert_eq!(rows[0].fix_available, Some(Timestamp(0)));
        // a blocked image changes nothing
        promote(&mut *s, 4, '3', vec![], Outcome::Blocked);
        assert_eq!(open(&*s).len(), 2);

        // day 8: the HIGH is a day past its 7 days; notified once
        let now = Timestamp(8 * DAY);
        let due = sla.due_notice(&open(&*s), now);
        assert_eq!(due.len(), 1, "{}", b.name());
        assert_eq!(due[0].finding.advisory, "CVE-1");
        assert_eq!(due[0].deadline, Timestamp(7 * DAY));
        let rows: Vec<_> = due.iter().map(|o| o.finding.clone()).collect();
        s.mark_notified(&rows, now).unwrap();
        assert!(
            sla.due_notice(&open(&*s), Timestamp(9 * DAY)).is_empty(),
            "not every run"
        );
        assert_eq!(
            sla.due_notice(&open(&*s), Timestamp(15 * DAY)).len(),
            1,
            "again after renotify"
        );
        assert_eq!(sla.overdue(&open(&*s), Timestamp(9 * DAY)).len(), 1);

        // day 16: fixed; it stops counting
        promote(&mut *s, 16, '4', vec![low()], Outcome::Promoted);
        assert!(sla.overdue(&open(&*s), Timestamp(16 * DAY)).is_empty());
        let all = s.tracked(Some("app"), true).unwrap();
        let fixed = all.iter().find(|t| t.advisory == "CVE-1").unwrap();
        assert_eq!(fixed.state, TrackState::Fixed);
        assert_eq!(fixed.fixed_at, Some(Timestamp(16 * DAY)));

        // day 20: it returns, a new occurrence with its own first-seen; an
        // ignored MEDIUM has no deadline
        promote(
            &mut *s,
            20,
            '5',
            vec![high(), low(), finding("CVE-3", "curl", "MEDIUM", true)],
            Outcome::Promoted,
        );
        let rows = open(&*s);
        let back = rows.iter().find(|t| t.advisory == "CVE-1").unwrap();
        assert_eq!((back.occurrence, back.first_seen), (2, Timestamp(20 * DAY)));
        let ignored = rows.iter().find(|t| t.advisory == "CVE-3").unwrap();
        assert_eq!(ignored.state, TrackState::Ignored);
        assert_eq!(ignored.reason.as_deref(), Some("not reachable"));
        assert_eq!(sla.deadline(ignored), None);

        // day 25: the ignore is gone (expired): it counts again, from its first-seen
        promote(
            &mut *s,
            25,
            '6',
            vec![high(), low(), finding("CVE-3", "curl", "MEDIUM", false)],
            Outcome::Promoted,
        );
        let rows = open(&*s);
        let reopened = rows.iter().find(|t| t.advisory == "CVE-3").unwrap();
        assert_eq!(reopened.state, TrackState::IgnoreExpired);
        assert_eq!(sla.deadline(reopened), Some(Timestamp(50 * DAY)));
        assert_eq!(
            s.tracked(None, true).unwrap().len(),
            4,
            "two occurrences of CVE-1, CVE-2, CVE-3"
        );

        // another process sees the same state
        let other = b.open();
        assert_eq!(other.tracked(Some("app"), false).unwrap(), rows);
    });
}

#[test]
fn a_kev_due_date_is_kept_with_the_finding_and_wins_when_earlier() {
    each("kevdue", |b| {
        let mut s = b.open();
        let run = s.begin_run(Timestamp(0), "f", &"".into()).unwrap();
        let mut f = finding("CVE-2023-44487", "nginx", "HIGH", false);
        f.kev = Some(scan::KevMark {
            cve: "CVE-2023-44487".into(),
            date_added: "1970-01-01".into(),
            due_date: "1970-01-03".into(),
            ransomware: false,
        });
        let mut x = outcome("web", Outcome::Promoted, '1', 'b');
        x.findings = vec![f];
        s.decide(&Decision {
            run,
            time: Timestamp(0),
            outcome: &x,
            version: None,
        })
        .unwrap();
        let rows = s.tracked(Some("web"), false).unwrap();
        assert_eq!(
            rows[0].kev_due.as_deref(),
            Some("1970-01-03"),
            "{}",
            b.name()
        );
        let sla = store::sla::Sla::default();
        assert_eq!(
            sla.deadline(&rows[0]),
            Some(Timestamp(3 * DAY - 1)),
            "before HIGH's 7 days"
        );
    });
}

#[test]
fn a_promotion_keeps_its_inventories_and_a_rematch_moves_its_findings() {
    each("rematch", |b| {
        let mut s = b.open();
        let run = s.begin_run(Timestamp(0), "f", &"".into()).unwrap();
        let mut x = outcome("web", Outcome::Promoted, '1', 'b');
        let old = finding("CVE-1", "openssl", "HIGH", false);
        x.platforms.push(model::PlatformOutcome {
            platform: "linux/amd64".parse().unwrap(),
            digest: Some(dg('2')),
            rebuilt: true,
            counts: Default::default(),
            fixable: 0,
            baseline: None,
            reasons: vec![],
            findings: vec![old.clone()],
            hardened: None,
            inventory: Some("{\"distro\":null,\"packages\":[]}".into()),
            eol: Vec::new(),
        });
        x.findings = vec![old.clone()];
        s.decide(&Decision {
            run,
            time: Timestamp(0),
            outcome: &x,
            version: None,
        })
        .unwrap();
        let kept = s.promoted_inventories().unwrap();
        assert_eq!(kept.len(), 1, "{}", b.name());
        assert_eq!(
            (kept[0].image.as_str(), kept[0].platform.as_str()),
            ("web", "linux/amd64")
        );
        assert_eq!(kept[0].digest, dg('2').to_string());

        let new = finding("CVE-2", "zlib", "LOW", false);
        let doc: std::collections::BTreeMap<String, Vec<scan::Finding>> =
            [("linux/amd64".to_string(), vec![old.clone(), new])].into();
        s.record_rematch("web", &dg('1').to_string(), Timestamp(5 * DAY), &doc)
            .unwrap();
        let h = s.history(&"web".into(), None).unwrap().promoted.unwrap();
        assert_eq!(h.findings["linux/amd64"].len(), 2);
        let t = s.tracked(Some("web"), false).unwrap();
        let added = t.iter().find(|t| t.advisory == "CVE-2").unwrap();
        assert_eq!(added.first_seen, Timestamp(5 * DAY));
        let kept_first = t.iter().find(|t| t.advisory == "CVE-1").unwrap();
        assert_eq!(kept_first.first_seen, Timestamp(0));
    });
}

#[test]
fn a_security_issue_is_kept_replaced_and_read_back() {
    each("issues", |b| {
        let mut s = b.open();
        assert!(s.security_issue("web").unwrap().is_none(), "{}", b.name());
        let mut i = model::tracked::SecurityIssue {
            image: "web".into(),
            open: true,
            opened_at: Timestamp(DAY),
            closed_at: None,
            keys: vec!["HIGH CVE-1 deb/openssl linux/amd64".into()],
            blocks: vec!["### 1970-01-02\n\n| a | b |".into()],
            forge_url: Some("https://forge.invalid/issues/1".into()),
            forge_number: Some(1),
        };
        s.save_security_issue(&i).unwrap();
        i.open = false;
        i.closed_at = Some(Timestamp(2 * DAY));
        i.blocks.push("closed".into());
        s.save_security_issue(&i).unwrap();
        let other = b.open();
        assert_eq!(other.security_issue("web").unwrap(), Some(i));
    });
}

#[test]
fn kept_values_survive_reopening_and_only_a_shared_store_has_its_own_time() {
    each("meta", |b| {
        let mut s = b.open();
        assert_eq!(s.meta(store::MATCHED_DB).unwrap(), None, "{}", b.name());
        s.set_meta(store::MATCHED_DB, "2026-12-01T00:00:00Z")
            .unwrap();
        s.set_meta(store::MATCHED_DB, "2026-12-07T00:00:00Z")
            .unwrap();
        let other = b.open();
        assert_eq!(
            other.meta(store::MATCHED_DB).unwrap().as_deref(),
            Some("2026-12-07T00:00:00Z")
        );
        let local = Timestamp::now().0;
        match (b.name(), other.time().unwrap()) {
            ("sqlite", None) => {}
            ("postgres", Some(t)) => {
                // the server's clock, on this machine the same as ours
                assert!((t.0 - local).abs() <= 5, "{} vs {local}", t.0)
            }
            (name, t) => panic!("{name}: time {t:?}"),
        }
    });
}

#[test]
fn a_job_tick_is_claimed_once_whoever_asks_and_its_end_is_kept() {
    each("jobs", |b| {
        let t = Timestamp(100 * DAY);
        let claims: Vec<bool> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|i| {
                    s.spawn(move || {
                        b.open()
                            .claim_job("run", t, &format!("replica-{i}"), t, 3600)
                            .unwrap()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(claims.iter().filter(|c| **c).count(), 1, "{}", b.name());
        let mut s = b.open();
        assert!(
            !s.claim_job("run", t, "late", t, 3600).unwrap(),
            "never again"
        );
        let next = Timestamp(t.0 + 60);
        assert!(
            !s.claim_job("run", next, "r", next, 3600).unwrap(),
            "not while the last tick is unfinished"
        );
        assert!(
            s.claim_job("weekly", t, "r", t, 3600).unwrap(),
            "another job"
        );
        s.finish_job(
            "run",
            t,
            false,
            "exit status 2\nbuild failed",
            Timestamp(t.0 + 60),
        )
        .unwrap();
        let jobs = b.open().jobs(10).unwrap();
        assert_eq!(jobs.len(), 2, "{}", b.name());
        let run = jobs.iter().find(|j| j.job == "run").unwrap();
        assert_eq!(run.ok, Some(false));
        assert_eq!(run.finished, Some(Timestamp(t.0 + 60)));
        assert!(run.log.ends_with("build failed"));
        let weekly = jobs.iter().find(|j| j.job == "weekly").unwrap();
        assert_eq!((weekly.ok, weekly.finished), (None, None), "still running");
        let later = Timestamp(t.0 + 120);
        assert!(
            s.claim_job("run", later, "r", later, 3600).unwrap(),
            "the next tick once the last one ended"
        );
        let stale = Timestamp(t.0 + 7200);
        assert!(
            s.claim_job("weekly", stale, "r", stale, 3600).unwrap(),
            "a tick unfinished for longer than busy_secs no longer holds the job"
        );
    });
}

#[test]
fn an_event_joins_the_images_audit_chain_which_still_verifies() {
    each("events", |b| {
        let mut s = b.open();
        let run = s.begin_run(Timestamp(DAY), "f", &"".into()).unwrap();
        decide(
            &mut *s,
            run,
            &outcome("web", Outcome::Promoted, '1', 'b'),
            None,
        );
        let mut f = serde_json::Map::new();
        f.insert("advisory".into(), "CVE-2026-1".into());
        f.insert("reason".into(), "not reachable".into());
        s.audit_event("web", Timestamp(2 * DAY), "ignored", f)
            .unwrap();
        let run = s.begin_run(Timestamp(3 * DAY), "f", &"".into()).unwrap();
        decide(
            &mut *s,
            run,
            &outcome("web", Outcome::Promoted, '2', 'b'),
            None,
        );
        let other = b.open();
        let logs = other.audit_logs().unwrap();
        let web = logs.iter().find(|l| l.image == "web").unwrap();
        assert_eq!(web.chain.records.len(), 3, "{}", b.name());
        assert_eq!(web.chain.records[1]["event"], "ignored");
        let one = other.audit_log("web").unwrap().unwrap();
        assert_eq!(one.chain.records, web.chain.records, "{}", b.name());
        assert!(other.audit_log("nope").unwrap().is_none());
        let v = store::verify(&*other, None).unwrap();
        assert!(
            v.iter().all(|x| x.problems.is_empty()),
            "{}: {:?}",
            b.name(),
            v.iter()
                .flat_map(|x| &x.problems)
                .map(|p| &p.message)
                .collect::<Vec<_>>()
        );
    });
}

#[test]
fn runs_are_listed_newest_first_with_what_each_image_came_to() {
    each("runs", |b| {
        let mut s = b.open();
        let r1 = s
            .begin_run(Timestamp(DAY), "fleet.toml", &"".into())
            .unwrap();
        decide(
            &mut *s,
            r1,
            &outcome("web", Outcome::Promoted, '1', 'b'),
            None,
        );
        s.finish_run(r1, Timestamp(DAY + 60), RunStatus::Completed)
            .unwrap();
        let r2 = s
            .begin_run(Timestamp(2 * DAY), "fleet.toml", &"".into())
            .unwrap();
        let mut blocked = outcome("web", Outcome::Blocked, '2', 'b');
        blocked.reasons.push("1 CRITICAL <script>".into());
        decide(&mut *s, r2, &blocked, None);
        let other = b.open();
        let runs = other.runs(10).unwrap();
        assert_eq!(
            runs.iter().map(|r| r.id).collect::<Vec<_>>(),
            [r2, r1],
            "{}",
            b.name()
        );
        assert_eq!(runs[1].status, "completed");
        assert_eq!(runs[0].status, "running");
        assert_eq!(runs[1].started, Timestamp(DAY).to_string());
        let one = other.run_image(r2, "web").unwrap().unwrap();
        assert_eq!(one.reasons, ["1 CRITICAL <script>"]);
        assert!(other.run_image(r2, "api").unwrap().is_none());
        let images = other.run_images(r2).unwrap();
        assert_eq!(images.len(), 1);
        assert_eq!(images[0].outcome, Outcome::Blocked);
        assert_eq!(images[0].reasons, ["1 CRITICAL <script>"]);
    });
}

#[test]
fn image_summaries_give_each_images_last_decision_and_its_promotion() {
    each("summaries", |b| {
        let mut s = b.open();
        let r1 = s.begin_run(Timestamp(DAY), "f", &"".into()).unwrap();
        let mut web = outcome("web", Outcome::Promoted, '1', 'b');
        web.signed = vec!["signature".into()];
        decide(&mut *s, r1, &web, None);
        decide(
            &mut *s,
            r1,
            &outcome("api", Outcome::Failed, '2', 'b'),
            None,
        );
        let r2 = s.begin_run(Timestamp(2 * DAY), "f", &"".into()).unwrap();
        let mut blocked = outcome("web", Outcome::Blocked, '3', 'b');
        blocked.reasons.push("new CRITICAL".into());
        decide(&mut *s, r2, &blocked, None);
        let mut v = b.open().image_summaries().unwrap();
        v.sort_by(|a, b| a.image.cmp(&b.image));
        assert_eq!(v.len(), 2, "{}", b.name());
        let (api, web) = (&v[0], &v[1]);
        assert_eq!(api.last.as_ref().unwrap().1, "failed");
        assert!(api.promoted.is_none());
        let (run, status, time, detail) = web.last.as_ref().unwrap();
        assert_eq!((*run, status.as_str()), (r2, "blocked"));
        assert!(time.parse::<Timestamp>().is_ok(), "{time}");
        assert!(detail.contains("new CRITICAL"));
        let (digest, pdetail) = web.promoted.as_ref().unwrap();
        assert_eq!(digest, &dg('1').to_string());
        assert!(pdetail.contains("\"signed\":[\"signature\"]"), "{pdetail}");
    });
}
