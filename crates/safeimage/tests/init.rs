//! `safeimage init` on a sample git repository with three Dockerfiles: the
//! config it writes is accepted by `safeimage run --dry-run` (one image per
//! Dockerfile, tagged with the commit), the workflow is YAML with both
//! jobs, and nothing is overwritten without `--force`.

use std::path::Path;
use std::process::{Command, Output};

mod support;

fn safeimage(dir: &Path, args: &[&str]) -> Output {
    let cache = dir.join(".cache");
    support::safeimage_in(
        dir,
        args,
        &[("SAFEIMAGE_CACHE_DIR", cache.to_str().unwrap())],
    )
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A repository with `api/Dockerfile`, `web/Dockerfile.prod` and
/// `workers/batch/Containerfile`, committed.
fn sample() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (dir, file) in [
        ("api", "Dockerfile"),
        ("web", "Dockerfile.prod"),
        ("workers/batch", "Containerfile"),
    ] {
        let p = d.path().join(dir);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(
            p.join(file),
            "FROM scratch\nCOPY hello /hello\nUSER 65534\nENTRYPOINT [\"/hello\"]\n",
        )
        .unwrap();
        std::fs::write(p.join("hello"), "hi\n").unwrap();
    }
    git(d.path(), &["init", "-q"]);
    git(d.path(), &["add", "."]);
    git(d.path(), &["commit", "-qm", "sample"]);
    d
}

#[test]
fn the_config_it_writes_passes_a_dry_run_with_one_image_per_dockerfile() {
    let repo = sample();
    let out = safeimage(repo.path(), &["init", "--registry", "127.0.0.1:5000/acme"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = std::fs::read_to_string(repo.path().join("safeimage.toml")).unwrap();
    assert_eq!(cfg.matches("[[image]]").count(), 3, "{cfg}");
    assert!(cfg.contains("dockerfile = \"Dockerfile.prod\""), "{cfg}");
    assert!(cfg.contains("dockerfile = \"Containerfile\""), "{cfg}");
    assert!(
        cfg.contains("repository = \"127.0.0.1:5000/acme/workers-batch\""),
        "{cfg}"
    );
    let run = safeimage(
        repo.path(),
        &["run", "--config", "safeimage.toml", "--dry-run"],
    );
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{table}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let sha = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    let sha = String::from_utf8_lossy(&sha.stdout).trim().to_string();
    for name in ["api ", "web-prod ", "workers-batch "] {
        let line = table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {table}"));
        assert!(
            line.contains("dry-run") && line.contains("latest"),
            "{line}"
        );
        assert!(line.contains(&sha[..7]), "tagged with the commit: {line}");
    }
}

#[test]
fn the_workflow_has_the_pull_request_checks_and_the_daily_run() {
    let repo = sample();
    assert!(safeimage(repo.path(), &["init"]).status.success());
    let text =
        std::fs::read_to_string(repo.path().join(".github/workflows/safeimage.yml")).unwrap();
    let wf: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let jobs = &wf["jobs"];
    let steps = |job: &str| -> String {
        jobs[job]["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s["run"].as_str().unwrap_or(""),
                    s["uses"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let check = steps("check");
    assert!(
        check.contains("safeimage lint --format sarif") && check.contains("upload-sarif"),
        "{check}"
    );
    assert!(check.contains("safeimage secrets --git"), "{check}");
    assert!(steps("daily").contains("safeimage run --config safeimage.toml"));
    // safeimage is installed from a full commit SHA, from outside the
    // repository (whose .cargo/config.toml could change the build)
    let rev = wf["env"]["SAFEIMAGE_REV"].as_str().unwrap();
    assert!(
        rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()),
        "{rev}"
    );
    for job in ["check", "daily"] {
        assert!(
            steps(job).contains("cd /tmp && cargo install --locked --git \"$SAFEIMAGE_GIT\" --rev \"$SAFEIMAGE_REV\" safeimage"),
            "{job}"
        );
    }
    assert_eq!(wf["on"]["schedule"][0]["cron"].as_str(), Some("0 4 * * *"));
}

#[test]
fn nothing_is_overwritten_without_force() {
    let repo = sample();
    assert!(safeimage(repo.path(), &["init"]).status.success());
    let cfg = repo.path().join("safeimage.toml");
    std::fs::write(&cfg, "# mine\n").unwrap();
    std::fs::remove_file(repo.path().join(".safeimage-ignore.yaml")).unwrap();
    let again = safeimage(repo.path(), &["init"]);
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("safeimage.toml") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "# mine\n");
    assert!(
        !repo.path().join(".safeimage-ignore.yaml").exists(),
        "none written"
    );
    assert!(
        safeimage(repo.path(), &["init", "--force"])
            .status
            .success()
    );
    assert!(std::fs::read_to_string(&cfg).unwrap().contains("[[image]]"));
}

#[test]
fn a_folder_without_dockerfiles_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let out = safeimage(d.path(), &["init"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Dockerfile"));
    assert!(!d.path().join("safeimage.toml").exists());
}

#[test]
fn links_planted_in_the_repository_are_not_followed_even_with_force() {
    let repo = sample();
    let outside = tempfile::tempdir().unwrap();
    // a dangling link where the config goes, and the workflow folder a link
    std::os::unix::fs::symlink(
        outside.path().join("planted.toml"),
        repo.path().join("safeimage.toml"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.path().join(".github")).unwrap();
    for args in [&["init"][..], &["init", "--force"][..]] {
        let out = safeimage(repo.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("symbolic link"), "{err}");
        assert_eq!(
            std::fs::read_dir(outside.path()).unwrap().count(),
            0,
            "{args:?} wrote through a link"
        );
        assert!(
            !repo.path().join(".safeimage-ignore.yaml").exists(),
            "half-written"
        );
    }
}
