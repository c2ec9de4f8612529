//! The GitLab CI template (`docs/ci/gitlab/safeimage.gitlab-ci.yml`): valid
//! against GitLab's own CI schema (as SchemaStore ships it), and its jobs
//! executed as a GitLab runner's shell executor would — `before_script` and
//! `script` in one bash with `-eo pipefail`, the template's variables under
//! the job's and the project's, GitLab's predefined variables set — on a
//! sample repository, against a real registry that wants the job's
//! credentials. The report the container-scanning job hands to GitLab is
//! validated against GitLab's container-scanning schema. (Job images, the
//! cache and `rules:` are the runner's and GitLab's, not simulated;
//! safeimage is on PATH, so the install step only prints its version.)

use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod support;
use support::*;

fn template() -> serde_yaml_ng::Value {
    let path = repo().join("docs/ci/gitlab/safeimage.gitlab-ci.yml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn lines(v: &serde_yaml_ng::Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .map(|l| l.as_str().expect("a script line").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

struct Job {
    status: i32,
    log: String,
}

/// Runs job `name` in `project` with GitLab's predefined variables
/// `predefined` and project CI/CD variables `project_vars` (which override
/// the template's, as in GitLab).
fn run_job(
    name: &str,
    project: &Path,
    predefined: &[(&str, &str)],
    project_vars: &[(&str, &str)],
) -> Job {
    let t = template();
    let job = &t[name];
    assert!(job.is_mapping(), "no job `{name}` in the template");
    let parent = job["extends"].as_str().map(|p| &t[p]);
    let mut exports = Vec::new();
    for m in [
        Some(&t["variables"]),
        parent.map(|p| &p["variables"]),
        Some(&job["variables"]),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(m) = m.as_mapping() {
            for (k, v) in m {
                // the runner expands `$VAR` in variables; bash's double quotes do the same here
                exports.push(format!(
                    "export {}=\"{}\"",
                    k.as_str().unwrap(),
                    v.as_str().unwrap()
                ));
            }
        }
    }
    for (k, v) in project_vars {
        exports.push(format!("export {k}={}", shell_quote(v)));
    }
    let before = if job["before_script"].is_sequence() {
        lines(&job["before_script"])
    } else {
        parent
            .map(|p| lines(&p["before_script"]))
            .unwrap_or_default()
    };
    let script = lines(&job["script"]);
    assert!(!script.is_empty(), "job `{name}` has no script");
    let body = [exports, before, script].concat().join("\n");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_safeimage")).parent().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &body])
        .current_dir(project)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HOME", cache.path())
        .env_remove("DOCKER_CONFIG")
        .env("SAFEIMAGE_CACHE_DIR", cache.path().join("cache"))
        .env("CI", "true")
        .env("GITLAB_CI", "true")
        .env("CI_PROJECT_DIR", project)
        .env("CI_COMMIT_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("CI_COMMIT_BRANCH", "main")
        .env("CI_PIPELINE_SOURCE", "push")
        .env("CI_REGISTRY_IMAGE", "registry.invalid/group/project");
    for (k, v) in predefined {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("bash");
    Job {
        status: out.status.code().unwrap_or(-1),
        log: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn git_project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("Dockerfile"),
        "FROM debian:12\nRUN apt-get update && apt-get install -y curl\nUSER 65534\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("deploy.env"),
        "AWS_ACCESS_KEY_ID=AKIAQYLPMN5HHHFPZAM2\nAWS_SECRET_ACCESS_KEY=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\n",
    )
    .unwrap();
    d
}

#[test]
fn template_is_valid_gitlab_ci() {
    let path = repo().join("target/test-schemas/gitlab-ci.json");
    let schema: Value = serde_json::from_slice(
        &std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run scripts/fetch-test-schemas", path.display())),
    )
    .unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let doc: Value = serde_json::to_value(template()).unwrap();
    let errors = schema_errors(&v, &doc);
    assert!(errors.is_empty(), "{errors:#?}");
    // the schema is GitLab's, and strict: a job whose `when` is not one of its words is refused
    let mut broken = doc.clone();
    broken["safeimage-lint"]["when"] = Value::from("sometimes");
    assert!(!schema_errors(&v, &broken).is_empty());
    // GitLab reads the container-scanning report from the job's artifacts
    assert_eq!(
        doc["safeimage-container-scanning"]["artifacts"]["reports"]["container_scanning"],
        "gl-container-scanning-report.json"
    );
    // the daily run only on scheduled pipelines
    assert_eq!(
        doc["safeimage-daily"]["rules"],
        serde_json::json!([{"if": "$CI_PIPELINE_SOURCE == \"schedule\""}])
    );
}

#[test]
fn lint_and_secrets_jobs_fail_on_findings_and_keep_sarif() {
    let project = git_project();
    let p = project.path();
    let lint = run_job("safeimage-lint", p, &[], &[]);
    assert_ne!(lint.status, 0, "{}", lint.log);
    assert!(lint.log.contains("Dockerfile"), "{}", lint.log);
    let secrets = run_job("safeimage-secrets", p, &[], &[]);
    assert_ne!(secrets.status, 0, "{}", secrets.log);
    assert!(
        !secrets
            .log
            .contains("q8Jv2LmZ7xT4nR9wK3sB6yH1cF5gD0pE2uA7iO4e")
    );
    let sarif = sarif_validator();
    for f in ["lint.sarif", "secrets.sarif"] {
        let doc: Value =
            serde_json::from_slice(&std::fs::read(p.join("safeimage-reports").join(f)).unwrap())
                .unwrap();
        let errors = schema_errors(&sarif, &doc);
        assert!(errors.is_empty(), "{f}: {errors:#?}");
        assert!(
            !doc["runs"][0]["results"].as_array().unwrap().is_empty(),
            "{f} has no results"
        );
    }
    // the reports folder keeps itself out of the repository and of the secrets scan
    assert_eq!(
        std::fs::read_to_string(p.join("safeimage-reports/.gitignore")).unwrap(),
        "*\n"
    );
    // a clean project passes both
    let clean = tempfile::tempdir().unwrap();
    std::fs::write(
        clean.path().join("Dockerfile"),
        "FROM debian:12@sha256:0000000000000000000000000000000000000000000000000000000000000000\nUSER 65534\n",
    )
    .unwrap();
    for job in ["safeimage-lint", "safeimage-secrets"] {
        let ran = run_job(job, clean.path(), &[], &[]);
        assert_eq!(ran.status, 0, "{job}: {}", ran.log);
    }
}

#[test]
fn container_scanning_job_reads_the_project_registry_and_gates() {
    let reg = registry_with_auth(Some(("gitlab-ci-token", "job-token-123")));
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let image = format!("{}/group/project", reg.addr);
    sh(Command::new("buildah").args([
        "push",
        "-q",
        "--tls-verify=false",
        "--creds",
        "gitlab-ci-token:job-token-123",
        minbase(),
        &format!("docker://{image}:{sha}"),
    ]));
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    import_fixture_db(p);
    let db = p.join("advisories.db");
    let predefined = [
        ("CI_REGISTRY", reg.addr.as_str()),
        ("CI_REGISTRY_IMAGE", image.as_str()),
        ("CI_REGISTRY_USER", "gitlab-ci-token"),
        ("CI_REGISTRY_PASSWORD", "job-token-123"),
    ];
    let insecure = format!("--insecure-registry {}", reg.addr);
    let vars = |fail_on: &'static str| {
        vec![
            ("SAFEIMAGE_DB_UPDATE", "false".to_string()),
            ("SAFEIMAGE_DB", db.display().to_string()),
            ("SAFEIMAGE_SCAN_ARGS", insecure.clone()),
            ("SAFEIMAGE_FAIL_ON", fail_on.to_string()),
        ]
    };
    let as_refs = |v: &[(&'static str, String)]| -> Vec<(&'static str, String)> { v.to_vec() };
    let run = |fail_on: &'static str| {
        let v = as_refs(&vars(fail_on));
        let pairs: Vec<(&str, &str)> = v.iter().map(|(k, x)| (*k, x.as_str())).collect();
        run_job("safeimage-container-scanning", p, &predefined, &pairs)
    };
    let report_path = p.join("gl-container-scanning-report.json");

    let open = run("none");
    assert_eq!(open.status, 0, "{}", open.log);
    assert!(!open.log.contains("job-token-123"));
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let errors = schema_errors(&gitlab_validator(), &report);
    assert!(errors.is_empty(), "{errors:#?}");
    let vulns = report["vulnerabilities"].as_array().unwrap();
    assert!(
        !vulns.is_empty(),
        "the minbase has perl-base, which the Debian fixtures cover: {}",
        open.log
    );
    for x in vulns {
        assert_eq!(x["location"]["image"], format!("{image}:{sha}"));
        assert_eq!(x["location"]["operating_system"], "debian 12");
    }
    // the table for the job log follows the report
    assert!(open.log.contains("perl"), "{}", open.log);

    // the gate: findings at or above the level fail the job, the report is still written
    std::fs::remove_file(&report_path).unwrap();
    let gated = run("low");
    assert_ne!(gated.status, 0, "{}", gated.log);
    assert!(gated.log.contains("gate failed"), "{}", gated.log);
    let again: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(
        again["vulnerabilities"].as_array().unwrap().len(),
        vulns.len()
    );

    // without the job's credentials the registry refuses, and the job says so
    let v = as_refs(&vars("none"));
    let pairs: Vec<(&str, &str)> = v.iter().map(|(k, x)| (*k, x.as_str())).collect();
    let denied = run_job(
        "safeimage-container-scanning",
        p,
        &[("CI_REGISTRY_IMAGE", image.as_str())],
        &pairs,
    );
    assert_ne!(denied.status, 0, "{}", denied.log);
    assert!(denied.log.contains(&reg.addr), "{}", denied.log);
}

#[test]
fn no_binary_from_the_project_tree_runs_and_only_a_full_commit_sha_is_installed() {
    let project = git_project();
    let p = project.path();
    // what a merge request could commit: a safeimage where the template used
    // to look for its cached build, and one in a bin folder
    let marker = p.join("tripped");
    for dir in [".safeimage-cargo/bin", "bin"] {
        std::fs::create_dir_all(p.join(dir)).unwrap();
        let f = p.join(dir).join("safeimage");
        std::fs::write(&f, format!("#!/bin/sh\ntouch '{}'\n", marker.display())).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // a tag is refused: tags can be moved
    let job = run_job(
        "safeimage-lint",
        p,
        &[],
        &[
            ("PATH", "/usr/bin:/bin"),
            ("SAFEIMAGE_GIT_URL", "https://git.example/safeimage.git"),
            ("SAFEIMAGE_GIT_REV", "v0.1.0"),
        ],
    );
    assert_eq!(job.status, 1, "{}", job.log);
    assert!(job.log.contains("a full 40-hex commit SHA"), "{}", job.log);
    // nothing to install from: stops, naming what to set
    let job = run_job("safeimage-secrets", p, &[], &[("PATH", "/usr/bin:/bin")]);
    assert_eq!(job.status, 1, "{}", job.log);
    assert!(job.log.contains("safeimage is not on PATH"), "{}", job.log);
    assert!(!marker.exists(), "a binary from the project tree ran");
}

#[test]
fn the_check_job_runs_on_merge_requests_and_passes_a_change_no_image_depends_on() {
    let t = template();
    assert_eq!(
        serde_json::to_value(&t["safeimage-check"]["rules"]).unwrap(),
        serde_json::json!([
            {"if": "$SAFEIMAGE_CHECK_DISABLED", "when": "never"},
            {"if": "$CI_PIPELINE_SOURCE == \"merge_request_event\""}
        ])
    );
    let p = tempfile::tempdir().unwrap();
    let d = p.path();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(d)
            .args(["-c", "user.email=t@e", "-c", "user.name=t"])
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    std::fs::create_dir_all(d.join("app")).unwrap();
    std::fs::write(d.join("app/Dockerfile"), "FROM debian:12\nUSER 65534\n").unwrap();
    std::fs::write(
        d.join("safeimage.toml"),
        "[[image]]\nname = \"app\"\ncontext = \"app\"\nrepository = \"registry.invalid/app\"\n",
    )
    .unwrap();
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "fleet"]);
    let base = git(&["rev-parse", "HEAD"]);
    std::fs::write(d.join("README.md"), "docs\n").unwrap();
    git(&["add", "README.md"]);
    git(&["commit", "-qm", "docs"]);
    let head = git(&["rev-parse", "HEAD"]);
    std::fs::create_dir_all(d.join("safeimage-reports")).unwrap();
    let job = run_job(
        "safeimage-check",
        d,
        &[
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", &base),
            ("CI_COMMIT_SHA", &head),
        ],
        &[("SAFEIMAGE_DB_UPDATE", "false")],
    );
    assert_eq!(job.status, 0, "{}", job.log);
    assert!(job.log.contains("Not affected: `app`"), "{}", job.log);
    let md = std::fs::read_to_string(d.join("safeimage-reports/check.md")).unwrap();
    assert!(md.contains("safeimage check"), "{md}");
}
