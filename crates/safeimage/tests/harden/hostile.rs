//! Hostile images against the smoke checks' sandbox: the red team's escape
//! image, an image's `PATH`/`LD_*`, the host's loopback.

use super::*;

/// The sandbox's hostile probe (`crates/sandbox/tests/probe.c`), static.
fn probe_binary(dir: &Path) -> Vec<u8> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandbox/tests/probe.c");
    let out = dir.join("probe");
    let st = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("gcc is needed to build the hostile probe: {e}"));
    assert!(st.success());
    std::fs::read(out).unwrap()
}

/// An image written directly as an OCI layout (no builder would make it):
/// the probe as `/pwn` and as its own `/lib64/ld-linux-x86-64.so.2`, with
/// the given WorkingDir and Env. Returns `oci:DIR:v1`.
fn hostile_image(dir: &Path, workdir: &str, env: &[String]) -> String {
    use harden::Kept;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    let probe = Arc::new(probe_binary(dir));
    let mut e = BTreeMap::new();
    e.insert(
        "lib64".to_string(),
        Kept::Dir {
            mode: 0o755,
            owner: (0, 0),
        },
    );
    for f in ["pwn", "lib64/ld-linux-x86-64.so.2"] {
        e.insert(
            f.to_string(),
            Kept::File {
                mode: 0o755,
                data: probe.clone(),
            },
        );
    }
    let layer = harden::output::layer_tar(&e).unwrap();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/pwn"], "WorkingDir": workdir, "Env": env},
    });
    let layout = dir.join("hostile");
    harden::output::write_image(&layout, false, &[&layer], config, "v1", &Default::default())
        .unwrap();
    format!("oci:{}:v1", layout.display())
}

#[test]
fn the_escape_image_with_a_relative_working_dir_is_refused_before_it_runs() {
    // The red team's image: WorkingDir `.`, its own loader, started from a
    // directory where a host setuid program is reachable by a relative path.
    let d = tempfile::tempdir().unwrap();
    let src = hostile_image(d.path(), ".", &["PATH=/bin".into()]);
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir(cwd.path().join("bin")).unwrap();
    std::os::unix::fs::symlink("/usr/bin/su", cwd.path().join("bin/su")).unwrap();
    let marker = cwd.path().join("pwned");
    let out_dir = tempfile::tempdir().unwrap();
    let dest = out_dir.path().join("oci");
    let out = safeimage_in(
        cwd.path(),
        &[
            "harden",
            &src,
            "--entrypoint",
            "/pwn",
            "--keep",
            "/lib64/ld-linux-x86-64.so.2",
            "--user",
            "1000:1000",
            "--check-cmd",
            &format!("write:{} write:pwned", marker.display()),
            "-o",
            &format!("oci:{}:v1", dest.display()),
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("WorkingDir `.`: not an absolute path"),
        "{err}"
    );
    assert!(!marker.exists());
    assert!(!dest.exists(), "a refused image was written");
}

#[test]
fn an_images_path_ld_variables_and_loopback_reach_nothing_on_the_host() {
    let d = tempfile::tempdir().unwrap();
    // the host side: tripwires named like the sandbox helpers in a host
    // directory the image's PATH names, a file the loader's debug output
    // would create, a file the program tries to write, a loopback server
    let host = tempfile::tempdir().unwrap();
    let tripped = host.path().join("tripped");
    for name in ["bwrap", "unshare", "pwn"] {
        let p = host.path().join(name);
        std::fs::write(&p, format!("#!/bin/sh\ntouch '{}'\n", tripped.display())).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let ld_out = host.path().join("ld-debug");
    let written = host.path().join("written");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let src = hostile_image(
        d.path(),
        "/",
        &[
            format!("PATH={}", host.path().display()),
            "LD_DEBUG=all".into(),
            format!("LD_DEBUG_OUTPUT={}", ld_out.display()),
            format!("LD_PRELOAD={}/evil.so", host.path().display()),
        ],
    );
    let out_dir = tempfile::tempdir().unwrap();
    let dest = format!("oci:{}:v1", out_dir.path().join("oci").display());
    let r = json(&harden(&[
        &src,
        "--entrypoint",
        "/pwn",
        "--user",
        "1000:1000",
        "--check-cmd",
        &format!("write:{} connect:{port} id", written.display()),
        "-o",
        &dest,
        "-f",
        "json",
    ]));
    // the check ran (the probe exits 0), inside: the host's port refused
    // the connection, as the sandbox's loopback has nothing on it
    let said = r["checks"][0][1].as_str().unwrap();
    assert!(
        said.contains(&format!("connect:{port} errno=111")),
        "{said}"
    );
    assert!(said.contains("id uid=1000 gid=1000"), "{said}");
    assert!(
        !tripped.exists(),
        "a program from the image's PATH ran on the host"
    );
    // LD_DEBUG_OUTPUT would have made `ld-debug.PID` here
    assert!(!ld_out.exists());
    assert_eq!(
        std::fs::read_dir(host.path()).unwrap().count(),
        3,
        "the host directory changed"
    );
    assert!(!written.exists());
    assert!(
        listener.accept().is_err(),
        "the host's loopback was reached"
    );
}
