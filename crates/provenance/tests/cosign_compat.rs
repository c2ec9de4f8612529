//! Compatibility with cosign: signatures cosign made are verified, keys
//! cosign generated are opened, and what we write follows cosign's
//! signature specification (SIGNATURE_SPEC.md in sigstore/cosign) field by
//! field. Fixture origins and licences: `fixtures/README.md`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use provenance::layout::{self, Desc, Manifest};
use provenance::sign::{self, Subject};
use provenance::store::{Artifacts, Memory};
use provenance::verify::{self, Failure, Rejection, Requirements};
use provenance::{PrivateKey, PublicKey, simple};

fn fixture(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(p)
}

fn text(p: &str) -> String {
    std::fs::read_to_string(fixture(p)).unwrap()
}

fn public(p: &str) -> PublicKey {
    PublicKey::from_pem(&text(p), p).unwrap()
}

/// A containers/image signature file: `\0sigstore-json\n` then the JSON
/// of cosign's layer (media type, base64 payload, annotations).
fn signature_file(p: &str) -> (Vec<u8>, Vec<u8>, String) {
    let raw = std::fs::read(fixture(p)).unwrap();
    let json = raw
        .strip_prefix(b"\0sigstore-json\n")
        .expect("sigstore-json signature");
    let v: serde_json::Value = serde_json::from_slice(json).unwrap();
    assert_eq!(v["mimeType"], simple::MEDIA_TYPE);
    let payload = B64.decode(v["payload"].as_str().unwrap()).unwrap();
    let sig = v["annotations"][layout::SIGNATURE_ANNOTATION]
        .as_str()
        .unwrap()
        .to_string();
    (payload, B64.decode(&sig).unwrap(), sig)
}

/// Puts a cosign-made signature layer into a repository as cosign would
/// have pushed it, for the image whose manifest is `manifest`.
fn repo_with(sig_files: &[&str], manifest: &[u8]) -> (Memory, oci::Digest) {
    let repo = Memory::new(false);
    let digest = repo
        .put_manifest(Some("latest"), manifest, layout::OCI_MANIFEST)
        .unwrap();
    let mut layers = Vec::new();
    for f in sig_files {
        let (payload, _, sig) = signature_file(f);
        repo.put_blob(&payload).unwrap();
        layers.push(layout::signature_layer(&payload, &sig, &BTreeMap::new()));
    }
    let (m, config) = layout::signature_manifest(layers);
    repo.put_blob(&config).unwrap();
    repo.put_manifest(
        Some(&layout::signature_tag(&digest)),
        &m,
        layout::OCI_MANIFEST,
    )
    .unwrap();
    (repo, digest)
}

#[test]
fn cosign_signature_verifies_with_its_key() {
    let (payload, sig, _) = signature_file("containers-image/valid.signature");
    assert!(public("containers-image/cosign.pub").verify(&payload, &sig));
    assert!(!public("containers-image/cosign2.pub").verify(&payload, &sig));
    let mut tampered = payload.clone();
    let at = tampered.len() - 3;
    tampered[at] ^= 1;
    assert!(!public("containers-image/cosign.pub").verify(&tampered, &sig));
}

#[test]
fn cosign_payload_is_parsed_and_reproduced_byte_for_byte() {
    let (payload, _, _) = signature_file("containers-image/valid.signature");
    let p: simple::Payload = serde_json::from_slice(&payload).unwrap();
    assert_eq!(p.critical.kind, simple::TYPE);
    let manifest = std::fs::read(fixture("containers-image/manifest.json")).unwrap();
    let digest = oci::verify::sha256(&manifest);
    assert_eq!(p.critical.image.docker_manifest_digest, digest.to_string());
    // What we would write for the same image is the same bytes cosign wrote.
    let ours = simple::Payload::new(
        &p.critical.identity.docker_reference,
        &digest,
        &BTreeMap::new(),
    );
    assert_eq!(ours.to_bytes(), payload);
}

#[test]
fn cosign_signed_image_verifies_through_the_registry_layout() {
    let manifest = std::fs::read(fixture("containers-image/manifest.json")).unwrap();
    let (repo, digest) = repo_with(&["containers-image/valid.signature"], &manifest);
    let keys = [public("containers-image/cosign.pub")];
    let r = verify::verify(
        &repo,
        "192.168.64.2:5000/cosign-signed-single-sample",
        &digest,
        &keys,
        &Requirements::default(),
    )
    .unwrap();
    assert_eq!(r.signatures.len(), 1, "{r:?}");
    assert_eq!(r.signatures[0].key, "containers-image/cosign.pub");
    assert!(r.failure(&Requirements::default()).is_none());
    assert!(!r.tlog_checked);
}

#[test]
fn cosign_signature_of_another_key_is_rejected() {
    let manifest = std::fs::read(fixture("containers-image/manifest.json")).unwrap();
    let (repo, digest) = repo_with(
        &["containers-image/unknown-cosign-key.signature"],
        &manifest,
    );
    let keys = [public("containers-image/cosign.pub")];
    let r = verify::verify(&repo, "x/y", &digest, &keys, &Requirements::default()).unwrap();
    assert_eq!(r.rejected[0].reason, Rejection::NoKeyVerifies);
    let f = r.failure(&Requirements::default()).unwrap();
    assert!(matches!(f, Failure::NoValidSignature(_)));
    assert!(
        r.message(&f)
            .contains("does not verify with any of the given keys"),
        "{}",
        r.message(&f)
    );
}

#[test]
fn cosign_signature_for_another_manifest_is_rejected() {
    let manifest = std::fs::read(fixture("containers-image/modified-manifest.json")).unwrap();
    let (repo, digest) = repo_with(&["containers-image/valid.signature"], &manifest);
    let keys = [public("containers-image/cosign.pub")];
    let r = verify::verify(&repo, "x/y", &digest, &keys, &Requirements::default()).unwrap();
    assert!(
        matches!(&r.rejected[0].reason, Rejection::DigestMismatch { claimed } if claimed.starts_with("sha256:634a8f35"))
    );
    assert!(r.failure(&Requirements::default()).is_some());
}

#[test]
fn one_valid_among_several_signatures_is_enough() {
    let manifest = std::fs::read(fixture("containers-image/manifest.json")).unwrap();
    let (repo, digest) = repo_with(
        &[
            "containers-image/unknown-cosign-key.signature",
            "containers-image/valid.signature",
        ],
        &manifest,
    );
    let keys = [
        public("containers-image/cosign2.pub"),
        public("containers-image/cosign.pub"),
    ];
    let r = verify::verify(
        &repo,
        "192.168.64.2:5000/cosign-signed-single-sample",
        &digest,
        &keys,
        &Requirements::default(),
    )
    .unwrap();
    assert_eq!(r.signatures.len(), 1);
    assert_eq!(
        r.signatures[0].source,
        format!("{} layer 2", layout::signature_tag(&digest))
    );
    assert_eq!(r.rejected.len(), 1);
}

#[test]
fn cosigns_signature_copied_to_another_repository_is_rejected_unless_allowed() {
    // cosign's own fixture signs 192.168.64.2:5000/cosign-signed-single-sample
    let manifest = std::fs::read(fixture("containers-image/manifest.json")).unwrap();
    let (repo, digest) = repo_with(&["containers-image/valid.signature"], &manifest);
    let keys = [public("containers-image/cosign.pub")];
    let r = verify::verify(
        &repo,
        "registry.example/copied/elsewhere",
        &digest,
        &keys,
        &Requirements::default(),
    )
    .unwrap();
    assert_eq!(
        r.rejected[0].reason,
        Rejection::RepositoryMismatch {
            claimed: "192.168.64.2:5000/cosign-signed-single-sample".into()
        }
    );
    let f = r.failure(&Requirements::default()).unwrap();
    assert!(
        r.message(&f).contains("another repository"),
        "{}",
        r.message(&f)
    );
    let mirror = Requirements {
        allow_other_repository: true,
        ..Default::default()
    };
    let r = verify::verify(
        &repo,
        "registry.example/copied/elsewhere",
        &digest,
        &keys,
        &mirror,
    )
    .unwrap();
    assert!(r.failure(&mirror).is_none());
}

#[test]
fn docker_hub_spellings_of_one_repository_are_the_same_repository() {
    assert!(verify::same_repository("nginx", "docker.io/library/nginx"));
    assert!(verify::same_repository(
        "index.docker.io/library/nginx",
        "docker.io/library/nginx"
    ));
    assert!(!verify::same_repository("nginx", "docker.io/evil/nginx"));
    assert!(!verify::same_repository("r.example/a", "r.example/a/b"));
}

#[test]
fn cosign_generated_private_keys_open_and_match() {
    // sigstore-rs's key, made by `cosign generate-key-pair` with an empty password.
    let k = PrivateKey::from_encrypted_pem(
        &text("sigstore-rs/cosign_generated_encrypted_empty_private.key"),
        b"",
        "sigstore-rs key",
    )
    .unwrap();
    let sig = k.sign(b"payload");
    assert!(k.public("p").verify(b"payload", &sig));
    // cosign's own CI key has the older PEM label; its password is not
    // public, so it is read up to the seal (not "not a cosign key").
    let e = PrivateKey::from_encrypted_pem(
        &text("cosign/cosign-test.key"),
        b"not it",
        "cosign-test.key",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "cosign-test.key: wrong password for this private key (or the file is damaged)"
    );
}

/// Each field SIGNATURE_SPEC.md names, in what `sign` writes.
#[test]
fn written_signature_follows_cosigns_specification() {
    let repo = Memory::new(false);
    let image = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
    let digest = repo
        .put_manifest(Some("v1"), image, layout::OCI_MANIFEST)
        .unwrap();
    let key = PrivateKey::generate();
    let ann = BTreeMap::from([("commit".to_string(), "abc123".to_string())]);
    let subject = Subject {
        repository: "127.0.0.1:5000/app",
        digest: &digest,
        media_type: layout::OCI_MANIFEST,
        size: image.len() as u64,
    };
    let s = sign::sign(&repo, &key, &subject, &ann).unwrap();
    // Tag: sha256-<hex>.sig.
    assert_eq!(s.tag, format!("sha256-{}.sig", digest.encoded()));
    let (bytes, mt) = repo.manifest(&s.tag).unwrap().unwrap();
    assert_eq!(mt, "application/vnd.oci.image.manifest.v1+json");
    let m: Manifest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(m.schema_version, 2);
    assert_eq!(m.media_type, "application/vnd.oci.image.manifest.v1+json");
    // Config: an image config whose diff IDs are the layers' digests.
    assert_eq!(
        m.config.media_type,
        "application/vnd.oci.image.config.v1+json"
    );
    let config: serde_json::Value =
        serde_json::from_slice(&repo.blob(&m.config.digest.parse().unwrap()).unwrap()).unwrap();
    assert_eq!(config["rootfs"]["type"], "layers");
    assert_eq!(config["rootfs"]["diff_ids"][0], m.layers[0].digest);
    // One layer: the payload, media type simplesigning, signature annotation.
    assert_eq!(m.layers.len(), 1);
    let l: &Desc = &m.layers[0];
    assert_eq!(
        l.media_type,
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    let payload = repo.blob(&l.digest.parse().unwrap()).unwrap();
    assert_eq!(l.size, payload.len() as u64);
    let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        v["critical"]["identity"]["docker-reference"],
        "127.0.0.1:5000/app"
    );
    assert_eq!(
        v["critical"]["image"]["docker-manifest-digest"],
        digest.to_string()
    );
    assert_eq!(v["critical"]["type"], "cosign container image signature");
    assert_eq!(v["optional"]["commit"], "abc123");
    // The annotation: base64 of an ASN.1 DER ECDSA P-256 SHA-256 signature over the payload bytes.
    let sig = B64
        .decode(l.annotation("dev.cosignproject.cosign/signature").unwrap())
        .unwrap();
    assert_eq!(sig[0], 0x30, "DER SEQUENCE");
    assert!(key.public("k").verify(&payload, &sig));
    // Signing again with another key adds a layer; the same signature is not repeated.
    let other = PrivateKey::generate();
    sign::sign(&repo, &other, &subject, &ann).unwrap();
    let again = sign::sign(&repo, &other, &subject, &ann).unwrap();
    let m: Manifest = serde_json::from_slice(&repo.manifest(&s.tag).unwrap().unwrap().0).unwrap();
    assert_eq!(
        m.layers.len(),
        2,
        "signatures are deterministic (RFC 6979): a re-sign adds nothing"
    );
    assert!(again.already);
}

/// A repository holding one small image manifest at `v1`: the repository,
/// the manifest's digest and size.
fn image_repo(referrers_api: bool) -> (Memory, oci::Digest, u64) {
    let repo = Memory::new(referrers_api);
    let image = br#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
    let digest = repo
        .put_manifest(Some("v1"), image, layout::OCI_MANIFEST)
        .unwrap();
    (repo, digest, image.len() as u64)
}

#[test]
fn attachments_are_referrers_in_either_registry_kind() {
    for api in [true, false] {
        let (repo, digest, size) = image_repo(api);
        let key = PrivateKey::generate();
        let subject = Subject {
            repository: "r/app",
            digest: &digest,
            media_type: layout::OCI_MANIFEST,
            size,
        };
        sign::sign(&repo, &key, &subject, &BTreeMap::new()).unwrap();
        let d = sign::attach(
            &repo,
            &key,
            &subject,
            provenance::predicate::CYCLONEDX,
            serde_json::json!({"bomFormat": "CycloneDX"}),
            "2026-11-29T00:00:00Z",
        )
        .unwrap();
        // The referrer manifest: artifactType, empty config, subject.
        let m: Manifest =
            serde_json::from_slice(&repo.manifest(&d.to_string()).unwrap().unwrap().0).unwrap();
        assert_eq!(
            m.artifact_type.as_deref(),
            Some("application/vnd.dev.sigstore.bundle.v0.3+json")
        );
        assert_eq!(m.config.media_type, "application/vnd.oci.empty.v1+json");
        assert_eq!(m.subject.as_ref().unwrap().digest, digest.to_string());
        assert_eq!(
            repo.tags().contains(&layout::referrers_tag(&digest)),
            !api,
            "tag schema only without the API"
        );
        let keys = [key.public("k.pub")];
        let req = Requirements {
            attestations: vec![provenance::predicate::CYCLONEDX.to_string()],
            ..Default::default()
        };
        let r = verify::verify(&repo, "r/app", &digest, &keys, &req).unwrap();
        assert_eq!(r.referrers_api, api);
        assert!(r.failure(&req).is_none(), "{r:?}");
        assert_eq!(r.attestations[0].predicate["bomFormat"], "CycloneDX");
        let req = Requirements {
            attestations: vec![provenance::predicate::SLSA_PROVENANCE.to_string()],
            ..Default::default()
        };
        let f = r.failure(&req).unwrap();
        assert_eq!(
            r.message(&f),
            format!(
                "r/app@{digest}: no signed attestation of type https://slsa.dev/provenance/v1 is attached"
            )
        );
        // An attestation signed by another key does not count.
        let wrong = [
            PrivateKey::generate().public("other.pub"),
            PrivateKey::generate().public("x"),
        ];
        let r = verify::verify(&repo, "r/app", &digest, &wrong, &req).unwrap();
        assert!(r.attestations.is_empty());
    }
}

#[test]
fn a_bundle_signature_among_the_referrers_counts_as_a_signature() {
    for api in [true, false] {
        let (repo, digest, size) = image_repo(api);
        let key = PrivateKey::generate();
        let subject = Subject {
            repository: "r/app",
            digest: &digest,
            media_type: layout::OCI_MANIFEST,
            size,
        };
        let ann = BTreeMap::from([("commit".to_string(), "abc".to_string())]);
        sign::sign_bundle(&repo, &key, &subject, &ann, "2026-11-29T00:00:00Z").unwrap();
        assert!(
            repo.manifest(&layout::signature_tag(&digest))
                .unwrap()
                .is_none(),
            "no .sig tag"
        );
        let keys = [key.public("k.pub")];
        let r = verify::verify(&repo, "r/app", &digest, &keys, &Requirements::default()).unwrap();
        assert_eq!(r.signatures.len(), 1, "{r:?}");
        assert!(
            r.signatures[0]
                .source
                .contains("https://sigstore.dev/cosign/sign/v1")
        );
        let req = Requirements {
            annotations: BTreeMap::from([("commit".to_string(), "abd".to_string())]),
            ..Default::default()
        };
        let r = verify::verify(&repo, "r/app", &digest, &keys, &req).unwrap();
        let f = r.failure(&req).unwrap();
        assert!(
            r.message(&f)
                .contains("annotation commit=abc, required commit=abd"),
            "{}",
            r.message(&f)
        );
        let other = [PrivateKey::generate().public("o.pub")];
        let r = verify::verify(&repo, "r/app", &digest, &other, &Requirements::default()).unwrap();
        assert!(matches!(
            r.failure(&Requirements::default()),
            Some(Failure::NoValidSignature(_))
        ));
    }
}

/// The sealed key we write has the shape of the one cosign wrote: the same
/// PEM label, the same JSON fields, scrypt and secretbox parameters of the
/// same kinds and sizes.
#[test]
fn written_private_key_has_cosigns_shape() {
    fn body(pem: &str) -> serde_json::Value {
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        serde_json::from_slice(&B64.decode(b64).unwrap()).unwrap()
    }
    fn shape(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), shape(v))).collect(),
            serde_json::Value::String(s) if s == "scrypt" || s == "nacl/secretbox" => v.clone(),
            serde_json::Value::String(s) => match B64.decode(s) {
                Ok(b) if b.len() < 64 => serde_json::json!(format!("{} bytes", b.len())),
                Ok(_) => serde_json::json!("long base64"),
                Err(_) => serde_json::json!("text"),
            },
            other => other.clone(),
        }
    }
    let theirs = text("sigstore-rs/cosign_generated_encrypted_empty_private.key");
    let ours = PrivateKey::generate().to_encrypted_pem(b"").unwrap();
    assert_eq!(ours.lines().next(), theirs.lines().next(), "PEM label");
    assert_eq!(shape(&body(&ours)), shape(&body(&theirs)));
    assert_eq!(
        body(&ours)["kdf"]["params"],
        serde_json::json!({"N": 65536, "r": 8, "p": 1})
    );
    // And it opens as cosign's did (here with the empty password).
    PrivateKey::from_encrypted_pem(&ours, b"", "ours").unwrap();
}
