//! The scan report in every format: table, JSON, SARIF, JUnit, HTML.

use super::*;
use scan::{FixState, LocationRef, PackageRef, Suppression};

fn finding(id: &str, pkg: &str, sev: Severity, fixed: Option<&str>) -> Finding {
    Finding {
        id: id.parse().unwrap(),
        aliases: vec![format!("DEBIAN-{id}").parse().unwrap()],
        advisories: vec![format!("DEBIAN-{id}").parse().unwrap()],
        package: PackageRef {
            kind: "deb".into(),
            name: pkg.into(),
            version: "3.0.11-1~deb12u2".into(),
            purl: format!("pkg:deb/debian/{pkg}@3.0.11-1~deb12u2?distro=debian-12"),
            source_name: Some("openssl".into()),
            source_version: Some("3.0.11-1~deb12u2".into()),
            locations: vec![LocationRef {
                path: "var/lib/dpkg/status".into(),
                layer: Some("sha256:aa".into()),
            }],
        },
        ecosystem: "Debian:12".into(),
        matched: "source package openssl 3.0.11-1~deb12u2".into(),
        fixed_version: fixed.map(str::to_string),
        state: if fixed.is_some() {
            FixState::Fixed
        } else {
            FixState::NotFixed
        },
        severity: sev,
        severity_source: "debian".parse().unwrap(),
        severity_detail: "high".into(),
        ratings: vec![],
        cvss: vec![],
        summary: format!("{id} in openssl <b>& friends</b>"),
        references: vec![format!("https://security-tracker.debian.org/tracker/{id}")],
        kev: None,
        epss: None,
        due: None,
        suppressed: None,
        origin: None,
    }
}

fn sample() -> Vec<Finding> {
    let mut f = vec![
        finding(
            "CVE-2024-0001",
            "libssl3",
            Severity::High,
            Some("3.0.15-1~deb12u1"),
        ),
        finding("CVE-2024-0002", "libssl3", Severity::Medium, None),
        finding(
            "CVE-2024-0001",
            "openssl",
            Severity::High,
            Some("3.0.15-1~deb12u1"),
        ),
    ];
    f[2].suppressed = Some(Suppression {
        kind: "vex".into(),
        file: "vex.json statements[0]".into(),
        reason: "component_not_present".into(),
        status: Some("not_affected".into()),
        justification: None,
        expires: None,
    });
    f
}

fn report(f: &[Finding]) -> ScanReport<'_> {
    ScanReport::new(
        ToolInfo {
            name: "safeimage".into(),
            version: "0.0.0".into(),
        },
        "2026-11-23T00:00:00Z".into(),
        Target {
            name: "registry.example/app:1".into(),
            digest: Some("sha256:bb".into()),
            distro: Some("debian 12".into()),
        },
        DbInfo {
            built_at: "2026-11-22T00:00:00Z".into(),
            schema_version: 1,
        },
        f,
        120,
        2,
        &[],
    )
}

#[test]
fn table_snapshot() {
    let f = sample();
    insta::assert_snapshot!(table(&report(&f), false));
}

#[test]
fn junit_snapshot() {
    let f = sample();
    insta::assert_snapshot!(junit(&report(&f)));
}

#[test]
fn html_links_only_http_and_has_a_csp() {
    let mut f = sample();
    f[0].references = vec![
        "javascript:alert(1)".into(),
        "data:text/html,x".into(),
        "https://security-tracker.debian.org/tracker/CVE-2024-0001".into(),
    ];
    f[1].references = vec!["JavaScript:alert(2)".into()];
    let h = html(&report(&f));
    assert!(!h.to_ascii_lowercase().contains("href=\"javascript"), "{h}");
    assert!(!h.contains("href=\"data:"), "{h}");
    assert!(
        h.contains("href=\"https:&#x2f;&#x2f;security-tracker")
            || h.contains("href=\"https://security-tracker"),
        "{h}"
    );
    assert!(h.contains("Content-Security-Policy") && h.contains("default-src 'none'"));
    assert_eq!(http_link(vec!["https://a b".into()]), None);
}

#[test]
fn table_escapes_terminal_control_characters() {
    let mut f = sample();
    f[0].package.name = "pkg\x1b]0;owned\x07".into();
    f[0].summary = "\x1b[2J\x1b[HFAKE-CLEAN".into();
    let t = table(&report(&f), false);
    assert!(!t.contains('\x1b') && !t.contains('\x07'), "{t:?}");
    assert!(t.contains("\\x1b[2J"), "{t}");
}

#[test]
fn html_escapes_and_counts() {
    let f = sample();
    let h = html(&report(&f));
    assert!(
        h.contains("&lt;b&gt;&amp; friends&lt;&#x2f;b&gt;")
            || h.contains("&lt;b&gt;&amp; friends&lt;/b&gt;"),
        "{h}"
    );
    assert!(h.contains(r#"id="count-high">1<"#));
    assert!(h.contains(r#"id="count-suppressed">1<"#));
    assert!(h.contains("suppressed (vex: not_affected): component_not_present"));
}

#[test]
fn summary_counts_only_live_findings() {
    let f = sample();
    let s = Summary::of(&f, 10, 0);
    assert_eq!(
        (s.total, s.fixable, s.not_fixable, s.suppressed),
        (2, 1, 1, 1)
    );
    assert_eq!(s.by_severity["HIGH"], 1);
}

fn attributed() -> (Vec<Finding>, Attribution) {
    use scan::attribution::{Origin, Step};
    let mut f = sample();
    let base = Origin {
        layer: 0,
        diff_id: "sha256:aa".into(),
        part: Part::Base,
        step: None,
    };
    let app = Origin {
        layer: 2,
        diff_id: "sha256:cc".into(),
        part: Part::App,
        step: Some(Step {
            file: "app/Dockerfile".into(),
            line: 7,
            keyword: "RUN".into(),
            text: "RUN apt-get install -y openssl".into(),
            command: Some("apt-get install -y openssl".into()),
        }),
    };
    f[0].origin = Some(base.clone());
    f[1].origin = Some(base.clone());
    f[2].origin = Some(app.clone());
    f[2].suppressed = None;
    let a = Attribution {
        base: Some("debian@sha256:aa".into()),
        base_layers: Some(1),
        layers: vec![base, app],
        notes: vec![],
    };
    (f, a)
}

#[test]
fn sarif_puts_an_app_layer_finding_on_its_dockerfile_line_and_a_base_one_on_its_path() {
    let (f, a) = attributed();
    let mut r = report(&f);
    r.attribution = Some(&a);
    let s = sarif(&r);
    let results = s["runs"][0]["results"].as_array().unwrap();
    let app = results
        .iter()
        .find(|x| x["properties"]["package"] == "openssl")
        .unwrap();
    let loc = &app["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "app/Dockerfile");
    assert_eq!(loc["region"]["startLine"], 7);
    assert_eq!(app["properties"]["layerPart"], "app");
    let base = results
        .iter()
        .find(|x| x["properties"]["package"] == "libssl3")
        .unwrap();
    assert_eq!(
        base["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "var/lib/dpkg/status"
    );
    assert_eq!(
        base["properties"]["remedy"],
        "fix by bumping the base image"
    );
}

#[test]
fn table_names_each_package_s_layer_and_counts_base_against_app() {
    let (f, a) = attributed();
    let mut r = report(&f);
    r.attribution = Some(&a);
    let t = table(&r, false);
    assert!(
        t.contains("openssl 3.0.11-1~deb12u2 (deb)  [layer 2, app: app/Dockerfile:7 RUN apt-get install -y openssl]"),
        "{t}"
    );
    assert!(
        t.contains("libssl3 3.0.11-1~deb12u2 (deb, source openssl)  [layer 0, base]"),
        "{t}"
    );
    assert!(
        t.contains("2 in the base image's layers (fix by bumping the base: debian@sha256:aa), 1 in this image's own layers"),
        "{t}"
    );
    let j: serde_json::Value = serde_json::from_str(&json(&r)).unwrap();
    assert_eq!(j["attribution"]["base_layers"], 1);
    assert_eq!(j["findings"][2]["origin"]["step"]["line"], 7);
}
