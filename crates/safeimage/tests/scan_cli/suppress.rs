//! Ignore files, VEX and baselines; unimportant findings, severity sources
//! and the DB's age; `db update` against a local mirror.

use super::*;

#[test]
fn ignore_files_vex_and_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = import(d, &[&osv_fixtures().join("Debian-12")]);
    let sb = sbom(d, "app", &[]);
    let (_, all) = scan_json(d, &db, &sb, &[]);
    let all_ids = ids(&all);
    let some: Vec<&str> = all_ids
        .iter()
        .map(|s| s.split(' ').next().unwrap())
        .collect();
    let (a, b, c) = (some[0], some[1], some[2]);

    // Ignore file: a live rule, an expired one, and .trivyignore picked up
    // from the working directory by default.
    std::fs::write(
        d.join(".safeimage-ignore.yaml"),
        format!("ignore:\n  - id: {a}\n    reason: behind a WAF\n    expires: 2999-01-01\n  - id: {b}\n    reason: old\n    expires: 2001-01-01\n"),
    )
    .unwrap();
    std::fs::write(d.join(".trivyignore"), format!("# team decision\n{c}\n")).unwrap();
    let (out, v) = scan_json(d, &db, &sb, &[]);
    ok(&out);
    let sup: Vec<(&str, &str)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            f["suppressed"]["kind"]
                .as_str()
                .map(|k| (f["id"].as_str().unwrap(), k))
        })
        .collect();
    assert!(sup.iter().any(|(i, k)| *i == a && *k == "ignore-file"));
    assert!(sup.iter().any(|(i, k)| *i == c && *k == "trivyignore"));
    assert!(
        !sup.iter().any(|(i, _)| *i == b),
        "expired rules do not apply"
    );
    assert!(
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("expired on 2001-01-01"))
    );
    assert_eq!(
        v["summary"]["suppressed"].as_u64().unwrap() as usize,
        sup.len()
    );
    std::fs::remove_file(d.join(".safeimage-ignore.yaml")).unwrap();
    std::fs::remove_file(d.join(".trivyignore")).unwrap();

    // A broken ignore file is an error naming the file and line.
    let bad = d.join("bad.yaml");
    std::fs::write(&bad, "ignore:\n  - id: X\n    reasn: typo\n").unwrap();
    let out = safeimage_in(
        d,
        &[
            "scan",
            &sb,
            "--db",
            &db,
            "--ignore-file",
            bad.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad.yaml:3"), "{}", stderr(&out));

    // OpenVEX: not_affected for one CVE in libssl3 only.
    let ssl: Vec<&Value> = all["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["package"]["name"] == "libssl3")
        .collect();
    let vid = ssl[0]["id"].as_str().unwrap();
    let vex = d.join("vex.json");
    std::fs::write(&vex, json!({
        "@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "sec", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
        "statements": [{"vulnerability": {"name": vid}, "products": [{"@id": "pkg:oci/app", "subcomponents": [{"@id": "pkg:deb/debian/libssl3"}]}],
                        "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path", "impact_statement": "we never call the affected API"}]
    }).to_string()).unwrap();
    let (out, v) = scan_json(d, &db, &sb, &["--vex", vex.to_str().unwrap()]);
    ok(&out);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == vid && f["package"]["name"] == "libssl3")
        .unwrap();
    assert_eq!(f["suppressed"]["status"], "not_affected");
    assert_eq!(
        f["suppressed"]["reason"],
        "vulnerable_code_not_in_execute_path: we never call the affected API"
    );
    assert_eq!(v["summary"]["suppressed"], 1);

    // Baseline: the same scan is unchanged; a scan with one more package
    // (more findings) fails --fail-on-increase; the baseline itself, scanned
    // against the bigger one, is a decrease and passes.
    let base = d.join("base.json");
    std::fs::write(&base, serde_json::to_string(&all).unwrap()).unwrap();
    let (out, v) = scan_json(
        d,
        &db,
        &sb,
        &[
            "--baseline",
            base.to_str().unwrap(),
            "--fail-on-increase",
            "--fail-on-new",
            "high",
        ],
    );
    ok(&out);
    assert_eq!(v["baseline"]["new"].as_array().unwrap().len(), 0);
    assert_eq!(
        v["baseline"]["unchanged"].as_u64().unwrap() as usize,
        all_ids.len()
    );
    let py = import(d, &[&osv_fixtures()]);
    let bigger = sbom(d, "bigger", &[("urllib3", "1.26.4")]);
    let (out, v) = scan_json(
        d,
        &py,
        &bigger,
        &["--baseline", base.to_str().unwrap(), "--fail-on-increase"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("went up from"), "{}", stderr(&out));
    assert!(!v["baseline"]["new"].as_array().unwrap().is_empty());
    let big_report = d.join("big.json");
    std::fs::write(&big_report, serde_json::to_string(&v).unwrap()).unwrap();
    let (out, v) = scan_json(
        d,
        &py,
        &sb,
        &[
            "--baseline",
            big_report.to_str().unwrap(),
            "--fail-on-increase",
            "--fail-on-new",
            "low",
        ],
    );
    ok(&out);
    assert!(
        !v["baseline"]["fixed"].as_array().unwrap().is_empty(),
        "a decrease is allowed"
    );
}

#[test]
fn unimportant_severity_sources_and_db_age() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let feeds = d.join("feeds");
    std::fs::create_dir_all(&feeds).unwrap();
    std::fs::write(feeds.join("DEBIAN-CVE-2099-0001.json"), json!({
        "id": "DEBIAN-CVE-2099-0001", "upstream": ["CVE-2099-0001"], "modified": "2026-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
            "ecosystem_specific": {"urgency": "unimportant"}}]}).to_string()).unwrap();
    std::fs::write(feeds.join("GHSA-aaaa-bbbb-cccc.json"), json!({
        "id": "GHSA-aaaa-bbbb-cccc", "aliases": ["CVE-2099-0002"], "modified": "2026-01-01T00:00:00Z",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "database_specific": {"severity": "MODERATE"},
        "affected": [{"package": {"ecosystem": "PyPI", "name": "urllib3"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.26.5"}]}]}]}).to_string()).unwrap();
    std::fs::write(feeds.join("PYSEC-2099-1.json"), json!({
        "id": "PYSEC-2099-1", "aliases": ["CVE-2099-0002"], "modified": "2026-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "urllib3"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.26.6"}]}]}]}).to_string()).unwrap();
    let db = import(d, &[&feeds]);
    let sb = sbom(d, "app", &[("urllib3", "1.26.4")]);
    let (out, v) = scan_json(d, &db, &sb, &[]);
    ok(&out);
    let f = v["findings"].as_array().unwrap();
    assert_eq!(
        f.len(),
        1,
        "unimportant hidden; GHSA and PYSEC merged: {f:#?}"
    );
    assert_eq!(f[0]["id"], "CVE-2099-0002");
    assert_eq!(
        f[0]["aliases"],
        json!(["GHSA-aaaa-bbbb-cccc", "PYSEC-2099-1"])
    );
    assert_eq!(
        f[0]["fixed_version"], "1.26.6",
        "the later fix of the merged advisories"
    );
    assert_eq!(
        (f[0]["severity"].as_str(), f[0]["severity_source"].as_str()),
        (Some("MEDIUM"), Some("ghsa"))
    );
    assert_eq!(
        v["summary"]["hidden_unimportant"], 1,
        "libssl3 is the one binary package from openssl"
    );
    let (_, v) = scan_json(d, &db, &sb, &["--severity-source", "cvss_v3,vendor"]);
    let f = &v["findings"][0];
    assert_eq!(
        (f["severity"].as_str(), f["severity_source"].as_str()),
        (Some("CRITICAL"), Some("cvss_v3"))
    );
    assert!(
        f["severity_detail"]
            .as_str()
            .unwrap()
            .starts_with("9.8 CVSS:3.1/")
    );
    let (_, v) = scan_json(d, &db, &sb, &["--show-unimportant"]);
    let un: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["state"] == "unimportant")
        .collect();
    assert_eq!(un.len(), 1);
    assert_eq!(un[0]["package"]["name"], "libssl3");
    let out = safeimage_in(
        d,
        &["scan", &sb, "--db", &db, "--severity-source", "cvss_v3,???"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));

    // A DB built long ago is refused, with the way out in the message.
    let old = d.join("old.db");
    ok(&safeimage_in(
        d,
        &[
            "db",
            "import",
            "--db",
            old.to_str().unwrap(),
            feeds.to_str().unwrap(),
        ],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    ));
    let out = safeimage_in(d, &["scan", &sb, "--db", old.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("older than the limit of 120 hours") && e.contains("safeimage db update"),
        "{e}"
    );
    ok(&safeimage_in(
        d,
        &[
            "scan",
            &sb,
            "--db",
            old.to_str().unwrap(),
            "--db-max-age",
            "0",
        ],
        &[],
    ));
    ok(&safeimage_in(
        d,
        &["scan", &sb],
        &[
            ("SAFEIMAGE_DB", old.to_str().unwrap()),
            ("SAFEIMAGE_DB_MAX_AGE_HOURS", "0"),
        ],
    ));
}

/// A local HTTP server for `db update`: serves files from a directory and,
/// like Google Cloud Storage, states each file's MD5 in `x-goog-hash`
/// (deliberately wrong for names containing `corrupt`).
#[test]
fn db_update_downloads_verifies_and_keeps_the_old_db_on_failure() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let www = d.join("www");
    for (eco, src) in [
        ("PyPI", "PyPI"),
        ("Debian", "Debian-12"),
        ("corrupt", "Debian-12"),
    ] {
        std::fs::create_dir_all(www.join(eco)).unwrap();
        let mut z =
            zip::ZipWriter::new(std::fs::File::create(www.join(eco).join("all.zip")).unwrap());
        for e in std::fs::read_dir(osv_fixtures().join(src)).unwrap() {
            let p = e.unwrap().path();
            z.start_file(
                p.file_name().unwrap().to_str().unwrap(),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            z.write_all(&std::fs::read(&p).unwrap()).unwrap();
        }
        z.finish().unwrap();
    }
    std::fs::write(
        www.join("ecosystems.txt"),
        "Debian\nListed\nPyPI\ncorrupt\n",
    )
    .unwrap();
    let (_server, base) = serve_bucket(&www, None);
    let db = d.join("db");
    let dbs = db.to_str().unwrap();
    let out = safeimage_in(
        d,
        &[
            "db",
            "update",
            "--db",
            dbs,
            "--osv-url",
            &base,
            "--feed",
            "osv:PyPI",
            "--feed",
            "osv:Debian",
        ],
        &[],
    );
    ok(&out);
    let st: Value = serde_json::from_slice(
        &ok(&safeimage_in(
            d,
            &["db", "status", "--db", dbs, "--json"],
            &[],
        ))
        .stdout,
    )
    .unwrap();
    assert_eq!(st["advisories"], 263);
    let srcs: Vec<&str> = st["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["location"].as_str().unwrap())
        .collect();
    assert_eq!(
        srcs,
        vec![
            format!("{base}/PyPI/all.zip"),
            format!("{base}/Debian/all.zip")
        ]
    );
    let before = std::fs::read(&db).unwrap();

    let out = safeimage_in(
        d,
        &[
            "db",
            "update",
            "--db",
            dbs,
            "--osv-url",
            &base,
            "--feed",
            "osv:PyPI",
            "--feed",
            "osv:corrupt",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("does not match the server's x-goog-hash md5"),
        "{}",
        stderr(&out)
    );
    let out2 = safeimage_in(
        d,
        &[
            "db",
            "update",
            "--db",
            dbs,
            "--osv-url",
            &base,
            "--feed",
            "osv:Listed",
        ],
        &[],
    );
    assert_eq!(out2.status.code(), Some(2));
    assert!(stderr(&out2).contains("HTTP 404"), "{}", stderr(&out2));
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "failed updates keep the old DB"
    );
    let out3 = safeimage_in(d, &["db", "update", "--db", dbs, "--feed", "nonsense"], &[]);
    assert!(stderr(&out3).contains("unknown feed `nonsense`"));
}

/// `scan --vex-out`: the OpenVEX document is valid against OpenVEX's own
/// schema (pinned in testdata/schemas), says `not_affected` with the
/// ignore rule's justification (or its reason as the impact statement) and
/// `under_investigation` for the rest, and given back with `--vex` it
/// suppresses exactly the findings the ignore rules did.
#[test]
fn vex_out_states_the_ignore_rules_and_suppresses_exactly_them_when_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = import(d, &[&osv_fixtures().join("Debian-12")]);
    let sb = sbom(d, "app", &[]);
    let (_, all) = scan_json(d, &db, &sb, &[]);
    let all_ids = ids(&all);
    let some: Vec<&str> = all_ids
        .iter()
        .map(|s| s.split(' ').next().unwrap())
        .collect();
    let (a, b) = (some[0], some[1]);
    std::fs::write(
        d.join("ignore.yaml"),
        format!("ignore:\n  - id: {a}\n    reason: the module is not built\n    justification: vulnerable_code_not_present\n  - id: {b}\n    reason: behind a WAF\n"),
    )
    .unwrap();
    let (out, v) = scan_json(
        d,
        &db,
        &sb,
        &["--ignore-file", "ignore.yaml", "--vex-out", "vex.json"],
    );
    ok(&out);
    let suppressed: BTreeSet<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["suppressed"].is_null())
        .map(|f| {
            format!(
                "{} {}",
                f["id"].as_str().unwrap(),
                f["package"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert!(!suppressed.is_empty());
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("vex.json")).unwrap()).unwrap();
    let schema_path = repo().join("testdata/schemas/openvex-0.2.0.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let statements = doc["statements"].as_array().unwrap();
    let of = |id: &str| -> Vec<&Value> {
        statements
            .iter()
            .filter(|s| s["vulnerability"]["name"] == id)
            .collect()
    };
    assert!(
        of(a).iter().all(|s| s["status"] == "not_affected"
            && s["justification"] == "vulnerable_code_not_present")
    );
    assert!(of(b).iter().all(|s| s["status"] == "not_affected"
        && s["impact_statement"] == "behind a WAF"
        && s.get("justification").is_none()));
    let live = statements
        .iter()
        .filter(|s| s["status"] == "under_investigation")
        .count();
    assert!(live > 0);
    assert_eq!(
        statements
            .iter()
            .filter(|s| s["status"] == "not_affected")
            .count(),
        of(a).len() + of(b).len()
    );
    // `-f openvex` is the same document
    let out = safeimage_in(
        d,
        &[
            "scan",
            &sb,
            "--db",
            &db,
            "--ignore-file",
            "ignore.yaml",
            "-f",
            "openvex",
        ],
        &[],
    );
    ok(&out);
    let same: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(same["statements"], doc["statements"]);

    // the same statements as CycloneDX VEX, valid against CycloneDX 1.6
    let out = safeimage_in(
        d,
        &[
            "scan",
            &sb,
            "--db",
            &db,
            "--ignore-file",
            "ignore.yaml",
            "-f",
            "cyclonedx-vex",
        ],
        &[],
    );
    ok(&out);
    let cdx: Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = schema_errors(&cyclonedx_validator("1.6"), &cdx);
    assert!(errors.is_empty(), "{errors:#?}");
    let vulns = cdx["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), statements.len());
    for v in vulns.iter().filter(|v| v["id"] == a) {
        assert_eq!(v["analysis"]["state"], "not_affected");
        assert_eq!(v["analysis"]["justification"], "code_not_present");
    }
    assert!(vulns.iter().any(|v| v["analysis"]["state"] == "in_triage"));
    let refs: BTreeSet<&str> = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    assert!(vulns.iter().all(|v| {
        v["affects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| refs.contains(x["ref"].as_str().unwrap()))
    }));

    // read back instead of the ignore rules: exactly the same suppressed
    let (out, again) = scan_json(d, &db, &sb, &["--vex", "vex.json"]);
    ok(&out);
    let by_vex: BTreeSet<String> = again["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["suppressed"]["kind"] == "vex")
        .map(|f| {
            format!(
                "{} {}",
                f["id"].as_str().unwrap(),
                f["package"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(by_vex, suppressed);

    // a justification OpenVEX does not know is refused, naming the file
    std::fs::write(
        d.join("bad.yaml"),
        format!("ignore:\n  - id: {a}\n    reason: x\n    justification: trust_me\n"),
    )
    .unwrap();
    let (out, _) = scan_json(d, &db, &sb, &["--ignore-file", "bad.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("bad.yaml") && e.contains("trust_me"), "{e}");
}

/// distro-info-data's dates, as Debian ships them in /usr/share/distro-info,
/// imported into the DB; `scan` says where the image's release stands on
/// the day SOURCE_DATE_EPOCH names (the clock of a reproducible report),
/// and `--fail-on-eol` gates on it.
#[test]
fn eol_of_debian_11_12_and_ubuntu_from_distro_info_data_on_a_given_day() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let info = std::path::Path::new("/usr/share/distro-info");
    assert!(
        info.join("debian.csv").is_file(),
        "distro-info-data is not installed (scripts/setup-test installs it)"
    );
    let db = import(
        d,
        &[
            &osv_fixtures().join("Debian-12"),
            &info.join("debian.csv"),
            &info.join("ubuntu.csv"),
        ],
    );
    // the expectation read straight from the CSVs
    let row = |file: &str, version: &str| -> Vec<String> {
        std::fs::read_to_string(info.join(file))
            .unwrap()
            .lines()
            .find(|l| l.split(',').next() == Some(version))
            .unwrap_or_else(|| panic!("{version} not in {file}"))
            .split(',')
            .map(str::to_string)
            .collect()
    };
    let deb11 = row("debian.csv", "11");
    let deb12 = row("debian.csv", "12");
    let epoch = |date: &str| -> String {
        let t: findings::time::Timestamp = format!("{date}T12:00:00Z").parse().unwrap();
        t.0.to_string()
    };
    let scan_on = |sbom: &str, day: &str, extra: &[&str]| -> (Output, Value) {
        let mut args = vec!["scan", sbom, "--db", &db, "-f", "json"];
        args.extend(extra);
        let out = safeimage_in(d, &args, &[("SOURCE_DATE_EPOCH", &epoch(day))]);
        let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out, v)
    };
    let with_os = |name: &str, id: &str, version: &str| -> String {
        let doc = json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
            "metadata": {"component": {"type": "container", "name": name}},
            "components": [{"type": "operating-system", "name": id, "version": version}]});
        let p = d.join(format!("{name}.cdx.json"));
        std::fs::write(&p, doc.to_string()).unwrap();
        p.to_str().unwrap().to_string()
    };
    // Debian 12: the end of free updates is the LTS end (column eol-lts)
    let b12 = with_os("bookworm", "debian", "12");
    let (out, v) = scan_on(&b12, &deb12[4], &[]);
    ok(&out);
    assert_eq!(v["eol"][0]["release"], "debian 12 (bookworm)");
    assert_eq!(v["eol"][0]["end"], deb12[6].as_str());
    assert_eq!(v["eol"][0]["eol"], false);
    // Debian 11 the day after its LTS ended: EOL, and the gate says so
    let b11 = with_os("bullseye", "debian", "11");
    let after: findings::time::Timestamp = format!("{}T00:00:00Z", deb11[6]).parse().unwrap();
    let day_after = findings::time::Timestamp(after.0 + 86_400).date();
    let (out, v) = scan_on(&b11, &day_after, &["--fail-on-eol", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(v["eol"][0]["eol"], true);
    assert_eq!(v["eol"][0]["days_left"], -1);
    assert!(
        stderr(&out).contains(&format!("EOL since {}", deb11[6])),
        "{}",
        stderr(&out)
    );
    // ... and 30 days before, --fail-on-eol 31 blocks while 29 passes
    let before = findings::time::Timestamp(after.0 - 30 * 86_400).date();
    let (out, _) = scan_on(&b11, &before, &["--fail-on-eol", "31"]);
    assert_eq!(out.status.code(), Some(1));
    let (out, v) = scan_on(&b11, &before, &["--fail-on-eol", "29"]);
    ok(&out);
    assert_eq!(v["eol"][0]["days_left"], 30);
    // Ubuntu 22.04 LTS: found by VERSION_ID, marked LTS
    let jammy = with_os("jammy", "ubuntu", "22.04");
    let (out, v) = scan_on(&jammy, "2026-12-07", &[]);
    ok(&out);
    assert_eq!(v["eol"][0]["release"], "ubuntu 22.04 LTS (jammy)");
    // an unknown distribution: no claim, and the gate says there is none
    let other = with_os("other", "plan9", "4");
    let (out, v) = scan_on(&other, "2026-12-07", &["--fail-on-eol", "0"]);
    ok(&out);
    assert!(v["eol"].is_null(), "{}", v["eol"]);
    assert!(
        v["notes"]
            .to_string()
            .contains("no end-of-life data for plan9 4"),
        "{}",
        v["notes"]
    );
}
