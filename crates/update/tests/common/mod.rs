//! Shared by the update crate's integration tests: a fleet repository (a
//! clone of a bare remote on disk, with hooks and repository settings that
//! would leave a marker file if anything ran them) and a proposal for it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use update::plan::{BaseUpdate, Change, Proposal};
use update::propose::Judgement;

pub fn git(dir: &Path, args: &[&str]) -> String {
    // the test's own git runs neither hooks nor the planted fsmonitor
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "core.fsmonitor=", "-c", "core.hooksPath=/dev/null"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub struct Fleet {
    pub _tmp: tempfile::TempDir,
    pub remote: PathBuf,
    pub clone: PathBuf,
    pub marker: PathBuf,
}

/// A bare remote, a clone with a Dockerfile on `main`, and hooks that
/// would leave a marker file if git ran them.
pub fn fleet() -> Fleet {
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("remote.git");
    let clone = tmp.path().join("clone");
    let marker = tmp.path().join("hook-ran");
    git(
        tmp.path(),
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            remote.to_str().unwrap(),
        ],
    );
    git(
        tmp.path(),
        &[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    std::fs::create_dir_all(clone.join("app")).unwrap();
    std::fs::write(
        clone.join("app/Dockerfile"),
        "FROM r.example/base:1\nRUN true\n",
    )
    .unwrap();
    git(&clone, &["checkout", "-q", "-b", "main"]);
    git(&clone, &["add", "."]);
    git(&clone, &["commit", "-q", "-m", "init"]);
    git(&clone, &["push", "-q", "origin", "main"]);
    for hook in [
        "pre-push",
        "reference-transaction",
        "post-commit",
        "pre-commit",
    ] {
        for dir in [clone.join(".git/hooks"), remote.join("hooks")] {
            let p = dir.join(hook);
            std::fs::write(&p, format!("#!/bin/sh\ntouch {}\n", marker.display())).unwrap();
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
        }
    }
    // the repository's own config names a pager and an fsmonitor command
    git(
        &clone,
        &[
            "config",
            "core.fsmonitor",
            &format!("touch {}", marker.display()),
        ],
    );
    Fleet {
        _tmp: tmp,
        remote,
        clone,
        marker,
    }
}

pub fn proposal(f: &Fleet, to: &str) -> Proposal {
    let file = f.clone.join("app/Dockerfile");
    Proposal {
        branch: "safeimage/update/app".into(),
        images: vec!["app".into()],
        updates: vec![BaseUpdate {
            image: "app".into(),
            file: file.clone(),
            line: 1,
            kind: dockerfile::BaseRefKind::From,
            from: "r.example/base:1".into(),
            to: to.into(),
            change: Change::Pin,
            platforms: vec![],
            ready_at: 0,
        }],
        files: vec![(file, format!("FROM {to}\nRUN true\n"))],
    }
}

pub fn no(_: &Proposal) -> Judgement {
    Judgement {
        merge: false,
        reason: "not judged".into(),
        body: None,
    }
}

pub const A: &str =
    "r.example/base:1@sha256:1111111111111111111111111111111111111111111111111111111111111111";
pub const B: &str =
    "r.example/base:1@sha256:2222222222222222222222222222222222222222222222222222222222222222";
