//! Proposals pushed to a real git remote on disk: a branch per proposal
//! committed on the base branch, left alone when nothing changed, replaced
//! when the content changes, merged as a fast-forward in git mode; the
//! working tree and HEAD of the clone untouched; the repository's hooks
//! never run.

mod common;

use common::*;
use update::plan::Proposal;
use update::propose::{BranchState, Judgement, push};
use update::settings::UpdateSettings;

#[test]
fn a_branch_is_created_left_alone_then_replaced_and_the_checkout_never_changes() {
    let f = fleet();
    let repo = update::git::Repo::open(&f.clone.join("app"), "origin").unwrap();
    let s = UpdateSettings::default();
    let head = git(&f.clone, &["rev-parse", "HEAD"]);

    let first = push(&repo, &[proposal(&f, A)], &s, 100, &mut no, None, &[])
        .unwrap()
        .0;
    assert_eq!(first[0].state, BranchState::Created);
    let on_remote = git(&f.remote, &["show", "safeimage/update/app:app/Dockerfile"]);
    assert_eq!(on_remote, format!("FROM {A}\nRUN true"));
    assert_eq!(
        git(&f.remote, &["rev-parse", "safeimage/update/app^"]),
        head,
        "on top of main"
    );

    let again = push(&repo, &[proposal(&f, A)], &s, 200, &mut no, None, &[])
        .unwrap()
        .0;
    assert_eq!(again[0].state, BranchState::Unchanged);
    assert_eq!(
        again[0].commit, first[0].commit,
        "the same commit, not a new one"
    );

    let newer = push(&repo, &[proposal(&f, B)], &s, 300, &mut no, None, &[])
        .unwrap()
        .0;
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
    let out = push(&repo, &[proposal(&f, A)], &s, 100, &mut yes, None, &[])
        .unwrap()
        .0;
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
    let out = push(&repo, &[proposal(&f, A)], &s, 100, &mut no, None, &[])
        .unwrap()
        .0;
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
