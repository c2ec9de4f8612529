//! `safeimage db` and `safeimage scan` end to end on SBOM inputs and the
//! shared OSV fixtures: import and status, every output format (SARIF
//! against the official schema, HTML rendered by headless Chromium, JUnit
//! parsed by Python, GitLab against its schema), the gate's exit codes, ignore files, OpenVEX,
//! baselines, DB age, severity sources, and `db update` from a local server
//! that states MD5s the way Google Cloud Storage does.

#[path = "../support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};
use support::*;

fn ok(out: &Output) -> &Output {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Imports `paths` into `dir/db`.
fn import(dir: &Path, paths: &[&Path]) -> String {
    let db = dir.join("db").to_str().unwrap().to_string();
    let mut args = vec!["db", "import", "--db", &db];
    let ps: Vec<String> = paths
        .iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect();
    args.extend(ps.iter().map(String::as_str));
    ok(&safeimage_in(dir, &args, &[]));
    db
}

fn component(purl: &str, name: &str, version: &str, src: Option<(&str, &str)>) -> Value {
    let mut props =
        vec![json!({"name": "safeimage:location:path", "value": "var/lib/dpkg/status"})];
    if let Some((n, v)) = src {
        props.push(json!({"name": "safeimage:source:name", "value": n}));
        props.push(json!({"name": "safeimage:source:version", "value": v}));
    }
    json!({"type": "library", "name": name, "version": version, "purl": purl, "properties": props})
}

/// A CycloneDX SBOM: Debian 12 OS packages from openssl, nginx and perl at
/// bookworm's main versions, plus PyPI packages.
fn sbom(dir: &Path, name: &str, python: &[(&str, &str)]) -> String {
    let mut comps = vec![
        json!({"type": "operating-system", "name": "debian", "version": "12"}),
        component(
            "pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12",
            "libssl3",
            "3.0.15-1~deb12u1",
            Some(("openssl", "3.0.15-1~deb12u1")),
        ),
        component(
            "pkg:deb/debian/nginx-common@1.22.1-9?arch=all&distro=debian-12",
            "nginx-common",
            "1.22.1-9",
            Some(("nginx", "1.22.1-9")),
        ),
        component(
            "pkg:deb/debian/perl-base@5.36.0-7+deb12u3?arch=amd64&distro=debian-12",
            "perl-base",
            "5.36.0-7+deb12u3",
            Some(("perl", "5.36.0-7+deb12u3")),
        ),
    ];
    for (n, v) in python {
        let mut c = component(&format!("pkg:pypi/{}@{v}", n.to_lowercase()), n, v, None);
        c["properties"] = json!([{"name": "safeimage:location:path", "value": format!("venv/lib/python3.11/site-packages/{n}-{v}.dist-info/METADATA")}]);
        comps.push(c);
    }
    let doc = json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "metadata": {"component": {"type": "container", "name": name, "version": "sha256:1111111111111111111111111111111111111111111111111111111111111111"}},
        "components": comps});
    let p = dir.join(format!("{name}.cdx.json"));
    std::fs::write(&p, doc.to_string()).unwrap();
    p.to_str().unwrap().to_string()
}

fn scan_json(dir: &Path, db: &str, sbom: &str, extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["scan", sbom, "--db", db, "-f", "json"];
    args.extend(extra);
    let out = safeimage_in(dir, &args, &[]);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, v)
}

fn ids(v: &Value) -> BTreeSet<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["suppressed"].is_null())
        .map(|f| {
            format!(
                "{} {}",
                f["id"].as_str().unwrap(),
                f["package"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn import_status_and_bad_input_keep_the_old_db() {
    let dir = tempfile::tempdir().unwrap();
    let db = import(dir.path(), &[&osv_fixtures()]);
    let st = ok(&safeimage_in(
        dir.path(),
        &["db", "status", "--db", &db, "--json"],
        &[],
    ))
    .stdout
    .clone();
    let st: Value = serde_json::from_slice(&st).unwrap();
    let ecos: Vec<(String, u64)> = serde_json::from_value(st["ecosystems"].clone()).unwrap();
    assert_eq!(ecos, vec![("Debian:12".into(), 40), ("PyPI".into(), 223)]);
    assert_eq!(st["schema_version"], 1);
    let before = std::fs::read(&db).unwrap();

    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("A-1.json"),
        b"{\"id\": \"A-1\",\n\"affected\": [\n  {\"package\": 3}\n]}",
    )
    .unwrap();
    std::fs::write(
        bad.join("B-2.json"),
        b"{\"id\": \"B-2\",\n\"affected\": [\n",
    )
    .unwrap();
    let out = safeimage_in(
        dir.path(),
        &["db", "import", "--db", &db, bad.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("A-1.json") && e.contains("invalid type"), "{e}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the old DB is untouched"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".safeimage-db-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let out = safeimage_in(
        dir.path(),
        &["db", "status", "--db", "/nonexistent/db"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no vulnerability DB at /nonexistent/db"));
}

#[test]
fn every_format_and_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = import(d, &[&osv_fixtures()]);
    let sb = sbom(
        d,
        "app",
        &[("urllib3", "1.26.4"), ("Django", "3.2.0"), ("idna", "3.7")],
    );
    let (out, v) = scan_json(d, &db, &sb, &[]);
    ok(&out);
    assert_eq!(v["schema"], "safeimage-scan/1");
    let findings = v["findings"].as_array().unwrap();
    assert!(findings.len() > 20, "{}", findings.len());
    // Debian findings are on binary packages, matched through the source.
    let nginx: Vec<&Value> = findings
        .iter()
        .filter(|f| f["package"]["name"] == "nginx-common")
        .collect();
    assert!(!nginx.is_empty());
    for f in &nginx {
        assert!(f["id"].as_str().unwrap().starts_with("CVE-"));
        assert!(
            f["advisories"][0]
                .as_str()
                .unwrap()
                .starts_with("DEBIAN-CVE-")
        );
        assert_eq!(f["state"], "fixed");
        assert!(
            f["fixed_version"]
                .as_str()
                .unwrap()
                .starts_with("1.22.1-9+deb12u")
        );
        assert_eq!(f["severity_source"], "debian");
        assert!(
            f["matched"]
                .as_str()
                .unwrap()
                .starts_with("source package nginx 1.22.1-9")
        );
    }
    // The Django component (purl `pkg:pypi/django`) matched PyPI advisories.
    assert!(
        findings
            .iter()
            .any(|f| f["package"]["name"] == "django" && f["ecosystem"] == "PyPI")
    );
    let summary = &v["summary"];
    let total = summary["total"].as_u64().unwrap();
    assert_eq!(total as usize, findings.len());

    // SARIF against the official schema, one rule per vulnerability.
    let out = ok(&safeimage_in(
        d,
        &["scan", &sb, "--db", &db, "-f", "sarif"],
        &[],
    ))
    .stdout
    .clone();
    let sarif: Value = serde_json::from_slice(&out).unwrap();
    let errors: Vec<String> = sarif_validator()
        .iter_errors(&sarif)
        .take(5)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let run = &sarif["runs"][0];
    assert_eq!(run["results"].as_array().unwrap().len(), findings.len());
    let rule_ids: BTreeSet<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let finding_ids: BTreeSet<&str> = findings.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(rule_ids, finding_ids);
    assert!(run["results"].as_array().unwrap().iter().all(|r| {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    }));
    assert!(run["tool"]["driver"]["rules"][0]["properties"]["security-severity"].is_string());

    // JUnit: well-formed, one failing case per finding.
    let junit = d.join("r.xml");
    ok(&safeimage_in(
        d,
        &[
            "scan",
            &sb,
            "--db",
            &db,
            "-f",
            "junit",
            "-o",
            junit.to_str().unwrap(),
        ],
        &[],
    ));
    let py = sh(std::process::Command::new("python3").args([
        "-c",
        "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); print(len(r.findall('.//testcase')), len(r.findall('.//failure')))",
        junit.to_str().unwrap(),
    ]));
    assert_eq!(py.trim(), format!("{} {}", findings.len(), findings.len()));

    // HTML: self-contained, and the counts Chromium renders are the JSON's.
    let html = d.join("r.html");
    ok(&safeimage_in(
        d,
        &[
            "scan",
            &sb,
            "--db",
            &db,
            "-f",
            "html",
            "-o",
            html.to_str().unwrap(),
        ],
        &[],
    ));
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(
        !text.contains("<script") && !text.contains("src=\"http") && !text.contains("<link"),
        "no external assets"
    );
    let dom = chromium_dom(&html);
    let count = |id: &str| -> u64 {
        let key = format!("id=\"{id}\">");
        let at = dom
            .find(&key)
            .unwrap_or_else(|| panic!("{id} not in rendered DOM"))
            + key.len();
        dom[at..].split('<').next().unwrap().trim().parse().unwrap()
    };
    for sev in ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"] {
        assert_eq!(
            count(&format!("count-{}", sev.to_lowercase())),
            summary["by_severity"][sev].as_u64().unwrap(),
            "{sev}"
        );
    }
    assert_eq!(count("count-total"), total);
    assert_eq!(count("count-fixable"), summary["fixable"].as_u64().unwrap());
    assert_eq!(
        count("count-not-fixable"),
        summary["not_fixable"].as_u64().unwrap()
    );
    assert_eq!(dom.matches("<details class=\"package\"").count(), {
        let pk: BTreeSet<&str> = findings
            .iter()
            .map(|f| f["package"]["name"].as_str().unwrap())
            .collect();
        pk.len()
    });

    // Gate: HIGH findings exist (Debian urgency high), and all have fixes.
    let high = summary["by_severity"]["HIGH"].as_u64().unwrap();
    assert!(high > 0);
    let out = safeimage_in(d, &["scan", &sb, "--db", &db, "--fail-on", "high"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("gate failed:") && table.contains("at or above HIGH"),
        "{table}"
    );
    assert!(
        table.contains("nginx-common 1.22.1-9 (deb, source nginx)"),
        "{table}"
    );
    let out = safeimage_in(
        d,
        &[
            "scan",
            &sb,
            "--db",
            &db,
            "--fail-on",
            "high",
            "--exit-code",
            "7",
            "-f",
            "json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(7));
    assert!(stderr(&out).contains("gate failed"));
    let crit = summary["by_severity"]["CRITICAL"].as_u64().unwrap();
    let out = safeimage_in(
        d,
        &[
            "scan",
            &sb,
            "--db",
            &db,
            "--fail-on",
            "critical",
            "-f",
            "json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(if crit > 0 { 1 } else { 0 }));
    // --only-fixed: Django 3.2.0 findings without a fix do not count.
    let unfixed_high = findings.iter().any(|f| {
        f["state"] != "fixed" && ["HIGH", "CRITICAL"].contains(&f["severity"].as_str().unwrap())
    });
    let fixed_high = findings.iter().any(|f| {
        f["state"] == "fixed" && ["HIGH", "CRITICAL"].contains(&f["severity"].as_str().unwrap())
    });
    assert!(
        fixed_high && !unfixed_high,
        "the fixtures' HIGHs all have fixes"
    );
    let out = safeimage_in(
        d,
        &[
            "scan",
            &sb,
            "--db",
            &db,
            "--fail-on",
            "high",
            "--only-fixed",
            "-f",
            "json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));

    // --only-fixed: a CRITICAL without a fix fails --fail-on, not with --only-fixed.
    let nofix = d.join("nofix");
    std::fs::create_dir_all(&nofix).unwrap();
    std::fs::write(nofix.join("GHSA-zzzz-zzzz-zzzz.json"), json!({
        "id": "GHSA-zzzz-zzzz-zzzz", "modified": "2026-01-01T00:00:00Z", "database_specific": {"severity": "CRITICAL"},
        "affected": [{"package": {"ecosystem": "PyPI", "name": "idna"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}).to_string()).unwrap();
    let nofix_db = d.join("nofix.db");
    ok(&safeimage_in(
        d,
        &[
            "db",
            "import",
            "--db",
            nofix_db.to_str().unwrap(),
            nofix.to_str().unwrap(),
        ],
        &[],
    ));
    let nd = nofix_db.to_str().unwrap();
    let (out, v) = scan_json(d, nd, &sb, &["--fail-on", "critical"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(v["findings"][0]["state"], "not-fixed");
    let out = safeimage_in(
        d,
        &[
            "scan",
            &sb,
            "--db",
            nd,
            "--fail-on",
            "critical",
            "--only-fixed",
        ],
        &[],
    );
    ok(&out);
    // Errors exit 2, never 1.
    let out = safeimage_in(
        d,
        &["scan", &sb, "--db", "/nonexistent", "--fail-on", "low"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = safeimage_in(d, &["scan", "/nonexistent/x.json", "--db", &db], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn gitlab_report_is_valid_and_stable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = import(d, &[&osv_fixtures()]);
    let sb = sbom(d, "gl-app", &[("urllib3", "1.26.4"), ("Django", "3.2.0")]);
    let (_, v) = scan_json(d, &db, &sb, &[]);
    let live: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["suppressed"].is_null())
        .collect();
    assert!(live.len() > 20, "{}", live.len());
    let gitlab = |extra: &[&str]| -> Value {
        let mut args = vec!["scan", &sb, "--db", &db, "-f", "gitlab"];
        args.extend(extra);
        serde_json::from_slice(&ok(&safeimage_in(d, &args, &[])).stdout).unwrap()
    };
    let report = gitlab(&[]);
    let validator = gitlab_validator();
    let errors = schema_errors(&validator, &report);
    assert!(errors.is_empty(), "{errors:#?}");
    // the validator is real: a report without its scan section is refused
    let mut broken = report.clone();
    broken.as_object_mut().unwrap().remove("scan");
    assert!(!schema_errors(&validator, &broken).is_empty());

    assert_eq!(report["version"], "15.2.4");
    assert_eq!(report["scan"]["type"], "container_scanning");
    let vulns = report["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), live.len());
    // the same finding, the same id, run after run; no two alike
    let ids: BTreeSet<&str> = vulns.iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), vulns.len());
    let again = gitlab(&[]);
    let ids_again: BTreeSet<&str> = again["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ids_again);
    // each finding is there with its severity, package, image and OS
    for f in &live {
        let x = vulns
            .iter()
            .find(|x| {
                x["identifiers"][0]["value"] == f["id"]
                    && x["location"]["dependency"]["package"]["name"] == f["package"]["name"]
            })
            .unwrap_or_else(|| panic!("{} {} missing", f["id"], f["package"]["name"]));
        let sev = f["severity"].as_str().unwrap();
        let word = x["severity"].as_str().unwrap();
        assert_eq!(word.to_uppercase(), sev, "{}", f["id"]);
        assert_eq!(x["location"]["image"], v["target"]["name"]);
        assert_eq!(
            x["location"]["dependency"]["version"],
            f["package"]["version"]
        );
        if let Some(fixed) = f["fixed_version"].as_str() {
            assert!(x["solution"].as_str().unwrap().contains(fixed));
        }
    }
    let nginx = vulns
        .iter()
        .find(|x| x["location"]["dependency"]["package"]["name"] == "nginx-common")
        .unwrap();
    assert_eq!(nginx["identifiers"][0]["type"], "cve");
    assert!(
        nginx["identifiers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["value"].as_str().unwrap().starts_with("DEBIAN-CVE-"))
    );

    // an ignored finding is left out (GitLab keeps its own dismissals)
    let first = live[0]["id"].as_str().unwrap().to_string();
    std::fs::write(d.join(".trivyignore"), format!("{first}\n")).unwrap();
    let fewer = gitlab(&["--ignore-file", d.join(".trivyignore").to_str().unwrap()]);
    assert!(schema_errors(&validator, &fewer).is_empty());
    let left = fewer["vulnerabilities"].as_array().unwrap();
    assert!(left.len() < vulns.len());
    assert!(
        left.iter()
            .all(|x| x["identifiers"][0]["value"] != first.as_str())
    );
}

mod diff;
mod eol;
mod exploited;
mod peers;
mod suppress;
mod tracked;

pub(crate) fn feeds() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/feeds")
}

/// The extract, checked against the SHA-256 `testdata/origins.tsv` pins
/// for it.
pub(crate) fn pinned(name: &str) -> std::path::PathBuf {
    use sha2::Digest as _;
    let origins = std::fs::read_to_string(feeds().join("../origins.tsv")).unwrap();
    let row = format!("feeds/{name}\t");
    let sha = origins
        .lines()
        .find_map(|l| l.strip_prefix(&row))
        .and_then(|rest| rest.split('\t').next())
        .unwrap_or_else(|| panic!("testdata/origins.tsv pins no feeds/{name}"));
    let p = feeds().join(name);
    let got = hex::encode(sha2::Sha256::digest(std::fs::read(&p).unwrap()));
    assert_eq!(got, sha, "{} is not the pinned extract", p.display());
    p
}
