//! Servers tests start: a Docker daemon on a private socket, PostgreSQL in
//! a temp dir, a loopback file server and one laid out like OSV's bucket.
#![allow(dead_code)]

use super::*;

/// A Docker daemon on a private socket (vfs storage, no iptables, no
/// bridge), stopped on drop. `host` is its DOCKER_HOST.
pub struct Dockerd {
    pub host: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn dockerd() -> Dockerd {
    let dir = tempfile::Builder::new()
        .prefix("dockerd")
        .tempdir_in("/tmp")
        .unwrap();
    let sock = dir.path().join("d.sock");
    let child = Command::new("dockerd")
        .args(["--iptables=false", "--bridge=none", "--storage-driver=vfs"])
        .arg("--host")
        .arg(format!("unix://{}", sock.display()))
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .arg("--exec-root")
        .arg(dir.path().join("exec"))
        .arg("--pidfile")
        .arg(dir.path().join("pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dockerd (apt-get install docker.io)");
    let host = format!("unix://{}", sock.display());
    let start = Instant::now();
    loop {
        let ok = Command::new("/usr/bin/docker")
            .args(["-H", &host, "version"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "dockerd did not start"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    Dockerd {
        host,
        child,
        _dir: dir,
    }
}

/// A PostgreSQL server with a database `safeimage`, stopped on drop.
pub struct Postgres {
    pub url: String,
    _server: testkit::PgServer,
}

pub fn postgres() -> Postgres {
    let server = testkit::PgServer::start();
    Postgres {
        url: server.createdb("safeimage"),
        _server: server,
    }
}

/// A background process, killed when dropped.
pub struct Background(pub Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `dir` served over plain HTTP on loopback (Python's http.server); its base URL.
pub fn serve_dir(dir: &Path) -> (Background, String) {
    let port = free_port();
    let child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (Background(child), format!("http://127.0.0.1:{port}"))
}

const BUCKET_SERVER: &str = r#"
import base64, hashlib, http.server, os, sys
root, log = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        from urllib.parse import unquote
        if log:
            with open(log, "a") as f:
                f.write(unquote(self.path) + "\n")
        p = os.path.join(root, unquote(self.path.lstrip("/")))
        if not os.path.isfile(p):
            self.send_error(404); return
        data = open(p, "rb").read()
        md5 = base64.b64encode(hashlib.md5(data if "corrupt" not in p else b"x").digest()).decode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-goog-hash", "crc32c=AAAAAA==, md5=" + md5)
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

/// `dir` served as Google Cloud Storage serves OSV's bucket: the length, and
/// the MD5 in `x-goog-hash` (a wrong one for paths containing `corrupt`);
/// each request's path is appended to `log` when given. Its base URL.
pub fn serve_bucket(dir: &Path, log: Option<&Path>) -> (Background, String) {
    use std::io::BufRead;
    let mut child = Command::new("python3")
        .args(["-c", BUCKET_SERVER])
        .arg(dir)
        .arg(log.map(|l| l.as_os_str()).unwrap_or_default())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (
        Background(child),
        format!("http://127.0.0.1:{}", line.trim()),
    )
}
