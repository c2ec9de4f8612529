//! The sandbox against a hostile program (`probe.c`, compiled statically
//! here): what it may not do fails inside, nothing it does reaches the
//! host's files, processes or loopback, and the only way in is
//! `Running::connect`. Needs bubblewrap and gcc; run as root (as CI does)
//! it also proves the program has no host identity.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sandbox::ids::HOST_ID_BASE;
use sandbox::{Limits, Sandbox, Scratch, Spec};

/// A root holding only the probe at `/probe` (and `/etc`, `/data`).
fn root() -> Scratch {
    let s = Scratch::new().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/probe.c");
    let out = s.root().join("probe");
    let st = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("gcc is needed to build the test probe: {e}"));
    assert!(st.success(), "gcc failed on {}", src.display());
    for d in ["etc", "data"] {
        std::fs::create_dir(s.root().join(d)).unwrap();
    }
    s.mount_points().unwrap();
    let ids = s.ids();
    for p in ["probe", "etc", "data", "dev", "proc", "tmp"] {
        ids.chown(&s.root().join(p), (0, 0)).unwrap();
    }
    ids.chown(&s.root().join("data"), (1000, 1000)).unwrap();
    s
}

fn spec(args: &[&str]) -> Spec {
    let mut argv = vec!["/probe".to_string()];
    argv.extend(args.iter().map(|s| s.to_string()));
    Spec {
        user: (1000, 1000),
        env: vec!["PATH=/usr/bin:/bin".into(), "LANG=C".into()],
        workdir: "/".into(),
        argv,
        writable: vec!["/data".into()],
        limits: Limits::default(),
    }
}

fn run(s: &Scratch, args: &[&str]) -> String {
    let sb = Sandbox::locate().expect("bubblewrap is needed: apt-get install bubblewrap");
    let f = sb
        .spawn(s, &spec(args))
        .unwrap()
        .wait(Duration::from_secs(20));
    assert_eq!(f.code, Some(0), "{f:?}");
    f.stdout
}

fn line<'a>(out: &'a str, what: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{what} ")))
        .unwrap_or_else(|| panic!("no `{what}` in {out}"))
}

#[test]
fn kernel_interfaces_a_check_never_needs_fail_with_eperm() {
    let s = root();
    let out = run(
        &s,
        &[
            "mount",
            "unshare-user",
            "unshare-net",
            "clone-newuser",
            "ptrace",
            "keyctl",
            "bpf",
            "chroot",
            "tiocsti",
            "thread",
        ],
    );
    for what in [
        "mount",
        "unshare-user",
        "unshare-net",
        "clone-newuser",
        "ptrace",
        "keyctl",
        "bpf",
        "chroot",
        "tiocsti",
    ] {
        assert_eq!(line(&out, what), format!("{what} errno=1"), "{out}");
    }
    // ordinary process creation still works (clone without namespace flags)
    assert_eq!(line(&out, "thread"), "thread ok", "{out}");
}

#[test]
fn the_program_runs_as_the_image_user_with_no_new_privileges_and_a_filter() {
    let s = root();
    let out = run(&s, &["id", "status", "setuid0", "rlimits", "cwd"]);
    assert_eq!(line(&out, "id"), "id uid=1000 gid=1000");
    assert!(out.contains("status NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("status Seccomp:\t2"), "{out}");
    assert!(out.contains("status CapEff:\t0000000000000000"), "{out}");
    // EINVAL: there is no uid 0 in the sandbox's user namespace to become
    assert_eq!(line(&out, "setuid0"), "setuid0 errno=22");
    assert_eq!(line(&out, "rlimit nofile"), "rlimit nofile 1024");
    assert_eq!(line(&out, "rlimit nproc"), "rlimit nproc 512");
    assert_eq!(line(&out, "rlimit core"), "rlimit core 0");
    assert_eq!(line(&out, "cwd"), "cwd /");
}

#[test]
fn as_root_the_sandbox_has_no_host_identity() {
    let s = root();
    assert!(
        s.ids().shifted(),
        "this test proves the id shift, which needs root (CI runs the suite as root)"
    );
    let sb = Sandbox::locate().unwrap();
    let mut r = sb.spawn(&s, &spec(&["sleep"])).unwrap();
    let pid = r.pid().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .unwrap()
        .split_whitespace()
        .map(|u| u.parse::<u32>().unwrap())
        .collect::<Vec<_>>();
    assert_eq!(uid, vec![HOST_ID_BASE + 1000; 4], "{status}");
    r.stop();
}

#[test]
fn the_environment_is_the_images_only() {
    let s = root();
    let out = run(&s, &["env"]);
    let env: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("env ")).collect();
    // bubblewrap adds only PWD, the working directory
    assert_eq!(env, vec!["PATH=/usr/bin:/bin", "LANG=C", "PWD=/"], "{out}");
}

#[test]
fn writes_land_only_in_the_tmpfs_and_the_writable_directories() {
    let s = root();
    let marker = tempfile::tempdir().unwrap();
    let host = marker.path().join("pwned");
    let host_arg = format!("write:{}", host.display());
    let out = run(
        &s,
        &[
            "write:/etc/passwd",
            "write:/pwned",
            "write:/tmp/ok",
            "write:/data/ok",
            &host_arg,
        ],
    );
    assert_eq!(
        line(&out, "write:/etc/passwd"),
        "write:/etc/passwd errno=30"
    ); // EROFS
    assert_eq!(line(&out, "write:/pwned"), "write:/pwned errno=30");
    assert_eq!(line(&out, "write:/tmp/ok"), "write:/tmp/ok ok");
    assert_eq!(line(&out, "write:/data/ok"), "write:/data/ok ok");
    // the host path does not exist in the sandbox's root
    assert!(line(&out, &host_arg).contains("errno="), "{out}");
    assert!(!host.exists());
    assert!(!s.root().join("etc/passwd").exists());
    assert!(!s.root().join("pwned").exists());
    // /tmp was the sandbox's own tmpfs; /data is the root's, in the scratch dir
    assert_eq!(std::fs::read_dir(s.root().join("tmp")).unwrap().count(), 0);
    assert!(s.root().join("data/ok").is_file());
}

#[test]
fn the_hosts_loopback_is_out_of_reach() {
    let s = root();
    let host = TcpListener::bind("127.0.0.1:0").unwrap();
    host.set_nonblocking(true).unwrap();
    let port = host.local_addr().unwrap().port();
    let out = run(&s, &[&format!("connect:{port}")]);
    // ECONNREFUSED: its own loopback has nothing on that port
    assert_eq!(
        line(&out, &format!("connect:{port}")),
        format!("connect:{port} errno=111"),
        "{out}"
    );
    assert!(host.accept().is_err(), "the host's listener was reached");
}

#[test]
fn a_service_inside_is_reached_only_through_its_own_namespace() {
    let s = root();
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sb = Sandbox::locate().unwrap();
    let mut r = sb.spawn(&s, &spec(&[&format!("serve:{port}")])).unwrap();
    let mut answer = String::new();
    for _ in 0..100 {
        if let Ok(mut c) = r.connect(port, Duration::from_secs(1)) {
            c.read_to_string(&mut answer).unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(answer, "hello from inside\n");
    // from the host's own loopback, nothing is listening there
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    r.stop();
}

#[test]
fn stopping_leaves_no_process_behind_even_a_daemon() {
    let s = root();
    let sb = Sandbox::locate().unwrap();
    let mut r = sb.spawn(&s, &spec(&["daemon", "sleep"])).unwrap();
    let pid = r.pid().unwrap();
    let ns = std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let members = |ns: &std::path::PathBuf| {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    && std::fs::read_link(e.path().join("ns/pid")).is_ok_and(|l| &l == ns)
            })
            .count()
    };
    assert!(
        members(&ns) >= 3,
        "the probe, its daemon and the sandbox's init"
    );
    let f = r.stop();
    assert_eq!(f.code, None);
    assert_eq!(members(&ns), 0);
}

#[test]
fn a_relative_working_dir_never_reaches_the_sandbox() {
    let s = root();
    let e = s.working_dir(".").unwrap_err().to_string();
    assert!(e.contains("not an absolute path"), "{e}");
}
