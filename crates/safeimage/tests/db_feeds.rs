//! `db update` against a local server laid out like OSV's bucket: one
//! `<Ecosystem>/all.zip` per main ecosystem plus `ecosystems.txt`, holding
//! real records (the Debian-12 test data, and OSV's and Canonical's own
//! records for Debian 7, Alpine and Ubuntu: `tests/fixtures/osv-bucket`).
//! The server logs every request, so the tests see which URLs were asked
//! for; the old per-release directories exist on it too, holding a decoy,
//! so reading one would show.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

mod support;
use support::*;

struct Bucket {
    _server: Background,
    dir: tempfile::TempDir,
    base: String,
}

impl Bucket {
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("requests.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
    fn work(&self) -> PathBuf {
        let w = self.dir.path().join("work");
        std::fs::create_dir_all(&w).unwrap();
        w
    }
}

/// Zip entries: name and content.
type Entries = Vec<(String, Vec<u8>)>;

fn zip_of(dest: &Path, files: &[(String, Vec<u8>)]) {
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let mut z = zip::ZipWriter::new(std::fs::File::create(dest).unwrap());
    for (name, data) in files {
        z.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

fn files_in(dir: &Path) -> Entries {
    let mut v: Entries = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_str().unwrap().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The bucket; `extra` adds records (name, JSON) to an ecosystem's zip.
fn bucket(extra: &[(&str, String, Value)]) -> Bucket {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    let real = repo().join("crates/safeimage/tests/fixtures/osv-bucket");
    let mut debian = files_in(&osv_fixtures().join("Debian-12"));
    debian.extend(files_in(&real.join("Debian")));
    let mut zips: Vec<(&str, Entries)> = vec![
        ("Debian", debian),
        ("Ubuntu", files_in(&real.join("Ubuntu"))),
        ("Alpine", files_in(&real.join("Alpine"))),
        ("PyPI", files_in(&osv_fixtures().join("PyPI"))),
    ];
    for (eco, name, doc) in extra {
        let z = zips.iter_mut().find(|(e, _)| e == eco).unwrap();
        z.1.push((name.clone(), doc.to_string().into_bytes()));
    }
    for (eco, files) in &zips {
        zip_of(&www.join(eco).join("all.zip"), files);
    }
    // what OSV left behind in 2024: a per-release directory, here a decoy
    let decoy = json!({"id": "DECOY-OLD-LAYOUT", "modified": "2024-10-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "decoy"}, "versions": ["1"]}]});
    zip_of(
        &www.join("Debian:12/all.zip"),
        &[("DECOY.json".into(), decoy.to_string().into_bytes())],
    );
    // NVD's feed files for 2024 (a right .meta) and 2023 (a wrong one)
    let nvd_dir = repo().join("crates/safeimage/tests/fixtures/nvd");
    let cves: Vec<Value> = files_in(&nvd_dir)
        .into_iter()
        .filter(|(n, _)| n.ends_with(".json"))
        .map(|(_, b)| json!({"cve": serde_json::from_slice::<Value>(&b).unwrap()}))
        .collect();
    let feed = json!({"resultsPerPage": cves.len(), "startIndex": 0, "totalResults": cves.len(),
        "format": "NVD_CVE", "version": "2.0", "timestamp": "2026-11-29T03:00:00.000",
        "vulnerabilities": cves})
    .to_string();
    std::fs::create_dir_all(www.join("nvd")).unwrap();
    for (year, meta_of) in [("2024", feed.as_str()), ("2023", "something else")] {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(feed.as_bytes()).unwrap();
        std::fs::write(
            www.join(format!("nvd/nvdcve-2.0-{year}.json.gz")),
            gz.finish().unwrap(),
        )
        .unwrap();
        use sha2::Digest as _;
        let sha = hex::encode_upper(sha2::Sha256::digest(meta_of.as_bytes()));
        std::fs::write(
            www.join(format!("nvd/nvdcve-2.0-{year}.meta")),
            format!(
                "lastModifiedDate:2026-11-29T03:00:00-05:00\r\nsize:{}\r\nsha256:{sha}\r\n",
                feed.len()
            ),
        )
        .unwrap();
    }
    std::fs::write(
        www.join("ecosystems.txt"),
        "AlmaLinux\nAlpine\nDebian\nGo\nMaven\nPyPI\nUbuntu\ncrates.io\nnpm\n",
    )
    .unwrap();
    let (server, base) = serve_bucket(&www, Some(&dir.path().join("requests.log")));
    Bucket {
        _server: server,
        dir,
        base,
    }
}

fn ok(out: &Output) -> &Output {
    assert!(
        out.status.success(),
        "exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn update(b: &Bucket, extra: &[&str]) -> Output {
    let w = b.work();
    let mut args = vec!["db", "update", "--db", "db", "--osv-url", &b.base];
    args.extend(extra);
    safeimage_in(&w, &args, &[])
}

fn status(b: &Bucket) -> Value {
    serde_json::from_slice(
        &ok(&safeimage_in(
            &b.work(),
            &["db", "status", "--db", "db", "--json"],
            &[],
        ))
        .stdout,
    )
    .unwrap()
}

fn ecosystems(st: &Value) -> BTreeSet<String> {
    st["ecosystems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[0].as_str().unwrap().to_string())
        .collect()
}

/// A CycloneDX SBOM of one OS package (name, version, source, source version).
fn os_sbom(dir: &Path, distro: (&str, &str), purl_type: &str, pkg: (&str, &str, &str)) -> String {
    let (name, version, source) = pkg;
    let doc = json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
    "metadata": {"component": {"type": "container", "name": format!("{}-app", distro.0)}},
    "components": [
        {"type": "operating-system", "name": distro.0, "version": distro.1},
        {"type": "library", "name": name, "version": version,
         "purl": format!("pkg:{purl_type}/{}/{name}@{version}", distro.0),
         "properties": [
            {"name": "safeimage:source:name", "value": source},
            {"name": "safeimage:source:version", "value": version}]}
    ]});
    let p = dir.join(format!("{}.cdx.json", distro.0));
    std::fs::write(&p, doc.to_string()).unwrap();
    p.to_str().unwrap().to_string()
}

fn scan_ids(dir: &Path, sbom: &str) -> Vec<(String, String)> {
    let out = safeimage_in(dir, &["scan", sbom, "--db", "db", "-f", "json"], &[]);
    let v: Value = serde_json::from_slice(&ok(&out).stdout).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["fixed_version"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The ecosystems the bucket has (the default list also has npm, Go...).
const FOUR: &[&str] = &[
    "--feed",
    "osv:Debian",
    "--feed",
    "osv:Ubuntu",
    "--feed",
    "osv:Alpine",
    "--feed",
    "osv:PyPI",
];

#[test]
fn update_reads_main_ecosystems_and_matches_each_distro() {
    let b = bucket(&[]);
    let out = update(&b, FOUR);
    ok(&out);
    let reqs = b.requests();
    for want in [
        "/ecosystems.txt",
        "/Debian/all.zip",
        "/Ubuntu/all.zip",
        "/Alpine/all.zip",
        "/PyPI/all.zip",
    ] {
        assert!(reqs.iter().any(|r| r == want), "{want} not in {reqs:?}");
    }
    assert!(
        !reqs.iter().any(|r| r.contains(':')),
        "a per-release directory was requested: {reqs:?}"
    );
    let st = status(&b);
    let ecos = ecosystems(&st);
    for e in [
        "Debian:12",
        "Debian:7",
        "Ubuntu:22.04:LTS",
        "Alpine:v3.16",
        "PyPI",
    ] {
        assert!(ecos.contains(e), "{e} not in {ecos:?}");
    }
    assert!(!ecos.iter().any(|e| e.contains("decoy")));
    let w = b.work();
    let deb = os_sbom(
        &w,
        ("debian", "12"),
        "deb",
        ("nginx-common", "1.22.1-9", "nginx"),
    );
    let found = scan_ids(&w, &deb);
    assert_eq!(found.len(), 14, "{found:?}");
    assert!(
        found
            .iter()
            .all(|(_, fixed)| fixed.starts_with("1.22.1-9+deb12u"))
    );
    let ubuntu = os_sbom(
        &w,
        ("ubuntu", "22.04"),
        "deb",
        ("libgnutls30", "3.7.3-4ubuntu1.2", "gnutls28"),
    );
    assert_eq!(
        scan_ids(&w, &ubuntu),
        vec![("CVE-2024-0553".to_string(), "3.7.3-4ubuntu1.4".to_string())]
    );
    let alpine = os_sbom(
        &w,
        ("alpine", "3.16.2"),
        "apk",
        ("mariadb", "10.6.7-r0", "mariadb"),
    );
    assert_eq!(
        scan_ids(&w, &alpine),
        vec![("CVE-2022-27449".to_string(), "10.6.8-r0".to_string())]
    );
    // fixed versions are not reported
    let fixed = os_sbom(
        &w,
        ("alpine", "3.16"),
        "apk",
        ("mariadb", "10.6.8-r0", "mariadb"),
    );
    assert!(scan_ids(&w, &fixed).is_empty());
}

#[test]
fn old_per_release_names_read_the_main_ecosystem_with_a_warning() {
    let b = bucket(&[]);
    let out = update(&b, &["--feed", "osv:Debian:12"]);
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: feed `osv:Debian:12`") && err.contains("osv:Debian"),
        "{err}"
    );
    let reqs = b.requests();
    assert!(reqs.iter().any(|r| r == "/Debian/all.zip"), "{reqs:?}");
    assert!(
        !reqs.iter().any(|r| r.starts_with("/Debian:12")),
        "{reqs:?}"
    );
    // only that release is kept: the Debian 7 record is left out
    let ecos = ecosystems(&status(&b));
    assert_eq!(ecos, BTreeSet::from(["Debian:12".to_string()]));
    assert!(err.contains("for other releases left out"), "{err}");
}

#[test]
fn release_filter_keeps_the_fleets_releases_only() {
    let b = bucket(&[]);
    let mut args = FOUR.to_vec();
    args.extend(["--release", "debian:12,alpine:3.16"]);
    ok(&update(&b, &args));
    let ecos = ecosystems(&status(&b));
    assert!(ecos.contains("Debian:12") && ecos.contains("Alpine:v3.16"));
    assert!(!ecos.contains("Debian:7"), "{ecos:?}");
    assert!(!ecos.contains("Alpine:v3.12"), "{ecos:?}");
    // ecosystems without a release named are whole
    assert!(ecos.contains("Ubuntu:22.04:LTS") && ecos.contains("Ubuntu:Pro:16.04:LTS"));
    assert!(ecos.contains("PyPI"));
    let bad = update(&b, &["--release", "debian"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`debian` is not a release"));
}

#[test]
fn an_ecosystem_the_bucket_does_not_export_is_named() {
    let b = bucket(&[]);
    ok(&update(&b, &["--feed", "osv:PyPI"]));
    let before = std::fs::read(b.work().join("db")).unwrap();
    let out = update(&b, &["--feed", "osv:Debain"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`Debain` is not an ecosystem OSV exports")
            && err.contains("ecosystems.txt")
            && err.contains("Debian"),
        "{err}"
    );
    assert!(!b.requests().iter().any(|r| r.contains("Debain")));
    assert_eq!(std::fs::read(b.work().join("db")).unwrap(), before);
}

fn days_ago(days: i64) -> String {
    let now = findings::time::Timestamp::now();
    findings::time::Timestamp(now.0 - days * 86_400).to_string()
}

fn record(id: &str, eco: &str, modified: &str) -> Value {
    json!({"id": id, "modified": modified,
        "affected": [{"package": {"ecosystem": eco, "name": "zz-test"}, "versions": ["1"]}]})
}

#[test]
fn a_feed_that_stopped_updating_is_reported_and_can_be_refused() {
    // every feed has a record from yesterday but Ubuntu, whose newest is 40 days old
    let b = bucket(&[
        (
            "Debian",
            "FRESH-D.json".into(),
            record("FRESH-D", "Debian:12", &days_ago(1)),
        ),
        (
            "Alpine",
            "FRESH-A.json".into(),
            record("FRESH-A", "Alpine:v3.16", &days_ago(1)),
        ),
        (
            "PyPI",
            "FRESH-P.json".into(),
            record("FRESH-P", "PyPI", &days_ago(1)),
        ),
        (
            "Ubuntu",
            "OLD-U.json".into(),
            record("OLD-U", "Ubuntu:22.04:LTS", &days_ago(40)),
        ),
    ]);
    ok(&update(&b, FOUR));
    let w = b.work();
    let text = String::from_utf8_lossy(
        &ok(&safeimage_in(&w, &["db", "status", "--db", "db"], &[])).stdout,
    )
    .to_string();
    let ubuntu_block = text
        .split("osv:Ubuntu")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    assert!(ubuntu_block.contains("(40 days old)"), "{text}");
    assert!(ubuntu_block.contains("downloaded 20"), "{text}");
    let st = status(&b);
    let src = st["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "osv:Ubuntu")
        .unwrap();
    assert!(src["newest_record"].is_string() && src["fetched_at"].is_string());

    let sbom = os_sbom(
        &w,
        ("ubuntu", "22.04"),
        "deb",
        ("libgnutls30", "3.7.3-4ubuntu1.2", "gnutls28"),
    );
    // a warning, once per stale feed, and in the report's notes
    let out = safeimage_in(&w, &["scan", &sbom, "--db", "db", "-f", "json"], &[]);
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: feed osv:Ubuntu: its newest record is 40 days old"),
        "{err}"
    );
    assert_eq!(err.matches("warning: feed").count(), 1, "{err}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("osv:Ubuntu")),
        "{report}"
    );
    // refused over the limit, by flag or environment
    let out = safeimage_in(
        &w,
        &["scan", &sbom, "--db", "db", "--max-feed-age-days", "30"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("feed osv:Ubuntu's newest record is 40 days old")
            && err.contains("limit of 30 days"),
        "{err}"
    );
    let out = safeimage_in(
        &w,
        &["scan", &sbom, "--db", "db"],
        &[("SAFEIMAGE_MAX_FEED_AGE_DAYS", "60")],
    );
    ok(&out);
    // an offline import is as old as its files: no warning
    ok(&safeimage_in(
        &w,
        &[
            "db",
            "import",
            "--db",
            "offline",
            osv_fixtures().to_str().unwrap(),
        ],
        &[],
    ));
    let out = safeimage_in(&w, &["scan", &sbom, "--db", "offline"], &[]);
    ok(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning: feed"));
}

fn finding(dir: &Path, sbom: &str, extra: &[&str]) -> Value {
    let mut args = vec!["scan", sbom, "--db", "db", "-f", "json"];
    args.extend(extra);
    let v: Value = serde_json::from_slice(&ok(&safeimage_in(dir, &args, &[])).stdout).unwrap();
    let f = v["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{v}");
    f[0].clone()
}

#[test]
fn nvd_scores_join_findings_by_cve_and_keep_their_source() {
    let b = bucket(&[]);
    let w = b.work();
    let alpine = os_sbom(
        &w,
        ("alpine", "3.16"),
        "apk",
        ("mariadb", "10.6.7-r0", "mariadb"),
    );
    // OSV's Alpine record has no severity of its own
    ok(&update(&b, &["--feed", "osv:Alpine"]));
    let f = finding(&w, &alpine, &[]);
    assert_eq!(
        (f["severity"].as_str(), f["severity_source"].as_str()),
        (Some("UNKNOWN"), Some("none"))
    );
    // with NVD's 2024 feed (checked against its .meta), NVD rates it
    let nvd = format!("{}/nvd", b.base);
    let out = update(
        &b,
        &[
            "--feed",
            "osv:Alpine",
            "--feed",
            "osv:Ubuntu",
            "--feed",
            "nvd:2024",
            "--nvd-url",
            &nvd,
        ],
    );
    ok(&out);
    assert!(
        b.requests()
            .iter()
            .any(|r| r == "/nvd/nvdcve-2.0-2024.meta")
    );
    let f = finding(&w, &alpine, &[]);
    assert_eq!(f["id"], "CVE-2022-27449");
    assert_eq!(
        (f["severity"].as_str(), f["severity_source"].as_str()),
        (Some("HIGH"), Some("nvd"))
    );
    assert!(
        f["severity_detail"]
            .as_str()
            .unwrap()
            .starts_with("7.5 CVSS:3.1/"),
        "{f}"
    );
    assert!(
        f["advisories"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "NVD-CVE-2022-27449")
    );
    let sources: BTreeSet<(String, String)> = f["cvss"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["version"].as_str().unwrap().to_string(),
                c["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        sources,
        BTreeSet::from([
            ("2.0".into(), "nvd@nist.gov".into()),
            ("3.1".into(), "nvd@nist.gov".into())
        ])
    );
    // Ubuntu's record carries its own vector: both kept, each with its source
    let ubuntu = os_sbom(
        &w,
        ("ubuntu", "22.04"),
        "deb",
        ("libgnutls30", "3.7.3-4ubuntu1.2", "gnutls28"),
    );
    let f = finding(&w, &ubuntu, &[]);
    assert_eq!(f["severity_source"], "nvd");
    let srcs: Vec<&str> = f["cvss"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["source"].as_str().unwrap())
        .collect();
    assert!(
        srcs.contains(&"CVE-2024-0553")
            && srcs.contains(&"nvd@nist.gov")
            && srcs.contains(&"secalert@redhat.com"),
        "{srcs:?}"
    );
    let f = finding(&w, &ubuntu, &["--severity-source", "cvss_v3"]);
    assert_eq!(f["severity_source"], "cvss_v3");
    // a feed file whose .meta disagrees is refused, the DB kept
    let before = std::fs::read(w.join("db")).unwrap();
    let out = update(&b, &["--feed", "nvd:2023", "--nvd-url", &nvd]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nvdcve-2.0-2023.json.gz") && err.contains(".meta file says"),
        "{err}"
    );
    assert_eq!(std::fs::read(w.join("db")).unwrap(), before);
}

#[test]
fn nvd_files_import_offline() {
    let b = bucket(&[]);
    let w = b.work();
    let gz = b.dir.path().join("www/nvd/nvdcve-2.0-2024.json.gz");
    let alpine_zip = b.dir.path().join("www/Alpine/all.zip");
    ok(&safeimage_in(
        &w,
        &[
            "db",
            "import",
            "--db",
            "db",
            alpine_zip.to_str().unwrap(),
            gz.to_str().unwrap(),
        ],
        &[],
    ));
    let alpine = os_sbom(
        &w,
        ("alpine", "3.16"),
        "apk",
        ("mariadb", "10.6.7-r0", "mariadb"),
    );
    assert_eq!(finding(&w, &alpine, &[])["severity_source"], "nvd");
}

#[test]
fn kev_and_epss_download_with_osv_and_mark_the_debian_finding() {
    let b = bucket(&[]);
    let w = b.work();
    // the pinned extracts, served as CISA and FIRST serve them (EPSS gzip)
    let feeds = repo().join("testdata/feeds");
    let www = b.dir.path().join("www");
    std::fs::create_dir_all(www.join("kev")).unwrap();
    std::fs::copy(
        feeds.join("kev-2025.08.25-extract.json"),
        www.join("kev/known_exploited_vulnerabilities.json"),
    )
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&std::fs::read(feeds.join("epss-2025-03-16-extract.csv")).unwrap())
        .unwrap();
    std::fs::write(
        www.join("kev/epss_scores-current.csv.gz"),
        gz.finish().unwrap(),
    )
    .unwrap();
    let kev = format!("{}/kev/known_exploited_vulnerabilities.json", b.base);
    let epss = format!("{}/kev/epss_scores-current.csv.gz", b.base);
    ok(&update(
        &b,
        &[
            "--feed",
            "osv:Debian",
            "--feed",
            "kev",
            "--feed",
            "epss",
            "--kev-url",
            &kev,
            "--epss-url",
            &epss,
        ],
    ));
    let st = status(&b);
    let names: Vec<&str> = st["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["osv:Debian", "kev", "epss"]);
    assert!(st["sources"][1]["fetched_at"].is_string());
    assert_eq!(st["kev"]["entries"], 3);
    let sbom = os_sbom(
        &w,
        ("debian", "12"),
        "deb",
        ("nginx-common", "1.22.1-9", "nginx"),
    );
    let out = safeimage_in(&w, &["scan", &sbom, "--db", "db", "-f", "json"], &[]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "CVE-2023-44487")
        .expect("the nginx finding");
    assert_eq!(f["kev"]["due_date"], "2023-10-31");
    assert_eq!(f["epss"]["percentile"], 0.98843);

    // a feed that is not what it says: named, the DB kept
    let before = std::fs::read(w.join("db")).unwrap();
    std::fs::write(
        www.join("kev/known_exploited_vulnerabilities.json"),
        b"{\"catalogVersion\": \"x\"}",
    )
    .unwrap();
    let out = update(&b, &["--feed", "kev", "--kev-url", &kev]);
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("kev") && e.contains("not CISA's KEV catalog"),
        "{e}"
    );
    assert_eq!(std::fs::read(w.join("db")).unwrap(), before);
}

/// `--feed eol`: endoflife.date's API v1 product list (here Python's
/// cycles of the pinned product-file extract, written in the API's shape
/// as endoflife.date's generator writes them), downloaded beside OSV; a
/// scan then names the Python release and its end.
#[test]
fn eol_feed_downloads_endoflife_date_s_api_and_dates_the_python_runtime() {
    let b = bucket(&[]);
    let w = b.work();
    let md =
        std::fs::read_to_string(repo().join("testdata/feeds/endoflife-a70eca3/python.md")).unwrap();
    let front: Value = serde_yaml_ng::from_str(
        md.trim_start_matches("---\n")
            .split("\n---")
            .next()
            .unwrap(),
    )
    .unwrap();
    let today = "2026-12-07";
    let releases: Vec<Value> = front["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let eol = r["eol"].as_str().map(str::to_string);
            serde_json::json!({
                "name": r["releaseCycle"], "codename": null, "label": r["releaseCycle"],
                "releaseDate": r["releaseDate"], "isLts": false, "ltsFrom": null,
                "isEol": eol.as_deref().is_some_and(|e| e < today), "eolFrom": eol,
                "isMaintained": eol.as_deref().is_none_or(|e| e >= today),
                "latest": {"name": r["latest"], "date": r["latestReleaseDate"], "link": null},
            })
        })
        .collect();
    // generated 40 days ago: the data's age, as for any feed
    let api = serde_json::json!({"schema_version": "1.2.0", "generated_at": days_ago(40),
        "total": 1, "result": [{"name": "python", "aliases": [], "label": "Python", "category": "lang",
        "tags": ["lang"], "releases": releases}]});
    let www = b.dir.path().join("www");
    std::fs::create_dir_all(www.join("eol")).unwrap();
    std::fs::write(www.join("eol/full.json"), api.to_string()).unwrap();
    let url = format!("{}/eol/full.json", b.base);
    ok(&update(
        &b,
        &["--feed", "osv:Debian", "--feed", "eol", "--eol-url", &url],
    ));
    let st = status(&b);
    assert_eq!(st["sources"][1]["name"], "eol");
    assert!(st["sources"][1]["records"].as_u64().unwrap() >= 10, "{st}");
    let sbom = os_sbom(
        &w,
        ("debian", "11"),
        "deb",
        ("python3.9-minimal", "3.9.2-1", "python3.9"),
    );
    let t: findings::time::Timestamp = format!("{today}T12:00:00Z").parse().unwrap();
    let out = safeimage_in(
        &w,
        &["scan", &sbom, "--db", "db", "-f", "json"],
        &[("SOURCE_DATE_EPOCH", &t.0.to_string())],
    );
    let v: Value = serde_json::from_slice(&ok(&out).stdout).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: feed eol: its newest record is 40 days old"),
        "{err}"
    );
    let py = v["eol"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["release"] == "python 3.9")
        .unwrap_or_else(|| panic!("{}", v["eol"]));
    assert_eq!(py["eol"], true);
    assert_eq!(py["end"], "2025-10-31");

    // an API document of the wrong shape: named, the DB kept
    let before = std::fs::read(w.join("db")).unwrap();
    std::fs::write(
        www.join("eol/full.json"),
        br#"{"schema_version": "1.2.0", "result": [{"name": "python", "releases": [{"name": "3.9", "eolFrom": "soon"}]}]}"#,
    )
    .unwrap();
    let out = update(&b, &["--feed", "eol", "--eol-url", &url]);
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("python 3.9") && e.contains("eolFrom"), "{e}");
    assert_eq!(std::fs::read(w.join("db")).unwrap(), before);
}
