//! Makes the store `scripts/bench-serve` loads: a fleet of IMAGES images
//! (default 1,000), each promoted on the first day with FINDINGS findings
//! (default 100), decided every day for DAYS days (default 365: a year of
//! daily runs), and promoted again on the last day with a tenth of its
//! findings fixed and as many new. Writes DIR/fleet.toml, DIR/app/Dockerfile
//! and the SQLite store and audit logs under DIR/state.
//!
//! usage: bench_store DIR [IMAGES] [FINDINGS] [DAYS]
#![allow(clippy::print_stderr)]

use model::{ImageOutcome, Outcome, Timestamp};
use store::{Decision, Sqlite, StateStore};

fn finding(id: &str, pkg: &str, sev: &str) -> scan::Finding {
    serde_json::from_value(serde_json::json!({
        "id": id, "aliases": [], "advisories": [id],
        "package": {"type": "deb", "name": pkg, "version": "1.0-1", "purl": format!("pkg:deb/debian/{pkg}@1.0-1")},
        "ecosystem": "Debian:12", "matched": "", "state": "fixed",
        "fixed_version": "1.0-2", "severity": sev,
        "severity_source": "debian", "severity_detail": "",
        "summary": "A flaw in the package's parser allows a crafted input to crash it.",
        "references": []
    }))
    .expect("a finding")
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(
        a.get(1)
            .expect("usage: bench_store DIR [IMAGES] [FINDINGS] [DAYS]"),
    );
    let n = |i: usize, d: usize| a.get(i).map_or(d, |x| x.parse().expect("a number"));
    let (images, per, days) = (n(2, 1000), n(3, 100), n(4, 365));
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(dir.join("app/Dockerfile"), "FROM scratch\n").unwrap();
    let mut cfg =
        String::from("[store]\npath = \"state/state.db\"\naudit_dir = \"state/audit\"\n\n");
    for i in 0..images {
        cfg.push_str(&format!(
            "[[image]]\nname = \"img-{i:04}\"\ncontext = \"app\"\nrepository = \"r.example/fleet/img-{i:04}\"\n\n"
        ));
    }
    std::fs::write(dir.join("fleet.toml"), cfg).unwrap();
    let mut s = Sqlite::open(&dir.join("state/state.db"), &dir.join("state/audit")).unwrap();
    let sev = [
        "CRITICAL", "HIGH", "MEDIUM", "MEDIUM", "LOW", "LOW", "LOW", "UNKNOWN",
    ];
    let set = |i: usize, shift: usize| -> Vec<scan::Finding> {
        (0..per)
            .map(|k| {
                let k = k + shift;
                finding(
                    &format!("CVE-2026-{:05}", (i * 7 + k) % 90_000),
                    &format!("lib{}", k % 300),
                    sev[k % sev.len()],
                )
            })
            .collect()
    };
    let start = Timestamp::now().0 - days as i64 * 86_400;
    let t0 = std::time::Instant::now();
    for day in 0..days {
        let time = Timestamp(start + day as i64 * 86_400 + 6 * 3600);
        let run = s.begin_run(time, "fleet.toml", &"".into()).unwrap();
        for i in 0..images {
            let name = format!("img-{i:04}");
            let repo = format!("r.example/fleet/{name}").parse().unwrap();
            let mut o = ImageOutcome::new(&name, &repo, None);
            let first = day == 0;
            let last = day + 1 == days;
            o.outcome = if first || last {
                Outcome::Promoted
            } else if (i + day) % 97 == 0 {
                Outcome::Blocked
            } else {
                Outcome::Unchanged
            };
            if o.outcome == Outcome::Blocked {
                o.reasons
                    .push("a new CRITICAL: CVE-2026-00001 in libfoo".into());
            }
            if first || last {
                let d = format!("{:064x}", (i as u128) << 32 | day as u128);
                o.digest = Some(format!("sha256:{d}").parse().unwrap());
                // the last day: a tenth fixed, as many new
                o.findings = set(i, if last { per / 10 } else { 0 });
                o.signed = vec!["signature".into()];
            }
            s.decide(&Decision {
                run,
                time,
                outcome: &o,
                version: None,
            })
            .unwrap();
        }
        s.finish_run(run, Timestamp(time.0 + 1800), store::RunStatus::Completed)
            .unwrap();
        if day % 30 == 0 {
            eprintln!("day {day}: {:.0} s", t0.elapsed().as_secs_f64());
        }
    }
    eprintln!(
        "{images} images, {} tracked findings, {days} days in {:.0} s",
        s.tracked(None, true).unwrap().len(),
        t0.elapsed().as_secs_f64()
    );
}
