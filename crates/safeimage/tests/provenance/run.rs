//! Provenance in the daily run: unsigned bases refused, promotion signed
//! and attached (referrers API or tag schema), bundles, indexes.

use super::*;

/// A fleet of one image on a busybox base in `reg`, with `extra` config.
fn fleet(dir: &Path, reg: &Registry, base: &str, extra: &str) {
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(
        dir.join("app/Dockerfile"),
        format!("FROM {base}\nRUN echo app > /name\nUSER 10001\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("fleet.toml"),
        format!(
            "[[image]]\nname = \"app\"\ncontext = \"app\"\nrepository = \"{}/fleet/app\"\ntags = [\"latest\"]\n\n[scan]\ndb = \"advisories.db\"\nmax_age_hours = 0\n\n[gate]\nfail_on = \"critical\"\n\n[lint]\nshellcheck = false\nfailure_threshold = \"error\"\n\n[report]\ndir = \"reports\"\n\n{extra}",
            reg.addr
        ),
    )
    .unwrap();
}

#[test]
fn the_daily_run_refuses_an_unsigned_base_then_signs_and_attaches_on_promotion() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let reg = registry();
    import_fixture_db(d);
    let base = busybox_image(&reg, "base/busybox:1");
    keygen(d, "base");
    keygen(d, "cosign");
    fleet(
        d,
        &reg,
        &base,
        &format!(
            "[[base_signatures]]\nimages = [\"{}/base/*\"]\nkeys = [\"base.pub\"]\n\n[sign]\nkey = \"cosign.key\"\n",
            reg.addr
        ),
    );
    let env = [("COSIGN_PASSWORD", PW)];
    let run = |json: &str| {
        si(
            d,
            &[
                "run",
                "--config",
                "fleet.toml",
                "--cache-dir",
                "cache",
                "--json",
                json,
            ],
            &env,
        )
    };
    let out = run("r1.json");
    assert_eq!(out.status.code(), Some(1));
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r1.json")).unwrap()).unwrap();
    let app = &r["images"][0];
    assert_eq!(app["outcome"], "blocked");
    assert!(
        app["reasons"][0].as_str().unwrap().contains(&format!(
            "base image {base} is not signed by a required key"
        )),
        "{}",
        app["reasons"]
    );
    assert!(
        app["platforms"].as_array().is_none_or(|p| p.is_empty()),
        "nothing built"
    );
    let latest = format!("{}/fleet/app:latest", reg.addr);
    assert!(remote_digest(&latest).is_none(), "nothing pushed or tagged");
    // Signed, but by a key the rule does not name: still refused.
    assert!(
        si(d, &["sign", &base, "--key", "cosign.key"], &env)
            .status
            .success()
    );
    assert_eq!(run("r2.json").status.code(), Some(1));
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r2.json")).unwrap()).unwrap();
    let reason = r["images"][0]["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains("the signature does not verify with any of the given keys"),
        "{reason}"
    );
    assert!(remote_digest(&latest).is_none(), "nothing pushed or tagged");
    // The base's publisher signs it; the next run builds, signs and attaches.
    assert!(
        si(d, &["sign", &base, "--key", "base.key"], &env)
            .status
            .success()
    );
    let out = run("r3.json");
    assert_eq!(out.status.code(), Some(0));
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r3.json")).unwrap()).unwrap();
    let app = &r["images"][0];
    assert_eq!(app["outcome"], "promoted", "{}", app["reasons"]);
    assert_eq!(app["bases_verified"], 1);
    let html = std::fs::read_to_string(d.join("reports/run-3.html")).unwrap();
    assert!(
        html.contains("Base image signatures verified: 1."),
        "the report says so"
    );
    assert!(html.contains("Signed and attached"));
    let digest = app["digest"].as_str().unwrap();
    assert_eq!(remote_digest(&latest).as_deref(), Some(digest));
    let ok = si(
        d,
        &[
            "verify",
            &latest,
            "--key",
            "cosign.pub",
            "--require",
            "sbom",
            "--require",
            "provenance",
            "--require",
            "vuln",
            "--require",
            "gate",
            "-a",
            "safeimage.image=app",
        ],
        &[],
    );
    assert_eq!(ok.status.code(), Some(0));
    // The attachments are listed for the pushed digest (tag schema: no referrers API here).
    let idx: Value = serde_json::from_slice(
        &raw_manifest(&format!(
            "{}/fleet/app:{}",
            reg.addr,
            digest.replacen(':', "-", 1)
        ))
        .unwrap(),
    )
    .unwrap();
    let mut kinds: Vec<&str> = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["dev.sigstore.bundle.predicateType"]
                .as_str()
                .unwrap()
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "https://cosign.sigstore.dev/attestation/vuln/v1",
            "https://cyclonedx.org/bom",
            "https://openvex.dev/ns",
            "https://safeimage.dev/attestation/gate/v1",
            "https://slsa.dev/provenance/v1"
        ]
    );
    // The provenance names the base by the digest it was verified at.
    let v = si(
        d,
        &["verify", &latest, "--key", "cosign.pub", "-f", "json"],
        &[],
    );
    let v: Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(v["attestations"].as_array().unwrap().len(), 5);
    let base_digest = remote_digest(&base).unwrap();
    let slsa_deps = app["bases"][0]["digest"].as_str().unwrap();
    assert_eq!(slsa_deps, base_digest);
    // The image's report checks the registry with the key and says so.
    let out = si(
        d,
        &[
            "report",
            "image",
            "app",
            "--config",
            "fleet.toml",
            "-f",
            "json",
            "--key",
            "cosign.pub",
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rep: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rep["digest"], digest);
    assert_eq!(
        rep["signed"].as_array().unwrap().len(),
        6,
        "{}",
        rep["signed"]
    );
    assert_eq!(rep["verified"]["signatures"].as_array().unwrap().len(), 1);
    assert_eq!(rep["verified"]["attestations"].as_array().unwrap().len(), 5);
    assert!(
        rep["verified"].get("failure").is_none(),
        "{}",
        rep["verified"]
    );
    // with another key it does not hold, and the report says why
    let out = si(
        d,
        &[
            "report",
            "image",
            "app",
            "--config",
            "fleet.toml",
            "-f",
            "json",
            "--key",
            "base.pub",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let rep: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        rep["verified"]["failure"].is_string(),
        "{}",
        rep["verified"]
    );
}

#[test]
fn with_the_referrers_api_attachments_are_listed_by_it_and_no_tag_schema_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let reg = referrers_registry();
    busybox_image(&reg.inner, "app:v1");
    let image = format!("{}/app:v1", reg.addr);
    keygen(d, "a");
    std::fs::write(
        d.join("bom.json"),
        r#"{"bomFormat":"CycloneDX","specVersion":"1.6"}"#,
    )
    .unwrap();
    let env = [("COSIGN_PASSWORD", PW)];
    let out = si(
        d,
        &[
            "sign",
            &image,
            "--key",
            "a.key",
            "--attach",
            "sbom=bom.json",
            "--attach",
            "gate=bom.json",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(0));
    // (skopeo reads the registry behind the shim: the same storage.)
    let digest = remote_digest(&format!("{}/app:v1", reg.inner.addr)).unwrap();
    // The API lists both; no referrers tag was needed.
    let listed = http_get(&format!("http://{}/v2/app/referrers/{digest}", reg.addr));
    let idx: Value = serde_json::from_str(&listed).unwrap();
    let kinds: Vec<&str> = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["dev.sigstore.bundle.predicateType"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(kinds.len(), 2, "{idx}");
    assert!(
        kinds.contains(&"https://cyclonedx.org/bom")
            && kinds.contains(&"https://safeimage.dev/attestation/gate/v1")
    );
    assert!(
        raw_manifest(&format!(
            "{}/app:{}",
            reg.inner.addr,
            digest.replacen(':', "-", 1)
        ))
        .is_none()
    );
    let v = si(
        d,
        &[
            "verify",
            &image,
            "--key",
            "a.pub",
            "--require",
            "sbom",
            "--require",
            "gate",
            "-f",
            "json",
        ],
        &[],
    );
    assert_eq!(v.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(v["referrers_api"], true);
    assert_eq!(v["attestations"].as_array().unwrap().len(), 2);
}

/// A GET over plain HTTP/1.0 on loopback (the body).
fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET /{path} HTTP/1.0\r\nHost: {host}\r\nAccept: application/vnd.oci.image.index.v1+json\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

#[test]
fn a_bundle_format_signature_is_a_referrer_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let reg = referrers_registry();
    busybox_image(&reg.inner, "app:v1");
    let image = format!("{}/app:v1", reg.addr);
    keygen(d, "a");
    keygen(d, "b");
    let env = [("COSIGN_PASSWORD", PW)];
    let out = si(
        d,
        &[
            "sign",
            &image,
            "--key",
            "a.key",
            "--new-bundle-format",
            "-a",
            "commit=abc",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("(bundle referrer sha256:"));
    let digest = remote_digest(&format!("{}/app:v1", reg.inner.addr)).unwrap();
    assert!(
        raw_manifest(&format!(
            "{}/app:{}.sig",
            reg.inner.addr,
            digest.replacen(':', "-", 1)
        ))
        .is_none()
    );
    let ok = si(
        d,
        &["verify", &image, "--key", "a.pub", "-a", "commit=abc"],
        &[],
    );
    assert_eq!(ok.status.code(), Some(0));
    assert!(
        stdout(&ok).contains("(https://sigstore.dev/cosign/sign/v1)"),
        "{}",
        stdout(&ok)
    );
    let bad = si(d, &["verify", &image, "--key", "b.pub"], &[]);
    fails_with(
        &bad,
        1,
        "the signature does not verify with any of the given keys",
    );
}

#[test]
fn recursive_signing_covers_each_platform_of_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let reg = registry();
    let image = busybox_index(&reg, "multi:v1");
    keygen(d, "a");
    let env = [("COSIGN_PASSWORD", PW)];
    let idx: Value = serde_json::from_slice(&raw_manifest(&image).unwrap()).unwrap();
    let platforms: Vec<String> = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| format!("{}/multi@{}", reg.addr, m["digest"].as_str().unwrap()))
        .collect();
    assert_eq!(platforms.len(), 2);
    assert!(
        si(d, &["sign", &image, "--key", "a.key"], &env)
            .status
            .success()
    );
    assert_eq!(
        si(d, &["verify", &image, "--key", "a.pub"], &[])
            .status
            .code(),
        Some(0)
    );
    let arm = si(d, &["verify", &platforms[1], "--key", "a.pub"], &[]);
    assert_eq!(arm.status.code(), Some(1), "only the index was signed");
    assert!(stderr(&arm).contains("no signature found"));
    let out = si(d, &["sign", &image, "--key", "a.key", "--recursive"], &env);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).starts_with("Already signed"),
        "the index already was"
    );
    for p in &platforms {
        assert_eq!(
            si(d, &["verify", p, "--key", "a.pub"], &[]).status.code(),
            Some(0),
            "{p}"
        );
    }
}
