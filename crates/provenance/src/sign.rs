//! Writing provenance: an image signature under the `.sig` tag (added to
//! the signatures already there), and signed attachments (in-toto
//! statements in DSSE envelopes in Sigstore bundles) as referrers of the
//! image, listed in the referrers tag schema when the registry has no
//! referrers API.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use oci::Digest;

use crate::ProvenanceError;
use crate::dsse::{BUNDLE_V03, Bundle, Envelope, Statement};
use crate::keys::PrivateKey;
use crate::layout::{self, Desc, Index, Manifest};
use crate::simple::Payload;
use crate::store::Artifacts;

/// What signing wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The signature tag.
    pub tag: String,
    /// Digest of the signature manifest.
    pub manifest: Digest,
    /// Whether an identical signature was already there (nothing added).
    pub already: bool,
}

/// The image being signed or attached to.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// `registry/repository`, no tag.
    pub repository: &'a str,
    /// The manifest (or index) digest.
    pub digest: &'a Digest,
    /// Its media type.
    pub media_type: &'a str,
    /// Its size.
    pub size: u64,
}

fn bad(what: &str, message: impl ToString) -> ProvenanceError {
    ProvenanceError::Format {
        what: what.to_string(),
        message: message.to_string(),
    }
}

/// Signs `subject` with `key`, `annotations` in the payload's `optional`.
pub fn sign(
    store: &dyn Artifacts,
    key: &PrivateKey,
    subject: &Subject<'_>,
    annotations: &BTreeMap<String, String>,
) -> Result<Signed, ProvenanceError> {
    let payload = Payload::new(subject.repository, subject.digest, annotations).to_bytes();
    let sig = B64.encode(key.sign(&payload));
    let tag = layout::signature_tag(subject.digest);
    let mut layers = match store.manifest(&tag)? {
        Some((bytes, _)) => {
            let m: Manifest = serde_json::from_slice(&bytes)
                .map_err(|e| bad(&format!("{}:{tag}", subject.repository), e))?;
            m.layers
        }
        None => Vec::new(),
    };
    let layer = layout::signature_layer(&payload, &sig, &BTreeMap::new());
    let already = layers.iter().any(|l| {
        l.digest == layer.digest && l.annotation(layout::SIGNATURE_ANNOTATION) == Some(&sig)
    });
    if !already {
        store.put_blob(&payload)?;
        layers.push(layer);
    }
    let (manifest, config) = layout::signature_manifest(layers);
    store.put_blob(&config)?;
    let d = store.put_manifest(Some(&tag), &manifest, layout::OCI_MANIFEST)?;
    Ok(Signed {
        tag,
        manifest: d,
        already,
    })
}

/// Signs `subject` the newer way cosign can (`--new-bundle-format`): an
/// in-toto statement of type [`crate::dsse::COSIGN_SIGN`] about the digest
/// (the annotations in its predicate), in a Sigstore bundle attached as a
/// referrer instead of a layer under the `.sig` tag.
pub fn sign_bundle(
    store: &dyn Artifacts,
    key: &PrivateKey,
    subject: &Subject<'_>,
    annotations: &BTreeMap<String, String>,
    created: &str,
) -> Result<Digest, ProvenanceError> {
    let predicate = if annotations.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::json!({ "annotations": annotations })
    };
    attach(
        store,
        key,
        subject,
        crate::dsse::COSIGN_SIGN,
        predicate,
        created,
    )
}

/// Signs `predicate` (of `predicate_type`) about `subject` and attaches it
/// as a referrer. Returns the referrer manifest's digest.
pub fn attach(
    store: &dyn Artifacts,
    key: &PrivateKey,
    subject: &Subject<'_>,
    predicate_type: &str,
    predicate: serde_json::Value,
    created: &str,
) -> Result<Digest, ProvenanceError> {
    let statement = Statement::new(
        subject.repository,
        subject.digest,
        predicate_type,
        predicate,
    );
    let body = serde_json::to_vec(&statement).map_err(|e| bad("statement", e))?;
    let bundle = Bundle::new(Envelope::sign(&body, key), &key.public(""));
    let bundle = serde_json::to_vec(&bundle).map_err(|e| bad("bundle", e))?;
    store.put_blob(&bundle)?;
    store.put_blob(layout::EMPTY_JSON)?;
    let annotations = BTreeMap::from([
        (
            layout::BUNDLE_CONTENT_ANNOTATION.to_string(),
            "dsse-envelope".to_string(),
        ),
        (
            layout::BUNDLE_PREDICATE_ANNOTATION.to_string(),
            predicate_type.to_string(),
        ),
        (layout::CREATED_ANNOTATION.to_string(), created.to_string()),
    ]);
    let subject_desc = Desc {
        media_type: subject.media_type.to_string(),
        digest: subject.digest.to_string(),
        size: subject.size,
        artifact_type: None,
        annotations: None,
    };
    let manifest = layout::referrer_manifest(
        subject_desc,
        BUNDLE_V03,
        Desc::of(BUNDLE_V03, &bundle),
        annotations.clone(),
    );
    let d = store.put_manifest(None, &manifest, layout::OCI_MANIFEST)?;
    if store.referrers(subject.digest)?.is_none() {
        // No referrers API: list it in the tag schema's index.
        let tag = layout::referrers_tag(subject.digest);
        let mut idx = match store.manifest(&tag)? {
            Some((bytes, _)) => serde_json::from_slice::<Index>(&bytes)
                .map_err(|e| bad(&format!("{}:{tag}", subject.repository), e))?,
            None => Index::empty(),
        };
        if !idx.manifests.iter().any(|m| m.digest == d.to_string()) {
            idx.manifests.push(Desc {
                media_type: layout::OCI_MANIFEST.to_string(),
                digest: d.to_string(),
                size: manifest.len() as u64,
                artifact_type: Some(BUNDLE_V03.to_string()),
                annotations: Some(annotations),
            });
        }
        let bytes = serde_json::to_vec(&idx).map_err(|e| bad("index", e))?;
        store.put_manifest(Some(&tag), &bytes, layout::OCI_INDEX)?;
    }
    Ok(d)
}
