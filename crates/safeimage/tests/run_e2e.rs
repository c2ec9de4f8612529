//! `safeimage run` end to end with real parts: buildah, a CNCF registry on
//! loopback, bases made by mmdebstrap (bookworm main only, then with
//! bookworm-security), the Debian fixture advisories, a local webhook
//! receiver that checks the HMAC signature, and Debian's aiosmtpd as the
//! SMTP server. The scenarios run in order on one registry and one store:
//! promote, rebuild on a patched base, a gate failure and a prohibited base
//! (nothing moves), registry down, engine failure, kill -9 between push and
//! tag, and audit verification of edits, deletions and reordering.

#![allow(clippy::print_stderr)]

mod support;

use std::io::BufRead;
use std::path::Path;
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

fn run(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["run", "--config", "fleet.toml", "--cache-dir", "cache"];
    args.extend(extra);
    let out = safeimage_in(dir, &args, env);
    eprintln!(
        "--- safeimage run {extra:?}: {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn head(reg: &str, repo_tag: &str) -> Option<String> {
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw"])
        .arg(format!("docker://{reg}/{repo_tag}"))
        .output()
        .unwrap();
    out.status.success().then(|| {
        use sha2::Digest as _;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&out.stdout)))
    })
}

fn push_base(image: &str, reg: &str, to: &str) {
    sh(Command::new("buildah")
        .args(["push", "-q", "--tls-verify=false", image])
        .arg(format!("docker://{reg}/{to}")));
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("last.json")).unwrap()).unwrap()
}

fn image<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap()
}

fn total(i: &Value) -> u64 {
    i["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum()
}

fn config(reg: &str, hook: u16, smtp: u16, dead: u16, extra: &str) -> String {
    format!(
        r#"
[[image]]
name = "app"
context = "app"
repository = "{reg}/fleet/app"
tags = ["latest", "{{date}}", "{{git_sha}}"]
build_args = {{ BASE = "{reg}/base/debian:bookworm" }}
{extra}
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

[[notify.webhook]]
url = "http://127.0.0.1:{hook}/hook/s3cr3t-path"
secret_env = "HOOK_SECRET"

[notify.slack]
url = "http://127.0.0.1:{hook}/slack"

[[notify.webhook]]
url = "http://127.0.0.1:{dead}/dead-hook/secret-token"
on = ["promoted"]

[[notify.email]]
host = "127.0.0.1"
port = {smtp}
security = "none"
from = "safeimage@example.test"
to = ["platform@example.test"]

[lint]
failure_threshold = "error"

[policy.base_images]
permitted = ["{reg}/base/*"]
prohibited = ["{reg}/forbidden/*"]
default_tier = "restricted"
"#
    )
}

#[test]
fn daily_run_end_to_end() {
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let reg = registry();
    let r = reg.addr.clone();
    // Fleet: one app on the base, in a git repository for {git_sha}.
    std::fs::create_dir_all(d.join("app")).unwrap();
    std::fs::write(
        d.join("app/Dockerfile"),
        "ARG BASE\nFROM ${BASE}\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends nginx-light \\\n && rm -rf /var/lib/apt/lists/*\nUSER 10001\nHEALTHCHECK NONE\nCMD [\"nginx\", \"-g\", \"daemon off;\"]\n",
    )
    .unwrap();
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
    assert!(out.status.success());

    // Webhook receiver and SMTP server.
    let hooks = d.join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::create_dir_all(d.join("hooks-slack")).unwrap();
    let dead_hook = free_port();
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
    let smtp_port = free_port();
    let _smtp = Bg(Command::new("/usr/bin/python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{smtp_port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(&mail)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3-aiosmtpd"));
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", smtp_port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "aiosmtpd did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let env = [("HOOK_SECRET", "hmac-key")];
    let write_config = |extra: &str| {
        std::fs::write(
            d.join("fleet.toml"),
            config(&r, hook_port, smtp_port, dead_hook, extra),
        )
        .unwrap()
    };
    let mails = || {
        std::fs::read_dir(mail.join("new"))
            .map(|x| x.count())
            .unwrap_or(0)
    };
    let posts = || std::fs::read_dir(&hooks).unwrap().count();

    // 1. Main-only base: promoted; latest, date and git sha tags; one audit
    //    record; one webhook digest (signed) and one email.
    push_base(base_image(Base::Main), &r, "base/debian:bookworm");
    write_config("");
    let out = run(d, &["--json", "last.json"], &env);
    assert_eq!(out.status.code(), Some(0));
    let rep = report(d);
    let app = image(&rep, "app");
    assert_eq!(app["outcome"], "promoted");
    let d1 = app["digest"].as_str().unwrap().to_string();
    let date = chrono_date();
    for tag in ["latest", date.as_str(), sha.as_str()] {
        assert_eq!(
            head(&r, &format!("fleet/app:{tag}")).as_deref(),
            Some(d1.as_str()),
            "tag {tag}"
        );
    }
    let high1 = total(app);
    assert!(
        high1 >= 40,
        "the main-only base has the fixture CVEs: {high1}"
    );
    assert_eq!(
        app["bases"][0]["reference"],
        format!("{r}/base/debian:bookworm")
    );
    let audit = d.join("state/audit/app.jsonl");
    assert_eq!(std::fs::read_to_string(&audit).unwrap().lines().count(), 1);
    assert_eq!(posts(), 1);
    let post = std::fs::read_dir(&hooks)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(
        post.to_string_lossy().ends_with("-signed.json"),
        "bad HMAC: {}",
        post.display()
    );
    let body: Value = serde_json::from_str(&std::fs::read_to_string(&post).unwrap()).unwrap();
    assert_eq!(body["schema"], "safeimage-run/1");
    assert_eq!(body["images"][0]["digest"], d1.as_str());
    assert_eq!(mails(), 1);
    // Slack got one Block Kit message; the dead webhook is reported (host
    // only, no path) and changed nothing.
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
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "webhook notification to http://127.0.0.1:{dead_hook}/… failed"
        )),
        "{err}"
    );
    assert!(
        !err.contains("secret-token")
            && !String::from_utf8_lossy(&out.stdout).contains("secret-token")
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("report: ") && stdout.contains(".html"));
    let html = stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .unwrap();
    assert!(
        std::fs::read_to_string(html)
            .unwrap()
            .contains("id=\"count-promoted\">1<")
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("s3cr3t-path"));

    // 2. The base rebuilt with bookworm-security: new digest, fewer
    //    vulnerabilities, the baseline comparison, tags moved.
    push_base(base_image(Base::Security), &r, "base/debian:bookworm");
    let out = run(d, &["--json", "last.json"], &env);
    assert_eq!(out.status.code(), Some(0));
    let rep = report(d);
    let app = image(&rep, "app");
    let d2 = app["digest"].as_str().unwrap().to_string();
    assert_ne!(d2, d1);
    assert!(total(app) < high1, "{} vs {high1}", total(app));
    assert!(app["baseline"]["fixed"].as_array().unwrap().len() as u64 >= 40);
    assert!(
        app["bases"][0]["previous"].is_string(),
        "base digest change recorded"
    );
    assert_eq!(head(&r, "fleet/app:latest").as_deref(), Some(d2.as_str()));
    assert_eq!(posts(), 2);
    assert_eq!(mails(), 2);

    // 3. Gate failure (back on the unpatched base: more findings than the
    //    promoted image) and a prohibited base: nothing moves, exit 1.
    push_base(base_image(Base::Main), &r, "base/debian:bookworm");
    std::fs::create_dir_all(d.join("bad")).unwrap();
    std::fs::write(
        d.join("bad/Dockerfile"),
        format!("FROM {r}/forbidden/debian:bookworm\nUSER 1\nHEALTHCHECK NONE\n"),
    )
    .unwrap();
    write_config(&format!(
        "\n[[image]]\nname = \"bad\"\ncontext = \"bad\"\nrepository = \"{r}/fleet/bad\"\n"
    ));
    push_base(base_image(Base::Main), &r, "forbidden/debian:bookworm");
    let out = run(d, &["--json", "last.json"], &env);
    assert_eq!(out.status.code(), Some(1));
    let rep = report(d);
    let app = image(&rep, "app");
    assert_eq!(app["outcome"], "blocked");
    let why = app["reasons"].to_string();
    assert!(why.contains("went up from"), "{why}");
    let bad = image(&rep, "bad");
    assert_eq!(bad["outcome"], "blocked");
    assert!(
        bad["reasons"].to_string().contains("prohibited"),
        "{}",
        bad["reasons"]
    );
    assert!(bad["digest"].is_null(), "a prohibited base is never built");
    for tag in ["latest", date.as_str(), sha.as_str()] {
        assert_eq!(
            head(&r, &format!("fleet/app:{tag}")).as_deref(),
            Some(d2.as_str()),
            "{tag} stayed"
        );
    }
    assert_eq!(head(&r, "fleet/bad:latest"), None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("blocked") && stdout.contains("went up"),
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(&audit).unwrap().lines().count(), 3);

    // 4. Registry down and engine failure: clear errors, exit 2, nothing moves.
    push_base(base_image(Base::Security), &r, "base/debian:bookworm");
    std::fs::create_dir_all(d.join("broken")).unwrap();
    std::fs::write(
        d.join("broken/Dockerfile"),
        format!("FROM {r}/base/debian:bookworm\nRUN echo about to fail && false\n"),
    )
    .unwrap();
    let dead = free_port();
    std::fs::create_dir_all(d.join("offline")).unwrap();
    std::fs::write(
        d.join("offline/Dockerfile"),
        format!("FROM 127.0.0.1:{dead}/base/debian:bookworm\n"),
    )
    .unwrap();
    write_config(&format!(
        "\n[[image]]\nname = \"broken\"\ncontext = \"broken\"\nrepository = \"{r}/fleet/broken\"\n\n[[image]]\nname = \"offline\"\ncontext = \"offline\"\nrepository = \"{r}/fleet/offline\"\n"
    ));
    let out = run(
        d,
        &[
            "--json",
            "last.json",
            "--only",
            "broken",
            "--only",
            "offline",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(2));
    let rep = report(d);
    let broken = image(&rep, "broken")["reasons"].to_string();
    assert!(
        broken.contains("buildah build of `broken` failed") && broken.contains("about to fail"),
        "{broken}"
    );
    let offline = image(&rep, "offline")["reasons"].to_string();
    assert!(
        offline.contains(&format!("127.0.0.1:{dead}")) && offline.contains("cannot reach"),
        "{offline}"
    );
    assert_eq!(head(&r, "fleet/broken:latest"), None);
    assert!(ok_verify(d));

    // 5. kill -9 between push and tag: the pushed digest exists, no tag
    //    moved; the next run recovers and completes.
    write_config("");
    let pause = d.join("pause");
    let mut child = Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .current_dir(d)
        .args(["run", "--config", "fleet.toml", "--cache-dir", "cache"])
        .env("HOOK_SECRET", "hmac-key")
        .env("SAFEIMAGE_TEST_PAUSE_BEFORE_TAG", &pause)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !pause.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "the run never reached the tag step"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
    let _ = std::fs::remove_file(&pause);
    assert_eq!(
        head(&r, "fleet/app:latest").as_deref(),
        Some(d2.as_str()),
        "no tag moved before the kill"
    );
    let out = safeimage_in(d, &["audit", "verify", "--config", "fleet.toml"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 interrupted run(s) marked"),
        "recovery is reported"
    );
    let out = run(d, &["--json", "last.json"], &env);
    assert_eq!(out.status.code(), Some(0));
    let d5 = image(&report(d), "app")["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(head(&r, "fleet/app:latest").as_deref(), Some(d5.as_str()));
    assert!(ok_verify(d));

    // --dry-run resolves and checks only; a missing engine is a clear error.
    let before = head(&r, "fleet/app:latest");
    let out = run(d, &["--dry-run", "--json", "last.json"], &env);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(image(&report(d), "app")["outcome"], "dry-run");
    assert_eq!(head(&r, "fleet/app:latest"), before);
    let out = safeimage_in(
        d,
        &["run", "--config", "fleet.toml"],
        &[("PATH", "/nonexistent")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("buildah is not installed: apt-get install buildah")
    );

    // 6. audit verify catches an edit, a deletion and a reordering.
    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 4);
    let edited = text.replacen("\"outcome\":\"blocked\"", "\"outcome\":\"promoted\"", 1);
    assert_ne!(edited, text);
    let mut deleted = lines.clone();
    deleted.remove(1);
    let mut reordered = lines.clone();
    reordered.swap(1, 2);
    let mut truncated = lines.clone();
    truncated.pop();
    for (what, content, needle) in [
        ("edit", edited, "was changed"),
        ("deletion", deleted.join("\n") + "\n", "deleted"),
        ("reordering", reordered.join("\n") + "\n", "record"),
        (
            "last record deleted",
            truncated.join("\n") + "\n",
            "records were deleted",
        ),
    ] {
        std::fs::write(&audit, &content).unwrap();
        let out = safeimage_in(d, &["audit", "verify", "--config", "fleet.toml"], &[]);
        let s = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{what} not detected:\n{s}");
        assert!(
            s.contains("BROKEN  app") && s.contains(needle),
            "{what}:\n{s}"
        );
    }
    std::fs::write(&audit, &text).unwrap();
    assert!(ok_verify(d));
}

fn ok_verify(d: &Path) -> bool {
    let out = safeimage_in(d, &["audit", "verify", "--config", "fleet.toml"], &[]);
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    out.status.success()
}

fn chrono_date() -> String {
    sh(Command::new("date").args(["-u", "+%Y%m%d"]))
        .trim()
        .to_string()
}
