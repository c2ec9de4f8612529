//! `safeimage run` end to end with real parts: buildah, a CNCF registry on
//! loopback, bases made by mmdebstrap (bookworm main only, and with
//! bookworm-security), the Debian fixture advisories, a local webhook
//! receiver that checks the HMAC signature and records Slack posts, and
//! Debian's aiosmtpd as the SMTP server. Each scenario has its own
//! registry, fleet and store, so one failure hides nothing.

#![allow(clippy::print_stderr)]

#[path = "../support/mod.rs"]
mod support;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

const HOOK: &str = r#"
import hashlib, hmac, http.server, json, os, sys
out, secret = sys.argv[1], sys.argv[2].encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/slack":
            n = len(os.listdir(out + "-slack"))
            with open(os.path.join(out + "-slack", f"{n:03}.json"), "wb") as f:
                f.write(body)
            self.send_response(200); self.end_headers(); return
        want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(want, self.headers.get("X-Safeimage-Signature-256", ""))
        n = len(os.listdir(out))
        with open(os.path.join(out, f"{n:03}-{'signed' if ok else 'BADSIG'}.json"), "wb") as f:
            f.write(body)
        self.send_response(200 if ok else 401); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

/// nginx-light from the Debian mirror: the fixture CVEs apply to it.
const NGINX: &str = "ARG BASE\nFROM ${BASE}\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends nginx-light \\\n && rm -rf /var/lib/apt/lists/*\nUSER 10001\nHEALTHCHECK NONE\nCMD [\"nginx\", \"-g\", \"daemon off;\"]\n";
/// A quick build on the base.
const SMALL: &str = "ARG BASE\nFROM ${BASE}\nRUN echo built > /etc/built-by-safeimage\nUSER 10001\nHEALTHCHECK NONE\n";

struct Bg(std::process::Child);
impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One fleet: a registry, an `app` image in a git repository, the advisory
/// DB, and a config with `extra` appended.
struct Fleet {
    work: tempfile::TempDir,
    reg: Registry,
    sha: String,
}

impl Fleet {
    fn new(dockerfile: &str) -> Fleet {
        let work = tempfile::tempdir().unwrap();
        let d = work.path();
        let reg = registry();
        std::fs::create_dir_all(d.join("app")).unwrap();
        std::fs::write(d.join("app/Dockerfile"), dockerfile).unwrap();
        for a in [
            &["init", "-q"][..],
            &["add", "."],
            &[
                "-c",
                "user.email=t@e",
                "-c",
                "user.name=t",
                "commit",
                "-qm",
                "fleet",
            ],
        ] {
            sh(Command::new("git").current_dir(d).args(a));
        }
        let sha = sh(Command::new("git")
            .current_dir(d)
            .args(["rev-parse", "--short", "HEAD"]))
        .trim()
        .to_string();
        let db = d.join("advisories.db");
        let out = safeimage_in(
            d,
            &[
                "db",
                "import",
                "--db",
                db.to_str().unwrap(),
                osv_fixtures().join("Debian-12").to_str().unwrap(),
            ],
            &[],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let f = Fleet { work, reg, sha };
        f.config("", "");
        f
    }

    fn dir(&self) -> &Path {
        self.work.path()
    }

    fn r(&self) -> &str {
        &self.reg.addr
    }

    fn config(&self, images: &str, extra: &str) {
        let reg = self.r();
        std::fs::write(
            self.dir().join("fleet.toml"),
            format!(
                r#"
[[image]]
name = "app"
context = "app"
repository = "{reg}/fleet/app"
tags = ["latest", "{{date}}", "{{git_sha}}"]
build_args = {{ BASE = "{reg}/base/debian:bookworm" }}
{images}
[gate]
fail_on = "critical"
fail_on_new = "critical"
fail_on_increase = true

[scan]
db = "advisories.db"
max_age_hours = 0

[store]
path = "state/state.db"
audit_dir = "state/audit"

[report]
dir = "reports"

[lint]
failure_threshold = "error"

[policy.base_images]
permitted = ["{reg}/base/*"]
prohibited = ["{reg}/forbidden/*"]
default_tier = "restricted"
{extra}
"#
            ),
        )
        .unwrap();
    }

    fn push_base(&self, base: Base, to: &str) {
        sh(Command::new("buildah")
            .args(["push", "-q", "--tls-verify=false", base_image(base)])
            .arg(format!("docker://{}/{to}", self.r())));
    }

    fn run(&self, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let mut args = vec![
            "run",
            "--config",
            "fleet.toml",
            "--cache-dir",
            "cache",
            "--json",
            "last.json",
        ];
        args.extend(extra);
        let out = safeimage_in(self.dir(), &args, env);
        eprintln!(
            "--- safeimage run {extra:?}: {:?}\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn report(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir().join("last.json")).unwrap())
            .unwrap()
    }

    fn head(&self, repo_tag: &str) -> Option<String> {
        let out = Command::new("skopeo")
            .args(["inspect", "--tls-verify=false", "--raw"])
            .arg(format!("docker://{}/{repo_tag}", self.r()))
            .output()
            .unwrap();
        out.status.success().then(|| {
            use sha2::Digest as _;
            format!("sha256:{}", hex::encode(sha2::Sha256::digest(&out.stdout)))
        })
    }

    fn verify(&self) -> Output {
        let out = safeimage_in(
            self.dir(),
            &["audit", "verify", "--config", "fleet.toml"],
            &[],
        );
        eprintln!("{}", String::from_utf8_lossy(&out.stdout));
        out
    }

    fn audit(&self, image: &str) -> PathBuf {
        self.dir().join(format!("state/audit/{image}.jsonl"))
    }
}

fn image<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no image {name} in {r}"))
}

fn total(i: &Value) -> u64 {
    i["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum()
}

fn today() -> String {
    sh(Command::new("date").args(["-u", "+%Y%m%d"]))
        .trim()
        .to_string()
}

#[test]
fn promotes_with_every_tag_one_audit_record_and_one_message_per_notifier() {
    let f = Fleet::new(SMALL);
    let d = f.dir();
    let hooks = d.join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::create_dir_all(d.join("hooks-slack")).unwrap();
    let mut hook = Command::new("python3")
        .args(["-c", HOOK, hooks.to_str().unwrap(), "hmac-key"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(hook.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let hook_port: u16 = line.trim().parse().unwrap();
    let _hook = Bg(hook);
    let mail = d.join("mail");
    let smtp = free_port();
    let _smtp = Bg(Command::new("/usr/bin/python3")
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{smtp}")])
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&mail)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3-aiosmtpd"));
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", smtp)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "aiosmtpd did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let dead = free_port();
    f.config(
        "",
        &format!(
            r#"
[[notify.webhook]]
url = "http://127.0.0.1:{hook_port}/hook/s3cr3t-path"
secret_env = "HOOK_SECRET"

[notify.slack]
url = "http://127.0.0.1:{hook_port}/slack"

[[notify.webhook]]
url = "http://127.0.0.1:{dead}/dead-hook/secret-token"
on = ["promoted"]

[[notify.email]]
host = "127.0.0.1"
port = {smtp}
security = "none"
from = "safeimage@example.test"
to = ["platform@example.test"]
"#
        ),
    );
    f.push_base(Base::Main, "base/debian:bookworm");
    let out = f.run(&[], &[("HOOK_SECRET", "hmac-key")]);
    assert_eq!(out.status.code(), Some(0));
    let rep = f.report();
    let app = image(&rep, "app");
    assert_eq!(app["outcome"], "promoted");
    let d1 = app["digest"].as_str().unwrap().to_string();
    for tag in ["latest", today().as_str(), f.sha.as_str()] {
        assert_eq!(
            f.head(&format!("fleet/app:{tag}")).as_deref(),
            Some(d1.as_str()),
            "tag {tag}"
        );
    }
    assert_eq!(
        app["bases"][0]["reference"],
        format!("{}/base/debian:bookworm", f.r())
    );
    assert_eq!(app["bases"][0]["kind"], "from");
    let audit = std::fs::read_to_string(f.audit("app")).unwrap();
    assert_eq!(audit.lines().count(), 1);
    assert!(audit.contains(&d1));
    // The signed webhook got the documented payload.
    let posts: Vec<_> = std::fs::read_dir(&hooks)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(posts.len(), 1);
    assert!(
        posts[0].to_string_lossy().ends_with("-signed.json"),
        "bad HMAC: {}",
        posts[0].display()
    );
    let body: Value = serde_json::from_str(&std::fs::read_to_string(&posts[0]).unwrap()).unwrap();
    assert_eq!(body["schema"], "safeimage-run/1");
    assert_eq!(body["images"][0]["digest"], d1.as_str());
    assert_eq!(body["summary"]["promoted"], 1);
    // One email, one Slack Block Kit message.
    assert_eq!(std::fs::read_dir(mail.join("new")).unwrap().count(), 1);
    let slack: Vec<_> = std::fs::read_dir(d.join("hooks-slack")).unwrap().collect();
    assert_eq!(slack.len(), 1);
    let sl: Value =
        serde_json::from_str(&std::fs::read_to_string(slack[0].as_ref().unwrap().path()).unwrap())
            .unwrap();
    assert_eq!(sl["blocks"][0]["type"], "header");
    assert!(
        sl["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("*app* promoted"),
        "{sl}"
    );
    // The dead webhook is reported by host only and changed nothing.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "webhook notification to http://127.0.0.1:{dead}/… failed"
        )),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for secret in ["secret-token", "s3cr3t-path"] {
        assert!(
            !err.contains(secret) && !stdout.contains(secret),
            "{secret} leaked"
        );
    }
    let html = stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .unwrap();
    assert!(
        std::fs::read_to_string(html)
            .unwrap()
            .contains("id=\"count-promoted\">1<")
    );
    assert!(f.verify().status.success());
}

#[test]
fn a_patched_base_is_promoted_with_fewer_findings_and_the_base_change() {
    let f = Fleet::new(NGINX);
    f.push_base(Base::Main, "base/debian:bookworm");
    assert_eq!(f.run(&[], &[]).status.code(), Some(0));
    let first = f.report();
    let app1 = image(&first, "app");
    let d1 = app1["digest"].as_str().unwrap().to_string();
    let before = total(app1);
    assert!(
        before >= 40,
        "the main-only base has the fixture CVEs: {before}"
    );
    // who fixes it (issue 29): the base's layers, read from the registry by
    // the digest the build was pinned to, against the image's own layer
    let findings = app1["findings"].as_array().unwrap();
    let parts = |name: &str| -> std::collections::BTreeSet<String> {
        findings
            .iter()
            .filter(|f| f["package"]["name"] == name)
            .map(|f| f["origin"]["part"].as_str().unwrap_or("none").to_string())
            .collect()
    };
    assert_eq!(parts("perl-base"), ["base".to_string()].into());
    assert_eq!(parts("nginx-light"), ["app".to_string()].into());
    assert!(
        findings.iter().all(|f| f["origin"]["layer"].is_u64()),
        "every finding names its layer"
    );
    // the inventory kept with the promotion matches as the image did
    // (trivy#4219): a re-match against the same DB changes nothing
    let out = safeimage_in(
        f.dir(),
        &["rematch", "--config", "fleet.toml", "-f", "json"],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["matched"], 1, "{r}");
    assert_eq!(r["changed"], serde_json::json!([]), "{r}");

    f.push_base(Base::Security, "base/debian:bookworm");
    assert_eq!(f.run(&[], &[]).status.code(), Some(0));
    let rep = f.report();
    let app = image(&rep, "app");
    let d2 = app["digest"].as_str().unwrap().to_string();
    assert_ne!(d2, d1);
    assert!(total(app) < before, "{} vs {before}", total(app));
    assert!(app["baseline"]["fixed"].as_array().unwrap().len() >= 40);
    assert!(
        app["bases"][0]["previous"].is_string(),
        "base digest change recorded"
    );
    assert_eq!(app["previous_digest"], d1.as_str());
    assert_eq!(f.head("fleet/app:latest").as_deref(), Some(d2.as_str()));
    assert_eq!(
        std::fs::read_to_string(f.audit("app"))
            .unwrap()
            .lines()
            .count(),
        2
    );
}

#[test]
fn a_gate_failure_and_a_prohibited_base_move_nothing() {
    let f = Fleet::new(NGINX);
    f.push_base(Base::Security, "base/debian:bookworm");
    assert_eq!(f.run(&[], &[]).status.code(), Some(0));
    let good = image(&f.report(), "app")["digest"]
        .as_str()
        .unwrap()
        .to_string();

    // Back on the unpatched base: more findings than the promoted image.
    f.push_base(Base::Main, "base/debian:bookworm");
    f.push_base(Base::Main, "forbidden/debian:bookworm");
    std::fs::create_dir_all(f.dir().join("bad")).unwrap();
    std::fs::write(
        f.dir().join("bad/Dockerfile"),
        format!(
            "FROM {}/forbidden/debian:bookworm\nUSER 1\nHEALTHCHECK NONE\n",
            f.r()
        ),
    )
    .unwrap();
    f.config(
        &format!(
            "\n[[image]]\nname = \"bad\"\ncontext = \"bad\"\nrepository = \"{}/fleet/bad\"\n",
            f.r()
        ),
        "",
    );
    let out = f.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let rep = f.report();
    let app = image(&rep, "app");
    assert_eq!(app["outcome"], "blocked");
    assert!(
        app["reasons"].to_string().contains("went up from"),
        "{}",
        app["reasons"]
    );
    let bad = image(&rep, "bad");
    assert_eq!(bad["outcome"], "blocked");
    assert!(
        bad["reasons"].to_string().contains("prohibited"),
        "{}",
        bad["reasons"]
    );
    assert!(bad["digest"].is_null(), "a prohibited base is never built");
    for tag in ["latest", today().as_str(), f.sha.as_str()] {
        assert_eq!(
            f.head(&format!("fleet/app:{tag}")).as_deref(),
            Some(good.as_str()),
            "{tag} stayed"
        );
    }
    assert_eq!(f.head("fleet/bad:latest"), None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("blocked") && stdout.contains("went up"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(f.audit("app"))
            .unwrap()
            .lines()
            .count(),
        2
    );
    assert!(f.verify().status.success());
}

#[test]
fn a_registry_down_and_a_failing_build_exit_2_with_clear_errors() {
    let f = Fleet::new(SMALL);
    f.push_base(Base::Main, "base/debian:bookworm");
    std::fs::create_dir_all(f.dir().join("broken")).unwrap();
    std::fs::write(
        f.dir().join("broken/Dockerfile"),
        format!(
            "FROM {}/base/debian:bookworm\nRUN echo about to fail && false\n",
            f.r()
        ),
    )
    .unwrap();
    let dead = free_port();
    std::fs::create_dir_all(f.dir().join("offline")).unwrap();
    std::fs::write(
        f.dir().join("offline/Dockerfile"),
        format!("FROM 127.0.0.1:{dead}/base/debian:bookworm\n"),
    )
    .unwrap();
    f.config(
        &format!(
            "\n[[image]]\nname = \"broken\"\ncontext = \"broken\"\nrepository = \"{r}/fleet/broken\"\n\n[[image]]\nname = \"offline\"\ncontext = \"offline\"\nrepository = \"{r}/fleet/offline\"\n",
            r = f.r()
        ),
        "",
    );
    let out = f.run(&["--only", "broken", "--only", "offline"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let rep = f.report();
    let broken = image(&rep, "broken");
    assert_eq!(broken["failure"]["step"], "build");
    let why = broken["reasons"].to_string();
    assert!(
        why.contains("buildah build of `broken` failed") && why.contains("about to fail"),
        "{why}"
    );
    let offline = image(&rep, "offline");
    assert_eq!(offline["failure"]["step"], "resolve");
    let why = offline["reasons"].to_string();
    assert!(
        why.contains(&format!("127.0.0.1:{dead}")) && why.contains("cannot reach"),
        "{why}"
    );
    assert_eq!(f.head("fleet/broken:latest"), None);
    assert!(f.verify().status.success());
}

#[test]
fn a_run_killed_between_push_and_tag_moves_nothing_and_the_next_run_recovers() {
    let f = Fleet::new(SMALL);
    f.push_base(Base::Main, "base/debian:bookworm");
    let pause = f.dir().join("pause");
    sh(Command::new("mkfifo").arg(&pause));
    let mut child = Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .current_dir(f.dir())
        .args(["run", "--config", "fleet.toml", "--cache-dir", "cache"])
        .env("SAFEIMAGE_TEST_PAUSE_BEFORE_TAG", &pause)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _writer = wait_at_pause(&mut child, &pause, Duration::from_secs(600));
    sh(Command::new("kill").args(["-9", &child.id().to_string()]));
    let _ = child.wait();
    assert_eq!(
        f.head("fleet/app:latest"),
        None,
        "no tag moved before the kill"
    );
    // Verification reads only: intact, and it repairs nothing.
    let v = f.verify();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    assert!(!String::from_utf8_lossy(&v.stderr).contains("interrupted"));
    let out = f.run(&[], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("1 interrupted run(s) marked (1 image(s) had not finished)"),
        "recovery is reported by the next run"
    );
    let d = image(&f.report(), "app")["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(f.head("fleet/app:latest").as_deref(), Some(d.as_str()));
    assert!(f.verify().status.success());
}

#[test]
fn a_dry_run_moves_nothing_and_a_missing_engine_is_named() {
    let f = Fleet::new(SMALL);
    f.push_base(Base::Main, "base/debian:bookworm");
    let out = f.run(&["--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let rep = f.report();
    assert_eq!(image(&rep, "app")["outcome"], "dry-run");
    assert!(
        image(&rep, "app")["bases"][0]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(f.head("fleet/app:latest"), None);
    assert!(!f.audit("app").exists());
    let out = safeimage_in(
        f.dir(),
        &["run", "--config", "fleet.toml"],
        &[("PATH", "/nonexistent")],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("buildah is not installed: apt-get install buildah"),
        "{err}"
    );
    assert_eq!(
        err.matches("buildah is not installed").count(),
        1,
        "said once: {err}"
    );
}

mod recovery;
mod serve;
