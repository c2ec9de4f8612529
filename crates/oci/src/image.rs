//! The image model: OCI/Docker manifests, indexes and configs (tolerant serde
//! structs that accept both OCI and Docker schema 2 media types), and the
//! resolved [`Image`] every source produces.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Digest, ImageRef, Platform};

/// The runnable platforms an index lists, in its order (attestation and
/// other `unknown` entries left out, each platform once).
pub fn index_platforms(idx: &Index) -> Vec<Platform> {
    let mut out: Vec<Platform> = Vec::new();
    for m in &idx.manifests {
        if let Some(p) = &m.platform
            && p.os != "unknown"
            && p.architecture != "unknown"
            && !out.contains(p)
        {
            out.push(p.clone());
        }
    }
    out
}

/// Media types safeimage reads.
pub mod media {
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// Docker manifest list.
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    /// Docker image manifest.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Every manifest type, for `Accept` headers.
    pub const ALL_MANIFESTS: &[&str] = &[OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST];
    /// Layer media types we can read (compression is also sniffed from the bytes).
    pub const LAYERS: &[&str] = &[
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    ];
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Media type.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// Content digest.
    pub digest: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: i64,
    /// Platform (in indexes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always 2.
    #[serde(rename = "schemaVersion", default)]
    pub schema_version: u32,
    /// Media type, if stated.
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// Layers, base first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Annotations (buildah and BuildKit name the base image here:
    /// `org.opencontainers.image.base.name` / `.base.digest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An image index / manifest list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Index {
    /// Media type, if stated.
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    /// Manifests.
    pub manifests: Vec<Descriptor>,
}

/// The runtime part of an image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// USER.
    #[serde(default)]
    pub user: Option<String>,
    /// ENV as `K=V`.
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// ENTRYPOINT.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// CMD.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// WORKDIR.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// LABELs.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// Everything else (ExposedPorts, Volumes, StopSignal, Healthcheck...),
    /// kept as it is.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// One history entry of an image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The instruction that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// True when no layer was produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
    /// Comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Everything else (`author`...), kept as it is.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// `rootfs` of an image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// `layers`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Uncompressed layer digests, base first.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// An image config blob.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// Architecture.
    #[serde(default)]
    pub architecture: String,
    /// OS.
    #[serde(default)]
    pub os: String,
    /// Variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Runtime config.
    #[serde(default)]
    pub config: Option<ContainerConfig>,
    /// Layer diff IDs.
    #[serde(default)]
    pub rootfs: RootFs,
    /// Build history.
    #[serde(default)]
    pub history: Vec<History>,
    /// Everything else (`created`, `author`, `os.version`...), kept as it
    /// is so a config read and written again says what it said.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl ImageConfig {
    /// The platform the config declares.
    pub fn platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
        }
    }
}

/// One layer of a resolved image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    /// Digest of the blob as stored (compressed).
    pub digest: Digest,
    /// Digest of the uncompressed tar (from the config).
    pub diff_id: Digest,
    /// Media type.
    pub media_type: String,
    /// Blob size.
    pub size: u64,
    /// The history entry that produced it.
    pub created_by: Option<String>,
}

/// An image resolved to one platform.
#[derive(Debug, Clone, Serialize)]
pub struct Image {
    /// How the user named it (`registry:...`, `oci:...`).
    pub source: String,
    /// The registry reference, when it came from one.
    pub reference: Option<ImageRef>,
    /// Digest of the platform manifest (None for `dir:`).
    pub manifest_digest: Option<Digest>,
    /// Digest of the index it was picked from, if any.
    pub index_digest: Option<Digest>,
    /// Platform.
    pub platform: Platform,
    /// Config digest.
    pub config_digest: Option<Digest>,
    /// The config.
    pub config: ImageConfig,
    /// Layers, base first.
    pub layers: Vec<Layer>,
    /// The platform manifest's annotations (empty when it has none, or for
    /// sources without a manifest).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The manifest annotation naming the base image (OCI image spec).
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
/// The manifest annotation giving the base image's manifest digest.
pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// Errors resolving an image's structure.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A document is not the JSON we expect.
    #[error("{what} is not valid: {source}")]
    Json {
        /// What was parsed.
        what: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A digest string is malformed.
    #[error("{what}: {source}")]
    Digest {
        /// Where.
        what: String,
        /// Why.
        source: crate::DigestError,
    },
    /// Config and manifest disagree.
    #[error("image {0}: manifest has {1} layers but the config lists {2} diff IDs")]
    LayerCount(String, usize, usize),
    /// No manifest for the platform.
    #[error("{image}: no image for platform {platform} (available: {available})")]
    NoPlatform {
        /// Source.
        image: String,
        /// Wanted.
        platform: Platform,
        /// What the index offers.
        available: String,
    },
    /// Media type we do not read.
    #[error("{image}: unsupported media type `{media_type}` for {what}")]
    MediaType {
        /// Source.
        image: String,
        /// The media type.
        media_type: String,
        /// What it was for.
        what: String,
    },
}

/// Parses a JSON document, naming it in the error.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> Result<T, ModelError> {
    serde_json::from_slice(bytes).map_err(|source| ModelError::Json {
        what: what.to_string(),
        source,
    })
}

/// Largest manifest or index read (the distribution spec's 4 MiB).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Largest image config read.
pub const MAX_CONFIG_BYTES: u64 = 8 << 20;

/// Parses a digest string, naming its place in the error.
pub fn parse_digest(s: &str, what: &str) -> Result<Digest, ModelError> {
    s.parse().map_err(|source| ModelError::Digest {
        what: what.to_string(),
        source,
    })
}

/// Whether a manifest document is an index (by media type, or by shape).
pub fn is_index(media_type: Option<&str>, bytes: &[u8]) -> bool {
    match media_type {
        Some(media::OCI_INDEX | media::DOCKER_LIST) => true,
        Some(media::OCI_MANIFEST | media::DOCKER_MANIFEST) => false,
        _ => serde_json::from_slice::<serde_json::Value>(bytes)
            .is_ok_and(|v| v.get("manifests").is_some()),
    }
}

/// Picks the manifest for `platform` from an index.
pub fn pick_platform<'a>(
    index: &'a Index,
    platform: &Platform,
    source: &str,
) -> Result<&'a Descriptor, ModelError> {
    index
        .manifests
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)))
        .or_else(|| {
            // single-manifest indexes (OCI layouts from `buildah push oci:`) often carry no platform
            (index.manifests.len() == 1 && index.manifests[0].platform.is_none())
                .then(|| &index.manifests[0])
        })
        .ok_or_else(|| ModelError::NoPlatform {
            image: source.to_string(),
            platform: platform.clone(),
            available: index
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Builds the layer list from a manifest and its config (diff IDs and history).
pub fn layers(
    manifest: &Manifest,
    config: &ImageConfig,
    source: &str,
) -> Result<Vec<Layer>, ModelError> {
    if manifest.layers.len() != config.rootfs.diff_ids.len() {
        return Err(ModelError::LayerCount(
            source.to_string(),
            manifest.layers.len(),
            config.rootfs.diff_ids.len(),
        ));
    }
    let mut history = config
        .history
        .iter()
        .filter(|h| h.empty_layer != Some(true));
    manifest
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .enumerate()
        .map(|(i, (d, diff))| {
            if !d.media_type.is_empty() && !media::LAYERS.contains(&d.media_type.as_str()) {
                return Err(ModelError::MediaType {
                    image: source.to_string(),
                    media_type: d.media_type.clone(),
                    what: format!("layer {i}"),
                });
            }
            Ok(Layer {
                digest: parse_digest(&d.digest, &format!("{source}: layer {i} digest"))?,
                diff_id: parse_digest(diff, &format!("{source}: layer {i} diff ID"))?,
                media_type: d.media_type.clone(),
                size: d.size.max(0) as u64,
                created_by: history.next().and_then(|h| h.created_by.clone()),
            })
        })
        .collect()
}
