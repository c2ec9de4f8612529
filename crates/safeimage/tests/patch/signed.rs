//! Patched into a registry, signed with a cosign key, the SBOM and SLSA
//! provenance attached; `verify` passes. Patched again from the patched
//! tag (the next day's run with the same data): the same digest, since
//! the previous patch layer is set aside and the same packages make the
//! same layer.

use super::*;

const PW: &str = "patch-test-password";

#[test]
fn a_patched_image_is_signed_attested_and_patching_it_again_gives_the_same_digest() {
    let reg = registry();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = import(d, "advisories.db", &osv_fixtures().join("Debian-12"));
    let stale = format!("{}/tests/nginx:stale", reg.addr);
    sh(Command::new("buildah")
        .args(["push", "-q", "--tls-verify=false", stale_nginx()])
        .arg(format!("docker://{stale}")));
    let env = [("COSIGN_PASSWORD", PW)];
    let k = safeimage_in(d, &["keygen", "--output-key-prefix", "k"], &env);
    assert!(k.status.success());
    let target = format!("{}/tests/nginx:patched", reg.addr);
    let run = |source: &str| -> Value {
        let out = safeimage_in(
            d,
            &[
                "patch",
                source,
                "-o",
                &target,
                "--sign-key",
                "k.key",
                "--db",
                db.to_str().unwrap(),
                "--db-max-age",
                "1000000",
                "--tooling-image",
                tooling(),
                "-f",
                "json",
            ],
            &env,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = run(&format!("registry:{stale}"));
    assert!(!first["upgrades"].as_array().unwrap().is_empty());
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", target.as_str(), "--key", "k.pub"];
        args.extend_from_slice(extra);
        safeimage_in(d, &args, &[])
    };
    let ok = verify(&["--require", "sbom", "--require", "provenance"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(
        text.contains("attestation  https://slsa.dev/provenance/v1"),
        "{text}"
    );

    // the next run: from the patched tag, the same data
    let second = run(&format!("registry:{target}"));
    assert!(second["previous"]["layer"].is_string(), "{second:#}");
    let digest = |v: &Value| {
        v["written"]
            .as_str()
            .unwrap()
            .rsplit('@')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        digest(&second),
        digest(&first),
        "the same patch, the same image"
    );
    let ok = verify(&["--require", "sbom"]);
    assert_eq!(ok.status.code(), Some(0));
}
