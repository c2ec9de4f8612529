//! End of life of the runtimes in an image: endoflife.date's release
//! cycles of Python (a pinned extract of its repository's product file)
//! imported into the DB; `scan` names each Python release found, with what
//! it was told from, and where it stands on the day SOURCE_DATE_EPOCH
//! names; `--fail-on-eol` blocks on an ended runtime as on an ended
//! distribution; a release the data does not know gets no claim.

use super::*;

#[test]
fn python_runtimes_eol_from_the_endoflife_date_snapshot_on_a_given_day() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let python = pinned("endoflife-a70eca3/python.md");
    let db = import(d, &[&osv_fixtures().join("PyPI"), &python]);
    // the expectation read straight from the product file
    let text = std::fs::read_to_string(&python).unwrap();
    let eol_of = |cycle: &str| -> String {
        let at = text
            .find(&format!("releaseCycle: \"{cycle}\""))
            .unwrap_or_else(|| panic!("{cycle} not in the snapshot"));
        let rest = &text[at..];
        let line = rest
            .lines()
            .find(|l| l.trim_start().starts_with("eol:"))
            .unwrap();
        line.trim().trim_start_matches("eol:").trim().to_string()
    };
    let (e39, e312) = (eol_of("3.9"), eol_of("3.12"));
    assert!(e39.as_str() < "2026-12-07" && e312.as_str() > "2026-12-07");
    // an image with Python 3.9 built from source (its site-packages) and
    // Debian's python3.12 package, and a runtime release nobody has
    let doc = json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "metadata": {"component": {"type": "container", "name": "app"}},
        "components": [
            {"type": "library", "name": "requests", "version": "2.31.0", "purl": "pkg:pypi/requests@2.31.0",
             "properties": [{"name": "safeimage:location:path", "value": "usr/local/lib/python3.9/site-packages/requests-2.31.0.dist-info/METADATA"}]},
            {"type": "library", "name": "python3.12-minimal", "version": "3.12.3-1",
             "purl": "pkg:deb/debian/python3.12-minimal@3.12.3-1?arch=amd64"},
            {"type": "library", "name": "python3.99-minimal", "version": "3.99.0-1",
             "purl": "pkg:deb/debian/python3.99-minimal@3.99.0-1?arch=amd64"}]});
    let sbom = d.join("app.cdx.json");
    std::fs::write(&sbom, doc.to_string()).unwrap();
    let t: findings::time::Timestamp = "2026-12-07T12:00:00Z".parse().unwrap();
    let scan = |extra: &[&str]| -> (Output, Value) {
        let mut args = vec!["scan", sbom.to_str().unwrap(), "--db", &db];
        args.extend(extra);
        if !extra.contains(&"-f") {
            args.extend(["-f", "json"]);
        }
        let out = safeimage_in(d, &args, &[("SOURCE_DATE_EPOCH", &t.0.to_string())]);
        let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out, v)
    };
    let (out, v) = scan(&[]);
    ok(&out);
    let eol = v["eol"].as_array().unwrap_or_else(|| panic!("{v}"));
    let by = |release: &str| {
        eol.iter()
            .find(|e| e["release"] == release)
            .unwrap_or_else(|| panic!("no {release} in {}", v["eol"]))
    };
    assert_eq!(eol.len(), 2, "3.99 is unknown: no claim\n{}", v["eol"]);
    let p39 = by("python 3.9");
    assert_eq!(p39["eol"], true);
    assert_eq!(p39["end"], e39.as_str());
    assert_eq!(p39["evidence"], "usr/local/lib/python3.9/site-packages");
    assert_eq!(p39["source"], "endoflife.date");
    let p312 = by("python 3.12");
    assert_eq!(p312["eol"], false);
    assert_eq!(p312["end"], e312.as_str());
    assert!(p312["days_left"].as_i64().unwrap() > 0);
    assert_eq!(p312["evidence"], "deb python3.12-minimal 3.12.3-1");
    // the table says it in words
    let (out, _) = scan(&["-f", "table"]);
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        table.contains(&format!(
            "python 3.9: EOL since {e39} [usr/local/lib/python3.9/site-packages]"
        )),
        "{table}"
    );
    // the gate blocks on the ended runtime, naming it
    let (out, _) = scan(&["--fail-on-eol", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("python 3.9: EOL since {e39}")),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("python 3.12:"), "{}", stderr(&out));
}
