//! `safeimage report` end to end on a fleet's SQLite store holding a
//! promotion with a CRITICAL and a HIGH: the weekly summary of that week as
//! Markdown and as HTML rendered by headless Chromium (the counts, the
//! trend drawn as SVG) and a bad week named; the image's report as a PDF
//! printed by Chromium whose text (pdftotext) holds the digest, the counts
//! and each finding, a hostile package name as inert text.

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

fn fleet() -> tempfile::TempDir {
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
        finding("CVE-2", "<script>alert(1)</script>", "HIGH"),
    ];
    s.decide(&Decision {
        run,
        time: t,
        outcome: &o,
        version: None,
    })
    .unwrap();
    drop(s);
    dir
}

#[test]
fn the_weekly_summary_renders_in_chromium_with_the_weeks_counts() {
    let dir = fleet();
    let d = dir.path();
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

#[test]
fn the_image_report_prints_to_a_pdf_holding_the_digest_counts_and_findings() {
    let dir = fleet();
    let d = dir.path();
    let pdf = d.join("app.pdf");
    let out = safeimage_in(
        d,
        &[
            "report",
            "image",
            "app-x",
            "--config",
            "fleet.toml",
            "-f",
            "pdf",
            "-o",
            pdf.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"));
    let text = std::process::Command::new("pdftotext")
        .args(["-layout", pdf.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (apt-get install poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Security report: app-x"), "{flat}");
    assert!(
        flat.contains(&format!("sha256:{}", "a".repeat(64))),
        "{flat}"
    );
    assert!(flat.contains("Vulnerabilities (2)"), "{flat}");
    assert!(flat.contains("CRITICAL CVE-1 deb/openssl"), "{flat}");
    // the hostile name is text in the PDF (the table may wrap it)
    assert!(
        flat.contains("HIGH CVE-2 deb/<script>alert(1)") && flat.contains("</script>"),
        "inert text: {flat}"
    );
    assert!(
        flat.contains("audit log of this image verifies: 1 record(s)"),
        "{flat}"
    );

    let out = safeimage_in(
        d,
        &["report", "image", "nope", "--config", "fleet.toml"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no image named nope"));
}

/// A webhook receiver on loopback keeping each request's event header and
/// body.
const RECEIVER: &str = r#"
import http.server, json, os, sys
out = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        n = len(os.listdir(out))
        with open(os.path.join(out, f"{n:03}.json"), "w") as f:
            json.dump({"event": self.headers.get("X-Safeimage-Event"), "body": json.loads(body)}, f)
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

#[test]
fn the_weekly_summary_is_sent_as_a_weekly_event_and_kept_as_one_github_issue() {
    use std::io::BufRead as _;
    let dir = fleet();
    let d = dir.path();
    let got = d.join("hook");
    std::fs::create_dir(&got).unwrap();
    let mut child = std::process::Command::new("python3")
        .args(["-c", RECEIVER])
        .arg(&got)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut port = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let state = std::sync::Arc::new(std::sync::Mutex::new(testkit::github::State::default()));
    let gh = testkit::github::github(state.clone());
    let mut cfg = std::fs::read_to_string(d.join("fleet.toml")).unwrap();
    cfg.push_str(&format!(
        "\n[[notify.webhook]]\nurl = \"http://127.0.0.1:{}/weekly\"\non = [\"weekly\"]\n\n[[notify.webhook]]\nurl = \"http://127.0.0.1:{}/runs\"\non = [\"blocked\"]\n\n[issues]\nmirror = true\n\n[update]\nforge = \"github\"\nproject = \"o/r\"\napi_url = \"{}\"\ntoken_env = \"SAFEIMAGE_TEST_FORGE_TOKEN\"\n",
        port.trim(),
        port.trim(),
        gh.url
    ));
    std::fs::write(d.join("fleet.toml"), cfg).unwrap();
    for _ in 0..2 {
        let out = safeimage_in(
            d,
            &[
                "report",
                "weekly",
                "--config",
                "fleet.toml",
                "--week",
                "2026-W48",
                "--send",
                "-o",
                "weekly.md",
            ],
            &[("SAFEIMAGE_TEST_FORGE_TOKEN", "tok")],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(
            err.contains("kept in https://github.invalid/o/r/issues/1"),
            "{err}"
        );
        assert!(!err.contains("tok"), "no token printed: {err}");
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut sent: Vec<_> = std::fs::read_dir(&got)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    sent.sort();
    assert_eq!(
        sent.len(),
        2,
        "only the notifier that takes weekly, once per send"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sent[0]).unwrap()).unwrap();
    assert_eq!(v["event"], "weekly");
    assert_eq!(v["body"]["schema"], "safeimage-weekly/1");
    assert_eq!(v["body"]["week"], "2026-W48");
    assert_eq!(v["body"]["images"][0]["image"], "app-x");
    assert_eq!(v["body"]["images"][0]["open"]["CRITICAL"], 1);
    let st = state.lock().unwrap();
    assert_eq!(st.issues.len(), 1, "one issue, its body replaced");
    assert!(st.issues[0].2.contains("<!-- safeimage-weekly-summary -->"));
    assert!(
        st.issues[0]
            .2
            .contains("## Weekly security summary 2026-W48")
    );
}
