//! Provenance with real parts: `keygen`, `sign` and `verify` against a
//! `docker-registry` on loopback (sign → verify; another key, a tampered
//! payload, a re-tagged image, a copied signature and a missing signature
//! each fail with their reason; attachments listed in the referrers tag
//! schema, since Debian's registry 2.8 has no referrers API), keys never
//! printed, and a daily run that refuses an unsigned base and signs and
//! attaches on promotion. Images are tiny busybox ones.

#![allow(clippy::print_stderr)]

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use support::*;

const PW: &str = "correct horse battery";

fn si(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = safeimage_in(dir, args, env);
    eprintln!(
        "--- safeimage {args:?}: {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `o` exited with `code` and its stderr says `text`.
#[track_caller]
fn fails_with(o: &Output, code: i32, text: &str) {
    assert_eq!(o.status.code(), Some(code));
    assert!(stderr(o).contains(text), "{}", stderr(o));
}

/// `NAME.key` / `NAME.pub` in `dir`, sealed with [`PW`].
fn keygen(dir: &Path, name: &str) {
    let out = si(
        dir,
        &["keygen", "--output-key-prefix", name],
        &[("COSIGN_PASSWORD", PW)],
    );
    assert_eq!(out.status.code(), Some(0));
}

/// A registry with a busybox image at `app:v1`, and key pairs `a` and `b`.
struct Setup {
    dir: tempfile::TempDir,
    reg: Registry,
    image: String,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry();
        let image = busybox_image(&reg, "app:v1");
        keygen(dir.path(), "a");
        keygen(dir.path(), "b");
        Setup { dir, reg, image }
    }

    fn si(&self, args: &[&str]) -> Output {
        si(self.dir.path(), args, &[("COSIGN_PASSWORD", PW)])
    }

    fn digest(&self) -> String {
        remote_digest(&self.image).unwrap()
    }

    fn sig_tag(&self) -> String {
        format!(
            "{}:{}.sig",
            self.repo(),
            self.digest().replacen(':', "-", 1)
        )
    }

    fn repo(&self) -> String {
        format!("{}/app", self.reg.addr)
    }

    fn connect(&self) -> oci::push::Repo {
        oci::push::Repo::connect(&self.image.parse().unwrap(), &Default::default()).unwrap()
    }
}

#[test]
fn keygen_writes_sealed_cosign_keys_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path(), "k");
    let key = std::fs::read_to_string(dir.path().join("k.key")).unwrap();
    assert!(key.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("k.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the private key is private: {mode:o}");
    let public = std::fs::read_to_string(dir.path().join("k.pub")).unwrap();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    // The sealed key opens with the password and matches the public key.
    let opened = provenance::PrivateKey::from_encrypted_pem(&key, PW.as_bytes(), "k.key").unwrap();
    assert_eq!(
        opened.public("x").fingerprint(),
        provenance::PublicKey::from_pem(&public, "k.pub")
            .unwrap()
            .fingerprint()
    );
    let again = si(
        dir.path(),
        &["keygen", "--output-key-prefix", "k"],
        &[("COSIGN_PASSWORD", PW)],
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("k.key: already exists (use --force to replace it)"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("k.key")).unwrap(),
        key
    );
}

#[test]
fn keygen_without_a_password_source_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .current_dir(dir.path())
        .args(["keygen", "--output-key-prefix", "k"])
        .env_remove("COSIGN_PASSWORD")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    fails_with(&out, 2, "no key password: set COSIGN_PASSWORD");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn sign_then_verify_round_trip_in_cosigns_layout() {
    let s = Setup::new();
    let out = s.si(&["sign", &s.image, "--key", "a.key", "-a", "commit=abc123"]);
    assert_eq!(out.status.code(), Some(0));
    let digest = s.digest();
    assert!(
        stdout(&out).contains(&format!("Signed {}@{digest}", s.repo())),
        "{}",
        stdout(&out)
    );
    let ok = s.si(&["verify", &s.image, "--key", "a.pub", "-a", "commit=abc123"]);
    assert_eq!(ok.status.code(), Some(0));
    assert!(stdout(&ok).contains(&format!("Verified {}@{digest}", s.repo())));
    assert!(stdout(&ok).contains("signature    sha256-"));
    assert!(stderr(&ok).contains("no transparency log was checked"));
    // Either key may be the one: a key set with a.pub in it verifies.
    let either = s.si(&[
        "verify",
        &s.image,
        "--key",
        "b.pub",
        "--key",
        "a.pub",
        "--insecure-ignore-tlog",
    ]);
    assert_eq!(either.status.code(), Some(0));
    assert!(!stderr(&either).contains("transparency"));
    // What is in the registry is cosign's layout.
    let m: Value = serde_json::from_slice(&raw_manifest(&s.sig_tag()).unwrap()).unwrap();
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let l = &m["layers"][0];
    assert_eq!(
        l["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    assert!(
        l["annotations"]["dev.cosignproject.cosign/signature"]
            .as_str()
            .unwrap()
            .starts_with("ME")
    );
    // Signing again with the same key adds nothing.
    let again = s.si(&["sign", &s.image, "--key", "a.key", "-a", "commit=abc123"]);
    assert!(stdout(&again).starts_with("Already signed"));
}

#[test]
fn verify_with_another_key_fails() {
    let s = Setup::new();
    assert!(s.si(&["sign", &s.image, "--key", "a.key"]).status.success());
    let out = s.si(&["verify", &s.image, "--key", "b.pub"]);
    fails_with(
        &out,
        1,
        &format!(
            "verification failed: {}@{}: no valid signature: {} layer 1: the signature does not verify with any of the given keys",
            s.repo(),
            s.digest(),
            s.sig_tag().rsplit_once(':').unwrap().1
        ),
    );
}

#[test]
fn a_wrong_annotation_fails() {
    let s = Setup::new();
    assert!(
        s.si(&["sign", &s.image, "--key", "a.key", "-a", "commit=abc123"])
            .status
            .success()
    );
    let out = s.si(&["verify", &s.image, "--key", "a.pub", "-a", "commit=fff"]);
    fails_with(&out, 1, "annotation commit=abc123, required commit=fff");
}

#[test]
fn a_tampered_payload_fails() {
    let s = Setup::new();
    assert!(s.si(&["sign", &s.image, "--key", "a.key"]).status.success());
    // Swap the payload for one naming another repository, signature kept.
    let repo = s.connect();
    let tag = s.sig_tag().rsplit_once(':').unwrap().1.to_string();
    let (bytes, ct) = repo.fetch_manifest(&tag).unwrap().unwrap();
    let mut m: Value = serde_json::from_slice(&bytes).unwrap();
    let old: oci::Digest = m["layers"][0]["digest"].as_str().unwrap().parse().unwrap();
    let payload = repo.fetch_blob(&old, 1 << 20).unwrap();
    let forged = String::from_utf8(payload)
        .unwrap()
        .replace("/app\"", "/other\"")
        .into_bytes();
    let d = repo.push_blob(&forged).unwrap();
    m["layers"][0]["digest"] = Value::String(d.to_string());
    m["layers"][0]["size"] = Value::from(forged.len());
    repo.put_manifest_at(Some(&tag), &serde_json::to_vec(&m).unwrap(), &ct)
        .unwrap();
    let out = s.si(&["verify", &s.image, "--key", "a.pub"]);
    fails_with(
        &out,
        1,
        "the signature does not verify with any of the given keys",
    );
}

#[test]
fn a_retagged_image_is_unsigned_and_a_copied_signature_does_not_cover_it() {
    let s = Setup::new();
    assert!(s.si(&["sign", &s.image, "--key", "a.key"]).status.success());
    let signed = s.digest();
    let sig_tag = s.sig_tag();
    // Another image under the same tag (the same content as Docker schema 2).
    sh(Command::new("skopeo")
        .args([
            "copy",
            "-q",
            "--format",
            "v2s2",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ])
        .arg(format!("docker://{}", s.image))
        .arg(format!("docker://{}", s.image)));
    let now = s.digest();
    assert_ne!(now, signed);
    let out = s.si(&["verify", &s.image, "--key", "a.pub"]);
    fails_with(&out, 1, &format!("{}@{now}: no signature found", s.repo()));
    // Copying the old image's signature to the new one's tag does not help.
    let bytes = raw_manifest(&sig_tag).unwrap();
    let new_tag = format!("{}.sig", now.replacen(':', "-", 1));
    s.connect()
        .put_manifest_at(
            Some(&new_tag),
            &bytes,
            "application/vnd.oci.image.manifest.v1+json",
        )
        .unwrap();
    let out = s.si(&["verify", &s.image, "--key", "a.pub"]);
    fails_with(
        &out,
        1,
        &format!("it was made for {signed}, not for this image"),
    );
}

#[test]
fn a_signature_copied_with_its_image_to_another_repository_fails_verify() {
    let s = Setup::new();
    assert!(s.si(&["sign", &s.image, "--key", "a.key"]).status.success());
    let digest = s.digest();
    // the image and its `.sig` tag, copied byte for byte to another repository
    let other = format!("{}/copied:v1", s.reg.addr);
    let sig = format!("{}.sig", digest.replacen(':', "-", 1));
    for (from, to) in [
        (s.image.clone(), other.clone()),
        (s.sig_tag(), format!("{}/copied:{sig}", s.reg.addr)),
    ] {
        sh(Command::new("skopeo")
            .args([
                "copy",
                "-q",
                "--preserve-digests",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
            ])
            .arg(format!("docker://{from}"))
            .arg(format!("docker://{to}")));
    }
    assert_eq!(remote_digest(&other).unwrap(), digest);
    let out = s.si(&["verify", &other, "--key", "a.pub"]);
    fails_with(
        &out,
        1,
        &format!("it was made for {}, not for this repository", s.repo()),
    );
    // a mirror says so explicitly
    let mirror = s.si(&[
        "verify",
        &other,
        "--key",
        "a.pub",
        "--allow-other-repository",
    ]);
    assert_eq!(mirror.status.code(), Some(0), "{}", stderr(&mirror));
}

#[test]
fn a_wrong_password_signs_nothing_and_keys_are_never_printed() {
    let s = Setup::new();
    let out = si(
        s.dir.path(),
        &["sign", &s.image, "--key", "a.key"],
        &[("COSIGN_PASSWORD", "not the password")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("a.key: wrong password for this private key (or the file is damaged)"),
        "{}",
        stderr(&out)
    );
    assert!(raw_manifest(&s.sig_tag()).is_none(), "nothing written");
    // Nothing any command prints carries key material or the password.
    let key = std::fs::read_to_string(s.dir.path().join("a.key")).unwrap();
    let secret_lines: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut outputs = vec![out];
    outputs.push(s.si(&["sign", &s.image, "--key", "a.key", "--attach", "gate=a.pub"]));
    outputs.push(s.si(&["sign", &s.image, "--key", "a.key"]));
    outputs.push(s.si(&["verify", &s.image, "--key", "a.pub", "-f", "json"]));
    outputs.push(s.si(&["verify", &s.image, "--key", "a.key"]));
    outputs.push(si(
        s.dir.path(),
        &["sign", &s.image, "--key", "a.pub"],
        &[("COSIGN_PASSWORD", PW)],
    ));
    for o in &outputs {
        let all = stdout(o) + &stderr(o);
        assert!(!all.contains(PW), "{all}");
        for l in &secret_lines {
            assert!(!all.contains(l), "{all}");
        }
    }
    assert!(
        stderr(&outputs[4]).contains("a.key: not an ECDSA P-256 public key in PEM"),
        "{}",
        stderr(&outputs[4])
    );
    assert!(
        stderr(&outputs[5]).contains("a.pub: not a cosign private key"),
        "{}",
        stderr(&outputs[5])
    );
}

#[test]
fn attachments_are_signed_referrers_listed_in_the_tag_schema() {
    let s = Setup::new();
    let d = s.dir.path();
    std::fs::write(
        d.join("bom.json"),
        r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}"#,
    )
    .unwrap();
    std::fs::write(
        d.join("prov.json"),
        r#"{"buildDefinition":{"buildType":"x"}}"#,
    )
    .unwrap();
    let out = s.si(&[
        "sign",
        &s.image,
        "--key",
        "a.key",
        "--attach",
        "sbom=bom.json",
        "--attach",
        "provenance=prov.json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let ok = s.si(&[
        "verify",
        &s.image,
        "--key",
        "a.pub",
        "--require",
        "sbom",
        "--require",
        "provenance",
    ]);
    assert_eq!(ok.status.code(), Some(0));
    assert!(stdout(&ok).contains("attestation  https://cyclonedx.org/bom"));
    let missing = s.si(&["verify", &s.image, "--key", "a.pub", "--require", "gate"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains(
        "no signed attestation of type https://safeimage.dev/attestation/gate/v1 is attached"
    ));
    let wrong_key = s.si(&["verify", &s.image, "--key", "b.pub", "--require", "sbom"]);
    assert_eq!(wrong_key.status.code(), Some(1));
    // The registry has no referrers API: the tag schema lists both.
    let idx: Value = serde_json::from_slice(
        &raw_manifest(&format!(
            "{}:{}",
            s.repo(),
            s.digest().replacen(':', "-", 1)
        ))
        .unwrap(),
    )
    .unwrap();
    let listed = idx["manifests"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{idx}");
    for m in listed {
        assert_eq!(
            m["artifactType"],
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        );
        let r: Value = serde_json::from_slice(
            &raw_manifest(&format!("{}@{}", s.repo(), m["digest"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        assert_eq!(r["subject"]["digest"], s.digest());
    }
    let json = s.si(&["verify", &s.image, "--key", "a.pub", "-f", "json"]);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["referrers_api"], false);
    assert_eq!(v["tlog_checked"], false);
}

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
    assert_eq!(v["attestations"].as_array().unwrap().len(), 4);
    let base_digest = remote_digest(&base).unwrap();
    let slsa_deps = app["bases"][0]["digest"].as_str().unwrap();
    assert_eq!(slsa_deps, base_digest);
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
