//! A hardened nginx patched in place: the tooling container fetches the
//! fixed packages, only the files hardening kept are replaced, the
//! status.d records say the new versions, nothing new appears (no shell),
//! and nginx still serves its page as its own user.

use super::*;

#[test]
fn a_hardened_nginx_patched_serves_its_page_with_new_records_and_no_shell() {
    let port = free_port();
    let built = nginx_image(port);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src");
    sh(Command::new("buildah")
        .args(["push", "-q", &built])
        .arg(format!("oci:{}:v1", src.display())));
    let hardened = format!("oci:{}:v1", d.join("hardened").display());
    let port_s = format!("{port}/");
    json(&harden(&[
        &format!("oci:{}:v1", src.display()),
        "--entrypoint",
        "/usr/sbin/nginx",
        "--check-http",
        &port_s,
        "-o",
        &hardened,
        "-f",
        "json",
    ]));
    let db = d.join("advisories.db");
    let imported = safeimage_in(
        d,
        &[
            "db",
            "import",
            "--db",
            db.to_str().unwrap(),
            osv_fixtures().join("Debian-12").to_str().unwrap(),
        ],
        &[],
    );
    assert!(imported.status.success());
    let before_files = Mounted::new(&hardened).files();

    let patched = format!("oci:{}:v1", d.join("patched").display());
    let out = safeimage_in(
        d,
        &[
            "patch",
            &hardened,
            "-o",
            &patched,
            "--db",
            db.to_str().unwrap(),
            "--db-max-age",
            "1000000",
            "--tooling-image",
            base_image(Base::Security),
            "-f",
            "json",
        ],
        &[],
    );
    let r = json(&out);
    assert_eq!(r["hardened"], true);
    let upgrades: Vec<(String, String)> = r["upgrades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["name"].as_str().unwrap().to_string(),
                u["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let names: Vec<&str> = upgrades.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"libssl3") && names.contains(&"nginx-light"),
        "{names:?}"
    );
    assert_eq!(r["findings_after"], 0, "{r:#}");

    let m = Mounted::new(&patched);
    let files = m.files();
    // nothing appeared: the same paths as the hardened image, no shell
    assert_eq!(files, before_files);
    assert!(
        denied_names(&files).is_empty(),
        "{:?}",
        denied_names(&files)
    );
    for (name, version) in &upgrades {
        let rec =
            std::fs::read_to_string(m.root.join(format!("var/lib/dpkg/status.d/{name}"))).unwrap();
        assert!(rec.contains(&format!("\nVersion: {version}\n")), "{rec}");
    }
    drop(m);
    let running = Started::new(&patched, &["/usr/sbin/nginx"]);
    let page = ask(port, b"GET / HTTP/1.0\r\nHost: x\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("hello from hardened nginx"), "{page}");
    let procs = running.processes("nginx");
    assert!(procs.iter().all(|(_, uid)| *uid == 65532), "{procs:?}");
}
