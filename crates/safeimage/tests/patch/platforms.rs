//! A two-platform index (amd64 and arm64, each a tiny distroless-style
//! image of stale bookworm packages unpacked with `dpkg-deb -x`, nothing
//! run) patched into one index: each platform gets its own architecture's
//! fixed packages from one amd64 tooling container.

use super::*;

const PACKAGES: &[&str] = &["base-files", "libc6", "libssl3"];

/// The stale packages of `arch` unpacked into a root with status.d records.
fn tiny_root(debs: &Path, root: &Path) {
    std::fs::create_dir_all(root.join("var/lib/dpkg/status.d")).unwrap();
    for e in std::fs::read_dir(debs).unwrap() {
        let deb = e.unwrap().path();
        sh(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(root));
        let control = sh(Command::new("dpkg-deb").arg("-f").arg(&deb));
        let name = control
            .lines()
            .find_map(|l| l.strip_prefix("Package: "))
            .unwrap()
            .to_string();
        std::fs::write(root.join(format!("var/lib/dpkg/status.d/{name}")), control).unwrap();
        let ctl = tempfile::tempdir().unwrap();
        sh(Command::new("dpkg-deb")
            .arg("-e")
            .arg(&deb)
            .arg(ctl.path().join("c")));
        if let Ok(sums) = std::fs::read(ctl.path().join("c/md5sums")) {
            std::fs::write(
                root.join(format!("var/lib/dpkg/status.d/{name}.md5sums")),
                sums,
            )
            .unwrap();
        }
    }
}

/// `oci:DIR:v1` of the two-platform index.
fn index(dir: &Path) -> String {
    let work = dir.join("fetch");
    std::fs::create_dir_all(&work).unwrap();
    // bookworm main only: the stale versions, for both architectures
    let script = r#"set -eu
for ARCH in amd64 arm64; do
  A="-q -o Dir::State=/work/$ARCH/state -o Dir::State::status=/work/status -o Dir::Cache=/work/$ARCH/cache -o Debug::NoLocking=1 -o APT::Architecture=$ARCH -o APT::Architectures=$ARCH -o Acquire::Languages=none -o APT::Sandbox::User=root"
  mkdir -p /work/$ARCH/state/lists/partial /work/$ARCH/cache/archives/partial /work/$ARCH/debs
  touch /work/status
  apt-get $A update >/dev/null
  cd /work/$ARCH/debs && apt-get $A download "$@" >/dev/null
done
"#;
    let c = sh(Command::new("buildah").args(["from", "-q", "--pull=never", minbase()]))
        .trim()
        .to_string();
    sh(Command::new("buildah")
        .args(["run", "--isolation", "chroot", "-v"])
        .arg(format!("{}:/work", work.display()))
        .args([&c, "--", "/bin/sh", "-c", script, "sh"])
        .args(PACKAGES));
    sh(Command::new("buildah").args(["rm", &c]));
    let list = format!(
        "localhost/safeimage-test/patch-index-{}:t",
        std::process::id()
    );
    let _ = Command::new("buildah")
        .args(["manifest", "rm", &list])
        .output();
    sh(Command::new("buildah").args(["manifest", "create", &list]));
    for arch in ["amd64", "arm64"] {
        let root = dir.join(format!("root-{arch}"));
        tiny_root(&work.join(arch).join("debs"), &root);
        let c = sh(Command::new("buildah").args(["from", "scratch"]))
            .trim()
            .to_string();
        sh(Command::new("buildah")
            .args(["add", &c])
            .arg(format!("{}/", root.display()))
            .arg("/"));
        sh(Command::new("buildah").args(["config", "--arch", arch, "--os", "linux", &c]));
        let name = local(&format!("patch-tiny-{arch}"));
        sh(Command::new("buildah").args(["commit", "-q", &c, &name]));
        sh(Command::new("buildah").args(["rm", &c]));
        sh(Command::new("buildah").args([
            "manifest",
            "add",
            &list,
            &format!("containers-storage:{name}"),
        ]));
    }
    let out = dir.join("index");
    sh(Command::new("buildah")
        .args(["manifest", "push", "-q", "--all", &list])
        .arg(format!("oci:{}:v1", out.display())));
    let _ = Command::new("buildah")
        .args(["manifest", "rm", &list])
        .output();
    format!("oci:{}:v1", out.display())
}

/// The ELF machine of a file in the last layer of the platform's manifest.
fn machine_in_patch_layer(layout: &Path, manifest_digest: &str, suffix: &str) -> u16 {
    let blob = |d: &str| layout.join("blobs/sha256").join(&d[7..]);
    let m: Value = serde_json::from_slice(&std::fs::read(blob(manifest_digest)).unwrap()).unwrap();
    let last = m["layers"].as_array().unwrap().last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(blob(&last)).unwrap());
    let mut ar = tar::Archive::new(gz);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy().ends_with(suffix)
            && e.header().entry_type() == tar::EntryType::Regular
        {
            let mut head = [0u8; 20];
            std::io::Read::read_exact(&mut e, &mut head).unwrap();
            assert_eq!(&head[..4], b"\x7fELF");
            return u16::from_le_bytes([head[18], head[19]]);
        }
    }
    panic!("no {suffix} in the patch layer");
}

#[test]
fn a_two_platform_index_is_patched_per_platform_into_one_index() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = import(d, "advisories.db", &osv_fixtures().join("Debian-12"));
    let src = index(d);
    let out_dir = d.join("patched");
    let out = format!("oci:{}:v1", out_dir.display());
    let (code, r, err) = patch(d, &db, &[&src, "-o", &out]);
    assert_eq!(code, 0, "{err}");
    let platforms = r["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 2, "{r:#}");
    for p in platforms {
        let names: Vec<&str> = p["upgrades"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"libssl3"), "{}: {names:?}", p["platform"]);
        assert_eq!(p["findings_after"], 0, "{p:#}");
    }
    // one index over both, each manifest the patched one of its platform
    let index: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("index.json")).unwrap()).unwrap();
    let top = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let idx: Value = serde_json::from_slice(
        &std::fs::read(out_dir.join("blobs/sha256").join(&top[7..])).unwrap(),
    )
    .unwrap();
    let by_arch: Vec<(String, String)> = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["platform"]["architecture"].as_str().unwrap().to_string(),
                m["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        by_arch.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(),
        ["amd64", "arm64"]
    );
    // each platform's patch layer holds its own architecture's library
    assert_eq!(
        machine_in_patch_layer(&out_dir, &by_arch[0].1, "libssl.so.3"),
        62
    );
    assert_eq!(
        machine_in_patch_layer(&out_dir, &by_arch[1].1, "libssl.so.3"),
        183
    );
    // and our scan of either platform finds nothing left
    for arch in ["linux/amd64", "linux/arm64"] {
        let o = safeimage_in(
            d,
            &[
                "scan",
                &out,
                "--platform",
                arch,
                "--db",
                db.to_str().unwrap(),
                "--db-max-age",
                "1000000",
                "-f",
                "json",
                "--cache-dir",
                d.join("cache").to_str().unwrap(),
            ],
            &[],
        );
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(
            deb_findings(&v).is_empty(),
            "{arch}: {:?}",
            deb_findings(&v)
        );
        assert!(v["summary"]["packages_checked"].as_u64().unwrap() >= 3);
    }
}
