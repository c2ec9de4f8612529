//! `safeimage serve` after a real run of the fleet (nginx on the Debian
//! base, the fixture advisories): headless Chromium reads the overview
//! (every image with the counts the run recorded, the trend drawn) and the
//! image page; a finding is ignored through the page's form with the token
//! (it shows as ignored after the reload, the rule is in the fleet's ignore
//! file, the audit log has the event) and refused without it; a hostile
//! reason stays text. `/metrics` passes `promtool check metrics`; the API's
//! OpenAPI description passes openapi-spec-validator and each endpoint's
//! answers match it; a non-loopback address without a token is refused.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};

use serde_json::json;

use super::*;

const TOKEN: &str = "serve-test-token-4f1c";

struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(f: &Fleet, env: &[(&str, &str)]) -> Served {
    let mut c = Command::new(env!("CARGO_BIN_EXE_safeimage"));
    c.current_dir(f.dir())
        .args(["serve", "--config", "fleet.toml", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut served = Served {
        child: c.spawn().unwrap(),
        url: String::new(),
    };
    let mut err = std::io::BufReader::new(served.child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "serve ended early");
        if let Some(u) = line.trim().strip_prefix("serving the dashboard on ") {
            served.url = u.trim_end_matches('/').to_string();
            std::thread::spawn(move || for _ in err.lines() {});
            return served;
        }
    }
}

fn chromium() -> &'static str {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new("which")
                .arg(b)
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("chromium (apt-get install chromium)")
}

/// Runs CDP steps on `url`; the lines it printed (JSON values).
fn browse(url: &str, steps: serde_json::Value) -> Vec<Value> {
    let out = Command::new("python3")
        .arg(repo().join("crates/safeimage/tests/support/cdp.py"))
        .args([chromium(), url, &steps.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cdp: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn get(url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_string())
}

fn post(url: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut c = Command::new("curl");
    c.args([
        "-s",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        body,
    ]);
    if let Some(t) = token {
        c.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = c.arg(url).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_string())
}

/// The fleet, run once, with an ignore file the service may write.
fn ran() -> Fleet {
    let f = Fleet::new(NGINX);
    f.push_base(Base::Main, "base/debian:bookworm");
    let cfg = std::fs::read_to_string(f.dir().join("fleet.toml")).unwrap();
    std::fs::write(
        f.dir().join("fleet.toml"),
        cfg.replacen("[scan]\n", "[scan]\nignore_files = [\"ignore.yaml\"]\n", 1),
    )
    .unwrap();
    std::fs::write(
        f.dir().join("ignore.yaml"),
        "# reviewed rules\nignore: []\n",
    )
    .unwrap();
    assert_eq!(f.run(&[], &[]).status.code(), Some(0));
    f
}

#[test]
fn the_dashboard_shows_the_run_and_a_finding_is_ignored_through_its_form_only_with_the_token() {
    let f = ran();
    let rep = f.report();
    let app = image(&rep, "app");
    let s = serve(&f, &[("SAFEIMAGE_SERVE_TOKEN", TOKEN)]);

    // the overview: the image with the counts the run recorded, the trend
    let dom = browse(&format!("{}/", s.url), json!([{"dom": true}]));
    let dom = dom[0].as_str().unwrap();
    assert!(dom.contains("data-image=\"app\""), "{dom}");
    for sev in ["CRITICAL", "HIGH", "MEDIUM", "LOW"] {
        let n = app["counts"][sev].as_u64().unwrap_or(0);
        assert!(
            dom.contains(&format!("<td class=\"count {sev}\">{n}</td>")),
            "{sev} {n}: {dom}"
        );
    }
    let series = dom
        .split("class=\"series\"")
        .nth(1)
        .and_then(|t| t.split("points=\"").nth(1))
        .and_then(|t| t.split('"').next())
        .expect("the trend's series");
    assert_eq!(series.split(' ').count(), 90, "a point per day");
    assert!(dom.contains(app["digest"].as_str().unwrap()));

    // the image's downloads: its SBOM from the kept inventory, its findings as SARIF
    let (code, sbom) = get(&format!("{}/images/app/sbom.cdx.json", s.url));
    assert_eq!(code, 200);
    let sbom: Value = serde_json::from_str(&sbom).unwrap();
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    assert!(
        sbom["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "nginx-light"),
        "the image's packages"
    );
    let (code, sarif) = get(&format!("{}/images/app/findings.sarif", s.url));
    assert_eq!(code, 200);
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len() as u64,
        app["findings"].as_array().unwrap().len() as u64,
        "every finding of the promotion"
    );
    let errors: Vec<String> = sarif_validator()
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    // the report for consumers as a PDF, printed on the service's machine
    let pdf = f.dir().join("app.pdf");
    sh(Command::new("curl")
        .args(["-sf", "-o"])
        .arg(&pdf)
        .arg(format!("{}/images/app/report.pdf", s.url)));
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"));
    let text = sh(Command::new("pdftotext").arg(&pdf).arg("-"));
    // a long digest wraps in its table cell: compared without line breaks
    let joined: String = text.split_whitespace().collect();
    assert!(
        joined.contains(app["digest"].as_str().unwrap()),
        "the PDF names the digest: {text}"
    );

    // a finding of the promoted image, ignored through the form
    let (_, api) = get(&format!("{}/api/v1/images/app", s.url));
    let api: Value = serde_json::from_str(&api).unwrap();
    let target = api["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["state"] == "open")
        .expect("an open finding")
        .clone();
    let advisory = target["advisory"].as_str().unwrap();
    let hostile = "not reachable <img src=x onerror=alert(1)>";
    let page = format!("{}/images/app", s.url);
    // without the token: refused, nothing written
    let out = browse(
        &page,
        json!([
            {"fill": {"#ignore [name=advisory]": advisory, "#ignore [name=reason]": hostile}},
            {"submit": "#ignore"}, {"status": true}, {"dom": true}
        ]),
    );
    assert_eq!(out[0], 401);
    assert!(
        out[1]
            .as_str()
            .unwrap()
            .contains("a valid token is required")
    );
    assert_eq!(
        std::fs::read_to_string(f.dir().join("ignore.yaml")).unwrap(),
        "# reviewed rules\nignore: []\n"
    );
    // with it: written, judged again, shown as ignored after the reload
    let out = browse(
        &page,
        json!([
            {"fill": {"#ignore [name=advisory]": advisory, "#ignore [name=reason]": hostile,
                      "#ignore [name=expires]": "2099-01-31", "#ignore [name=token]": TOKEN}},
            {"submit": "#ignore"}, {"status": true}, {"dom": true}
        ]),
    );
    assert_eq!(out[0], 200, "after the redirect");
    let dom = out[1].as_str().unwrap();
    let row = dom
        .split("<tr class=\"finding\"")
        .find(|r| r.contains(&format!("data-advisory=\"{advisory}\"")))
        .expect("the finding's row");
    assert!(row.contains("data-state=\"ignored\""), "{row}");
    assert!(
        row.contains("not reachable &lt;img src=x onerror=alert(1)&gt; (until 2099-01-31)"),
        "the reason is text: {row}"
    );
    assert!(!dom.contains("<img src=x"), "no element from the reason");
    let rules = std::fs::read_to_string(f.dir().join("ignore.yaml")).unwrap();
    assert!(rules.starts_with("# reviewed rules\n"), "{rules}");
    assert!(rules.contains(advisory), "{rules}");
    let audit = std::fs::read_to_string(f.audit("app")).unwrap();
    let last: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "ignored");
    assert_eq!(last["advisory"], advisory);
    assert_eq!(
        f.verify().status.code(),
        Some(0),
        "the chain still verifies"
    );
}

#[test]
fn metrics_pass_promtool_and_the_api_answers_as_its_openapi_description_says() {
    let f = ran();
    let s = serve(&f, &[("SAFEIMAGE_SERVE_TOKEN", TOKEN)]);

    let (code, metrics) = get(&format!("{}/metrics", s.url));
    assert_eq!(code, 200);
    let mut p = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (apt-get install prometheus)");
    use std::io::Write as _;
    p.stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{metrics}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        metrics.contains("safeimage_images{decision=\"promoted\"} 1"),
        "{metrics}"
    );

    // the description passes the reference validator
    let (_, doc) = get(&format!("{}/api/openapi.json", s.url));
    let spec = f.dir().join("openapi.json");
    std::fs::write(&spec, &doc).unwrap();
    let out = Command::new("openapi-spec-validator")
        .arg(&spec)
        .output()
        .expect("openapi-spec-validator (pip install openapi-spec-validator)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // every documented endpoint, each documented answer checked against it
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let check = |path: &str, method: &str, status: u16, body: &str| {
        let schema = &doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
            ["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} {status} is not documented"
        );
        let mut full = schema.clone();
        full["components"] = doc["components"].clone();
        let v = jsonschema::validator_for(&full).unwrap();
        let value: Value = serde_json::from_str(body).unwrap();
        let errors: Vec<String> = v.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status}: {errors:?}\n{body}"
        );
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut ask =
        |method: &str, path: &str, url: String, token: Option<&str>, body: &str, want: u16| {
            let (code, text) = if method == "get" {
                get(&url)
            } else {
                post(&url, token, body)
            };
            assert_eq!(code, want, "{method} {url}: {text}");
            check(path, method, code, &text);
            seen.insert(format!("{method} {path}"));
            text
        };
    let u = &s.url;
    ask(
        "get",
        "/api/v1/overview",
        format!("{u}/api/v1/overview"),
        None,
        "",
        200,
    );
    ask(
        "get",
        "/api/v1/images/{name}",
        format!("{u}/api/v1/images/app"),
        None,
        "",
        200,
    );
    ask(
        "get",
        "/api/v1/images/{name}",
        format!("{u}/api/v1/images/nope"),
        None,
        "",
        404,
    );
    let runs = ask(
        "get",
        "/api/v1/runs",
        format!("{u}/api/v1/runs"),
        None,
        "",
        200,
    );
    let id = serde_json::from_str::<Value>(&runs).unwrap()["runs"][0]["id"].clone();
    ask(
        "get",
        "/api/v1/runs/{id}",
        format!("{u}/api/v1/runs/{id}"),
        None,
        "",
        200,
    );
    ask(
        "get",
        "/api/v1/runs/{id}",
        format!("{u}/api/v1/runs/x1"),
        None,
        "",
        400,
    );
    ask(
        "get",
        "/api/v1/runs/{id}",
        format!("{u}/api/v1/runs/999"),
        None,
        "",
        404,
    );
    ask(
        "get",
        "/api/v1/audit",
        format!("{u}/api/v1/audit"),
        None,
        "",
        200,
    );
    ask("get", "/healthz", format!("{u}/healthz"), None, "", 200);
    let ignores = format!("{u}/api/v1/images/app/ignores");
    ask(
        "post",
        "/api/v1/images/{name}/ignores",
        ignores.clone(),
        None,
        "{}",
        401,
    );
    ask(
        "post",
        "/api/v1/images/{name}/ignores",
        ignores.clone(),
        Some("wrong"),
        "{}",
        401,
    );
    let bad = ask(
        "post",
        "/api/v1/images/{name}/ignores",
        ignores.clone(),
        Some(TOKEN),
        r#"{"advisory": "CVE-2026-1", "reason": "r", "expires": "soon"}"#,
        400,
    );
    assert!(bad.contains("\"field\":\"expires\""), "{bad}");
    let missing = ask(
        "post",
        "/api/v1/images/{name}/ignores",
        ignores.clone(),
        Some(TOKEN),
        r#"{"advisory": "CVE-2026-1"}"#,
        400,
    );
    assert!(missing.contains("reason"), "{missing}");
    ask(
        "post",
        "/api/v1/images/{name}/ignores",
        format!("{u}/api/v1/images/nope/ignores"),
        Some(TOKEN),
        r#"{"advisory": "CVE-2026-1", "reason": "r"}"#,
        404,
    );
    ask(
        "post",
        "/api/v1/images/{name}/ignores",
        ignores,
        Some(TOKEN),
        r#"{"advisory": "CVE-2026-1", "package": "zlib", "reason": "test"}"#,
        201,
    );
    ask(
        "post",
        "/api/v1/runs",
        format!("{u}/api/v1/runs"),
        None,
        "{}",
        401,
    );
    ask(
        "post",
        "/api/v1/runs",
        format!("{u}/api/v1/runs"),
        Some(TOKEN),
        r#"{"image": "nope"}"#,
        404,
    );
    ask(
        "post",
        "/api/v1/runs",
        format!("{u}/api/v1/runs"),
        Some(TOKEN),
        r#"{"image": 7}"#,
        400,
    );
    let documented: std::collections::BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{m} {p}"))
        })
        .collect();
    seen.insert("get /metrics".into());
    let missing: Vec<_> = documented.difference(&seen).collect();
    assert!(missing.is_empty(), "not exercised: {missing:?}");
}

#[test]
fn serving_beyond_loopback_without_a_token_is_refused() {
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(work.path().join("app")).unwrap();
    std::fs::write(work.path().join("app/Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(
        work.path().join("fleet.toml"),
        "[[image]]\nname = \"app\"\ncontext = \"app\"\nrepository = \"r.example/app\"\n\n[serve]\nlisten = \"0.0.0.0:0\"\n",
    )
    .unwrap();
    let out = safeimage_in(work.path(), &["serve", "--config", "fleet.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("0.0.0.0:0 is not a loopback address and no token is set"),
        "{err}"
    );
}

#[test]
fn two_replicas_on_one_postgresql_run_each_tick_once_never_two_at_once_and_stop_on_sigterm() {
    let pg = postgres();
    let f = Fleet::new(SMALL);
    f.push_base(Base::Main, "base/debian:bookworm");
    let cfg = std::fs::read_to_string(f.dir().join("fleet.toml")).unwrap();
    let cfg = cfg.replacen(
        "[store]\npath = \"state/state.db\"\naudit_dir = \"state/audit\"\n",
        &format!(
            "[store]\nurl = \"{}\"\naudit_dir = \"state/audit\"\n",
            pg.url
        ),
        1,
    );
    assert!(cfg.contains("url = \"postgres"), "{cfg}");
    std::fs::write(
        f.dir().join("fleet.toml"),
        format!("{cfg}\n[serve]\nschedule = \"*/4 * * * * *\"\n"),
    )
    .unwrap();
    let a = serve(&f, &[]);
    let b = serve(&f, &[]);
    std::thread::sleep(std::time::Duration::from_secs(40));
    // SIGTERM to both: no new job, a running one stops as `run` does
    for s in [&a, &b] {
        sh(Command::new("kill").args(["-TERM", &s.child.id().to_string()]));
    }
    for mut s in [a, b] {
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(st) = s.child.try_wait().unwrap() {
                break st;
            }
            assert!(
                start.elapsed().as_secs() < 120,
                "serve did not stop on SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        assert!(status.success(), "{status}");
    }
    use store::StateStore as _;
    let st = store::Postgres::connect(&pg.url).unwrap();
    let mut jobs: Vec<store::JobRecord> = st
        .jobs(1000)
        .unwrap()
        .into_iter()
        .filter(|j| j.job == "run")
        .collect();
    jobs.sort_by_key(|j| j.started);
    assert!(jobs.len() >= 2, "{jobs:?}");
    for w in jobs.windows(2) {
        let end = w[0]
            .finished
            .expect("each tick ended (SIGTERM waited for it)");
        assert!(
            end <= w[1].started,
            "two runs at once: {:?} and {:?}",
            w[0],
            w[1]
        );
        assert!(w[0].tick < w[1].tick);
    }
    let runs = st.runs(1000).unwrap();
    assert_eq!(
        runs.len(),
        jobs.len(),
        "one run per claimed tick: {runs:?}\n{jobs:?}"
    );
    assert!(
        runs.iter().all(|r| r.status != "running"),
        "no run left running: {runs:?}"
    );
    assert_eq!(f.verify().status.code(), Some(0), "the audit logs verify");
}
