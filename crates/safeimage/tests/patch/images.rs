//! The stale nginx-light image patched, checked by our scan, Trivy's,
//! `diff`, its layers and dpkg inside it; then patched again.

use super::*;

/// Runs `argv` in a container of `image` (any buildah transport); (exit code, stdout+stderr).
fn run_image(image: &str, argv: &[&str]) -> (i32, String) {
    let c = container_of(image);
    let out = Command::new("buildah")
        .args(["run", "--isolation", "chroot", &c, "--"])
        .args(argv)
        .output()
        .unwrap();
    sh(Command::new("buildah").args(["rm", &c]));
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn sbom_file(dir: &Path, source: &str, name: &str) -> PathBuf {
    let f = dir.join(name);
    let out = safeimage_in(
        dir,
        &[
            "sbom",
            source,
            "-f",
            "cyclonedx-json",
            "-o",
            f.to_str().unwrap(),
            "--cache-dir",
            dir.join("cache").to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    f
}

#[test]
fn the_stale_image_patched_loses_its_labeled_cves_in_ours_and_trivys_scan_keeps_its_layers_and_runs()
 {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let osv = osv_fixtures().join("Debian-12");
    let db = import(d, "advisories.db", &osv);
    let image = stale_nginx();
    let (expected, _) = debian_expected(image);
    let labeled: BTreeSet<(String, String)> = expected
        .iter()
        .map(|(c, p, _)| (c.clone(), p.clone()))
        .collect();
    assert!(labeled.len() >= 20, "{labeled:?}");

    let src = to_oci(image, d, "stale");
    let out = format!("oci:{}:v1", d.join("patched").display());
    let (code, r, err) = patch(d, &db, &[&src, "-o", &out]);
    assert_eq!(code, 0, "{err}");

    // what the patch says it fixed is exactly the labeled set
    let fixed: BTreeSet<(String, String)> = r["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["package"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(fixed, labeled);

    // our scan: every labeled finding was there before and is gone after
    let before = deb_findings(&scan(d, &db, &src));
    assert!(labeled.is_subset(&before));
    let after = deb_findings(&scan(d, &db, &out));
    assert!(
        after.intersection(&labeled).next().is_none(),
        "still found: {after:?}"
    );

    // Trivy on our SBOMs, against a Trivy DB of the same records
    let cache = d.join("trivy-cache");
    trivy_db(&cache, &osv);
    let as_text = |s: &BTreeSet<(String, String)>| -> BTreeSet<String> {
        s.iter().map(|(c, p)| format!("{c} {p}")).collect()
    };
    let theirs_before = trivy_ids(&cache, &sbom_file(d, &src, "before.cdx.json"), &[]);
    assert!(
        as_text(&labeled).is_subset(&theirs_before),
        "Trivy misses some before: {:?}",
        as_text(&labeled)
            .difference(&theirs_before)
            .collect::<Vec<_>>()
    );
    let theirs_after = trivy_ids(&cache, &sbom_file(d, &out, "after.cdx.json"), &[]);
    assert!(
        as_text(&labeled)
            .intersection(&theirs_after)
            .next()
            .is_none(),
        "Trivy still finds: {theirs_after:?}"
    );

    // diff: only the upgraded packages, each from its old to its new version
    let upgrades: BTreeSet<(String, String, String)> = r["upgrades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let s = |k: &str| u[k].as_str().unwrap().to_string();
            (s("name"), s("from"), s("to"))
        })
        .collect();
    let diffed = safeimage_in(
        d,
        &[
            "diff",
            &src,
            &out,
            "--db",
            db.to_str().unwrap(),
            "--db-max-age",
            "0",
            "-f",
            "json",
            "--cache-dir",
            d.join("cache").to_str().unwrap(),
        ],
        &[],
    );
    let v: Value = serde_json::from_slice(&diffed.stdout).unwrap();
    let changed: BTreeSet<(String, String, String)> = v["packages"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap().to_string();
            (s("name"), s("from"), s("to"))
        })
        .collect();
    assert_eq!(changed, upgrades);
    assert_eq!(v["packages"]["added"].as_array().unwrap().len(), 0);
    assert_eq!(v["packages"]["removed"].as_array().unwrap().len(), 0);
    assert_eq!(v["security"]["verdict"], "improved");

    // the original layers, byte for byte, and one more
    let (m0, m1) = (manifest(&src), manifest(&out));
    let (l0, l1) = (layer_digests(&m0), layer_digests(&m1));
    assert_eq!(l1.len(), l0.len() + 1);
    assert_eq!(l1[..l0.len()], l0[..]);
    // the config says what was patched and keeps the rest
    let (c0, c1) = (&m0["config_json"], &m1["config_json"]);
    assert_eq!(c1["config"]["Cmd"], c0["config"]["Cmd"]);
    assert_eq!(c1["config"]["Env"], c0["config"]["Env"]);
    assert_eq!(c1["config"]["Entrypoint"], c0["config"]["Entrypoint"]);
    assert_eq!(c1["created"], c0["created"]);
    let last = c1["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["comment"], "safeimage patch");
    assert!(last["created_by"].as_str().unwrap().contains("libssl3"));

    // it runs, dpkg knows the new versions and every file matches its sums
    let (code, text) = run_image(&out, &["nginx", "-v"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("nginx/1.22.1"), "{text}");
    let (code, text) = run_image(
        &out,
        &["dpkg", "--verify", "libssl3", "nginx-light", "perl-base"],
    );
    assert_eq!((code, text.as_str()), (0, ""), "dpkg --verify");
    let (code, text) = run_image(&out, &["dpkg", "--audit"]);
    assert_eq!((code, text.trim()), (0, ""), "dpkg --audit");
    let (_, text) = run_image(&out, &["dpkg-query", "-W", "-f", "${Package} ${Version}\n"]);
    for (name, _, to) in &upgrades {
        assert!(
            text.contains(&format!("{name} {to}\n")),
            "{name} {to} in {text}"
        );
    }
}

#[test]
fn patching_a_patched_image_replaces_its_patch_layer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // first only openssl's advisories are known, then all of them
    let osv = osv_fixtures().join("Debian-12");
    let some = d.join("openssl-only");
    std::fs::create_dir_all(&some).unwrap();
    for e in std::fs::read_dir(&osv).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        if text.contains("\"name\": \"openssl\"") || text.contains("\"name\":\"openssl\"") {
            std::fs::copy(&p, some.join(p.file_name().unwrap())).unwrap();
        }
    }
    assert!(std::fs::read_dir(&some).unwrap().count() >= 1);
    let first_db = import(d, "first.db", &some);
    let full_db = import(d, "full.db", &osv);

    let src = to_oci(stale_nginx(), d, "stale");
    let once = format!("oci:{}:v1", d.join("once").display());
    let (code, r1, err) = patch(d, &first_db, &[&src, "-o", &once]);
    assert_eq!(code, 0, "{err}");
    let names = |r: &Value| -> BTreeSet<String> {
        r["upgrades"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names(&r1).contains("libssl3"));
    assert!(!names(&r1).contains("perl-base"), "{:?}", names(&r1));

    // a newer set of fixes: patched again from the patched image
    let twice = format!("oci:{}:v1", d.join("twice").display());
    let (code, r2, err) = patch(d, &full_db, &[&once, "-o", &twice]);
    assert_eq!(code, 0, "{err}");
    assert!(names(&r2).contains("perl-base") && names(&r2).contains("libssl3"));
    let (m0, m1, m2) = (manifest(&src), manifest(&once), manifest(&twice));
    let (l0, l1, l2) = (layer_digests(&m0), layer_digests(&m1), layer_digests(&m2));
    assert_eq!(l2.len(), l1.len(), "the layer count is unchanged");
    assert_eq!(l2[..l0.len()], l0[..], "the original layers stay");
    assert_ne!(l2.last(), l1.last(), "the patch layer is a new one");
    assert_eq!(
        r2["previous"]["layer"],
        m1["config_json"]["config"]["Labels"]["dev.safeimage.patch.layer"]
    );
    // one history entry of ours, naming the original
    let ours = m2["config_json"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["comment"] == "safeimage patch")
        .count();
    assert_eq!(ours, 1);
    assert_eq!(
        m2["config_json"]["config"]["Labels"]["dev.safeimage.patch.original"],
        m1["config_json"]["config"]["Labels"]["dev.safeimage.patch.original"]
    );
}

#[test]
fn a_tooling_image_of_another_release_or_a_held_package_stops_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = import(d, "advisories.db", &osv_fixtures().join("Debian-12"));
    // the stale image with libssl3 on hold
    let held = {
        let c = sh(Command::new("buildah").args(["from", "-q", "--pull=never", stale_nginx()]))
            .trim()
            .to_string();
        sh(Command::new("buildah").args([
            "run",
            "--isolation",
            "chroot",
            &c,
            "--",
            "apt-mark",
            "hold",
            "libssl3",
        ]));
        let name = local("patch-nginx-held");
        sh(Command::new("buildah").args(["commit", "-q", &c, &name]));
        sh(Command::new("buildah").args(["rm", &c]));
        name
    };
    let src = to_oci(&held, d, "held");
    let out_dir = d.join("out");
    let out = format!("oci:{}:v1", out_dir.display());
    let (code, _, err) = patch(d, &db, &[&src, "-o", &out]);
    assert_eq!(code, 2);
    assert!(err.contains("held") && err.contains("libssl3"), "{err}");
    assert!(!out_dir.exists(), "nothing written");
    // --only leaves it out and patches the rest
    let (code, r, err) = patch(d, &db, &[&src, "-o", &out, "--only", "perl-base"]);
    assert_eq!(code, 0, "{err}");
    let names: Vec<&str> = r["upgrades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"perl-base") && !names.contains(&"libssl3"),
        "{names:?}"
    );
    let _ = std::fs::remove_dir_all(&out_dir);

    // a tooling image of another release is refused by name
    let other = d.join("other");
    let out2 = format!("oci:{}:v1", other.display());
    let mut args = vec![
        "patch",
        src.as_str(),
        "-o",
        out2.as_str(),
        "--db",
        db.to_str().unwrap(),
    ];
    args.extend_from_slice(&[
        "--db-max-age",
        "1000000",
        "--tooling-image",
        minbase_bullseye(),
        "--only",
        "perl-base",
    ]);
    let o = safeimage_in(d, &args, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bullseye") && err.contains("bookworm"),
        "{err}"
    );
    assert!(!other.exists());
}

/// A tiny image claiming to be Debian 11: an os-release only (the tooling
/// container reads nothing else before it refuses).
fn minbase_bullseye() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let c = sh(Command::new("buildah").args(["from", "-q", "--pull=never", tooling()]))
            .trim()
            .to_string();
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("os-release");
        std::fs::write(
            &f,
            "PRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\nID=debian\nVERSION_ID=\"11\"\nVERSION_CODENAME=bullseye\n",
        )
        .unwrap();
        sh(Command::new("buildah").args(["copy", &c]).arg(&f).arg("/usr/lib/os-release"));
        sh(Command::new("buildah").args(["run", "--isolation", "chroot", &c, "--", "ln", "-sf", "../usr/lib/os-release", "/etc/os-release"]));
        let name = local("patch-tooling-bullseye");
        sh(Command::new("buildah").args(["commit", "-q", &c, &name]));
        sh(Command::new("buildah").args(["rm", &c]));
        name
    })
}
