//! The audit log under edits, deletions and reordering; SIGTERM during a
//! build; stale feeds.

use super::*;

#[test]
fn audit_verify_catches_edits_deletions_reordering_and_a_deleted_last_record() {
    let f = Fleet::new(SMALL);
    // Four blocked decisions (a prohibited base: nothing is built).
    std::fs::write(
        f.dir().join("app/Dockerfile"),
        format!(
            "FROM {}/forbidden/debian@sha256:{}\n",
            f.r(),
            "a".repeat(64)
        ),
    )
    .unwrap();
    for _ in 0..4 {
        assert_eq!(f.run(&[], &[]).status.code(), Some(1));
    }
    let audit = f.audit("app");
    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(f.verify().status.success());
    let edited = text.replacen("\"outcome\":\"blocked\"", "\"outcome\":\"promoted\"", 1);
    assert_ne!(edited, text);
    let mut deleted = lines.clone();
    deleted.remove(1);
    let mut reordered = lines.clone();
    reordered.swap(1, 2);
    let mut truncated = lines.clone();
    truncated.pop();
    for (what, content, needle) in [
        ("edit", edited, "was changed"),
        ("deletion", deleted.join("\n") + "\n", "deleted"),
        ("reordering", reordered.join("\n") + "\n", "record"),
        (
            "last record deleted",
            truncated.join("\n") + "\n",
            "records were deleted",
        ),
    ] {
        std::fs::write(&audit, &content).unwrap();
        let out = f.verify();
        let s = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{what} not detected:\n{s}");
        assert!(
            s.contains("BROKEN  app") && s.contains(needle),
            "{what}:\n{s}"
        );
    }
    std::fs::write(&audit, &text).unwrap();
    assert!(f.verify().status.success());

    // A forged record with a correct hash, appended outside any run: verify
    // reports it, and the next run's recovery does not adopt it.
    let (seq, hash) = store::audit::read_chain(&audit).head();
    let mut forged = serde_json::Map::new();
    forged.insert("outcome".into(), Value::from("promoted"));
    forged.insert("run".into(), Value::from(1));
    store::audit::append(audit.parent().unwrap(), "app", seq + 1, &hash, forged, None).unwrap();
    let out = f.verify();
    let s = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("not anchored"), "{s}");
    assert_eq!(f.run(&[], &[]).status.code(), Some(1));
    let out = f.verify();
    assert_eq!(
        out.status.code(),
        Some(1),
        "still reported after another run"
    );
}

#[test]
fn sigterm_during_a_build_stops_the_engine_removes_credentials_and_marks_the_run_interrupted() {
    let f = Fleet::new("ARG BASE\nFROM ${BASE}\nRUN sleep 300 # safeimage-sigterm-test\n");
    f.push_base(Base::Main, "base/debian:bookworm");
    let tmp = f.dir().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // Credentials from the environment make the run write an auth file.
    f.config(
        "",
        &format!(
            "[registry.\"{}\"]\nusername_env = \"REG_USER\"\npassword_env = \"REG_PASS\"\n",
            f.r()
        ),
    );
    // A credentials directory left by a run killed earlier (pid 1 never is us).
    let stale = tmp.join("safeimage-auth-4194302-leftover");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("auth.json"), "{}").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .current_dir(f.dir())
        .args([
            "run",
            "--config",
            "fleet.toml",
            "--cache-dir",
            "cache",
            "--json",
            "last.json",
        ])
        .env("TMPDIR", &tmp)
        .env("REG_USER", "ci")
        .env("REG_PASS", "s3cret")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the build runs its `sleep`.
    let t = Instant::now();
    let auth_dirs = || -> Vec<PathBuf> {
        std::fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("safeimage-auth-")
            })
            .collect()
    };
    let sleeping = || {
        Command::new("pgrep")
            .args(["-f", "safeimage-sigterm-test"])
            .output()
            .unwrap()
            .status
            .success()
    };
    while !sleeping() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "the build never started"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        !stale.exists(),
        "the leftover credentials were removed at start"
    );
    assert_eq!(
        auth_dirs().len(),
        1,
        "one credentials directory during the build"
    );
    sh(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    eprintln!("{err}");
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(err.contains("SIGTERM: stopping"), "{err}");
    assert!(
        err.contains("removed registry credentials left in"),
        "{err}"
    );
    let t = Instant::now();
    while sleeping() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the engine's processes are still running"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        auth_dirs().is_empty(),
        "credentials removed: {:?}",
        auth_dirs()
    );
    let rep = f.report();
    assert_eq!(rep["interrupted"], true);
    let app = image(&rep, "app");
    assert_eq!(app["outcome"], "failed");
    assert!(
        app["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("interrupted"),
        "{}",
        app["reasons"]
    );
    let status = sh(Command::new("python3").args([
        "-c",
        "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select status from runs order by id desc limit 1').fetchone()[0])",
    ]).arg(f.dir().join("state/state.db")));
    assert_eq!(status.trim(), "interrupted");
    let leftovers = sh(Command::new("buildah").args(["containers", "--format", "{{.ImageName}}"]));
    assert!(!leftovers.contains("safeimage-build/app"), "{leftovers}");
    assert_eq!(f.head("fleet/app:latest"), None);
}

#[test]
fn a_stale_feed_is_refused_over_the_limit_and_reported_under_it() {
    let f = Fleet::new(SMALL);
    f.push_base(Base::Main, "base/debian:bookworm");
    // OSV's Debian feed as a bucket whose newest record is 40 days old
    let bucket = f.dir().join("bucket");
    std::fs::create_dir_all(bucket.join("Debian")).unwrap();
    std::fs::write(bucket.join("ecosystems.txt"), "Debian\nPyPI\n").unwrap();
    let now = findings::time::Timestamp::now();
    let old = findings::time::Timestamp(now.0 - 40 * 86_400).to_string();
    let mut z = zip::ZipWriter::new(std::fs::File::create(bucket.join("Debian/all.zip")).unwrap());
    for e in std::fs::read_dir(osv_fixtures().join("Debian-12")).unwrap() {
        let p = e.unwrap().path();
        z.start_file(
            p.file_name().unwrap().to_str().unwrap(),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        std::io::Write::write_all(&mut z, &std::fs::read(&p).unwrap()).unwrap();
    }
    z.start_file("LATEST.json", zip::write::SimpleFileOptions::default())
        .unwrap();
    let latest = serde_json::json!({"id": "DEBIAN-CVE-2026-0000", "modified": old,
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "zz-none"}, "versions": ["1"]}]});
    std::io::Write::write_all(&mut z, latest.to_string().as_bytes()).unwrap();
    z.finish().unwrap();
    let (_server, base) = serve_dir(&bucket);
    let out = safeimage_in(
        f.dir(),
        &[
            "db",
            "update",
            "--feed",
            "osv:Debian",
            "--osv-url",
            &base,
            "--db",
            "advisories.db",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // over `[scan] max_feed_age_days`: refused before anything is built
    let cfg = std::fs::read_to_string(f.dir().join("fleet.toml")).unwrap();
    std::fs::write(
        f.dir().join("fleet.toml"),
        cfg.replace(
            "max_age_hours = 0",
            "max_age_hours = 0\nmax_feed_age_days = 30",
        ),
    )
    .unwrap();
    let out = f.run(&[], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("feed osv:Debian's newest record is 40 days old")
            && err.contains("limit of 30 days"),
        "{err}"
    );
    assert_eq!(f.head("fleet/app:latest"), None);

    // under no limit: the run goes on and its report says so
    std::fs::write(f.dir().join("fleet.toml"), &cfg).unwrap();
    let out = f.run(&[], &[]);
    assert_eq!(out.status.code(), Some(0));
    let rep = f.report();
    assert!(
        rep["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("feed osv:Debian: its newest record is 40 days old")),
        "{rep}"
    );
    assert!(f.head("fleet/app:latest").is_some());
}
