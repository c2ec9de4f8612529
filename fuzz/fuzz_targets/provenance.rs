//! Fuzzes what a registry or a file hands provenance: a PEM public key, a
//! Sigstore bundle (its envelope checked against a key), and verification
//! over a repository whose signature manifest, referrers index, manifests
//! and blobs are all the input.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use provenance::layout;
use provenance::store::{Artifacts, Memory};

fn key() -> &'static provenance::PublicKey {
    static K: OnceLock<provenance::PublicKey> = OnceLock::new();
    K.get_or_init(|| provenance::PrivateKey::generate().public("fuzz.pub"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = provenance::PublicKey::from_pem(&text, "fuzz");
    if let Ok(b) = serde_json::from_slice::<provenance::dsse::Bundle>(data)
        && let Some(e) = b.dsse_envelope
    {
        let _ = e.verified_by(std::slice::from_ref(key()));
    }
    let digest = oci::verify::sha256(b"subject");
    let store = Memory::new(data.first().is_some_and(|b| b & 1 == 1));
    let _ = store.put_manifest(
        Some(&layout::signature_tag(&digest)),
        data,
        layout::OCI_MANIFEST,
    );
    let _ = store.put_manifest(
        Some(&layout::referrers_tag(&digest)),
        data,
        layout::OCI_INDEX,
    );
    let _ = store.put_manifest(None, data, layout::OCI_MANIFEST);
    let _ = store.put_blob(data);
    let req = provenance::verify::Requirements {
        annotations: [("k".to_string(), "v".to_string())].into(),
        attestations: vec![provenance::predicate::CYCLONEDX.to_string()],
        allow_other_repository: data.first().is_some_and(|b| b & 1 == 1),
    };
    if let Ok(r) = provenance::verify::verify(&store, "fuzz/repo", &digest, &[key().clone()], &req)
        && let Some(f) = r.failure(&req)
    {
        let _ = r.message(&f);
    }
});
