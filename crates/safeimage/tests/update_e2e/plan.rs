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

/// Pushes a two-platform index of busybox images labelled per platform
/// (each new label, a new manifest for that platform) as `repo_tag`;
/// returns the index digest.
fn publish_index(f: &Fleet, repo_tag: &str, amd64: &str, arm64: &str) -> String {
    busybox_index(&f.reg, &format!("scratch/bbi-{}", std::process::id()));
    let list = format!(
        "localhost/safeimage-test/stagger-{}-{amd64}-{arm64}",
        std::process::id()
    );
    let _ = Command::new("buildah")
        .args(["manifest", "rm", &list])
        .output();
    sh(Command::new("buildah").args(["manifest", "create", &list]));
    for (arch, label) in [("amd64", amd64), ("arm64", arm64)] {
        let from = format!(
            "localhost/safeimage-test/busybox-{arch}-{}:t",
            std::process::id()
        );
        let c = sh(Command::new("buildah").args([
            "--isolation",
            "chroot",
            "from",
            "--pull=never",
            &from,
        ]))
        .trim()
        .to_string();
        sh(Command::new("buildah").args(["config", "--label", &format!("v={label}"), &c]));
        let name = format!(
            "localhost/safeimage-test/stagger-{arch}-{label}-{}:t",
            std::process::id()
        );
        sh(Command::new("buildah").args(["commit", "-q", &c, &name]));
        sh(Command::new("buildah").args(["rm", &c]));
        sh(Command::new("buildah").args(["manifest", "add", &list, &name]));
    }
    sh(Command::new("buildah")
        .args([
            "manifest",
            "push",
            "-q",
            "--all",
            "--tls-verify=false",
            &list,
        ])
        .arg(format!("docker://{}/{repo_tag}", f.r())));
    let _ = Command::new("buildah")
        .args(["manifest", "rm", &list])
        .output();
    remote_digest(&format!("{}/{repo_tag}", f.r())).unwrap()
}

#[test]
fn staggered_platform_pushes_inside_the_window_make_one_proposal_of_the_final_index() {
    let f = Fleet::new(
        "FROM scratch\n",
        "min_age = \"1h\"",
        "platforms = [\"linux/amd64\", \"linux/arm64\"]",
    );
    let first = publish_index(&f, "base/multi:1", "a1", "r1");
    std::fs::write(
        f.clone_dir().join("app/Dockerfile"),
        format!("FROM {}/base/multi:1@{first}\nRUN true\n", f.r()),
    )
    .unwrap();
    assert_eq!(
        f.update(&["--dry-run"])["plan"]["proposals"],
        serde_json::json!([])
    );

    // amd64 rebuilt first, arm64 later: two new index digests
    publish_index(&f, "base/multi:1", "a2", "r1");
    let r = f.update(&["--dry-run"]);
    assert_eq!(
        r["plan"]["proposals"],
        serde_json::json!([]),
        "inside the window"
    );
    assert_eq!(r["plan"]["waiting"].as_array().unwrap().len(), 1);
    let last = publish_index(&f, "base/multi:1", "a2", "r2");
    let r = f.update(&["--dry-run"]);
    assert_eq!(r["plan"]["proposals"], serde_json::json!([]));
    let waiting = &r["plan"]["waiting"][0];
    assert!(
        waiting["to"].as_str().unwrap().ends_with(&last),
        "{waiting:#}"
    );

    // the window passes (first-seen times moved back, as time would)
    let db = f.clone_dir().join("state/state.db");
    sh(Command::new("sqlite3")
        .arg(&db)
        .arg("UPDATE seen_digests SET first_seen = first_seen - 7200"));
    let r = f.update(&["--dry-run"]);
    let proposals = r["plan"]["proposals"].as_array().unwrap();
    assert_eq!(proposals.len(), 1, "one proposal: {r:#}");
    let u = &proposals[0]["updates"][0];
    assert_eq!(
        u["to"],
        format!("{}/base/multi:1@{last}", f.r()),
        "the final index"
    );
    let platforms: Vec<&str> = u["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
}
