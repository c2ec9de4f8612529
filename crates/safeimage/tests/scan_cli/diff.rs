//! `safeimage diff` on SBOMs and scan reports: package and advisory
//! changes, the hard rules' verdict, `--fail-on` exit codes, Markdown.

use super::*;

fn diff(dir: &Path, args: &[&str]) -> (Output, Value) {
    let mut all = vec!["diff"];
    all.extend(args);
    let out = safeimage_in(dir, &all, &[]);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, v)
}

#[test]
fn diff_of_two_sboms_lists_the_upgrade_and_the_advisories_it_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = import(d, &[&osv_fixtures()]);
    let a = sbom(d, "before", &[("urllib3", "1.26.4"), ("idna", "3.7")]);
    let b = sbom(d, "after", &[("urllib3", "2.6.3"), ("certifi", "2026.1.4")]);
    let (_, va) = scan_json(d, &db, &a, &[]);
    let urllib3_before: BTreeSet<String> = ids(&va)
        .into_iter()
        .filter(|i| i.ends_with(" urllib3"))
        .collect();
    assert!(!urllib3_before.is_empty(), "urllib3 1.26.4 has advisories");

    let (out, v) = diff(
        d,
        &[
            &a,
            &b,
            "--db",
            &db,
            "-f",
            "json",
            "--fail-on",
            "count-up,any-new",
        ],
    );
    ok(&out);
    let changed = &v["packages"]["changed"];
    assert_eq!(changed.as_array().unwrap().len(), 1, "{changed:#}");
    assert_eq!(changed[0]["name"], "urllib3");
    assert_eq!(
        (changed[0]["from"].as_str(), changed[0]["to"].as_str()),
        (Some("1.26.4"), Some("2.6.3"))
    );
    assert_eq!(v["packages"]["added"][0]["name"], "certifi");
    assert_eq!(v["packages"]["removed"][0]["name"], "idna");
    let fixed: BTreeSet<String> = v["vulnerabilities"]["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["id"].as_str().unwrap(),
                f["package"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        fixed, urllib3_before,
        "exactly the advisories of the old urllib3 are fixed"
    );
    assert_eq!(v["vulnerabilities"]["new"], json!([]));
    assert_eq!(v["security"]["verdict"], "improved");
    assert!(v["layers"].is_null(), "SBOMs have no layers");

    let (out, _) = diff(d, &[&a, &b, "--db", &db, "-f", "markdown"]);
    let md = String::from_utf8_lossy(&ok(&out).stdout).into_owned();
    assert!(md.contains("**Security: improved**"), "{md}");
    assert!(
        md.contains("| `urllib3` | `python` | `1.26.4` | `2.6.3` |"),
        "{md}"
    );
}

#[test]
fn diff_of_two_scan_reports_needs_no_db_and_fails_on_the_new_finding() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = import(d, &[&osv_fixtures()]);
    let a = sbom(d, "before", &[("idna", "3.7")]);
    let b = sbom(d, "after", &[("idna", "3.7"), ("urllib3", "1.26.4")]);
    for (sb, name) in [(&a, "a.json"), (&b, "b.json")] {
        let (out, _) = scan_json(d, &db, sb, &["-o", name]);
        ok(&out);
    }
    // no DB exists at this path: reports are compared as they are
    let (out, v) = diff(
        d,
        &[
            "a.json",
            "b.json",
            "--db",
            "missing.db",
            "-f",
            "json",
            "--fail-on",
            "any-new",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(v["packages"].is_null(), "a report lists no packages");
    assert!(!v["vulnerabilities"]["new"].as_array().unwrap().is_empty());
    assert_eq!(v["vulnerabilities"]["fixed"], json!([]));
    assert_eq!(v["security"]["verdict"], "blocked");
    assert!(stderr(&out).contains("(any-new)"), "{}", stderr(&out));
    assert_eq!(v["a"]["name"], "before");
}

#[test]
fn diff_names_the_source_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = import(d, &[&osv_fixtures().join("PyPI")]);
    let a = sbom(d, "before", &[]);
    std::fs::write(
        d.join("broken.json"),
        "{\"schema\": \"safeimage-scan/1\", \"findings\": 3}",
    )
    .unwrap();
    let (out, _) = diff(d, &[&a, "broken.json", "--db", &db]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("broken.json"), "{e}");
    assert_eq!(e.matches("error:").count(), 1, "printed once: {e}");
}
