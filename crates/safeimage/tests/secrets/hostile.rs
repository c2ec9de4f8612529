//! Hostile repositories and trees: textconv, gpg programs, nested bare
//! repositories, option-looking revisions, procfs, SIGTERM.

use super::*;

/// A repository in `dir` and a git to drive it (author set, no global config).
fn git_in(dir: &Path) -> impl Fn(&[&str]) -> String + '_ {
    move |args: &[&str]| {
        sh(Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=Eve", "-c", "user.email=eve@example.org"])
            .args(args))
    }
}

/// A program a hostile repository names: it leaves `marker` when run.
fn tripwire(dir: &Path, marker: &Path) -> std::path::PathBuf {
    let p = dir.join("tripwire.sh");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\ntouch '{}'\ncat \"$1\" 2>/dev/null\n",
            marker.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn a_repositorys_textconv_driver_is_not_run_and_its_secret_is_still_found() {
    let p = Planted::new();
    let d = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    let marker = tools.path().join("ran");
    let evil = tripwire(tools.path(), &marker);
    let git = git_in(d.path());
    git(&["init", "-q"]);
    std::fs::write(d.path().join(".gitattributes"), "*.yml diff=evil\n").unwrap();
    git(&["config", "diff.evil.textconv", evil.to_str().unwrap()]);
    plant(d.path(), &p);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "with a textconv driver"]);
    // the driver is real: git itself runs it when not told otherwise
    git(&["log", "-p", "-1", "--", "deploy.yml"]);
    assert!(marker.exists(), "the tripwire does not work");
    std::fs::remove_file(&marker).unwrap();
    let out = secrets(&["--git", d.path().to_str().unwrap(), "-f", "json"]);
    assert!(!marker.exists(), "the repository's textconv ran");
    assert!(has(&found(&out), "github-pat", "deploy.yml", 2));
}

#[test]
fn a_signed_commit_with_the_repositorys_gpg_program_runs_nothing() {
    let d = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    let marker = tools.path().join("ran");
    let evil = tripwire(tools.path(), &marker);
    let git = git_in(d.path());
    git(&["init", "-q"]);
    std::fs::write(d.path().join("a.txt"), "hello\n").unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-qm", "plain"]);
    // a commit carrying a signature header, made by hand
    let tree = git(&["rev-parse", "HEAD^{tree}"]);
    let body = format!(
        "tree {}\nauthor Eve <eve@example.org> 1700000000 +0000\ncommitter Eve <eve@example.org> 1700000000 +0000\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\nsigned\n",
        tree.trim()
    );
    let obj = d.path().join("commit.obj");
    std::fs::write(&obj, body).unwrap();
    let id = git(&["hash-object", "-t", "commit", "-w", obj.to_str().unwrap()]);
    std::fs::remove_file(&obj).unwrap();
    git(&["update-ref", "refs/heads/signed", id.trim()]);
    git(&["config", "log.showSignature", "true"]);
    git(&["config", "gpg.program", evil.to_str().unwrap()]);
    // the program is real: git runs it when showing the signature
    git(&["log", "-1", "signed"]);
    assert!(marker.exists(), "the tripwire does not work");
    std::fs::remove_file(&marker).unwrap();
    let out = secrets(&["--git", d.path().to_str().unwrap(), "-f", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!marker.exists(), "the repository's gpg.program ran");
}

#[test]
fn a_bare_repository_committed_inside_a_clone_is_refused_and_runs_nothing() {
    let tools = tempfile::tempdir().unwrap();
    let marker = tools.path().join("ran");
    let evil = tripwire(tools.path(), &marker);
    let upstream = tempfile::tempdir().unwrap();
    let git = git_in(upstream.path());
    git(&["init", "-q"]);
    // inner.git: a bare repository whose own attributes and config run
    // the tripwire on any diff, with one commit in it
    let inner = upstream.path().join("inner.git");
    sh(Command::new("git")
        .args(["init", "-q", "--bare"])
        .arg(&inner));
    let work = tempfile::tempdir().unwrap();
    let w = git_in(work.path());
    w(&["init", "-q"]);
    std::fs::write(work.path().join("a.txt"), "one\n").unwrap();
    w(&["add", "-A"]);
    w(&["commit", "-qm", "one"]);
    w(&[
        "push",
        "-q",
        inner.to_str().unwrap(),
        "HEAD:refs/heads/main",
    ]);
    std::fs::write(inner.join("info/attributes"), "* diff=evil\n").unwrap();
    let inner_git = git_in(&inner);
    inner_git(&["config", "diff.evil.textconv", evil.to_str().unwrap()]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "a bare repository as plain files"]);
    let clone = tempfile::tempdir().unwrap();
    sh(Command::new("git")
        .args(["clone", "-q"])
        .arg(upstream.path())
        .arg(clone.path().join("c")));
    let nested = clone.path().join("c/inner.git");
    assert!(nested.join("HEAD").is_file() && nested.join("info/attributes").is_file());
    let out = secrets(&["--git", nested.to_str().unwrap(), "-f", "json"]);
    assert!(!marker.exists(), "the nested repository's textconv ran");
    // git will not use a bare repository it was not explicitly given
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bare repository"), "{err}");
}

#[test]
fn an_option_looking_since_commit_is_refused_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let git = git_in(d.path());
    git(&["init", "-q"]);
    std::fs::write(d.path().join("a.txt"), "hello\n").unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-qm", "one"]);
    let target = tempfile::tempdir().unwrap();
    let written = target.path().join("written");
    let out = secrets(&[
        "--git",
        d.path().to_str().unwrap(),
        &format!("--since-commit=--output={}", written.display()),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a revision"), "{err}");
    assert!(!written.exists());
}

#[test]
fn a_procfs_inside_the_scanned_tree_is_not_entered_and_the_scan_ends() {
    // a real procfs mounted inside the folder, in a private mount
    // namespace: where `/proc/kmsg` would block a reader forever
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("proc")).unwrap();
    std::fs::write(d.path().join("app.txt"), "hello\n").unwrap();
    let script = format!(
        "mount -t proc proc '{0}/proc' && exec '{1}' secrets '{0}' -f json",
        d.path().display(),
        env!("CARGO_BIN_EXE_safeimage")
    );
    let mut child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux unshare");
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the scan of a tree holding a procfs did not end");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("note: not scanned: proc: on a proc pseudo filesystem: not read"),
        "{err}"
    );
}

#[test]
fn sigterm_ends_a_run_scanning_a_context_of_the_whole_host() {
    // The red team's config: `context = "/"` (allowed here explicitly).
    // The scan must not enter /proc (where /proc/kmsg blocks a read) and
    // must stop at SIGTERM instead of reading the whole disk.
    let f = SecretFleet::new(QUICK, "", "");
    let cfg = std::fs::read_to_string(f.dir.path().join("fleet.toml")).unwrap();
    let dockerfile = f.dir.path().join("app/Dockerfile");
    std::fs::write(
        f.dir.path().join("fleet.toml"),
        cfg.replace(
            "context = \"app\"",
            &format!("context = \"/\"\ndockerfile = \"{}\"", dockerfile.display()),
        ),
    )
    .unwrap();
    // without the flag the config is refused, naming the line
    let refused = safeimage_in(f.dir.path(), &["run", "--config", "fleet.toml"], &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("`image.context` / is outside"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .args([
            "run",
            "--config",
            "fleet.toml",
            "--allow-outside-root",
            "--cache-dir",
            "cache",
        ])
        .current_dir(f.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before the signal"
    );
    sh(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("SIGTERM did not end the run's context scan");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(!f.tagged());
}
