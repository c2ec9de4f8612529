//! The pre-commit hooks (`.pre-commit-hooks.yaml`) run by pre-commit itself
//! (`pip install pre-commit`) in a temp git repository: a Dockerfile with
//! lint warnings and a staged key each block the commit; clean files pass.
//! The hooks come from a git repository holding this workspace's hooks
//! file, as a project's `.pre-commit-config.yaml` would name safeimage's.

use std::path::Path;
use std::process::{Command, Output};

fn run(dir: &Path, home: &Path, program: &str, args: &[&str]) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_safeimage")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("PATH", path)
        .env("PRE_COMMIT_HOME", home.join("pre-commit"))
        .env("SAFEIMAGE_CACHE_DIR", home.join("cache"))
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (pip install pre-commit)"))
}

fn ok(o: &Output) -> bool {
    o.status.success()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A project repository using both hooks, with pre-commit installed in it.
fn project(home: &Path) -> tempfile::TempDir {
    let hooks = home.join("hooks-repo");
    std::fs::create_dir_all(&hooks).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::copy(
        repo.join(".pre-commit-hooks.yaml"),
        hooks.join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    for args in [
        &["init", "-q"][..],
        &["add", "."],
        &["commit", "-qm", "hooks"],
    ] {
        assert!(ok(&run(&hooks, home, "git", args)));
    }
    let rev = String::from_utf8(run(&hooks, home, "git", &["rev-parse", "HEAD"]).stdout).unwrap();
    let p = tempfile::tempdir().unwrap();
    std::fs::write(
        p.path().join(".pre-commit-config.yaml"),
        format!(
            "repos:\n  - repo: {}\n    rev: {}\n    hooks:\n      - id: safeimage-lint\n      - id: safeimage-secrets\n",
            hooks.display(),
            rev.trim()
        ),
    )
    .unwrap();
    assert!(ok(&run(p.path(), home, "git", &["init", "-q"])));
    let installed = run(p.path(), home, "pre-commit", &["install"]);
    assert!(ok(&installed), "{}", text(&installed));
    p
}

fn commit(p: &Path, home: &Path, files: &[(&str, &str)]) -> Output {
    for (name, body) in files {
        std::fs::write(p.join(name), body).unwrap();
        assert!(ok(&run(p, home, "git", &["add", name])));
    }
    assert!(ok(&run(
        p,
        home,
        "git",
        &["add", ".pre-commit-config.yaml"]
    )));
    run(p, home, "git", &["commit", "-qm", "change"])
}

#[test]
fn a_dockerfile_with_lint_warnings_blocks_the_commit() {
    let home = tempfile::tempdir().unwrap();
    let p = project(home.path());
    let o = commit(
        p.path(),
        home.path(),
        &[(
            "Dockerfile",
            "FROM debian:12\nRUN apt-get install curl\nMAINTAINER me\n",
        )],
    );
    assert!(!ok(&o), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("safeimage lint") && t.contains("apt-missing-yes"),
        "{t}"
    );
}

#[test]
fn a_staged_key_blocks_the_commit_without_being_printed() {
    let home = tempfile::tempdir().unwrap();
    let p = project(home.path());
    let key = "AKIAQYLPMN5HHHFPZAM2";
    let o = commit(
        p.path(),
        home.path(),
        &[("deploy.env", &format!("AWS_ACCESS_KEY_ID={key}\n"))],
    );
    assert!(!ok(&o), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("safeimage secrets") && t.contains("aws-access-key-id"),
        "{t}"
    );
    assert!(!t.contains(key), "the key was printed: {t}");
}

#[test]
fn clean_files_pass_both_hooks() {
    let home = tempfile::tempdir().unwrap();
    let p = project(home.path());
    let o = commit(
        p.path(),
        home.path(),
        &[
            ("Dockerfile", "FROM debian:12\nUSER 65534\n"),
            ("README.md", "nothing secret here\n"),
        ],
    );
    assert!(ok(&o), "{}", text(&o));
    let log = run(p.path(), home.path(), "git", &["log", "--oneline"]);
    assert_eq!(String::from_utf8_lossy(&log.stdout).lines().count(), 1);
}
