//! Proposals pushed to a real git remote on disk: a branch per proposal
//! committed on the base branch, left alone when nothing changed, replaced
//! when the content changes, merged as a fast-forward in git mode; the
//! working tree and HEAD of the clone untouched; the repository's hooks
//! never run.

use std::path::{Path, PathBuf};
use std::process::Command;

use update::plan::{BaseUpdate, Change, Proposal};
use update::propose::{BranchState, Judgement, push};
use update::settings::UpdateSettings;

fn git(dir: &Path, args: &[&str]) -> String {
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

struct Fleet {
    _tmp: tempfile::TempDir,
    remote: PathBuf,
    clone: PathBuf,
    marker: PathBuf,
}

/// A bare remote, a clone with a Dockerfile on `main`, and hooks that
/// would leave a marker file if git ran them.
fn fleet() -> Fleet {
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

fn proposal(f: &Fleet, to: &str) -> Proposal {
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

fn no(_: &Proposal) -> Judgement {
    Judgement {
        merge: false,
        reason: "not judged".into(),
        body: None,
    }
}

const A: &str =
    "r.example/base:1@sha256:1111111111111111111111111111111111111111111111111111111111111111";
const B: &str =
    "r.example/base:1@sha256:2222222222222222222222222222222222222222222222222222222222222222";

#[test]
fn a_branch_is_created_left_alone_then_replaced_and_the_checkout_never_changes() {
    let f = fleet();
    let repo = update::git::Repo::open(&f.clone.join("app"), "origin").unwrap();
    let s = UpdateSettings::default();
    let head = git(&f.clone, &["rev-parse", "HEAD"]);

    let first = push(&repo, &[proposal(&f, A)], &s, 100, &mut no).unwrap();
    assert_eq!(first[0].state, BranchState::Created);
    let on_remote = git(&f.remote, &["show", "safeimage/update/app:app/Dockerfile"]);
    assert_eq!(on_remote, format!("FROM {A}\nRUN true"));
    assert_eq!(
        git(&f.remote, &["rev-parse", "safeimage/update/app^"]),
        head,
        "on top of main"
    );

    let again = push(&repo, &[proposal(&f, A)], &s, 200, &mut no).unwrap();
    assert_eq!(again[0].state, BranchState::Unchanged);
    assert_eq!(
        again[0].commit, first[0].commit,
        "the same commit, not a new one"
    );

    let newer = push(&repo, &[proposal(&f, B)], &s, 300, &mut no).unwrap();
    assert_eq!(newer[0].state, BranchState::Updated);
    assert!(git(&f.remote, &["show", "safeimage/update/app:app/Dockerfile"]).contains(B));
    let branches = git(&f.remote, &["branch", "--list"]);
    assert_eq!(
        branches.lines().count(),
        2,
        "main and one proposal branch: {branches}"
    );

    assert_eq!(git(&f.clone, &["rev-parse", "HEAD"]), head);
    assert_eq!(
        git(&f.clone, &["status", "--porcelain"]),
        "",
        "the working tree is untouched"
    );
    assert!(
        !f.marker.exists(),
        "a hook or the repository's fsmonitor ran"
    );
}

#[test]
fn git_mode_merges_an_allowed_proposal_as_a_fast_forward_and_deletes_its_branch() {
    let f = fleet();
    let repo = update::git::Repo::open(&f.clone, "origin").unwrap();
    let s = UpdateSettings {
        signoff: true,
        author: "Fleet Bot <bot@example.com>".into(),
        ..Default::default()
    };
    let mut yes = |_: &Proposal| Judgement {
        merge: true,
        reason: "security improved".into(),
        body: None,
    };
    let out = push(&repo, &[proposal(&f, A)], &s, 100, &mut yes).unwrap();
    assert!(out[0].merged);
    assert_eq!(git(&f.remote, &["rev-parse", "main"]), out[0].commit);
    assert_eq!(
        git(&f.remote, &["branch", "--list"]).lines().count(),
        1,
        "branch deleted"
    );
    let msg = git(&f.remote, &["log", "-1", "--format=%an <%ae>%n%B", "main"]);
    assert!(msg.starts_with("Fleet Bot <bot@example.com>"), "{msg}");
    assert!(
        msg.contains("Signed-off-by: Fleet Bot <bot@example.com>"),
        "{msg}"
    );
    assert!(msg.contains(&format!("r.example/base:1 -> {A}")), "{msg}");
    assert!(!f.marker.exists());
}

#[test]
fn a_merge_that_is_not_a_fast_forward_is_refused_by_the_remote() {
    let f = fleet();
    let repo = update::git::Repo::open(&f.clone, "origin").unwrap();
    let s = UpdateSettings::default();
    let out = push(&repo, &[proposal(&f, A)], &s, 100, &mut no).unwrap();
    // someone pushes to main meanwhile
    std::fs::write(f.clone.join("README"), "x").unwrap();
    git(&f.clone, &["add", "README"]);
    git(&f.clone, &["commit", "-q", "-m", "other"]);
    git(&f.clone, &["push", "-q", "origin", "main"]);
    let e = repo.push_fast_forward(&out[0].commit, "main").unwrap_err();
    assert!(e.to_string().contains("push"), "{e}");
    assert_eq!(
        git(&f.remote, &["rev-parse", "main"]),
        git(&f.clone, &["rev-parse", "HEAD"])
    );
}
