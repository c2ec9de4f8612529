//! Files are written into what the user named: for `-o`, `--db` and the
//! run's report directory, an ordinary path gets the content, a symlink
//! stays a symlink and its target gets the content, and a character
//! device (made with mknod) or a FIFO is written in place and survives.

mod support;

use std::os::unix::fs::FileTypeExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

/// A scratch directory on the repository's filesystem (device nodes need a
/// mount without `nodev`).
fn scratch() -> tempfile::TempDir {
    let t = repo().join("target/test-output-files");
    std::fs::create_dir_all(&t).unwrap();
    tempfile::tempdir_in(t).unwrap()
}

/// `/dev/null`'s twin, made with mknod (needs root, as CI runs).
fn null_device(dir: &Path) -> PathBuf {
    let p = dir.join("null");
    sh(Command::new("mknod").arg(&p).args(["c", "1", "3"]));
    sh(Command::new("chmod").args(["666"]).arg(&p));
    p
}

fn fifo(dir: &Path) -> PathBuf {
    let p = dir.join("pipe");
    sh(Command::new("mkfifo").arg(&p));
    p
}

fn is_char_device(p: &Path) -> bool {
    std::fs::symlink_metadata(p)
        .unwrap()
        .file_type()
        .is_char_device()
}

fn is_fifo(p: &Path) -> bool {
    std::fs::symlink_metadata(p).unwrap().file_type().is_fifo()
}

fn is_symlink(p: &Path) -> bool {
    std::fs::symlink_metadata(p)
        .unwrap()
        .file_type()
        .is_symlink()
}

/// Runs `safeimage args` while a thread reads `fifo`; returns what it read.
fn through_fifo(cwd: &Path, args: &[&str], fifo: &Path) -> Vec<u8> {
    let f = fifo.to_path_buf();
    let reader = std::thread::spawn(move || std::fs::read(&f).unwrap());
    let out = safeimage_in(cwd, args, &[]);
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    reader.join().unwrap()
}

fn lint_args<'a>(dockerfile: &'a str, to: &'a str) -> Vec<&'a str> {
    vec![
        "lint",
        "--no-shellcheck",
        "-f",
        "json",
        dockerfile,
        "-o",
        to,
    ]
}

#[test]
fn dash_o_writes_into_devices_fifos_symlinks_and_paths() {
    let d = scratch();
    let dir = d.path();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM debian:12\nRUN apt-get install curl\n",
    )
    .unwrap();
    let df = dir.join("Dockerfile").display().to_string();

    let dev = null_device(dir);
    let out = safeimage_in(dir, &lint_args(&df, dev.to_str().unwrap()), &[]);
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(is_char_device(&dev), "the device was replaced");

    let p = fifo(dir);
    let got = through_fifo(dir, &lint_args(&df, p.to_str().unwrap()), &p);
    let v: serde_json::Value = serde_json::from_slice(&got).unwrap();
    assert!(v["findings"].as_array().is_some_and(|f| !f.is_empty()));
    assert!(is_fifo(&p), "the FIFO was replaced");

    std::fs::write(dir.join("target.json"), "old").unwrap();
    std::os::unix::fs::symlink("target.json", dir.join("link.json")).unwrap();
    let link = dir.join("link.json");
    let out = safeimage_in(dir, &lint_args(&df, link.to_str().unwrap()), &[]);
    assert!(out.status.code().is_some_and(|c| c < 2));
    assert!(is_symlink(&link), "the symlink was replaced");
    let text = std::fs::read_to_string(dir.join("target.json")).unwrap();
    assert!(text.contains("\"findings\""), "{text}");

    let plain = dir.join("plain.json");
    let out = safeimage_in(dir, &lint_args(&df, plain.to_str().unwrap()), &[]);
    assert!(out.status.code().is_some_and(|c| c < 2));
    assert!(
        std::fs::read_to_string(&plain)
            .unwrap()
            .contains("\"findings\"")
    );
    // No temp files are left beside them.
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

const OSV: &str = r#"{"id": "DEBIAN-CVE-2099-0001", "aliases": ["CVE-2099-0001"], "modified": "2026-01-01T00:00:00Z",
 "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.15-1~deb12u1"}]}]}]}"#;

fn import(dir: &Path, db: &Path) -> std::process::Output {
    safeimage_in(
        dir,
        &["db", "import", "osv.json", "--db", db.to_str().unwrap()],
        &[],
    )
}

#[test]
fn db_import_writes_into_devices_fifos_symlinks_and_paths() {
    let d = scratch();
    let dir = d.path();
    std::fs::write(dir.join("osv.json"), OSV).unwrap();

    let dev = null_device(dir);
    let out = import(dir, &dev);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(is_char_device(&dev), "the device was replaced");

    let p = fifo(dir);
    let got = through_fifo(
        dir,
        &["db", "import", "osv.json", "--db", p.to_str().unwrap()],
        &p,
    );
    assert!(got.starts_with(b"SQLite format 3\0"), "the FIFO got the DB");
    assert!(is_fifo(&p));

    std::fs::create_dir_all(dir.join("real")).unwrap();
    std::os::unix::fs::symlink("real/advisories.db", dir.join("link.db")).unwrap();
    let out = import(dir, &dir.join("link.db"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(is_symlink(&dir.join("link.db")));
    let st = safeimage_in(dir, &["db", "status", "--db", "link.db"], &[]);
    assert!(
        String::from_utf8_lossy(&st.stdout).contains("advisories:  1"),
        "{}",
        String::from_utf8_lossy(&st.stdout)
    );
    assert!(
        std::fs::metadata(dir.join("real/advisories.db"))
            .unwrap()
            .len()
            > 0
    );
    // Nothing was left in the link's directory or the target's.
    for d in [dir.to_path_buf(), dir.join("real")] {
        assert!(
            !std::fs::read_dir(&d).unwrap().any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")),
            "temp file left in {}",
            d.display()
        );
    }

    let plain = dir.join("plain.db");
    assert!(import(dir, &plain).status.success());
    let st = safeimage_in(dir, &["db", "status", "--db", "plain.db"], &[]);
    assert!(String::from_utf8_lossy(&st.stdout).contains("advisories:  1"));
}

#[test]
fn the_run_writes_its_reports_into_devices_fifos_and_symlinks() {
    let d = scratch();
    let dir = d.path();
    std::fs::create_dir_all(dir.join("app")).unwrap();
    // No base to resolve: a dry run needs no registry.
    std::fs::write(dir.join("app/Dockerfile"), "FROM scratch\nCOPY x /x\n").unwrap();
    std::fs::write(
        dir.join("fleet.toml"),
        "[[image]]\nname = \"app\"\ncontext = \"app\"\nrepository = \"127.0.0.1:9/fleet/app\"\n\n[lint]\nshellcheck = false\n\n[report]\ndir = \"reports\"\n\n[store]\npath = \"state/state.db\"\naudit_dir = \"state/audit\"\n",
    )
    .unwrap();
    let reports = dir.join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    // run 1's JSON report is a device, its HTML a FIFO, latest.html a symlink.
    let dev = reports.join("run-1.json");
    sh(Command::new("mknod").arg(&dev).args(["c", "1", "3"]));
    let p = reports.join("run-1.html");
    sh(Command::new("mkfifo").arg(&p));
    std::os::unix::fs::symlink("elsewhere.html", reports.join("latest.html")).unwrap();
    let got = through_fifo(dir, &["run", "--config", "fleet.toml", "--dry-run"], &p);
    assert!(String::from_utf8_lossy(&got).contains("<!doctype html>"));
    assert!(is_char_device(&dev), "the device was replaced");
    assert!(is_fifo(&p), "the FIFO was replaced");
    assert!(is_symlink(&reports.join("latest.html")));
    assert!(
        std::fs::read_to_string(reports.join("elsewhere.html"))
            .unwrap()
            .contains("safeimage run 1")
    );
}
