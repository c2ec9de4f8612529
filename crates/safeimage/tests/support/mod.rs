//! Real parts for integration tests: a CNCF `docker-registry` on loopback,
//! base images made with mmdebstrap, images built with `buildah bud
//! --isolation chroot`, and exports to OCI layouts and docker archives.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Runs a command, panicking with its output when it fails.
pub fn sh(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn work() -> PathBuf {
    let d = repo().join("target/test-images");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A registry on a free loopback port, stopped on drop.
pub struct Registry {
    pub addr: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn answers(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(format!("GET /v2/ HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.")
}

/// Starts `docker-registry serve` with filesystem storage in a temp dir.
pub fn registry() -> Registry {
    registry_with_auth(None)
}

/// A registry requiring basic auth (`htpasswd`, bcrypt) for `user:password`.
pub fn registry_with_auth(user_password: Option<(&str, &str)>) -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let auth = match user_password {
        Some((u, p)) => {
            let file = dir.path().join("htpasswd");
            sh(Command::new("htpasswd")
                .args(["-Bbc"])
                .arg(&file)
                .args([u, p]));
            format!(
                "auth:\n  htpasswd:\n    realm: safeimage-test\n    path: {}\n",
                file.display()
            )
        }
        None => String::new(),
    };
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let config = dir.path().join("config.yml");
    std::fs::write(&config, format!("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\nlog:\n  level: warn\n{auth}", dir.path().join("data").display())).unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry (apt-get install docker-registry)");
    let start = Instant::now();
    while !answers(&addr) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "registry on {addr} did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Registry {
        addr,
        child,
        _dir: dir,
    }
}

/// `localhost/safeimage-test/NAME:TAG`.
pub fn local(name: &str) -> String {
    format!("localhost/safeimage-test/{name}:t")
}

/// A Debian bookworm minbase image (mmdebstrap, main only), built once per test run
/// (the rootfs tarball is kept in target/test-images between runs).
pub fn minbase() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let tar = work().join("minbase-bookworm.tar");
        if !tar.exists() {
            let tmp = work().join("minbase-bookworm.tar.tmp");
            sh(Command::new("mmdebstrap")
                .args(["--variant=minbase", "--quiet", "bookworm"])
                .arg(&tmp));
            std::fs::rename(&tmp, &tar).unwrap();
        }
        let name = local("minbase");
        let c = sh(Command::new("buildah").args(["--isolation", "chroot", "from", "scratch"]))
            .trim()
            .to_string();
        sh(Command::new("buildah").args(["add", &c]).arg(&tar).arg("/"));
        sh(Command::new("buildah").args(["config", "--cmd", "[\"/bin/bash\"]", &c]));
        sh(Command::new("buildah").args(["commit", "-q", &c, &name]));
        sh(Command::new("buildah").args(["rm", &c]));
        name
    })
}

/// Builds `dir/Dockerfile` with buildah (chroot isolation, no cache), tagged `local(name)`.
pub fn build(name: &str, dir: &Path, args: &[&str]) -> String {
    let image = local(name);
    let mut cmd = Command::new("buildah");
    cmd.args([
        "bud",
        "--isolation",
        "chroot",
        "--no-cache",
        "--pull=never",
        "-q",
        "-t",
        &image,
        "--build-arg",
    ])
    .arg(format!("BASE={}", minbase()));
    cmd.args([
        "--secret",
        "id=hostca,src=/etc/ssl/certs/ca-certificates.crt",
    ]);
    cmd.args(args).arg(dir);
    sh(&mut cmd);
    image
}

/// The same image as an OCI layout, a docker archive and a registry reference.
pub struct Exports {
    pub oci: String,
    pub archive: String,
    pub registry: String,
    _dir: tempfile::TempDir,
}

pub fn export(image: &str, name: &str, reg: &Registry) -> Exports {
    let dir = tempfile::tempdir().unwrap();
    let oci = dir.path().join("oci");
    let archive = dir.path().join("image.tar");
    sh(Command::new("buildah")
        .args(["push", "-q", image])
        .arg(format!("oci:{}:v1", oci.display())));
    sh(Command::new("buildah")
        .args(["push", "-q", image])
        .arg(format!("docker-archive:{}:{name}:v1", archive.display())));
    let remote = format!("{}/tests/{name}:v1", reg.addr);
    sh(Command::new("buildah")
        .args(["push", "-q", "--tls-verify=false", image])
        .arg(format!("docker://{remote}")));
    Exports {
        oci: format!("oci:{}:v1", oci.display()),
        archive: format!("docker-archive:{}", archive.display()),
        registry: format!("registry:{remote}"),
        _dir: dir,
    }
}

/// Runs a command inside a container of `image` and returns its stdout.
pub fn run_in(image: &str, args: &[&str]) -> String {
    let c =
        sh(Command::new("buildah").args(["--isolation", "chroot", "from", "--pull=never", image]))
            .trim()
            .to_string();
    let out = sh(Command::new("buildah")
        .args(["run", "--isolation", "chroot", &c, "--"])
        .args(args));
    sh(Command::new("buildah").args(["rm", &c]));
    out
}

/// `safeimage sbom SOURCE -f FORMAT` as JSON.
pub fn sbom(source: &str, format: &str, cache: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .args(["sbom", source, "-f", format, "--cache-dir"])
        .arg(cache)
        .env("SOURCE_DATE_EPOCH", "1795478400")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sbom {source}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Reads a file from an image (via `buildah mount`), for images with no shell.
pub fn read_file(image: &str, path: &str) -> String {
    let c = sh(Command::new("buildah").args(["from", "--pull=never", image]))
        .trim()
        .to_string();
    let root = sh(Command::new("buildah").args(["mount", &c]))
        .trim()
        .to_string();
    let text = std::fs::read_to_string(Path::new(&root).join(path.trim_start_matches('/')))
        .unwrap_or_else(|e| panic!("{path} in {image}: {e}"));
    sh(Command::new("buildah").args(["umount", &c]));
    sh(Command::new("buildah").args(["rm", &c]));
    text
}
