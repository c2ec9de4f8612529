//! Every rule has documentation with a bad example that triggers it and a
//! good example that does not; the generated docs/rules pages are current.

use dockerfile::rules::docs::{DOCS, doc, page};
use dockerfile::rules::{RULES, rule};
use dockerfile::{LintConfig, SourceFile, lint};

fn example_policy() -> dockerfile::Policy {
    let text = r#"
[policy.base_images]
preferred = ["alpine", "gcr.io/distroless/*"]
permitted = ["debian"]
restricted = ["node"]
default_tier = "prohibited"
trusted_registries = ["docker.io", "gcr.io"]
require_digest = true
docker_official_only = true
"#;
    LintConfig::from_toml("policy.toml", text)
        .unwrap()
        .policy
        .unwrap()
}

/// End-of-life data for the `current_release` examples: Python 3.8
/// (ended), 3.13 and Debian 12/13 (live), on a fixed day.
struct ExampleReleases;

impl dockerfile::release::Releases for ExampleReleases {
    fn cycles(&self, product: &str) -> Vec<dockerfile::release::Cycle> {
        let c = |cycle: &str, codename: Option<&str>, release: &str, end: &str| {
            dockerfile::release::Cycle {
                product: product.into(),
                cycle: cycle.into(),
                codename: codename.map(Into::into),
                release: Some(release.into()),
                end: Some(end.into()),
                ended: false,
                lts: false,
            }
        };
        match product {
            "python" => vec![
                c("3.8", None, "2019-10-14", "2024-10-07"),
                c("3.13", None, "2024-10-07", "2029-10-31"),
            ],
            "debian" => vec![
                c("12", Some("bookworm"), "2023-06-10", "2028-06-30"),
                c("13", Some("trixie"), "2025-08-09", "2030-06-30"),
            ],
            _ => vec![],
        }
    }
    fn today(&self) -> String {
        "2026-12-07".into()
    }
}

/// The label schema the label rules' examples use (also on their pages).
fn example_label_schema() -> std::collections::BTreeMap<String, dockerfile::config::LabelType> {
    let text = r#"
[lint.label_schema]
"org.opencontainers.image.source" = "url"
"org.opencontainers.image.licenses" = "spdx"
"org.opencontainers.image.revision" = "hash"
"#;
    LintConfig::from_toml("lint.toml", text)
        .unwrap()
        .label_schema
}

fn codes(code: &str, text: &str) -> Vec<String> {
    let mut cfg = LintConfig {
        shellcheck: false,
        ..LintConfig::default()
    };
    if code.starts_with("base-")
        && !matches!(
            code,
            "base-untagged" | "base-latest" | "base-invalid-reference"
        )
    {
        cfg.policy = Some(example_policy());
    }
    if code.starts_with("base-release-") {
        if let Some(p) = cfg.policy.as_mut() {
            p.current_release = true;
        }
        cfg.releases = Some(dockerfile::config::ReleaseData(std::sync::Arc::new(
            ExampleReleases,
        )));
    }
    if code.starts_with("label-") && code != "label-key-invalid" {
        cfg.label_schema = example_label_schema();
        cfg.strict_labels = true;
    }
    let report = lint(&[SourceFile::new("Dockerfile", text)], &cfg);
    report.findings.into_iter().map(|f| f.code).collect()
}

#[test]
fn every_rule_has_docs_and_examples_that_hold() {
    let mut failures = Vec::new();
    for r in RULES {
        let Some(d) = doc(r.code) else {
            failures.push(format!("{}: no documentation", r.code));
            continue;
        };
        let bad = codes(r.code, d.bad);
        if !bad.iter().any(|c| c == r.code) {
            failures.push(format!(
                "{}: bad example does not trigger it (got {bad:?})",
                r.code
            ));
        }
        let good = codes(r.code, d.good);
        if good.iter().any(|c| c == r.code) {
            failures.push(format!("{}: good example triggers it", r.code));
        }
    }
    for d in DOCS {
        if rule(d.code).is_none() {
            failures.push(format!("{}: documented but not a rule", d.code));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn generated_rule_pages_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules");
    let update = std::env::var_os("SAFEIMAGE_UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    for r in RULES {
        let path = dir.join(format!("{}.md", r.code));
        let want = page(r);
        if update {
            std::fs::write(&path, &want).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale rule pages (run with SAFEIMAGE_UPDATE_DOCS=1): {stale:?}"
    );
}
