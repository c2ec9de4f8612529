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

/// Which Debian bookworm base to build on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// `bookworm main` only: no security updates.
    Main,
    /// `bookworm main` plus `bookworm-security`.
    Security,
}

/// A minbase rootfs made by mmdebstrap from the given suites, kept in
/// target/test-images between runs.
fn rootfs(base: Base) -> PathBuf {
    let (name, sources): (&str, &[&str]) = match base {
        Base::Main => (
            "minbase-bookworm-main",
            &["deb http://deb.debian.org/debian bookworm main"],
        ),
        Base::Security => (
            "minbase-bookworm-security",
            &[
                "deb http://deb.debian.org/debian bookworm main",
                "deb http://deb.debian.org/debian-security bookworm-security main",
            ],
        ),
    };
    let dir = work().join(name);
    if !dir.exists() {
        let tmp = work().join(format!("{name}.tmp-{}", std::process::id()));
        sh(Command::new("mmdebstrap")
            .args(["--variant=minbase", "--quiet", "bookworm"])
            .arg(&tmp)
            .args(sources));
        std::fs::rename(&tmp, &dir).unwrap();
    }
    dir
}

/// A Debian bookworm minbase image from `bookworm main` only, made once per
/// test run (the rootfs is kept in target/test-images between runs).
pub fn minbase() -> &'static str {
    base_image(Base::Main)
}

/// The base image for `base`, committed to local storage once per run.
pub fn base_image(base: Base) -> &'static str {
    static MAIN: OnceLock<String> = OnceLock::new();
    static SEC: OnceLock<String> = OnceLock::new();
    let cell = match base {
        Base::Main => &MAIN,
        Base::Security => &SEC,
    };
    cell.get_or_init(|| {
        let dir = rootfs(base);
        let name = local(match base {
            Base::Main => "minbase",
            Base::Security => "minbase-security",
        });
        let c = sh(Command::new("buildah").args(["--isolation", "chroot", "from", "scratch"]))
            .trim()
            .to_string();
        sh(Command::new("buildah")
            .args(["add", &c])
            .arg(format!("{}/", dir.display()))
            .arg("/"));
        sh(Command::new("buildah").args(["config", "--cmd", "[\"/bin/bash\"]", &c]));
        sh(Command::new("buildah").args(["commit", "-q", &c, &name]));
        sh(Command::new("buildah").args(["rm", &c]));
        name
    })
}

/// Builds `dir/Dockerfile` with buildah (chroot isolation, no cache), tagged `local(name)`.
pub fn build(name: &str, dir: &Path, args: &[&str]) -> String {
    build_on(Base::Main, name, dir, args)
}

/// Builds `dir/Dockerfile` on the given base (passed as the `BASE` build arg).
pub fn build_on(base: Base, name: &str, dir: &Path, args: &[&str]) -> String {
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
    .arg(format!("BASE={}", base_image(base)));
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

/// Runs the safeimage binary with `args` (and extra environment), in `cwd`.
pub fn safeimage_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_safeimage"));
    c.current_dir(cwd).args(args).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("safeimage")
}

/// The official SARIF 2.1.0 schema (fetched by scripts/fetch-test-schemas)
/// as a validator.
pub fn sarif_validator() -> jsonschema::Validator {
    let schema_path = repo().join("target/test-schemas/sarif-2.1.0.json");
    let text = std::fs::read_to_string(&schema_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run scripts/fetch-test-schemas",
            schema_path.display()
        )
    });
    // The published schema's `language` pattern has a stray `]` that strict
    // regex engines reject; use the pattern it means. Nothing else changes.
    let fixed = text.replace(
        r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#,
        r#""^[a-zA-Z]{2}(-[a-zA-Z]{2})?$""#,
    );
    let schema: serde_json::Value = serde_json::from_str(&fixed).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// The shared OSV fixtures.
pub fn osv_fixtures() -> PathBuf {
    repo().join("../shared/fixtures/osv")
}

/// Renders an HTML file in headless Chromium and returns the DOM it built.
pub fn chromium_dom(file: &Path) -> String {
    let bin = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new("which")
                .arg(b)
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("chromium (apt-get install chromium)");
    let profile = tempfile::tempdir().unwrap();
    sh(Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display())))
}
