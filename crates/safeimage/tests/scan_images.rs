//! Issue 3's acceptance on real images built here with buildah:
//! - nginx-light on a bookworm **main-only** base reports exactly the 40
//!   CVEs of the Debian-12 OSV fixtures, on every installed binary
//!   package built from an affected source, each with its fixed version;
//!   the same image on a base with bookworm-security reports none. The
//!   expectation is computed from `dpkg-query` inside the image and
//!   `dpkg --compare-versions` on the host, not from our own code.
//! - `diff` of that stale image against its rebuild on bookworm-security
//!   lists exactly the packages dpkg says changed and exactly the fixture
//!   CVEs the stale one had, all fixed.
//! - a venv with requests 2.25.0, urllib3 1.26.4, jinja2 2.11.2, pyyaml 5.3.1
//!   and django 3.2.0 reports exactly the PyPA advisories whose ranges
//!   contain the installed versions, as Python's `packaging` decides.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use support::*;

fn to_oci(image: &str, dir: &Path) -> String {
    let p = dir.join(image.replace(['/', ':'], "_"));
    sh(Command::new("buildah")
        .args(["push", "-q", image])
        .arg(format!("oci:{}:v1", p.display())));
    format!("oci:{}:v1", p.display())
}

fn scan(dir: &Path, db: &Path, source: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .current_dir(dir)
        .args(["scan", source, "--db"])
        .arg(db)
        .args(["-f", "json", "--cache-dir"])
        .arg(dir.join("cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scan {source}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `scan -f gitlab` of the same source: valid against GitLab's
/// container-scanning schema, one entry per live finding of `json`.
fn gitlab_matches(dir: &Path, db: &Path, source: &str, json: &Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .current_dir(dir)
        .args(["scan", source, "--db"])
        .arg(db)
        .args(["-f", "gitlab", "--cache-dir"])
        .arg(dir.join("cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = schema_errors(&gitlab_validator(), &report);
    assert!(errors.is_empty(), "{source}: {errors:#?}");
    let live = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["suppressed"].is_null())
        .count();
    assert_eq!(report["vulnerabilities"].as_array().unwrap().len(), live);
}

fn import(dir: &Path, src: &Path) -> std::path::PathBuf {
    let db = dir.join("advisories.db");
    let out = safeimage_in(
        dir,
        &[
            "db",
            "import",
            "--db",
            db.to_str().unwrap(),
            src.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db
}

fn dpkg_lt(a: &str, b: &str) -> bool {
    Command::new("dpkg")
        .args(["--compare-versions", a, "lt", b])
        .status()
        .unwrap()
        .success()
}

/// (CVE, binary package, fixed version) the fixtures predict for an image.
fn debian_expected(image: &str) -> (BTreeSet<(String, String, String)>, BTreeSet<String>) {
    let installed = run_in(
        image,
        &[
            "dpkg-query",
            "-W",
            "-f",
            "${Package}\t${Version}\t${source:Package}\t${source:Version}\n",
        ],
    );
    let pkgs: Vec<Vec<String>> = installed
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    let mut expected = BTreeSet::new();
    let mut all_cves = BTreeSet::new();
    for e in std::fs::read_dir(osv_fixtures().join("Debian-12")).unwrap() {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap();
        let cve = v["upstream"][0].as_str().unwrap().to_string();
        all_cves.insert(cve.clone());
        for a in v["affected"].as_array().unwrap() {
            let src = a["package"]["name"].as_str().unwrap();
            for r in a["ranges"].as_array().unwrap() {
                for ev in r["events"].as_array().unwrap() {
                    let Some(fixed) = ev["fixed"].as_str() else {
                        continue;
                    };
                    for p in pkgs.iter().filter(|p| p[2] == src) {
                        if dpkg_lt(&p[3], fixed) {
                            expected.insert((cve.clone(), p[0].clone(), fixed.to_string()));
                        }
                    }
                }
            }
        }
    }
    (expected, all_cves)
}

fn found(v: &Value, kind: &str) -> BTreeSet<(String, String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["package"]["type"] == kind)
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["package"]["name"].as_str().unwrap().to_string(),
                f["fixed_version"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// nginx-light built on the main-only base and on the security base, once
/// for every test here.
fn nginx_main_and_security() -> &'static (String, String) {
    static PAIR: OnceLock<(String, String)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let nginx = repo().join("crates/safeimage/tests/images/nginx");
        (
            build_on(Base::Main, "scan-nginx-main", &nginx, &[]),
            build_on(Base::Security, "scan-nginx-security", &nginx, &[]),
        )
    })
}

#[test]
fn debian_fixtures_on_main_only_and_security_bases() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = import(d, &osv_fixtures().join("Debian-12"));
    let (main, sec) = nginx_main_and_security();
    let (expected, all_cves) = debian_expected(main);
    assert_eq!(all_cves.len(), 40);
    let main_oci = to_oci(main, d);
    let v = scan(d, &db, &main_oci);
    gitlab_matches(d, &db, &main_oci, &v);
    let got = found(&v, "deb");
    assert_eq!(got, expected, "findings differ from dpkg's verdict");
    let cves: BTreeSet<String> = got.iter().map(|(c, _, _)| c.clone()).collect();
    assert_eq!(cves, all_cves, "every fixture CVE is reported");
    let pkgs: BTreeSet<&str> = got.iter().map(|(_, p, _)| p.as_str()).collect();
    for p in ["libssl3", "perl-base", "libpcre2-8-0", "nginx-common"] {
        assert!(pkgs.contains(p), "{p} missing from {pkgs:?}");
    }
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["state"] == "fixed")
    );

    let (expected, _) = debian_expected(sec);
    assert!(
        expected.is_empty(),
        "bookworm-security has every fix: {expected:?}"
    );
    let v = scan(d, &db, &to_oci(sec, d));
    assert_eq!(
        v["findings"].as_array().unwrap().len(),
        0,
        "{:#?}",
        v["findings"]
    );
    assert!(v["summary"]["packages_checked"].as_u64().unwrap() > 50);
}

/// Package name → version, as dpkg says inside the image.
fn dpkg_versions(image: &str) -> BTreeMap<String, String> {
    run_in(
        image,
        &["dpkg-query", "-W", "-f", "${Package}\t${Version}\n"],
    )
    .lines()
    .filter_map(|l| l.split_once('\t'))
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect()
}

fn diff(dir: &Path, db: &Path, a: &str, b: &str, extra: &[&str]) -> (Value, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .current_dir(dir)
        .args(["diff", a, b, "--db"])
        .arg(db)
        .args(["--db-max-age", "0", "-f", "json", "--cache-dir"])
        .arg(dir.join("cache"))
        .args(extra)
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    assert!(
        code < 2,
        "diff {a} {b}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).unwrap(), code)
}

#[test]
fn diff_of_the_stale_image_and_its_rebuild_lists_exactly_dpkgs_upgrades_and_the_fixed_cves() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = import(d, &osv_fixtures().join("Debian-12"));
    let (main, sec) = nginx_main_and_security();
    let (before, after) = (dpkg_versions(main), dpkg_versions(sec));
    let changed: BTreeSet<(String, String, String)> = before
        .iter()
        .filter_map(|(n, v)| {
            after
                .get(n)
                .filter(|w| *w != v)
                .map(|w| (n.clone(), v.clone(), w.clone()))
        })
        .collect();
    assert!(
        changed.len() >= 5,
        "the security base upgrades packages: {changed:?}"
    );
    let (stale_cves, _) = debian_expected(main);

    let (a, b) = (to_oci(main, d), to_oci(sec, d));
    let (v, code) = diff(
        d,
        &db,
        &a,
        &b,
        &["--fail-on", "new-critical,count-up,any-new"],
    );
    assert_eq!(code, 0, "nothing new, fewer findings: {:#}", v["failures"]);
    let deb = |key: &str| -> Vec<Value> {
        v["packages"][key]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["type"] == "deb")
            .cloned()
            .collect()
    };
    let got: BTreeSet<(String, String, String)> = deb("changed")
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap().to_string();
            (s("name"), s("from"), s("to"))
        })
        .collect();
    assert_eq!(got, changed, "upgrades differ from dpkg's status");
    let only = |x: &BTreeMap<String, String>, y: &BTreeMap<String, String>| -> BTreeSet<String> {
        x.keys().filter(|k| !y.contains_key(*k)).cloned().collect()
    };
    let names = |key: &str| -> BTreeSet<String> {
        deb(key)
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("added"), only(&after, &before));
    assert_eq!(names("removed"), only(&before, &after));

    let fixed: BTreeSet<(String, String, String)> = v["vulnerabilities"]["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
            (s("id"), s("package"), s("fixed_version"))
        })
        .collect();
    assert_eq!(fixed, stale_cves, "fixed CVEs differ from the labeled set");
    assert_eq!(v["vulnerabilities"]["new"].as_array().unwrap().len(), 0);
    assert_eq!(v["security"]["verdict"], "improved");
    assert_eq!(v["b"]["total"], 0);
    assert!(v["a"]["compressed_bytes"].as_u64().unwrap() > 1_000_000);
    assert!(
        v["b"]["unpacked_bytes"].as_u64().unwrap() > v["b"]["compressed_bytes"].as_u64().unwrap()
    );
    assert!(
        v["a"]["base"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );

    // the other way round the count goes up: blocked, and --fail-on fails
    let (back, code) = diff(d, &db, &b, &a, &["--fail-on", "count-up"]);
    assert_eq!(code, 1);
    assert_eq!(back["security"]["verdict"], "blocked");
    assert_eq!(
        back["vulnerabilities"]["new"].as_array().unwrap().len(),
        stale_cves.len()
    );
}

const ORACLE: &str = r#"
import json, os, re, sys
from packaging.version import Version, InvalidVersion
fixtures, installed = sys.argv[1], json.loads(sys.argv[2])
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
inst = {norm(p["name"]): p["version"] for p in installed}
out = set()
for f in sorted(os.listdir(fixtures)):
    rec = json.load(open(os.path.join(fixtures, f)))
    if rec.get("withdrawn"):
        continue
    for a in rec.get("affected", []):
        name = norm(a["package"]["name"])
        if a["package"]["ecosystem"] != "PyPI" or name not in inst:
            continue
        v = Version(inst[name])
        hit = False
        for x in a.get("versions", []):
            try:
                hit = hit or Version(x) == v
            except InvalidVersion:
                pass
        for r in a.get("ranges", []):
            if r["type"] != "ECOSYSTEM":
                continue
            inside = False
            evs = []
            for e in r["events"]:
                (k, x), = e.items()
                evs.append((Version("0") if x == "0" else Version(x), k == "introduced" and x == "0", k))
            evs.sort(key=lambda t: (t[0], not t[1]))
            for ver, zero, k in evs:
                if k == "introduced" and (zero or v >= ver): inside = True
                elif k == "fixed" and v >= ver: inside = False
                elif k == "last_affected" and v > ver: inside = False
                elif k == "limit" and v >= ver: inside = False
            hit = hit or inside
        if hit:
            out.add((rec["id"], name))
print(json.dumps(sorted(out)))
"#;

#[test]
fn pypi_fixtures_on_a_real_venv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = import(d, &osv_fixtures().join("PyPI"));
    let image = build_on(
        Base::Main,
        "scan-pyvuln",
        &repo().join("crates/safeimage/tests/images/pyvuln"),
        &[],
    );
    let listed = run_in(&image, &["/venv/bin/pip", "list", "--format", "json"]);
    let pkgs: Vec<Value> = serde_json::from_str(&listed).unwrap();
    for (n, ver) in [
        ("requests", "2.25.0"),
        ("urllib3", "1.26.4"),
        ("Jinja2", "2.11.2"),
        ("PyYAML", "5.3.1"),
        ("Django", "3.2"),
    ] {
        assert!(
            pkgs.iter().any(|p| p["name"] == n && p["version"] == ver),
            "{n} {ver} not in {listed}"
        );
    }
    let oracle = sh(Command::new("python3").args([
        "-c",
        ORACLE,
        osv_fixtures().join("PyPI").to_str().unwrap(),
        &listed,
    ]));
    let expected: BTreeSet<(String, String)> =
        serde_json::from_str::<Vec<(String, String)>>(&oracle)
            .unwrap()
            .into_iter()
            .collect();
    assert!(expected.len() > 20, "{expected:?}");
    let oci = to_oci(&image, d);
    let v = scan(d, &db, &oci);
    gitlab_matches(d, &db, &oci, &v);
    let mut got = BTreeSet::new();
    for f in v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["package"]["type"] == "python")
    {
        let name = f["package"]["name"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .replace(['_', '.'], "-");
        for a in f["advisories"].as_array().unwrap() {
            got.insert((a.as_str().unwrap().to_string(), name.clone()));
        }
    }
    assert_eq!(got, expected, "advisories differ from packaging's verdict");
    // Each of the five pinned packages has at least one advisory.
    for n in ["requests", "urllib3", "jinja2", "pyyaml", "django"] {
        assert!(got.iter().any(|(_, p)| p == n), "{n}");
    }
}
