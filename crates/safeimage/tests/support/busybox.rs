//! Busybox test bases: a tiny Debian-like root per architecture (from
//! Debian's busybox-static), pushed as one platform or as an amd64+arm64
//! index.
#![allow(dead_code)]

use super::*;

/// The busybox helpers share containers in buildah's store and files in
/// target/: one at a time per test binary (images are named per process,
/// as test binaries run side by side).
static BUILDERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A tiny Debian-like root for `arch` (`amd64`, `arm64`): Debian's static
/// busybox with its applets linked into /bin, and an os-release. Kept in
/// target/test-images. Needs `dpkg --add-architecture arm64 && apt-get
/// update` for arm64 (the CI does it).
fn busybox_root(arch: &str) -> PathBuf {
    let dir = work().join(format!("busybox-{arch}"));
    if dir.join("bin/busybox").exists() {
        return dir;
    }
    let dl = work().join(format!("busybox-dl-{arch}-{}", std::process::id()));
    std::fs::create_dir_all(&dl).unwrap();
    let out = Command::new("apt-get")
        .current_dir(&dl)
        .args(["download", "-qq", &format!("busybox-static:{arch}")])
        .output()
        .expect("apt-get");
    assert!(
        out.status.success(),
        "apt-get download busybox-static:{arch} failed (for arm64: dpkg --add-architecture arm64 && apt-get update): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = std::fs::read_dir(&dl)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let tmp = work().join(format!("busybox-{arch}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    sh(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tmp));
    // The applets: amd64's busybox lists them natively (the same list).
    let native = busybox_root_list();
    for applet in native
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "busybox")
    {
        let _ = std::os::unix::fs::symlink("busybox", tmp.join("bin").join(applet));
    }
    std::fs::create_dir_all(tmp.join("etc")).unwrap();
    std::fs::create_dir_all(tmp.join("tmp")).unwrap();
    std::fs::write(
        tmp.join("etc/os-release"),
        "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nPRETTY_NAME=\"busybox on Debian 12\"\n",
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dl);
    // another test binary may have made it meanwhile: theirs is as good
    if let Err(e) = std::fs::rename(&tmp, &dir) {
        assert!(dir.join("bin/busybox").exists(), "{}: {e}", dir.display());
        let _ = std::fs::remove_dir_all(&tmp);
    }
    dir
}

fn busybox_root_list() -> String {
    static LIST: OnceLock<String> = OnceLock::new();
    LIST.get_or_init(|| {
        let root = work().join("busybox-list");
        if !root.join("bin/busybox").exists() {
            let dl = work().join(format!("busybox-list-dl-{}", std::process::id()));
            std::fs::create_dir_all(&dl).unwrap();
            sh(Command::new("apt-get").current_dir(&dl).args([
                "download",
                "-qq",
                "busybox-static:amd64",
            ]));
            let deb = std::fs::read_dir(&dl)
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            sh(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
            let _ = std::fs::remove_dir_all(&dl);
        }
        sh(Command::new(root.join("bin/busybox")).arg("--list"))
    })
    .clone()
}

/// A two-platform (amd64 + arm64) busybox base pushed to `reg` as an
/// index under `repo_tag`; returns `reg/repo_tag`.
pub fn busybox_index(reg: &Registry, repo_tag: &str) -> String {
    let _one = BUILDERS.lock().unwrap_or_else(|e| e.into_inner());
    let target = format!("{}/{repo_tag}", reg.addr);
    let list = format!(
        "localhost/safeimage-test/busybox-list-{}",
        std::process::id()
    );
    let _ = Command::new("buildah")
        .args(["manifest", "rm", &list])
        .output();
    sh(Command::new("buildah").args(["manifest", "create", &list]));
    for arch in ["amd64", "arm64"] {
        let root = busybox_root(arch);
        let c = sh(Command::new("buildah").args(["--isolation", "chroot", "from", "scratch"]))
            .trim()
            .to_string();
        sh(Command::new("buildah")
            .args(["add", &c])
            .arg(format!("{}/", root.display()))
            .arg("/"));
        sh(Command::new("buildah").args([
            "config",
            "--os",
            "linux",
            "--arch",
            arch,
            "--cmd",
            "[\"/bin/sh\"]",
            &c,
        ]));
        let name = format!(
            "localhost/safeimage-test/busybox-{arch}-{}:t",
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
        .arg(format!("docker://{target}")));
    let _ = Command::new("buildah")
        .args(["manifest", "rm", &list])
        .output();
    target
}

/// A single-platform busybox base (this machine's) pushed as `repo_tag`.
pub fn busybox_image(reg: &Registry, repo_tag: &str) -> String {
    let _one = BUILDERS.lock().unwrap_or_else(|e| e.into_inner());
    let target = format!("{}/{repo_tag}", reg.addr);
    let root = busybox_root("amd64");
    let c = sh(Command::new("buildah").args(["--isolation", "chroot", "from", "scratch"]))
        .trim()
        .to_string();
    sh(Command::new("buildah")
        .args(["add", &c])
        .arg(format!("{}/", root.display()))
        .arg("/"));
    sh(Command::new("buildah").args(["config", "--cmd", "[\"/bin/sh\"]", &c]));
    // named per process: test binaries run side by side
    let name = format!("localhost/safeimage-test/busybox-{}:t", std::process::id());
    sh(Command::new("buildah")
        .args(["commit", "-q", "--format", "oci", &c])
        .arg(&name));
    sh(Command::new("buildah").args(["rm", &c]));
    sh(Command::new("buildah")
        .args(["push", "-q", "--tls-verify=false", &name])
        .arg(format!("docker://{target}")));
    target
}
