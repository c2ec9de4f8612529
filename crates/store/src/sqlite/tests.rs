//! The SQLite store on its own: runs, decisions, recovery and verify; a
//! forged record and a deleted log with a key; migration; corrupt rows.

use super::*;
use crate::verify;
use model::{ImageOutcome, Outcome};

fn dg(c: char) -> Digest {
    format!("sha256:{}", c.to_string().repeat(64))
        .parse()
        .unwrap()
}

fn decide(s: &mut Sqlite, run: RunId, image: &str, outcome: Outcome, digest: char) {
    let mut o = ImageOutcome::new(image, &"r.example/x".parse().unwrap(), None);
    o.outcome = outcome;
    o.digest = Some(dg(digest));
    o.bases.push(model::BaseDigest {
        reference: "r.example/base:1".parse().unwrap(),
        kind: dockerfile::BaseRefKind::From,
        digest: dg('e'),
        platforms: vec![],
        previous: None,
    });
    s.decide(&Decision {
        run,
        time: Timestamp(1),
        outcome: &o,
        version: Some("1.0"),
    })
    .unwrap();
}

#[test]
fn runs_decisions_recovery_and_verify() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("state.db");
    let audit = d.path().join("audit");
    let mut s = Sqlite::open(&db, &audit).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let r = s.begin_run(Timestamp(0), "fleet.toml", &"".into()).unwrap();
    decide(&mut s, r, "api", Outcome::Promoted, 'a');
    decide(&mut s, r, "worker", Outcome::Blocked, 'b');
    s.finish_run(r, Timestamp(1), RunStatus::Completed).unwrap();
    let h = s.history(&"api".into(), Some("1.0")).unwrap();
    let p = h.promoted.unwrap();
    assert_eq!(p.digest, dg('a'));
    assert_eq!(p.bases[0].digest, dg('e'));
    assert_eq!(h.n, 2);
    assert!(
        s.history(&"worker".into(), None)
            .unwrap()
            .promoted
            .is_none()
    );
    let r2 = s.begin_run(Timestamp(2), "fleet.toml", &"".into()).unwrap();
    s.stage(r2, &"api".into(), Stage::Pushed, Some(&dg('c')))
        .unwrap();
    drop(s); // killed mid-run

    // Opening read-only changes nothing and still verifies.
    let ro = Sqlite::open_read_only(&db, &audit).unwrap();
    assert!(
        verify(&ro, None)
            .unwrap()
            .iter()
            .all(|v| v.problems.is_empty())
    );
    drop(ro);
    let mut s = Sqlite::open(&db, &audit).unwrap();
    let notes = s.recover(Timestamp(1 << 40), 900, &|_| false).unwrap();
    assert!(notes[0].contains("1 interrupted run"), "{notes:?}");
    assert!(
        s.recover(Timestamp(1 << 40), 900, &|_| false)
            .unwrap()
            .is_empty(),
        "recovery happens once"
    );
    let r3 = s.begin_run(Timestamp(3), "fleet.toml", &"".into()).unwrap();
    decide(&mut s, r3, "api", Outcome::Promoted, 'd');
    assert!(
        verify(&s, None)
            .unwrap()
            .iter()
            .all(|v| v.problems.is_empty())
    );

    // A record appended by a run that was then killed is anchored by
    // the next run's recovery...
    let (seq, hash) = audit::read_chain(&audit::file_for(&audit, "api")).head();
    let r4 = s.begin_run(Timestamp(4), "fleet.toml", &"".into()).unwrap();
    let mut f = serde_json::Map::new();
    f.insert("run".into(), Value::from(r4.0));
    audit::append(&audit, "api", seq + 1, &hash, f, None).unwrap();
    drop(s);
    let mut s = Sqlite::open(&db, &audit).unwrap();
    let notes = s.recover(Timestamp(1 << 40), 900, &|_| false).unwrap();
    assert!(notes.iter().any(|m| m.contains("anchored 1")), "{notes:?}");
    assert!(
        verify(&s, None)
            .unwrap()
            .iter()
            .all(|v| v.problems.is_empty())
    );

    // ...but a record forged outside any run is never adopted.
    let (seq, hash) = audit::read_chain(&audit::file_for(&audit, "api")).head();
    let mut f = serde_json::Map::new();
    f.insert("outcome".into(), Value::from("promoted"));
    f.insert("run".into(), Value::from(r3.0));
    audit::append(&audit, "api", seq + 1, &hash, f, None).unwrap();
    let r5 = s.begin_run(Timestamp(5), "fleet.toml", &"".into()).unwrap();
    drop(s);
    let mut s = Sqlite::open(&db, &audit).unwrap();
    let notes = s.recover(Timestamp(1 << 40), 900, &|_| false).unwrap();
    assert!(!notes.iter().any(|m| m.contains("anchored")), "{notes:?}");
    let v = verify(&s, None).unwrap();
    let api = v.iter().find(|x| x.image == "api").unwrap();
    assert!(
        api.problems
            .iter()
            .any(|p| p.message.contains("not anchored")),
        "{:?}",
        api.problems
    );
    let _ = r5;

    // Deleting the last two records is caught through the stored head.
    let f = audit::file_for(&audit, "api");
    let text = std::fs::read_to_string(&f).unwrap();
    let keep: Vec<&str> = text.lines().collect();
    std::fs::write(&f, format!("{}\n", keep[..keep.len() - 2].join("\n"))).unwrap();
    let v = verify(&s, None).unwrap();
    let api = v.iter().find(|x| x.image == "api").unwrap();
    assert!(
        api.problems
            .iter()
            .any(|p| p.message.contains("records were deleted")),
        "{:?}",
        api.problems
    );
}

#[test]
fn with_a_key_forged_records_and_a_deleted_log_with_its_head_are_caught() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("state.db");
    let audit = d.path().join("audit");
    let key = audit::AuditKey::new(b"0123456789abcdef-test-key".to_vec()).unwrap();
    let mut s = Sqlite::open(&db, &audit)
        .unwrap()
        .with_audit_key(Some(key.clone()));
    let r = s.begin_run(Timestamp(0), "f", &"".into()).unwrap();
    decide(&mut s, r, "api", Outcome::Promoted, 'a');
    decide(&mut s, r, "worker", Outcome::Blocked, 'b');
    decide(&mut s, r, "api", Outcome::Promoted, 'c');
    let clean = |v: &[crate::Verified]| v.iter().all(|x| x.problems.is_empty());
    assert!(
        clean(&verify(&s, Some(&key)).unwrap()),
        "{:?}",
        verify(&s, Some(&key)).unwrap()
    );
    assert_eq!(s.audit_global().unwrap().unwrap().0, 3);

    // Without the key, deleting a whole log and its head goes unnoticed...
    let wf = audit::file_for(&audit, "worker");
    let saved = std::fs::read_to_string(&wf).unwrap();
    std::fs::remove_file(&wf).unwrap();
    s.conn
        .execute("DELETE FROM audit_head WHERE image = 'worker'", [])
        .unwrap();
    assert!(clean(&verify(&s, None).unwrap()));
    // ...with it, both the head set's HMAC and the missing number say so.
    let v = verify(&s, Some(&key)).unwrap();
    let all = v.iter().find(|x| x.image == crate::ALL_LOGS).unwrap();
    let text: Vec<String> = all.problems.iter().map(|p| p.message.clone()).collect();
    assert!(
        text.iter().any(|m| m.contains("do not match their HMAC")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|m| m.contains("global records 2 are in no log")),
        "{text:?}"
    );
    std::fs::write(&wf, saved).unwrap();
    let (wseq, whash) = audit::read_chain(&wf).head();
    s.conn
        .execute(
            "INSERT INTO audit_head (image, seq, hash) VALUES ('worker', ?1, ?2)",
            params![wseq as i64, whash],
        )
        .unwrap();
    assert!(clean(&verify(&s, Some(&key)).unwrap()));

    // A record forged with a correct chain hash (and its head moved to
    // it, as someone with write access to the store could) has no valid HMAC.
    let af = audit::file_for(&audit, "api");
    let (seq, hash) = audit::read_chain(&af).head();
    let mut f = serde_json::Map::new();
    f.insert("outcome".into(), Value::from("promoted"));
    let other = audit::AuditKey::new(b"not-the-right-key-at-all".to_vec()).unwrap();
    let h = audit::append(&audit, "api", seq + 1, &hash, f, Some((&other, 4))).unwrap();
    s.conn
        .execute(
            "UPDATE audit_head SET seq = ?1, hash = ?2 WHERE image = 'api'",
            params![(seq + 1) as i64, h],
        )
        .unwrap();
    let v = verify(&s, Some(&key)).unwrap();
    let api = v.iter().find(|x| x.image == "api").unwrap();
    assert!(
        api.problems
            .iter()
            .any(|p| p.message.contains("HMAC does not match")),
        "{:?}",
        api.problems
    );
    let all = v.iter().find(|x| x.image == crate::ALL_LOGS).unwrap();
    assert!(
        !all.problems.is_empty(),
        "the head set changed: {:?}",
        all.problems
    );
}

#[test]
fn a_version_1_store_is_migrated_with_its_bases() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("state.db");
    {
        let c = Connection::open(&db).unwrap();
        c.execute_batch(MIGRATIONS[0]).unwrap();
        c.execute_batch(&format!(
            "PRAGMA user_version = 1;
             INSERT INTO runs (id, started, status, config) VALUES (1, 't', 'completed', 'f');
             INSERT INTO promoted (name, digest, run, findings, bases, version)
               VALUES ('api', '{}', 1, '[]', '{{\"r.example/base:1\": \"{}\"}}', NULL);",
            dg('a'),
            dg('b')
        ))
        .unwrap();
    }
    let s = Sqlite::open(&db, &d.path().join("audit")).unwrap();
    let p = s.history(&"api".into(), None).unwrap().promoted.unwrap();
    assert_eq!(p.digest, dg('a'));
    assert_eq!(
        p.bases,
        vec![model::PromotedBase {
            reference: "r.example/base:1".parse().unwrap(),
            digest: dg('b')
        }]
    );
}

#[test]
fn a_corrupt_digest_is_reported_not_read_as_empty() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("state.db");
    let mut s = Sqlite::open(&db, &d.path().join("audit")).unwrap();
    let r = s.begin_run(Timestamp(0), "f", &"".into()).unwrap();
    decide(&mut s, r, "api", Outcome::Promoted, 'a');
    s.conn
        .execute("UPDATE promoted SET digest = 'sha256:nothex'", [])
        .unwrap();
    let e = s.history(&"api".into(), None).unwrap_err().to_string();
    assert!(e.contains("digest `sha256:nothex` cannot be read"), "{e}");
}
