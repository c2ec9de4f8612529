//! Registry access against a real docker-registry on loopback: clear errors
//! for a missing image and for missing credentials, basic auth from a Docker
//! config.json, and platform selection from a multi-arch index.

mod support;

use std::process::{Command, Output};

use support::*;

fn safeimage(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_safeimage"));
    c.args(args).arg("--no-cache").env_remove("DOCKER_CONFIG");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn missing_image_is_a_clear_error() {
    let reg = registry();
    let r = format!("{}/nothing/here:1", reg.addr);
    let o = safeimage(&["sbom", &r], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not found"), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing/here"), "{}", stderr(&o));
}

#[test]
fn basic_auth_from_docker_config() {
    let reg = registry_with_auth(Some(("ci", "s3cret-pass")));
    let image = minbase();
    let remote = format!("{}/private/minbase:1", reg.addr);
    sh(Command::new("buildah")
        .args([
            "push",
            "-q",
            "--tls-verify=false",
            "--creds",
            "ci:s3cret-pass",
            image,
        ])
        .arg(format!("docker://{remote}")));
    // no credentials: a clear 401 that says how to log in
    let home = tempfile::tempdir().unwrap();
    let o = safeimage(
        &["sbom", &remote],
        &[("HOME", home.path().to_str().unwrap())],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not authorized"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("docker login {}", reg.addr)),
        "{}",
        stderr(&o)
    );
    // credentials in DOCKER_CONFIG/config.json (auths); the password never appears in output
    let cfg = tempfile::tempdir().unwrap();
    let auth = "Y2k6czNjcmV0LXBhc3M="; // base64("ci:s3cret-pass")
    std::fs::write(
        cfg.path().join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.addr),
    )
    .unwrap();
    let o = safeimage(
        &["sbom", &remote, "-f", "json"],
        &[("DOCKER_CONFIG", cfg.path().to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["packages"].as_array().unwrap().len() > 80);
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("s3cret") && !stderr(&o).contains("s3cret")
    );
}

#[test]
fn platform_is_picked_from_a_multi_arch_index() {
    let reg = registry();
    let base = minbase();
    let pid = std::process::id();
    let list = format!("localhost/safeimage-test/multi-{pid}:t");
    let arm_image = format!("localhost/safeimage-test/arm64-{pid}:t");
    let _ = Command::new("buildah")
        .args(["manifest", "rm", &list])
        .output();
    sh(Command::new("buildah").args(["manifest", "create", &list]));
    sh(Command::new("buildah").args(["manifest", "add", &list, base]));
    // an arm64 image (same layer, arm64 config): which entry was read shows in the manifest digest
    let c = sh(Command::new("buildah").args(["from", "--pull=never", base]))
        .trim()
        .to_string();
    sh(Command::new("buildah").args([
        "config",
        "--arch",
        "arm64",
        "--variant",
        "v8",
        "--label",
        "test=arm64",
        &c,
    ]));
    sh(Command::new("buildah").args(["commit", "-q", &c, &arm_image]));
    sh(Command::new("buildah").args(["rm", &c]));
    sh(Command::new("buildah").args(["manifest", "add", &list, &arm_image]));
    let remote = format!("{}/multi/base:1", reg.addr);
    sh(Command::new("buildah")
        .args([
            "manifest",
            "push",
            "-q",
            "--all",
            "--tls-verify=false",
            &list,
        ])
        .arg(format!("docker://{remote}")));
    let index = sh(Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{remote}")));
    assert!(
        index.contains("\"manifests\"") && index.contains("arm64") && index.contains("amd64"),
        "{index}"
    );
    let read = |platform: &str| {
        safeimage(
            &["sbom", &remote, "-f", "json", "--platform", platform],
            &[],
        )
    };
    let amd = read("linux/amd64");
    assert!(amd.status.success(), "{}", stderr(&amd));
    let arm = read("linux/arm64");
    assert!(arm.status.success(), "{}", stderr(&arm));
    let digest = |o: &Output| {
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["image"]["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_ne!(
        digest(&amd),
        digest(&arm),
        "each platform resolves to its own manifest"
    );
    assert!(
        index.contains(&digest(&arm)) && index.contains(&digest(&amd)),
        "both come from the index"
    );
    let none = read("linux/s390x");
    assert_eq!(none.status.code(), Some(2));
    assert!(
        stderr(&none).contains("no image for platform linux/s390x"),
        "{}",
        stderr(&none)
    );
    assert!(
        stderr(&none).contains("linux/arm64/v8"),
        "{}",
        stderr(&none)
    );
    // the image and list are left in place: removing them here raced with
    // other test binaries' `buildah bud --layers`, whose cache lookup failed
    // with "layer not known" when a layer went away under it
    let _ = (&list, &arm_image);
}

/// A proxy in front of the real registry that answers the first request for
/// every path with 503 or 429 (alternating), then forwards; `always` paths
/// fail every time.
const FLAKY: &str = r#"
import http.client, http.server, socketserver, sys, threading
upstream, always = sys.argv[1], sys.argv[2]
seen, lock, served = set(), threading.Lock(), []
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def handle_one(self):
        key = (self.command, self.path)
        with lock:
            first = key not in seen
            seen.add(key)
            n = len(served)
        if first or (always and always in self.path):
            code = 503 if n % 2 == 0 else 429
            with lock:
                served.append(code)
            sys.stderr.write(f"{code} {self.command} {self.path}\n"); sys.stderr.flush()
            self.send_response(code); self.send_header("Content-Length", "0"); self.end_headers(); return
        c = http.client.HTTPConnection(upstream)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        c.request(self.command, self.path, headers=headers)
        r = c.getresponse()
        body = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    do_GET = do_HEAD = handle_one
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

fn flaky_proxy(upstream: &str, always: &str) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = Command::new("python3")
        .args(["-c", FLAKY, upstream, always])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = format!("127.0.0.1:{}", line.trim());
    (child, addr)
}

#[test]
fn retries_429_and_5xx_then_reports_persistent_failure() {
    let reg = registry();
    sh(Command::new("buildah")
        .args(["push", "-q", "--tls-verify=false", minbase()])
        .arg(format!("docker://{}/flaky/minbase:1", reg.addr)));

    // Every manifest, config and layer request fails once: retried, same SBOM.
    let (mut proxy, addr) = flaky_proxy(&reg.addr, "");
    let o = safeimage(
        &["sbom", &format!("{addr}/flaky/minbase:1"), "-f", "json"],
        &[],
    );
    let _ = proxy.kill();
    let out = proxy.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(o.status.success(), "{}\nproxy:\n{log}", stderr(&o));
    assert!(log.contains("503 ") && log.contains("429 "), "{log}");
    assert!(
        log.contains("/blobs/sha256:"),
        "layers were retried too: {log}"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let direct = safeimage(
        &[
            "sbom",
            &format!("{}/flaky/minbase:1", reg.addr),
            "-f",
            "json",
        ],
        &[],
    );
    let w: serde_json::Value = serde_json::from_slice(&direct.stdout).unwrap();
    assert_eq!(v["packages"], w["packages"]);

    // A manifest that keeps failing: a clear error after the retries, exit 2.
    let (mut proxy, addr) = flaky_proxy(&reg.addr, "/manifests/");
    let o = safeimage(&["sbom", &format!("{addr}/flaky/minbase:1")], &[]);
    let _ = proxy.kill();
    let _ = proxy.wait();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("flaky/minbase:1") && (e.contains("503") || e.contains("429")),
        "{e}"
    );
}

/// A hostile registry: `/v2/huge/manifests/latest` is 1 GiB, and
/// `/v2/bigconfig/...` has a small manifest whose config blob is 64 MiB
/// (announced as 100 bytes). The server streams zeros and never holds them.
const HOSTILE: &str = r#"
import hashlib, http.server, json, sys
CONFIG = 64 << 20
zeros = b"\0" * (1 << 20)
cfg_digest = hashlib.sha256()
for _ in range(CONFIG >> 20):
    cfg_digest.update(zeros)
cfg_digest = "sha256:" + cfg_digest.hexdigest()
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest, "size": 100},
    "layers": []}).encode()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def stream(self, n, chunked):
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(n))
        self.end_headers()
        try:
            for _ in range(n >> 20):
                if chunked:
                    self.wfile.write(b"%x\r\n" % len(zeros) + zeros + b"\r\n")
                else:
                    self.wfile.write(zeros)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
    def do_HEAD(self):
        self.do_GET()
    def do_GET(self):
        p = self.path
        if p == "/v2/" or p == "/v2":
            self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
        elif p.startswith("/v2/huge/manifests/"):
            self.stream(1 << 30, False)
        elif p.startswith("/v2/chunked/manifests/"):
            self.stream(1 << 30, True)
        elif p.startswith("/v2/bigconfig/manifests/"):
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            self.send_header("Content-Length", str(len(manifest)))
            self.end_headers(); self.wfile.write(manifest)
        elif p.startswith("/v2/bigconfig/blobs/"):
            self.stream(CONFIG, False)
        else:
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

/// Runs safeimage under Python, returning its output and peak RSS (MiB).
fn with_peak_rss(args: &[&str]) -> (Output, u64) {
    let out = Command::new("python3")
        .args([
            "-c",
            "import resource, subprocess, sys\nr = subprocess.run(sys.argv[1:], capture_output=True)\nsys.stdout.buffer.write(r.stderr)\nprint()\nprint(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\nsys.exit(r.returncode)",
            env!("CARGO_BIN_EXE_safeimage"),
        ])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let peak = text.lines().last().unwrap().trim().parse().unwrap();
    (out, peak)
}

#[test]
fn huge_manifests_and_configs_are_refused_with_bounded_memory() {
    use std::io::BufRead as _;
    let mut server = Command::new("python3")
        .args(["-c", HOSTILE])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().unwrap();
    for (repo, what) in [
        ("huge", "manifest"),
        ("chunked", "manifest"),
        ("bigconfig", "config"),
    ] {
        let r = format!("127.0.0.1:{port}/{repo}:latest");
        let (out, peak) = with_peak_rss(&["sbom", &r, "--no-cache"]);
        let err = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{repo}: {err}");
        assert!(
            err.contains(&format!("the {what} is larger than")),
            "{repo}: {err}"
        );
        assert!(peak < 200, "{repo}: peak RSS {peak} MiB");
    }
    let _ = server.kill();
    let _ = server.wait();
}
