//! Statuses from evidence, grouping, and the document read back by our own
//! OpenVEX reader suppressing exactly what it says.

use super::*;
use crate::Suppression;
use crate::suppress::tests::finding;

fn product() -> Product {
    Product {
        name: "registry.example/team/app:1".into(),
        digest: Some("sha256:abcd".into()),
    }
}

#[test]
fn product_purl_is_the_oci_purl_of_the_digest() {
    assert_eq!(
        product().purl(),
        "pkg:oci/app@sha256%3Aabcd?repository_url=registry.example/team/app"
    );
    let p = Product {
        name: "oci:/tmp/x/layout:v1".into(),
        digest: None,
    };
    assert_eq!(p.purl(), "pkg:oci/v1");
}

#[test]
fn statuses_come_from_the_evidence() {
    let mut ignored = finding("CVE-2024-1", &[], "libfoo", "pkg:deb/debian/libfoo@1");
    ignored.suppressed = Some(Suppression {
        kind: "ignore-file".into(),
        file: ".safeimage-ignore.yaml ignore[0]".into(),
        reason: "not reachable from our entrypoint".into(),
        status: Some("not_affected".into()),
        justification: Some("vulnerable_code_not_in_execute_path".into()),
        expires: None,
    });
    let live = finding(
        "CVE-2024-2",
        &["GHSA-x"],
        "libbar",
        "pkg:deb/debian/libbar@2",
    );
    let gone = finding("CVE-2024-3", &[], "libold", "pkg:deb/debian/libold@0.9");
    let doc = openvex(
        &[ignored, live],
        &[&gone],
        &product(),
        "2026-12-07T00:00:00Z",
        "safeimage 0.1",
    );
    let st = doc["statements"].as_array().unwrap();
    let by = |id: &str| {
        st.iter()
            .find(|s| s["vulnerability"]["name"] == id)
            .unwrap()
    };
    let s1 = by("CVE-2024-1");
    assert_eq!(s1["status"], "not_affected");
    assert_eq!(s1["justification"], "vulnerable_code_not_in_execute_path");
    assert_eq!(s1["impact_statement"], "not reachable from our entrypoint");
    assert_eq!(
        s1["products"][0]["subcomponents"][0]["@id"],
        "pkg:deb/debian/libfoo@1"
    );
    assert_eq!(by("CVE-2024-2")["status"], "under_investigation");
    assert_eq!(by("CVE-2024-2")["vulnerability"]["aliases"][0], "GHSA-x");
    assert_eq!(by("CVE-2024-3")["status"], "fixed");
    assert!(doc["@id"].as_str().unwrap().starts_with("urn:uuid:"));
}

#[test]
fn our_reader_suppresses_exactly_what_the_document_says_is_not_affected() {
    let mut a = finding("CVE-2024-1", &[], "libfoo", "pkg:deb/debian/libfoo@1");
    a.suppressed = Some(Suppression {
        kind: "ignore-file".into(),
        file: "x".into(),
        reason: "no".into(),
        status: None,
        justification: None,
        expires: None,
    });
    let b = finding("CVE-2024-1", &[], "libother", "pkg:deb/debian/libother@1");
    let doc = openvex(&[a.clone(), b.clone()], &[], &product(), "t", "safeimage");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vex.json");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let statements = crate::suppress::read_openvex(&path).unwrap();
    let mut again = vec![a, b];
    for f in &mut again {
        f.suppressed = None;
    }
    crate::suppress::apply_vex(
        &mut again,
        &statements,
        "registry.example/team/app:1",
        Some("sha256:abcd"),
    );
    assert!(again[0].suppressed.is_some(), "libfoo is not affected");
    assert!(
        again[1].suppressed.is_none(),
        "libother is still under investigation"
    );
    // another digest is another product
    for f in &mut again {
        f.suppressed = None;
    }
    crate::suppress::apply_vex(
        &mut again,
        &statements,
        "registry.example/team/app:1",
        Some("sha256:ffff"),
    );
    assert!(again.iter().all(|f| f.suppressed.is_none()));
}
