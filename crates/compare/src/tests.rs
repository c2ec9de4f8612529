use super::*;

fn finding(id: &str, pkg: &str, version: &str, sev: &str) -> Finding {
    serde_json::from_value(serde_json::json!({
        "id": id, "aliases": [], "advisories": [id],
        "package": {"type": "deb", "name": pkg, "version": version, "purl": ""},
        "ecosystem": "Debian:12", "matched": "", "state": "fixed",
        "fixed_version": "9", "severity": sev,
        "severity_source": "debian", "severity_detail": "",
        "summary": "", "references": []
    }))
    .unwrap()
}

fn pkg(name: &str, version: &str) -> Package {
    Package {
        kind: "deb".into(),
        name: name.into(),
        version: version.into(),
    }
}

fn side(packages: &[(&str, &str)], findings: Vec<Finding>) -> Side {
    Side {
        name: "x".into(),
        packages: Some(packages.iter().map(|(n, v)| pkg(n, v)).collect()),
        findings,
        ..Default::default()
    }
}

#[test]
fn packages_are_added_removed_and_changed_by_name_and_type() {
    let a = side(&[("libc6", "1"), ("curl", "7"), ("old", "1")], vec![]);
    let b = side(&[("libc6", "2"), ("curl", "7"), ("new", "3")], vec![]);
    let p = compare(&a, &b).packages.unwrap();
    assert_eq!(p.added, vec![pkg("new", "3")]);
    assert_eq!(p.removed, vec![pkg("old", "1")]);
    assert_eq!(p.changed.len(), 1);
    assert_eq!(
        (p.changed[0].from.as_str(), p.changed[0].to.as_str()),
        ("1", "2")
    );
    assert_eq!(p.unchanged, 1);
}

#[test]
fn two_versions_of_one_package_are_not_guessed_into_an_upgrade() {
    let a = side(&[("lodash", "1"), ("lodash", "2")], vec![]);
    let b = side(&[("lodash", "3")], vec![]);
    let p = compare(&a, &b).packages.unwrap();
    assert!(p.changed.is_empty());
    assert_eq!(p.removed.len(), 2);
    assert_eq!(p.added, vec![pkg("lodash", "3")]);
}

#[test]
fn a_side_without_packages_gives_no_package_changes() {
    let a = side(&[("a", "1")], vec![]);
    let mut b = side(&[], vec![]);
    b.packages = None;
    assert!(compare(&a, &b).packages.is_none());
}

#[test]
fn vulnerabilities_fixed_and_new_with_the_upgrade_kept_as_unchanged() {
    let a = side(
        &[],
        vec![
            finding("CVE-1", "openssl", "1", "HIGH"),
            finding("CVE-2", "curl", "7", "LOW"),
        ],
    );
    // openssl upgraded but CVE-2 still open at curl 8: unchanged
    let b = side(
        &[],
        vec![
            finding("CVE-2", "curl", "8", "LOW"),
            finding("CVE-3", "zlib", "1", "CRITICAL"),
        ],
    );
    let c = compare(&a, &b);
    assert_eq!(c.vulnerabilities.fixed.len(), 1);
    assert_eq!(c.vulnerabilities.fixed[0].id, "CVE-1");
    assert_eq!(c.vulnerabilities.new[0].id, "CVE-3");
    assert_eq!(c.vulnerabilities.unchanged, 1);
    assert_eq!((c.a.total, c.b.total), (2, 2));
}

#[test]
fn fail_on_conditions_each_need_their_own_evidence() {
    let a = side(&[], vec![finding("CVE-1", "a", "1", "HIGH")]);
    let b = side(&[], vec![finding("CVE-2", "b", "1", "LOW")]);
    let c = compare(&a, &b);
    let all = [FailOn::NewCritical, FailOn::CountUp, FailOn::AnyNew];
    let f = failures(&c, &all);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].contains("any-new"));
    let b2 = side(
        &[],
        vec![
            finding("CVE-1", "a", "1", "HIGH"),
            finding("CVE-9", "c", "1", "CRITICAL"),
        ],
    );
    let f = failures(&compare(&a, &b2), &all);
    assert_eq!(f.len(), 3, "{f:?}");
}

#[test]
fn hard_rules_critical_blocks_even_when_the_count_goes_down() {
    let a = side(
        &[],
        vec![
            finding("CVE-1", "a", "1", "HIGH"),
            finding("CVE-2", "b", "1", "HIGH"),
            finding("CVE-3", "c", "1", "CRITICAL"),
        ],
    );
    let b = side(&[], vec![finding("CVE-3", "c", "2", "CRITICAL")]);
    let s = security(&compare(&a, &b));
    assert!(matches!(s, Security::Blocked(_)), "{s:?}");
    assert!(s.reason().contains("CRITICAL"));
}

#[test]
fn hard_rules_count_up_blocks_down_improves_same_does_not() {
    let one = side(&[], vec![finding("CVE-1", "a", "1", "HIGH")]);
    let two = side(
        &[],
        vec![
            finding("CVE-1", "a", "1", "HIGH"),
            finding("CVE-2", "b", "1", "LOW"),
        ],
    );
    assert!(matches!(
        security(&compare(&one, &two)),
        Security::Blocked(_)
    ));
    assert!(security(&compare(&two, &one)).improved());
    assert!(matches!(
        security(&compare(&one, &one)),
        Security::Unchanged(_)
    ));
}

#[test]
fn suppressed_findings_count_on_neither_side() {
    let a = side(&[], vec![finding("CVE-1", "a", "1", "HIGH")]);
    let mut f = finding("CVE-2", "b", "1", "CRITICAL");
    f.suppressed = serde_json::from_value(
        serde_json::json!({"kind": "ignore-file", "file": "f", "reason": "r"}),
    )
    .ok();
    assert!(f.suppressed.is_some(), "the test's suppression must parse");
    let b = side(&[], vec![f]);
    let c = compare(&a, &b);
    assert!(c.vulnerabilities.new.is_empty());
    assert!(security(&c).improved());
}

#[test]
fn layers_are_matched_by_diff_id() {
    let l = |d: &str| Layer {
        digest: format!("sha256:c{d}"),
        diff_id: format!("sha256:{d}"),
        size: 10,
        created_by: None,
    };
    let mut a = side(&[], vec![]);
    a.layers = Some(vec![l("1"), l("2")]);
    let mut b = side(&[], vec![]);
    b.layers = Some(vec![l("1"), l("3"), l("4")]);
    let c = compare(&a, &b);
    let ls = c.layers.unwrap();
    assert_eq!(ls.shared, 1);
    assert_eq!(ls.removed, vec![l("2")]);
    assert_eq!(ls.added.len(), 2);
    assert_eq!(
        (c.a.compressed_bytes, c.b.compressed_bytes),
        (Some(20), Some(30))
    );
}
