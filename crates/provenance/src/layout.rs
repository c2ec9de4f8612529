//! What goes into the registry, as cosign's specification lays it out:
//!
//! - signatures under the tag `sha256-<hex>.sig`: an OCI image manifest
//!   whose config is an image config listing the layers' digests, and one
//!   layer per signature (media type [`crate::simple::MEDIA_TYPE`], the
//!   payload as the blob, the base64 DER signature in the
//!   `dev.cosignproject.cosign/signature` annotation);
//! - attachments as OCI 1.1 referrers: an image manifest with an
//!   `artifactType`, the empty config, one layer (a Sigstore bundle), and
//!   `subject` naming the image; where the registry has no referrers API,
//!   the referrers tag schema: an index under the tag `sha256-<hex>`
//!   listing them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::simple;

/// The annotation holding a signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config media type.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// The empty descriptor's media type.
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The empty JSON object the empty descriptor points at.
pub const EMPTY_JSON: &[u8] = b"{}";
/// The annotation naming a bundle's predicate type.
pub const BUNDLE_PREDICATE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
/// The annotation naming what a bundle holds.
pub const BUNDLE_CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
/// The creation time annotation.
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// A descriptor, with the OCI 1.1 fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Desc {
    /// Media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Digest.
    pub digest: String,
    /// Size.
    pub size: u64,
    /// Artifact type (referrers).
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Desc {
    /// A descriptor of `bytes`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Desc {
        Desc {
            media_type: media_type.to_string(),
            digest: oci::verify::sha256(bytes).to_string(),
            size: bytes.len() as u64,
            artifact_type: None,
            annotations: None,
        }
    }

    /// One annotation.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

/// An image manifest (signatures, referrers).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// [`OCI_MANIFEST`].
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// Artifact type.
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    /// Config.
    pub config: Desc,
    /// Layers.
    #[serde(default)]
    pub layers: Vec<Desc>,
    /// What it refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Desc>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An index (a referrers list).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Index {
    /// 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// [`OCI_INDEX`].
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// Entries.
    #[serde(default)]
    pub manifests: Vec<Desc>,
}

impl Index {
    /// An empty index.
    pub fn empty() -> Index {
        Index {
            schema_version: 2,
            media_type: OCI_INDEX.to_string(),
            manifests: Vec::new(),
        }
    }
}

/// The tag cosign keeps an image's signatures under.
pub fn signature_tag(digest: &oci::Digest) -> String {
    format!("{}-{}.sig", digest.algorithm(), digest.encoded())
}

/// The referrers tag schema's tag for `digest`.
pub fn referrers_tag(digest: &oci::Digest) -> String {
    format!("{}-{}", digest.algorithm(), digest.encoded())
}

/// The config blob of a signature manifest over `layers` (what cosign's
/// registry library writes: an image config with zero-valued platform,
/// one history entry per layer, and the layers' digests as diff IDs).
pub fn signature_config(layers: &[Desc]) -> Vec<u8> {
    let zero = "0001-01-01T00:00:00Z";
    serde_json::to_vec(&serde_json::json!({
        "architecture": "",
        "created": zero,
        "history": layers.iter().map(|_| serde_json::json!({"created": zero})).collect::<Vec<_>>(),
        "os": "",
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>(),
        },
        "config": {},
    }))
    .expect("config serialises")
}

/// The signature layer for `payload` signed as `signature_b64`.
pub fn signature_layer(
    payload: &[u8],
    signature_b64: &str,
    extra: &BTreeMap<String, String>,
) -> Desc {
    let mut d = Desc::of(simple::MEDIA_TYPE, payload);
    let mut a = extra.clone();
    a.insert(SIGNATURE_ANNOTATION.to_string(), signature_b64.to_string());
    d.annotations = Some(a);
    d
}

/// The signature manifest over `layers` and its config.
pub fn signature_manifest(layers: Vec<Desc>) -> (Vec<u8>, Vec<u8>) {
    let config = signature_config(&layers);
    let m = Manifest {
        schema_version: 2,
        media_type: OCI_MANIFEST.to_string(),
        artifact_type: None,
        config: Desc::of(OCI_CONFIG, &config),
        layers,
        subject: None,
        annotations: None,
    };
    (serde_json::to_vec(&m).expect("manifest serialises"), config)
}

/// A referrer manifest: `layer` (a bundle) about `subject`.
pub fn referrer_manifest(
    subject: Desc,
    artifact_type: &str,
    layer: Desc,
    annotations: BTreeMap<String, String>,
) -> Vec<u8> {
    let mut config = Desc::of(OCI_EMPTY, EMPTY_JSON);
    config.annotations = None;
    let m = Manifest {
        schema_version: 2,
        media_type: OCI_MANIFEST.to_string(),
        artifact_type: Some(artifact_type.to_string()),
        config,
        layers: vec![layer],
        subject: Some(subject),
        annotations: Some(annotations),
    };
    serde_json::to_vec(&m).expect("manifest serialises")
}
