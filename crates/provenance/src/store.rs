//! Where signatures and attachments are read and written: one repository
//! of a registry ([`Artifacts`]), implemented for a connected
//! [`oci::push::Repo`] and in memory (for tests of the logic, with or
//! without a referrers API).

use std::collections::HashMap;
use std::sync::Mutex;

use oci::Digest;
use oci::error::RegistryError;

/// The most a signature payload, bundle or attachment blob may be.
pub const MAX_BLOB: u64 = 16 << 20;

/// A repository's manifests, small blobs and referrers.
pub trait Artifacts {
    /// A manifest by tag or digest, with its media type.
    fn manifest(&self, at: &str) -> Result<Option<(Vec<u8>, String)>, RegistryError>;
    /// A small blob, checked against its digest.
    fn blob(&self, digest: &Digest) -> Result<Vec<u8>, RegistryError>;
    /// Upload a blob.
    fn put_blob(&self, bytes: &[u8]) -> Result<Digest, RegistryError>;
    /// Put a manifest at `tag`, or by digest.
    fn put_manifest(
        &self,
        tag: Option<&str>,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest, RegistryError>;
    /// The OCI 1.1 referrers index of `digest`; `None` when the registry
    /// has no referrers API.
    fn referrers(&self, digest: &Digest) -> Result<Option<Vec<u8>>, RegistryError>;
}

#[cfg(feature = "registry")]
impl Artifacts for oci::push::Repo {
    fn manifest(&self, at: &str) -> Result<Option<(Vec<u8>, String)>, RegistryError> {
        self.fetch_manifest(at)
    }
    fn blob(&self, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
        self.fetch_blob(digest, MAX_BLOB)
    }
    fn put_blob(&self, bytes: &[u8]) -> Result<Digest, RegistryError> {
        self.push_blob(bytes)
    }
    fn put_manifest(
        &self,
        tag: Option<&str>,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest, RegistryError> {
        self.put_manifest_at(tag, bytes, media_type)
    }
    fn referrers(&self, digest: &Digest) -> Result<Option<Vec<u8>>, RegistryError> {
        oci::push::Repo::referrers(self, digest)
    }
}

/// A shared repository (the in-memory one a test double hands out).
impl<T: Artifacts + ?Sized> Artifacts for std::sync::Arc<T> {
    fn manifest(&self, at: &str) -> Result<Option<(Vec<u8>, String)>, RegistryError> {
        (**self).manifest(at)
    }
    fn blob(&self, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
        (**self).blob(digest)
    }
    fn put_blob(&self, bytes: &[u8]) -> Result<Digest, RegistryError> {
        (**self).put_blob(bytes)
    }
    fn put_manifest(
        &self,
        tag: Option<&str>,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest, RegistryError> {
        (**self).put_manifest(tag, bytes, media_type)
    }
    fn referrers(&self, digest: &Digest) -> Result<Option<Vec<u8>>, RegistryError> {
        (**self).referrers(digest)
    }
}

/// A repository in memory.
#[derive(Default)]
pub struct Memory {
    referrers_api: bool,
    state: Mutex<MemState>,
}

#[derive(Default)]
struct MemState {
    blobs: HashMap<String, Vec<u8>>,
    manifests: HashMap<String, (Vec<u8>, String)>,
    tags: HashMap<String, String>,
}

impl Memory {
    /// An empty repository; `referrers_api` says whether it answers the
    /// referrers API (otherwise clients use the tag schema).
    pub fn new(referrers_api: bool) -> Memory {
        Memory {
            referrers_api,
            state: Mutex::default(),
        }
    }

    /// Change a stored blob's bytes in place (a tampering registry).
    pub fn tamper_blob(&self, digest: &str, bytes: Vec<u8>) {
        self.state
            .lock()
            .unwrap()
            .blobs
            .insert(digest.to_string(), bytes);
    }

    /// The tags present.
    pub fn tags(&self) -> Vec<String> {
        let mut t: Vec<String> = self.state.lock().unwrap().tags.keys().cloned().collect();
        t.sort();
        t
    }

    /// Point `tag` at the manifest `digest`.
    pub fn retag(&self, tag: &str, digest: &str) {
        self.state
            .lock()
            .unwrap()
            .tags
            .insert(tag.to_string(), digest.to_string());
    }
}

impl Artifacts for Memory {
    fn manifest(&self, at: &str) -> Result<Option<(Vec<u8>, String)>, RegistryError> {
        let s = self.state.lock().unwrap();
        let d = if at.contains(':') {
            at.to_string()
        } else {
            match s.tags.get(at) {
                Some(d) => d.clone(),
                None => return Ok(None),
            }
        };
        Ok(s.manifests.get(&d).cloned())
    }
    fn blob(&self, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
        self.state
            .lock()
            .unwrap()
            .blobs
            .get(&digest.to_string())
            .cloned()
            .ok_or_else(|| RegistryError::NotFound {
                reference: digest.to_string(),
            })
    }
    fn put_blob(&self, bytes: &[u8]) -> Result<Digest, RegistryError> {
        let d = oci::verify::sha256(bytes);
        self.state
            .lock()
            .unwrap()
            .blobs
            .insert(d.to_string(), bytes.to_vec());
        Ok(d)
    }
    fn put_manifest(
        &self,
        tag: Option<&str>,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest, RegistryError> {
        let d = oci::verify::sha256(bytes);
        let mut s = self.state.lock().unwrap();
        s.manifests
            .insert(d.to_string(), (bytes.to_vec(), media_type.to_string()));
        if let Some(t) = tag {
            s.tags.insert(t.to_string(), d.to_string());
        }
        Ok(d)
    }
    fn referrers(&self, digest: &Digest) -> Result<Option<Vec<u8>>, RegistryError> {
        if !self.referrers_api {
            return Ok(None);
        }
        let s = self.state.lock().unwrap();
        let mut idx = crate::layout::Index::empty();
        let mut found: Vec<_> = s
            .manifests
            .iter()
            .filter_map(|(d, (bytes, mt))| {
                let m: crate::layout::Manifest = serde_json::from_slice(bytes).ok()?;
                (m.subject.as_ref()?.digest == digest.to_string()).then(|| crate::layout::Desc {
                    media_type: mt.clone(),
                    digest: d.clone(),
                    size: bytes.len() as u64,
                    artifact_type: m.artifact_type.clone(),
                    annotations: m.annotations.clone(),
                })
            })
            .collect();
        found.sort_by(|a, b| a.digest.cmp(&b.digest));
        idx.manifests = found;
        Ok(Some(serde_json::to_vec(&idx).expect("index serialises")))
    }
}
