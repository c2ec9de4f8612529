//! End-to-end tests of `safeimage lint`: the real binary on real files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_safeimage"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus() -> PathBuf {
    testkit::data_dir().join("corpus/dockerfiles")
}

fn run(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .args(args)
        .env_remove("SAFEIMAGE_CONFIG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn codes(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn whole_corpus_lints_without_syntax_errors() {
    let out = run(
        &repo(),
        &[
            "lint",
            corpus().to_str().unwrap(),
            "--format",
            "json",
            "--no-shellcheck",
            "--no-cache",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "the corpus has warnings");
    let v = json(&out);
    assert_eq!(v["files"], 149);
    assert!(!codes(&v).iter().any(|c| c == "syntax-error"));
}

#[test]
fn sarif_is_valid_against_the_official_schema() {
    let schema_path = repo().join("target/test-schemas/sarif-2.1.0.json");
    let mut schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run scripts/fetch-test-schemas",
                schema_path.display()
            )
        }))
        .unwrap();
    // The published schema's `language` pattern has a stray `]` that strict
    // regex engines reject when the schema itself is checked; use the pattern
    // it means (RFC 5646 `ll` or `ll-CC`). Nothing else is changed.
    let fixed = serde_json::to_string(&schema).unwrap().replace(
        r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#,
        r#""^[a-zA-Z]{2}(-[a-zA-Z]{2})?$""#,
    );
    schema = serde_json::from_str(&fixed).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = run(
        &repo(),
        &[
            "lint",
            corpus().to_str().unwrap(),
            "--format",
            "sarif",
            "--cache-dir",
            cache.path().to_str().unwrap(),
        ],
    );
    let sarif = json(&out);
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .take(5)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let run0 = &sarif["runs"][0];
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    let apt = rules.iter().find(|r| r["id"] == "apt-unpinned").unwrap();
    assert_eq!(apt["properties"]["hadolint"][0], "DL3008");
    let results = run0["results"].as_array().unwrap();
    assert!(results.len() > 500);
    let r = &results[0];
    assert!(
        r["locations"][0]["physicalLocation"]["region"]["startLine"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert_eq!(
        rules[r["ruleIndex"].as_u64().unwrap() as usize]["id"],
        r["ruleId"]
    );
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"].as_str().unwrap().starts_with("SC")),
        "ShellCheck findings are part of the SARIF run (apt-get install shellcheck)"
    );
}

#[test]
fn exit_codes_and_thresholds() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Dockerfile",
        "FROM alpine:3.20\nRUN adduser -D -u 10001 app\nUSER 10001\nHEALTHCHECK NONE\nCMD [\"sh\"]\n",
    );
    let out = run(d.path(), &["lint", "--no-shellcheck"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    write(
        d.path(),
        "Dockerfile",
        "FROM alpine:3.20\nRUN apk add --no-cache curl\nUSER 10001\nHEALTHCHECK NONE\n",
    );
    assert_eq!(
        run(d.path(), &["lint", "--no-shellcheck"]).status.code(),
        Some(1)
    );
    assert_eq!(
        run(
            d.path(),
            &["lint", "--no-shellcheck", "--failure-threshold", "error"]
        )
        .status
        .code(),
        Some(0)
    );
    let out = run(d.path(), &["lint", "missing/Dockerfile"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing/Dockerfile"));
}

#[test]
fn human_output_shows_the_line_and_a_caret() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Dockerfile",
        "FROM alpine:3.20\nRUN sudo apk add --no-cache curl=8.9.1-r2\n",
    );
    let out = run(d.path(), &["lint", "--no-shellcheck", "Dockerfile"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("error[sudo]"), "{text}");
    assert!(text.contains("--> Dockerfile:2:5"), "{text}");
    assert!(text.contains("2 | RUN sudo apk add"), "{text}");
    assert!(text.contains("^^^^"), "{text}");
}

#[test]
fn syntax_error_names_the_line_and_other_files_are_still_linted() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Dockerfile",
        "FROM alpine:3.20\nRUN echo ok\nBOGUS x\n",
    );
    write(d.path(), "Dockerfile.dev", "FROM alpine:latest\n");
    let v = json(&run(d.path(), &["lint", "--no-shellcheck", "-f", "json"]));
    let f = v["findings"].as_array().unwrap();
    let syntax = f.iter().find(|f| f["code"] == "syntax-error").unwrap();
    assert_eq!(syntax["location"]["path"], "Dockerfile");
    assert_eq!(syntax["location"]["line"], 3);
    assert!(
        f.iter()
            .any(|f| f["code"] == "base-latest" && f["location"]["path"] == "Dockerfile.dev")
    );
}

#[test]
fn pragmas_and_hadolint_yaml_are_honoured() {
    let d = tempfile::tempdir().unwrap();
    let text = "FROM debian:12\n# hadolint ignore=DL3004\nRUN sudo true\n# safeimage ignore=sudo -- needed here\nRUN sudo false\nRUN sudo ls\n";
    write(d.path(), "Dockerfile", text);
    let v = json(&run(d.path(), &["lint", "--no-shellcheck", "-f", "json"]));
    let sudo_lines: Vec<u64> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "sudo")
        .map(|f| f["location"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(sudo_lines, [6]);
    assert!(codes(&v).contains(&"final-stage-not-minimal".to_string()));
    write(d.path(), ".hadolint.yaml", "ignored:\n  - DL3004\n");
    let v = json(&run(d.path(), &["lint", "--no-shellcheck", "-f", "json"]));
    assert!(!codes(&v).contains(&"sudo".to_string()));
    // our own config file too, with a global pragma-free ignore
    write(
        d.path(),
        "safeimage.toml",
        "[lint]\nignored = [\"final-stage-not-minimal\"]\n",
    );
    let v = json(&run(d.path(), &["lint", "--no-shellcheck", "-f", "json"]));
    assert!(!codes(&v).contains(&"final-stage-not-minimal".to_string()));
}

#[test]
fn policy_tiers_with_pattern_in_findings() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "safeimage.toml",
        "[policy.base_images]\npreferred = [\"alpine\", \"gcr.io/distroless/*\"]\npermitted = [\"debian\"]\nrestricted = [\"node\"]\nprohibited = [\"docker.io/bitnami/*\"]\ntrusted_registries = [\"docker.io\", \"gcr.io\", \"localhost:5000\"]\n",
    );
    write(
        d.path(),
        "Dockerfile",
        "FROM node:22 AS build\nFROM localhost:5000/team/tool:1 AS tool\nFROM bitnami/redis:7 AS r\nFROM quay.io/x/y:1 AS q\nCOPY --from=ghcr.io/o/helper:2 /h /h\nRUN --mount=type=bind,from=debian:12,target=/d ls /d\nFROM gcr.io/distroless/static-debian12:nonroot\nCOPY --from=build /app /app\n",
    );
    let v = json(&run(d.path(), &["lint", "--no-shellcheck", "-f", "json"]));
    let policy: Vec<(String, u64, String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["code"].as_str().unwrap().starts_with("base-") && f["properties"]["tier"].is_string()
        })
        .map(|f| {
            (
                f["code"].as_str().unwrap().into(),
                f["location"]["line"].as_u64().unwrap(),
                f["properties"]["tier"].as_str().unwrap().into(),
                f["properties"]["pattern"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, u64, String, String)> = vec![
        (
            "base-restricted".into(),
            1,
            "restricted".into(),
            "node".into(),
        ),
        (
            "base-prohibited".into(),
            2,
            "prohibited".into(),
            "(default tier)".into(),
        ),
        (
            "base-prohibited".into(),
            3,
            "prohibited".into(),
            "docker.io/bitnami/*".into(),
        ),
        (
            "base-prohibited".into(),
            4,
            "prohibited".into(),
            "(default tier)".into(),
        ),
        (
            "base-untrusted-registry".into(),
            4,
            "prohibited".into(),
            "(default tier)".into(),
        ),
        (
            "base-prohibited".into(),
            5,
            "prohibited".into(),
            "(default tier)".into(),
        ),
        (
            "base-untrusted-registry".into(),
            5,
            "prohibited".into(),
            "(default tier)".into(),
        ),
    ];
    assert_eq!(policy, want);
}

#[test]
fn config_errors_are_reported_all_at_once_with_lines() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "safeimage.toml",
        "[lint]\nfailure_threshold = \"loud\"\nwhatever = 1\n[policy.base_images]\ndefault_tier = \"nope\"\n",
    );
    write(d.path(), "Dockerfile", "FROM alpine:3.20\n");
    let out = run(d.path(), &["lint"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 problems"), "{err}");
    assert!(err.contains("safeimage.toml:2:"), "{err}");
    assert!(err.contains("safeimage.toml:3:"), "{err}");
    assert!(err.contains("safeimage.toml:5:"), "{err}");
}

#[test]
fn shellcheck_findings_point_at_the_dockerfile_line() {
    let d = tempfile::tempdir().unwrap();
    let text = "FROM debian:12\nRUN set -e; \\\n    # a comment inside the continuation\n    echo start && \\\n    rm -rf $TARGET_DIR/cache\nRUN <<EOF\ncd /tmp\necho $HOME_DIR/x\nEOF\n";
    write(d.path(), "Dockerfile", text);
    let cache = tempfile::tempdir().unwrap();
    let v = json(&run(
        d.path(),
        &[
            "lint",
            "-f",
            "json",
            "--cache-dir",
            cache.path().to_str().unwrap(),
        ],
    ));
    let sc: Vec<(String, u64, u64)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"].as_str().unwrap().starts_with("SC"))
        .map(|f| {
            (
                f["code"].as_str().unwrap().into(),
                f["location"]["line"].as_u64().unwrap(),
                f["location"]["column"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(sc.contains(&("SC2086".into(), 5, 12)), "{sc:?}");
    assert!(sc.contains(&("SC2164".into(), 7, 1)), "{sc:?}");
    assert!(sc.contains(&("SC2086".into(), 8, 6)), "{sc:?}");
    // the second run is served from the cache and is identical
    let again = json(&run(
        d.path(),
        &[
            "lint",
            "-f",
            "json",
            "--cache-dir",
            cache.path().to_str().unwrap(),
        ],
    ));
    assert_eq!(v, again);
    assert!(
        std::fs::read_dir(cache.path().join("shellcheck"))
            .unwrap()
            .count()
            >= 2
    );
}

#[test]
fn build_args_resolve_from() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "Dockerfile", "ARG BASE\nFROM ${BASE}\n");
    let v = json(&run(d.path(), &["lint", "--no-shellcheck", "-f", "json"]));
    assert!(codes(&v).contains(&"arg-in-from-no-default".to_string()));
    let v = json(&run(
        d.path(),
        &[
            "lint",
            "--no-shellcheck",
            "-f",
            "json",
            "--build-arg",
            "BASE=alpine:latest",
        ],
    ));
    assert!(codes(&v).contains(&"base-latest".to_string()));
}

/// The policy's `current_release` with endoflife.date's Python cycles (the
/// pinned product-file extract) imported into a DB, on a fixed day: Python
/// 3.9 is end of life, 3.13 is not the newest stable release (3.14 is), 3.14
/// passes, and an image of a product the data does not have gets nothing;
/// without a DB the run stops and says what it needs.
#[test]
fn current_release_policy_finds_an_ended_and_an_old_python_base() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("eol.db");
    let out = run(
        d,
        &[
            "db",
            "import",
            "--db",
            db.to_str().unwrap(),
            repo()
                .join("testdata/feeds/endoflife-a70eca3/python.md")
                .to_str()
                .unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    write(
        d,
        "safeimage.toml",
        "[policy.base_images]\npermitted = [\"**\"]\ncurrent_release = true\n",
    );
    write(
        d,
        "Dockerfile",
        "FROM python:3.9-slim AS old\nRUN true\n\nFROM python:3.13-slim AS older\nRUN true\n\nFROM nginx:1.27 AS other\nRUN true\n\nFROM python:3.14-slim\nCMD [\"python3\"]\n",
    );
    let day: i64 = 1_796_644_800; // 2026-12-07T12:00:00Z
    let out = bin()
        .current_dir(d)
        .args([
            "lint",
            "Dockerfile",
            "-f",
            "json",
            "--db",
            db.to_str().unwrap(),
        ])
        .env_remove("SAFEIMAGE_CONFIG")
        .env("SOURCE_DATE_EPOCH", day.to_string())
        .output()
        .unwrap();
    let v = json(&out);
    let release: Vec<(String, u64, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"].as_str().unwrap().starts_with("base-release-"))
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["location"]["line"].as_u64().unwrap(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(release.len(), 2, "{release:#?}");
    assert_eq!(
        (release[0].0.as_str(), release[0].1),
        ("base-release-eol", 1)
    );
    assert!(
        release[0]
            .2
            .contains("python 3.9, which is end of life since 2025-10-31; move to python 3.14"),
        "{}",
        release[0].2
    );
    assert_eq!(
        (release[1].0.as_str(), release[1].1),
        ("base-release-not-current", 4)
    );
    assert!(
        release[1]
            .2
            .contains("python 3.13, not the newest stable release of python (3.14)"),
        "{}",
        release[1].2
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "an error-level finding fails the lint"
    );
    // without end-of-life data the policy cannot be applied: said, not skipped
    let out = bin()
        .current_dir(d)
        .args([
            "lint",
            "Dockerfile",
            "--db",
            d.join("none.db").to_str().unwrap(),
        ])
        .env_remove("SAFEIMAGE_CONFIG")
        .env_remove("SAFEIMAGE_DB")
        .env("XDG_DATA_HOME", d.join("no-data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("current_release") && e.contains("--db"), "{e}");
}
