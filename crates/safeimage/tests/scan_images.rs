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

/// The layers of an OCI layout (`oci:DIR:TAG` as `to_oci` writes it): each
/// layer's diffID and the paths its tar holds, listed by `tar` itself.
fn layer_listing(oci: &str) -> Vec<(String, BTreeSet<String>)> {
    let dir = Path::new(oci.trim_start_matches("oci:").rsplit_once(':').unwrap().0);
    let blob = |digest: &str| {
        dir.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    let config: Value = serde_json::from_slice(
        &std::fs::read(blob(manifest["config"]["digest"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(config["rootfs"]["diff_ids"].as_array().unwrap())
        .map(|(l, d)| {
            let list = sh(Command::new("tar")
                .arg("-tzf")
                .arg(blob(l["digest"].as_str().unwrap())));
            let paths = list
                .lines()
                .map(|p| p.trim_start_matches("./").trim_end_matches('/').to_string())
                .collect();
            (d.as_str().unwrap().to_string(), paths)
        })
        .collect()
}

/// 1-based line of the first line of `text` starting with `prefix` after
/// line `after`.
fn line_of(text: &str, prefix: &str, after: usize) -> u64 {
    text.lines()
        .enumerate()
        .skip(after)
        .find(|(_, l)| l.starts_with(prefix))
        .map(|(i, _)| i as u64 + 1)
        .unwrap_or_else(|| panic!("no line starting with {prefix}"))
}

#[test]
fn findings_of_a_two_stage_image_are_traced_to_base_or_their_dockerfile_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = import(d, &osv_fixtures());
    let ctx = repo().join("crates/safeimage/tests/images/attrib");
    let dockerfile = ctx.join("Dockerfile");
    let image = build_on(Base::Main, "scan-attrib", &ctx, &["--layers"]);
    let oci = to_oci(&image, d);
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    let final_from = line_of(&text, "FROM ${BASE}", 7) as usize;
    let run_line = line_of(&text, "RUN apt-get", final_from);
    let copy_line = line_of(&text, "COPY --from=build", final_from);
    // the truth, from the layers' tars: the first layer holding each file
    let layers = layer_listing(&oci);
    let first_layer = |path: &str| {
        layers
            .iter()
            .position(|(_, files)| files.contains(path))
            .unwrap_or_else(|| panic!("{path} in no layer"))
    };
    let base_layers = 1; // minbase is one `buildah add` layer
    let df = dockerfile.to_str().unwrap();
    let scan_with = |extra: &[&str]| -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_safeimage"))
            .current_dir(d)
            .args(["scan", &oci, "--db"])
            .arg(&db)
            .args(["--dockerfile", df, "--cache-dir"])
            .arg(d.join("cache"))
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = scan_with(&["-f", "json"]);
    assert_eq!(
        v["attribution"]["base_layers"], base_layers,
        "{}",
        v["attribution"]
    );
    let findings = v["findings"].as_array().unwrap();
    let (mut base, mut app_deb, mut app_py) = (0, 0, 0);
    for f in findings {
        let name = f["package"]["name"].as_str().unwrap();
        let o = &f["origin"];
        let truth = match f["package"]["type"].as_str().unwrap() {
            "deb" => [
                format!("var/lib/dpkg/info/{name}:amd64.list"),
                format!("var/lib/dpkg/info/{name}.list"),
            ]
            .iter()
            .filter_map(|p| layers.iter().position(|(_, fs)| fs.contains(p)))
            .min()
            .unwrap_or_else(|| panic!("{name}: no dpkg file list in any layer")),
            "python" => first_layer(f["package"]["locations"][0]["path"].as_str().unwrap()),
            other => panic!("unexpected {other} finding {name}"),
        };
        assert_eq!(o["layer"], truth, "{name}: {o}");
        assert_eq!(o["diff_id"], layers[truth].0.as_str(), "{name}");
        if truth < base_layers {
            assert_eq!(o["part"], "base", "{name}: {o}");
            assert!(o["step"].is_null(), "{name}: {o}");
            base += 1;
        } else {
            assert_eq!(o["part"], "app", "{name}: {o}");
            let want = if f["package"]["type"] == "python" {
                copy_line
            } else {
                run_line
            };
            assert_eq!(o["step"]["line"], want, "{name}: {o}");
            assert_eq!(o["step"]["file"], df);
            if f["package"]["type"] == "python" {
                app_py += 1;
            } else {
                app_deb += 1;
            }
        }
    }
    // perl-base in the base; libssl3 (openssl) and urllib3 in the build
    assert!(
        base > 0 && app_deb > 0 && app_py > 0,
        "{base} {app_deb} {app_py}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f["package"]["name"] == "libssl3" && f["origin"]["part"] == "app")
    );
    assert!(
        findings
            .iter()
            .any(|f| f["package"]["name"] == "urllib3" && f["origin"]["part"] == "app")
    );

    // --layers app keeps exactly the app's findings
    let app = scan_with(&["-f", "json", "--layers", "app"]);
    let app_findings = app["findings"].as_array().unwrap();
    assert_eq!(app_findings.len(), app_deb + app_py);
    assert!(app_findings.iter().all(|f| f["origin"]["part"] == "app"));
    let base_only = scan_with(&["-f", "json", "--layers", "base"]);
    assert_eq!(base_only["findings"].as_array().unwrap().len(), base);

    // SARIF: app findings on their Dockerfile line, valid SARIF
    let sarif = scan_with(&["-f", "sarif"]);
    let errors = schema_errors(&sarif_validator(), &sarif);
    assert!(errors.is_empty(), "{errors:#?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let ssl: Vec<&Value> = results
        .iter()
        .filter(|r| r["properties"]["package"] == "libssl3")
        .collect();
    assert!(!ssl.is_empty());
    for r in ssl {
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], df.trim_start_matches('/'));
        assert_eq!(loc["region"]["startLine"], run_line);
    }

    // the base given by reference agrees, without a Dockerfile
    let reg = registry();
    push_minbase(&reg, "tests/minbase:attrib");
    let out = Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .current_dir(d)
        .args(["scan", &oci, "--db"])
        .arg(&db)
        .args([
            "-f",
            "json",
            "--layers",
            "app",
            "--insecure-registry",
            &reg.addr,
        ])
        .arg("--base")
        .arg(format!("{}/tests/minbase:attrib", reg.addr))
        .arg("--cache-dir")
        .arg(d.join("cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let by_ref: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        by_ref["findings"].as_array().unwrap().len(),
        app_deb + app_py
    );
    assert!(
        by_ref["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["origin"]["step"].is_null())
    );
}
