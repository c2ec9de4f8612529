//! Provenance with real parts: `keygen`, `sign` and `verify` against a
//! `docker-registry` on loopback (sign → verify; another key, a tampered
//! payload, a re-tagged image, a copied signature and a missing signature
//! each fail with their reason; attachments listed in the referrers tag
//! schema, since Debian's registry 2.8 has no referrers API), keys never
//! printed, and a daily run that refuses an unsigned base and signs and
//! attaches on promotion. Images are tiny busybox ones.

#![allow(clippy::print_stderr)]

#[path = "../support/mod.rs"]
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

mod run;
