//! Real parts for integration tests, shared by the crates whose tests start
//! them: a PostgreSQL server (`initdb` + `pg_ctl` in a temp directory, on a
//! loopback port, as the `postgres` user when the tests run as root, since
//! `initdb` refuses root), stopped when dropped. Panics with the install
//! command when the server binaries are missing: a test that needs them
//! fails loudly. [`openapi`]: a forge's API served locally and held to
//! the forge's own OpenAPI description.

pub mod github;
pub mod gitlab;
pub mod openapi;

use std::path::PathBuf;
use std::process::{Command, Output};

/// A running PostgreSQL server; stopped (immediate) on drop.
pub struct PgServer {
    port: u16,
    dir: tempfile::TempDir,
}

impl PgServer {
    /// Starts a fresh cluster (trust auth for user `safeimage`, fsync off:
    /// tests do not survive power loss anyway).
    pub fn start() -> PgServer {
        let dir = tempfile::Builder::new()
            .prefix("safeimage-pg")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let data = dir.path().join("data");
        if is_root() {
            std::fs::create_dir_all(&data).expect("data dir");
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path()));
        }
        server(
            "initdb",
            &[
                "-A",
                "trust",
                "-U",
                "safeimage",
                "-D",
                &data.display().to_string(),
            ],
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        server(
            "pg_ctl",
            &[
                "-D",
                &data.display().to_string(),
                "-l",
                &dir.path().join("log").display().to_string(),
                "-o",
                &format!(
                    "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                    dir.path().display()
                ),
                "-w",
                "start",
            ],
        );
        PgServer { port, dir }
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates database `name`; returns its URL.
    pub fn createdb(&self, name: &str) -> String {
        server(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "safeimage",
                name,
            ],
        );
        format!("postgres://safeimage@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.dir.path().join("data").display().to_string();
        let _ = server_output("pg_ctl", &["-D", &data, "-m", "immediate", "stop"]);
    }
}

/// Where the server programs are: `pg_config --bindir`, else Debian's
/// `/usr/lib/postgresql/<version>/bin`.
fn bindir() -> PathBuf {
    let from_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    match from_config {
        Some(d) if d.join("initdb").exists() => d,
        _ => std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries (apt-get install postgresql)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|d| d.join("initdb").exists())
            .expect("initdb (apt-get install postgresql)"),
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    })
}

fn server_output(prog: &str, args: &[&str]) -> std::io::Result<Output> {
    let bin = bindir().join(prog);
    let mut c = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    c.args(args).output()
}

/// Runs a server program, panicking with its output when it fails.
fn server(prog: &str, args: &[&str]) {
    let out = server_output(prog, args).unwrap_or_else(|e| panic!("{prog}: {e}"));
    check(prog, args, &out);
}

fn run(c: &mut Command) {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    check(&format!("{c:?}"), &[], &out);
}

fn check(prog: &str, args: &[&str], out: &Output) {
    assert!(
        out.status.success(),
        "{prog} {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The folder holding the test data (`corpus/dockerfiles`, `fixtures/osv`):
/// `SAFEIMAGE_TEST_DATA` when set (scripts/test sets it: `../shared`, or
/// `target/test-data` fetched from `testdata/origins.tsv`), else `../shared`
/// beside the repository. Panics naming both when neither has the data.
pub fn data_dir() -> PathBuf {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = settings::env::SAFEIMAGE_TEST_DATA
        .get_os()
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("../shared"));
    assert!(
        dir.join("corpus/dockerfiles").is_dir() && dir.join("fixtures/osv").is_dir(),
        "{}: no test data (corpus/dockerfiles, fixtures/osv); run scripts/fetch-test-data \
         and set SAFEIMAGE_TEST_DATA to the folder it prints, or place ../shared beside the repository",
        dir.display()
    );
    dir
}
