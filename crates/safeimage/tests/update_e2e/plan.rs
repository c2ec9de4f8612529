//! `update --dry-run` against a real registry with tiny busybox bases:
//! newer tags within the major, a new major only when allowed, staggered
//! platform pushes held by the stability window into one proposal, and a
//! base tag that disappeared.

use super::*;

/// A single-platform busybox base with `label` (so each call is a new
/// digest) pushed as `repo_tag`; returns its digest.
fn publish(f: &Fleet, repo_tag: &str, label: &str) -> String {
    let base = busybox_image(&f.reg, &format!("scratch/bb-{}", std::process::id()));
    let c = sh(Command::new("buildah").args([
        "--isolation",
        "chroot",
        "from",
        "--tls-verify=false",
        &base,
    ]))
    .trim()
    .to_string();
    sh(Command::new("buildah").args(["config", "--label", &format!("v={label}"), &c]));
    sh(Command::new("buildah")
        .args(["commit", "-q", "--tls-verify=false", &c])
        .arg(format!("docker://{}/{repo_tag}", f.r())));
    sh(Command::new("buildah").args(["rm", &c]));
    remote_digest(&format!("{}/{repo_tag}", f.r())).unwrap()
}

#[test]
fn a_newer_minor_tag_is_proposed_and_a_new_major_only_when_allowed() {
    let f = Fleet::new("FROM {reg}/base/bb:1.0\nRUN true\n", "", "");
    publish(&f, "base/bb:1.0", "a");
    let d11 = publish(&f, "base/bb:1.1", "b");
    let d20 = publish(&f, "base/bb:2.0", "c");
    let r = f.update(&["--dry-run"]);
    let u = &r["plan"]["proposals"][0]["updates"][0];
    assert_eq!(u["change"], "tag", "{r:#}");
    assert_eq!(u["to"], format!("{}/base/bb:1.1@{d11}", f.r()));
    assert_eq!(
        r["pushed"],
        serde_json::json!([]),
        "a dry run pushes nothing"
    );
    assert_eq!(f.remote_branches(), vec!["main".to_string()]);

    let mut cfg = std::fs::read_to_string(f.clone_dir().join("fleet.toml")).unwrap();
    cfg = cfg.replace("[update]\n", "[update]\nallow_major = true\n");
    std::fs::write(f.clone_dir().join("fleet.toml"), cfg).unwrap();
    let r = f.update(&["--dry-run"]);
    assert_eq!(
        r["plan"]["proposals"][0]["updates"][0]["to"],
        format!("{}/base/bb:2.0@{d20}", f.r())
    );
}

#[test]
fn a_base_tag_that_disappeared_is_a_note_naming_the_line() {
    let f = Fleet::new("# base\nFROM {reg}/base/gone:1.0\n", "", "");
    let r = f.update(&["--dry-run"]);
    assert_eq!(r["plan"]["proposals"], serde_json::json!([]));
    let note = r["plan"]["notes"][0].as_str().unwrap();
    assert!(
        note.contains("Dockerfile:2") && note.contains("no longer exists"),
        "{note}"
    );
}
