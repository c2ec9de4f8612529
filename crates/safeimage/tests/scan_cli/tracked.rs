//! `scan --tracked NAME`: the scan's own report marks each finding with
//! the patch deadline the fleet's store and `[sla]` give it — first seen
//! in the promoted image, overdue — in JSON, the table and SARIF, and
//! `--fail-on-overdue` fails the gate; without the flag nothing changes.

use super::*;
use model::{ImageOutcome, Outcome, Timestamp};
use store::{Decision, Sqlite, StateStore};

/// A fleet whose promoted `app` carries nginx's CVE-2023-44487 since
/// 2026-01-05 (long past a HIGH's seven days).
fn fleet(dir: &Path, finding: &Value) {
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(dir.join("app/Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(
        dir.join("fleet.toml"),
        "[[image]]\nname = \"app\"\ncontext = \"app\"\nrepository = \"r.example/fleet/app\"\n\n[sla]\nhigh = \"7d\"\n",
    )
    .unwrap();
    let mut s = Sqlite::open(
        &dir.join(".safeimage/state.db"),
        &dir.join(".safeimage/audit"),
    )
    .unwrap();
    let t: Timestamp = "2026-01-05T10:00:00Z".parse().unwrap();
    let run = s.begin_run(t, "fleet.toml", &"".into()).unwrap();
    let mut o = ImageOutcome::new("app", &"r.example/fleet/app".parse().unwrap(), None);
    o.outcome = Outcome::Promoted;
    o.digest = Some(format!("sha256:{}", "a".repeat(64)).parse().unwrap());
    let mut f: scan::Finding = serde_json::from_value(finding.clone()).unwrap();
    f.severity = vulndb::Severity::High;
    o.findings = vec![f];
    s.decide(&Decision {
        run,
        time: t,
        outcome: &o,
        version: None,
    })
    .unwrap();
}

#[test]
fn a_finding_the_fleet_tracks_shows_its_first_seen_and_is_overdue_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = import(d, &[&osv_fixtures()]);
    let s = sbom(d, "app", &[]);
    let (out, plain) = scan_json(d, &db, &s, &[]);
    ok(&out);
    let target = plain["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "CVE-2023-44487")
        .expect("nginx's HTTP/2 rapid reset finding")
        .clone();
    assert!(target.get("due").is_none(), "no --tracked: no deadline");
    fleet(d, &target);

    let (out, v) = scan_json(d, &db, &s, &["--tracked", "app", "--config", "fleet.toml"]);
    ok(&out);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "CVE-2023-44487")
        .unwrap();
    assert_eq!(f["due"]["tracked"], true);
    assert_eq!(f["due"]["first_seen"], "2026-01-05T10:00:00Z");
    assert_eq!(f["due"]["deadline"], "2026-01-12T10:00:00Z");
    assert_eq!(f["due"]["overdue"], true);
    let untracked = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] != "CVE-2023-44487")
        .find(|f| f["due"]["deadline"].is_string())
        .expect("another finding with a deadline");
    assert_eq!(untracked["due"]["tracked"], false, "would start now");
    assert!(v["summary"]["overdue"].as_u64().unwrap() >= 1);

    let table = String::from_utf8(
        ok(&safeimage_in(
            d,
            &[
                "scan",
                &s,
                "--db",
                &db,
                "--tracked",
                "app",
                "--config",
                "fleet.toml",
            ],
            &[],
        ))
        .stdout
        .clone(),
    )
    .unwrap();
    assert!(table.contains("[OVERDUE since 2026-01-12]"), "{table}");
    assert!(
        table.contains("past their patch deadline ([sla])"),
        "{table}"
    );
    let sarif = String::from_utf8(
        ok(&safeimage_in(
            d,
            &[
                "scan",
                &s,
                "--db",
                &db,
                "--tracked",
                "app",
                "--config",
                "fleet.toml",
                "-f",
                "sarif",
            ],
            &[],
        ))
        .stdout
        .clone(),
    )
    .unwrap();
    assert!(sarif.contains("\"patchDeadline\""), "{sarif}");

    let out = safeimage_in(
        d,
        &[
            "scan",
            &s,
            "--db",
            &db,
            "--tracked",
            "app",
            "--config",
            "fleet.toml",
            "--fail-on-overdue",
            "-f",
            "json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("past their patch deadline (--fail-on-overdue)"));

    let out = safeimage_in(
        d,
        &[
            "scan",
            &s,
            "--db",
            &db,
            "--tracked",
            "nope",
            "--config",
            "fleet.toml",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--tracked nope: no image of that name"),
        "{}",
        stderr(&out)
    );
}
