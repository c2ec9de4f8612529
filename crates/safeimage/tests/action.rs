//! The GitHub Action (`action.yml`, composite): valid against SchemaStore's
//! action schema, and its steps executed as the runner would — `run` steps
//! through bash with `${{ inputs.* }}` and `${{ github.action_path }}`
//! substituted, `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY` and
//! `GITHUB_WORKSPACE` set, on a sample repository — checking the outputs the
//! action declares, the job summary and the SARIF file. (The cache step,
//! `actions/cache`, is the runner's own and is not simulated; safeimage is on
//! PATH, so the install step only prints its version.)

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod support;
use support::repo;

fn action() -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(repo().join("action.yml")).unwrap()).unwrap()
}

/// Replaces `${{ inputs.X }}`, `${{ github.action_path }}`,
/// `${{ github.action_ref }}` and `${{ steps.key.outputs.key }}`.
fn expand(s: &str, inputs: &BTreeMap<String, String>) -> String {
    let mut out = s
        .replace("${{ github.action_path }}", &repo().display().to_string())
        .replace("${{ github.action_ref }}", "v0-test")
        .replace("${{ steps.key.outputs.key }}", "(the key step's output)");
    // the triggering event (a pull request's commits), given as `@pr_base`/`@pr_head`
    for (expr, key) in [
        ("${{ github.event.pull_request.base.sha }}", "@pr_base"),
        ("${{ github.event.pull_request.head.sha }}", "@pr_head"),
    ] {
        out = out.replace(expr, inputs.get(key).map_or("", String::as_str));
    }
    for (k, v) in inputs {
        out = out.replace(&format!("${{{{ inputs.{k} }}}}"), v);
    }
    assert!(
        !out.contains("${{"),
        "an expression the simulation does not know: {out}"
    );
    out
}

struct Ran {
    status: i32,
    outputs: BTreeMap<String, String>,
    summary: String,
    /// What the key step gave the cache step.
    cache_key: String,
}

/// Runs the action's steps with `given` inputs (the rest from their
/// defaults) in `workspace`, as the runner does; stops at the first failing
/// step, as a job does.
fn run_action(workspace: &Path, given: &[(&str, &str)]) -> Ran {
    let a = action();
    let mut inputs = BTreeMap::new();
    for (k, v) in a["inputs"].as_mapping().unwrap() {
        let default = v["default"].as_str().unwrap_or("").to_string();
        inputs.insert(k.as_str().unwrap().to_string(), default);
    }
    for (k, v) in given {
        assert!(
            inputs.contains_key(*k) || k.starts_with('@'),
            "no input `{k}`"
        );
        inputs.insert(k.to_string(), v.to_string());
    }
    let files = tempfile::tempdir().unwrap();
    let (out_file, summary_file) = (files.path().join("output"), files.path().join("summary"));
    let path_file = files.path().join("path");
    std::fs::write(&out_file, "").unwrap();
    std::fs::write(&summary_file, "").unwrap();
    std::fs::write(&path_file, "").unwrap();
    // a cache hit: the action's own build where the install step keeps it
    let home = files.path().join("home");
    std::fs::create_dir_all(home.join(".safeimage-action/bin")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_safeimage"),
        home.join(".safeimage-action/bin/safeimage"),
    )
    .unwrap();
    // the job's PATH has whatever the repository put first on it
    let path = format!(
        "{}:{}",
        workspace.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut outputs = BTreeMap::new();
    let mut keys = Vec::new();
    let mut status = 0;
    for step in a["runs"]["steps"].as_sequence().unwrap() {
        if let Some(uses) = step["uses"].as_str() {
            assert!(
                uses.starts_with("actions/cache@"),
                "only the cache step is not run here: {uses}"
            );
            continue;
        }
        let script = expand(step["run"].as_str().unwrap(), &inputs);
        assert_eq!(step["shell"].as_str(), Some("bash"));
        // GITHUB_PATH lines go in front of PATH for later steps, as the runner does
        let added: Vec<String> = std::fs::read_to_string(&path_file)
            .unwrap()
            .lines()
            .rev()
            .map(str::to_string)
            .collect();
        let step_path = added
            .iter()
            .map(String::as_str)
            .chain([path.as_str()])
            .collect::<Vec<_>>()
            .join(":");
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
            .current_dir(workspace)
            .env("PATH", &step_path)
            .env("HOME", &home)
            .env("GITHUB_PATH", &path_file)
            .env("GITHUB_OUTPUT", &out_file)
            .env("GITHUB_STEP_SUMMARY", &summary_file)
            .env("GITHUB_WORKSPACE", workspace)
            .env("SAFEIMAGE_CACHE_DIR", files.path().join("cache"));
        if let Some(env) = step["env"].as_mapping() {
            for (k, v) in env {
                cmd.env(
                    k.as_str().unwrap(),
                    expand(v.as_str().unwrap_or(""), &inputs),
                );
            }
        }
        let out = cmd.output().expect("bash");
        status = out.status.code().unwrap_or(-1);
        if step["id"].as_str() == Some("key") {
            let key = std::fs::read_to_string(&out_file).unwrap();
            keys.push(key.trim().to_string());
            std::fs::write(&out_file, "").unwrap();
        }
        if step["id"].as_str() == Some("run") {
            for line in std::fs::read_to_string(&out_file).unwrap().lines() {
                if let Some((k, v)) = line.split_once('=') {
                    outputs.insert(k.to_string(), v.to_string());
                }
            }
        }
        if status != 0 {
            break;
        }
    }
    // what the action declares, read from the step the way the runner does
    let mut declared = BTreeMap::new();
    for (k, v) in a["outputs"].as_mapping().unwrap() {
        let value = v["value"].as_str().unwrap();
        let key = value
            .strip_prefix("${{ steps.run.outputs.")
            .and_then(|s| s.strip_suffix(" }}"))
            .unwrap_or_else(|| panic!("output {k:?}: {value}"));
        declared.insert(
            k.as_str().unwrap().to_string(),
            outputs.get(key).cloned().unwrap_or_default(),
        );
    }
    Ran {
        status,
        outputs: declared,
        summary: std::fs::read_to_string(&summary_file).unwrap(),
        cache_key: keys.pop().unwrap_or_default(),
    }
}

fn sample() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("Dockerfile"),
        "FROM debian:12\nRUN apt-get update && apt-get install -y curl\nUSER 65534\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("deploy.env"),
        "AWS_ACCESS_KEY_ID=AKIAQYLPMN5HHHFPZAM2\n",
    )
    .unwrap();
    d
}

#[test]
fn action_yml_is_valid_against_the_schemastore_schema() {
    let p = repo().join("target/test-schemas/github-action.json");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e}; run scripts/fetch-test-schemas", p.display())),
    )
    .unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let doc: Value = serde_json::to_value(action()).unwrap();
    let errors: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // and the schema does reject a broken one
    let mut broken = doc.clone();
    broken["runs"]["using"] = Value::from("compost");
    assert!(!v.is_valid(&broken));
}

#[test]
fn the_secrets_step_fails_on_a_planted_key_with_outputs_summary_and_sarif() {
    let ws = sample();
    let r = run_action(ws.path(), &[("command", "secrets")]);
    assert_eq!(r.status, 1, "{:?}\n{}", r.outputs, r.summary);
    assert_eq!(r.outputs["decision"], "fail");
    assert_eq!(r.outputs["exit-code"], "1");
    let counts: Value = serde_json::from_str(&r.outputs["counts"]).unwrap();
    assert!(counts["error"].as_u64().unwrap() >= 1, "{counts}");
    assert!(
        r.summary.contains("safeimage secrets: fail"),
        "{}",
        r.summary
    );
    assert!(
        r.summary.contains("aws-access-key-id") && r.summary.contains("deploy.env:1"),
        "{}",
        r.summary
    );
    assert!(
        !r.summary.contains("HHHFPZAM2"),
        "the summary must not show the secret"
    );
    let sarif: Value =
        serde_json::from_slice(&std::fs::read(ws.path().join(&r.outputs["sarif"])).unwrap())
            .unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    // the reports keep themselves out of git and out of the next `secrets .`
    let ignore = std::fs::read_to_string(ws.path().join("safeimage-reports/.gitignore")).unwrap();
    assert_eq!(ignore, "*\n");
    assert!(!sarif["runs"][0]["results"].as_array().unwrap().is_empty());
}

#[test]
fn the_lint_step_reports_and_passes_when_told_not_to_fail() {
    let ws = sample();
    let r = run_action(
        ws.path(),
        &[
            ("command", "lint"),
            ("args", "--failure-threshold warning"),
            ("fail", "false"),
        ],
    );
    assert_eq!(r.status, 0, "fail=false: the step passes");
    assert_eq!(r.outputs["decision"], "fail", "{}", r.summary);
    assert!(r.outputs["findings"].parse::<usize>().unwrap() >= 1);
    assert!(
        r.summary.contains("| code | level | where | message |"),
        "{}",
        r.summary
    );
    assert!(Path::new(&ws.path().join(&r.outputs["json"])).is_file());
}

#[test]
fn an_unknown_command_stops_the_step_with_a_message() {
    let ws = sample();
    let r = run_action(ws.path(), &[("command", "deploy")]);
    assert_ne!(r.status, 0);
    assert_eq!(
        r.outputs["decision"], "",
        "no outputs from a step that did not run"
    );
}

#[test]
fn the_example_workflows_use_only_inputs_and_outputs_the_action_has() {
    let a = action();
    let inputs: Vec<&str> = a["inputs"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str())
        .collect();
    let outputs: Vec<&str> = a["outputs"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str())
        .collect();
    let mut uses = 0;
    for name in ["github-pr.yml", "github-daily.yml"] {
        let text = std::fs::read_to_string(repo().join("docs/ci").join(name)).unwrap();
        let wf: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        for (_, job) in wf["jobs"].as_mapping().unwrap() {
            for step in job["steps"].as_sequence().unwrap() {
                if step["uses"]
                    .as_str()
                    .is_some_and(|u| u.contains("/safeimage@"))
                {
                    uses += 1;
                    for (k, _) in step["with"].as_mapping().unwrap() {
                        assert!(inputs.contains(&k.as_str().unwrap()), "{name}: input {k:?}");
                    }
                }
            }
        }
        for part in text.split("outputs.").skip(1) {
            let key: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            assert!(outputs.contains(&key.as_str()), "{name}: output `{key}`");
        }
    }
    assert_eq!(
        uses, 5,
        "lint, secrets, scan and check in the PR workflow, run in the daily one"
    );
}

#[test]
fn the_cache_is_keyed_on_the_actions_own_source_and_no_repository_binary_runs() {
    let ws = sample();
    // the repository puts its own `safeimage` first on PATH
    let marker = ws.path().join("tripped");
    std::fs::create_dir_all(ws.path().join("bin")).unwrap();
    std::fs::write(
        ws.path().join("bin/safeimage"),
        format!("#!/bin/sh\ntouch '{}'\nexit 0\n", marker.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        ws.path().join("bin/safeimage"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let r = run_action(ws.path(), &[("command", "lint"), ("fail", "false")]);
    assert_eq!(r.status, 0);
    assert!(!marker.exists(), "the repository's safeimage ran");
    assert_eq!(r.outputs["decision"], "fail", "{:?}", r.outputs);
    // the key: the action's ref and a hash of its sources, not a constant
    let key = r.cache_key.strip_prefix("key=").unwrap_or_default();
    let hash = key.rsplit('-').next().unwrap();
    assert!(key.contains("-v0-test-"), "{key}");
    assert!(
        hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{key}"
    );
    let text = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    assert!(
        !text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .any(|l| l.contains("hashFiles(")),
        "hashFiles() cannot see the action's files"
    );
}

#[test]
fn the_example_workflows_pin_safeimage_by_commit_and_keep_expressions_out_of_scripts() {
    for name in ["github-pr.yml", "github-daily.yml"] {
        let text = std::fs::read_to_string(repo().join("docs/ci").join(name)).unwrap();
        let wf: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        for (_, job) in wf["jobs"].as_mapping().unwrap() {
            for step in job["steps"].as_sequence().unwrap() {
                // secrets and step outputs reach a script through env:, never its text
                if let Some(run) = step["run"].as_str() {
                    assert!(
                        !run.contains("${{"),
                        "{name}: an expression in a script: {run}"
                    );
                }
                if let Some(u) = step["uses"].as_str().filter(|u| u.contains("/safeimage@")) {
                    let rev = u.rsplit('@').next().unwrap();
                    assert!(
                        rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()),
                        "{name}: safeimage pinned by `{rev}`, not a full commit SHA"
                    );
                }
            }
        }
    }
}

#[test]
fn the_check_step_judges_a_pull_request_and_leaves_its_comment() {
    // a fleet whose pull request changes only its docs: nothing to build,
    // the check passes and says which image it left alone
    let ws = tempfile::tempdir().unwrap();
    let d = ws.path();
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
    std::fs::write(d.join(".gitignore"), "safeimage-reports/\n").unwrap();
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "fleet"]);
    let base = git(&["rev-parse", "HEAD"]);
    std::fs::write(d.join("README.md"), "docs\n").unwrap();
    git(&["add", "README.md"]);
    git(&["commit", "-qm", "docs"]);
    let head = git(&["rev-parse", "HEAD"]);
    let r = run_action(
        d,
        &[
            ("command", "check"),
            ("@pr_base", &base),
            ("@pr_head", &head),
        ],
    );
    assert_eq!(r.status, 0, "{}", r.summary);
    assert_eq!(r.outputs["decision"], "pass");
    let comment = std::fs::read_to_string(d.join(&r.outputs["comment"])).unwrap();
    assert!(
        comment.contains("No image's Dockerfile, context or config changed"),
        "{comment}"
    );
    assert!(comment.contains("Not affected: `app`"), "{comment}");
    assert!(
        r.summary.contains(&comment),
        "the summary carries the comment: {}",
        r.summary
    );

    // without a pull request and without revisions, the step says what it needs
    let r = run_action(d, &[("command", "check")]);
    assert_ne!(r.status, 0);
}
