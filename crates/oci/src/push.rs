//! Writing to registries: resolve a reference to its digest with a HEAD
//! request (rate limits count GETs), find a platform's manifest in an index,
//! push an OCI layout by digest only (blobs that exist are skipped), and
//! move a tag to a digest. Tags are only ever written by [`Repo::tag`].

use std::io::Read;
use std::path::Path;

use crate::image::{self, Descriptor, Index, Manifest, media, parse_json};
use crate::registry::{Conn, RegistryError};
use crate::source::RegistryOptions;
use crate::verify::sha256;
use crate::{Digest, ImageRef, Platform};

/// A manifest as an OCI descriptor needs it: its size and media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// Bytes.
    pub size: u64,
    /// Its media type (image manifest, index, Docker's).
    pub media_type: String,
}

/// A repository in a registry, connected.
pub struct Repo {
    conn: Conn,
    repo: ImageRef,
}

fn other(r: &ImageRef, message: impl ToString) -> RegistryError {
    RegistryError::Other {
        reference: r.to_string(),
        message: message.to_string(),
    }
}

/// A manifest's own `mediaType`, or the OCI manifest type when it has none.
fn media_type_of(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v["mediaType"].as_str().map(str::to_string))
        .unwrap_or_else(|| media::OCI_MANIFEST.to_string())
}

fn parse_digest(r: &ImageRef, s: &str) -> Result<Digest, RegistryError> {
    s.parse::<Digest>()
        .map_err(|e| other(r, format!("registry returned digest `{s}`: {e}")))
}

impl Repo {
    /// Connect to the repository of `r` (its tag or digest is ignored).
    pub fn connect(r: &ImageRef, opts: &RegistryOptions) -> Result<Repo, RegistryError> {
        let conn = Conn::new(r, opts)?;
        Ok(Repo {
            conn,
            repo: r.clone(),
        })
    }

    fn at(&self, tag_or_digest: &str) -> oci_client::Reference {
        let (reg, repo) = (
            self.repo.registry().to_string(),
            self.repo.repository().to_string(),
        );
        if tag_or_digest.contains(':') {
            oci_client::Reference::with_digest(reg, repo, tag_or_digest.to_string())
        } else {
            oci_client::Reference::with_tag(reg, repo, tag_or_digest.to_string())
        }
    }

    fn display(&self, what: &str) -> ImageRef {
        let sep = if what.contains(':') { "@" } else { ":" };
        format!(
            "{}/{}{sep}{what}",
            self.repo.registry(),
            self.repo.repository()
        )
        .parse()
        .unwrap_or_else(|_| self.repo.clone())
    }

    /// The digest a tag (or digest) points at, by HEAD; `None` if absent.
    pub fn head(&self, tag_or_digest: &str) -> Result<Option<Digest>, RegistryError> {
        let r = self.at(tag_or_digest);
        let shown = self.display(tag_or_digest);
        let res = self.conn.retry_for(&shown, || {
            self.conn.client.fetch_manifest_digest(&r, &self.conn.auth)
        });
        match res {
            Ok(d) => Ok(Some(parse_digest(&shown, &d)?)),
            Err(RegistryError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every tag of the repository (the registry's tag list, page by page;
    /// at most `limit` tags, an error beyond).
    pub fn tags(&self, limit: usize) -> Result<Vec<String>, RegistryError> {
        const PAGE: usize = 1000;
        let r = self.at("latest");
        let shown = self.display("latest");
        let mut out: Vec<String> = Vec::new();
        loop {
            let last = out.last().cloned();
            let page = self.conn.retry_for(&shown, || {
                self.conn
                    .client
                    .list_tags(&r, &self.conn.auth, Some(PAGE), last.as_deref())
            })?;
            let n = page.tags.len();
            // A registry that ignores `last` repeats its first page.
            let fresh: Vec<String> = page
                .tags
                .into_iter()
                .filter(|t| last.as_deref().is_none_or(|l| t.as_str() > l))
                .collect();
            let added = fresh.len();
            out.extend(fresh);
            if out.len() > limit {
                return Err(other(&shown, format!("more than {limit} tags; not listed")));
            }
            if n < PAGE || added == 0 {
                return Ok(out);
            }
        }
    }

    /// The manifest digest for `platform` under `digest`: the digest itself
    /// for a single-platform image, the matching entry of an index otherwise.
    pub fn platform_digest(
        &self,
        digest: &Digest,
        platform: &Platform,
    ) -> Result<Digest, RegistryError> {
        let shown = self.display(&digest.to_string());
        let (bytes, _) = self
            .conn
            .manifest_for(&shown, &self.at(&digest.to_string()))?;
        if image::is_index(None, &bytes) {
            let idx: Index =
                parse_json(&bytes, &shown.to_string()).map_err(|e| other(&shown, e))?;
            let d = image::pick_platform(&idx, platform, &shown.to_string())
                .map_err(|e| other(&shown, e))?;
            parse_digest(&shown, &d.digest)
        } else {
            Ok(digest.clone())
        }
    }

    fn push_blob_file(&self, path: &Path, d: &Descriptor) -> Result<(), RegistryError> {
        let r = self.at(&d.digest);
        let shown = self.display(&d.digest);
        let exists = self
            .conn
            .retry_for(&shown, || self.conn.client.blob_exists(&r, &d.digest))
            .unwrap_or(false);
        if exists {
            return Ok(());
        }
        let mut f = std::fs::File::open(path)
            .map_err(|e| other(&shown, format!("{}: {e}", path.display())))?;
        let mut data = Vec::with_capacity(d.size.max(0) as usize);
        f.read_to_end(&mut data)
            .map_err(|e| other(&shown, format!("{}: {e}", path.display())))?;
        if sha256(&data).to_string() != d.digest {
            return Err(other(
                &shown,
                format!("{} does not match its digest", path.display()),
            ));
        }
        let data = bytes::Bytes::from(data);
        self.conn.retry_for(&shown, || {
            self.conn.client.push_blob(&r, data.clone(), &d.digest)
        })?;
        Ok(())
    }

    /// Push the image an OCI layout's `index.json` names (its first
    /// manifest, or the one tagged `tag`), by digest only. Returns the
    /// manifest digest. No tag is created or moved.
    pub fn push_layout(&self, layout: &Path, tag: Option<&str>) -> Result<Digest, RegistryError> {
        let shown = self.repo.clone();
        let read = |rel: &str| -> Result<Vec<u8>, RegistryError> {
            std::fs::read(layout.join(rel))
                .map_err(|e| other(&shown, format!("{}: {e}", layout.join(rel).display())))
        };
        let blob_path = |digest: &str| -> std::path::PathBuf {
            let (alg, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
            layout.join("blobs").join(alg).join(hex)
        };
        let idx: Index =
            parse_json(&read("index.json")?, "index.json").map_err(|e| other(&shown, e))?;
        let desc = idx
            .manifests
            .iter()
            .find(|m| {
                tag.is_none_or(|t| {
                    m.annotations
                        .as_ref()
                        .and_then(|a| a.get("org.opencontainers.image.ref.name"))
                        .is_some_and(|n| n == t)
                })
            })
            .ok_or_else(|| {
                other(
                    &shown,
                    format!("{}: no manifest in index.json", layout.display()),
                )
            })?;
        let mbytes = std::fs::read(blob_path(&desc.digest))
            .map_err(|e| other(&shown, format!("manifest blob: {e}")))?;
        let mdigest = sha256(&mbytes);
        if mdigest.to_string() != desc.digest {
            return Err(other(
                &shown,
                "the layout's manifest does not match its digest",
            ));
        }
        if image::is_index(Some(&desc.media_type), &mbytes) {
            // each manifest it lists, by digest, then the index
            let idx: Index = parse_json(&mbytes, "index").map_err(|e| other(&shown, e))?;
            for child in &idx.manifests {
                let bytes = std::fs::read(blob_path(&child.digest))
                    .map_err(|e| other(&shown, format!("manifest blob {}: {e}", child.digest)))?;
                if sha256(&bytes).to_string() != child.digest {
                    return Err(other(
                        &shown,
                        format!(
                            "the layout's manifest {} does not match its digest",
                            child.digest
                        ),
                    ));
                }
                let m: Manifest = parse_json(&bytes, "manifest").map_err(|e| other(&shown, e))?;
                for d in std::iter::once(&m.config).chain(m.layers.iter()) {
                    self.push_blob_file(&blob_path(&d.digest), d)?;
                }
                let ct = if child.media_type.is_empty() {
                    media::OCI_MANIFEST.to_string()
                } else {
                    child.media_type.clone()
                };
                self.put_manifest(&child.digest, &bytes, &ct)?;
            }
            let ct = if desc.media_type.is_empty() {
                media::OCI_INDEX.to_string()
            } else {
                desc.media_type.clone()
            };
            self.put_manifest(&mdigest.to_string(), &mbytes, &ct)?;
            return Ok(mdigest);
        }
        let m: Manifest = parse_json(&mbytes, "manifest").map_err(|e| other(&shown, e))?;
        for d in std::iter::once(&m.config).chain(m.layers.iter()) {
            self.push_blob_file(&blob_path(&d.digest), d)?;
        }
        let content_type = m
            .media_type
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| desc.media_type.clone());
        let content_type = if content_type.is_empty() {
            media::OCI_MANIFEST.to_string()
        } else {
            content_type
        };
        self.put_manifest(&mdigest.to_string(), &mbytes, &content_type)?;
        Ok(mdigest)
    }

    fn put_manifest(
        &self,
        at: &str,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<(), RegistryError> {
        let r = self.at(at);
        let shown = self.display(at);
        let ct = http::HeaderValue::from_str(content_type).map_err(|e| other(&shown, e))?;
        let body = bytes::Bytes::copy_from_slice(bytes);
        self.conn.retry_for(&shown, || {
            self.conn
                .client
                .push_manifest_raw(&r, body.clone(), ct.clone())
        })?;
        Ok(())
    }

    /// Push a manifest or index by its digest; what it refers to must be
    /// in the repository already.
    pub fn push_manifest(&self, bytes: &[u8], content_type: &str) -> Result<Digest, RegistryError> {
        let d = sha256(bytes);
        self.put_manifest(&d.to_string(), bytes, content_type)?;
        Ok(d)
    }

    /// Size and media type of a manifest in this repository.
    pub fn describe(&self, digest: &Digest) -> Result<Described, RegistryError> {
        let shown = self.display(&digest.to_string());
        let (bytes, _) = self
            .conn
            .manifest_for(&shown, &self.at(&digest.to_string()))?;
        Ok(Described {
            size: bytes.len() as u64,
            media_type: media_type_of(&bytes),
        })
    }

    /// A manifest (or index) by tag or digest, with its media type;
    /// `None` when there is none.
    pub fn fetch_manifest(
        &self,
        tag_or_digest: &str,
    ) -> Result<Option<(Vec<u8>, String)>, RegistryError> {
        let shown = self.display(tag_or_digest);
        match self.conn.manifest_for(&shown, &self.at(tag_or_digest)) {
            Ok((bytes, _)) => {
                let ct = media_type_of(&bytes);
                Ok(Some((bytes, ct)))
            }
            Err(RegistryError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A small blob of this repository, checked against its digest, never
    /// more than `limit` bytes read.
    pub fn fetch_blob(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>, RegistryError> {
        let d = Descriptor {
            media_type: String::new(),
            digest: digest.to_string(),
            size: 0,
            platform: None,
            annotations: None,
        };
        self.conn.blob_bytes(&d, "blob", limit)
    }

    /// A blob of this repository as a stream of `size` bytes (memory does
    /// not grow with it), checked against `digest` and `size` as it is read
    /// ([`crate::verify::Verified::finish`] says whether it matched), never
    /// more than `size + 1` bytes read.
    pub fn open_blob(
        &self,
        digest: &Digest,
        size: u64,
    ) -> Result<crate::verify::Verified<crate::verify::Limited<Box<dyn Read + Send>>>, RegistryError>
    {
        let desc = oci_client::manifest::OciDescriptor {
            digest: digest.to_string(),
            size: i64::try_from(size).unwrap_or(i64::MAX),
            ..Default::default()
        };
        let raw = self.conn.blob_stream(&desc)?;
        Ok(crate::verify::Verified::new(
            crate::verify::Limited::new(raw, size.saturating_add(1)),
            digest.clone(),
            Some(size),
        ))
    }

    /// Upload `bytes` as a blob (skipped when the registry has it).
    pub fn push_blob(&self, bytes: &[u8]) -> Result<Digest, RegistryError> {
        let digest = sha256(bytes);
        let d = digest.to_string();
        let r = self.at(&d);
        let shown = self.display(&d);
        let exists = self
            .conn
            .retry_for(&shown, || self.conn.client.blob_exists(&r, &d))
            .unwrap_or(false);
        if !exists {
            let data = bytes::Bytes::copy_from_slice(bytes);
            self.conn
                .retry_for(&shown, || self.conn.client.push_blob(&r, data.clone(), &d))?;
        }
        Ok(digest)
    }

    /// Put a manifest at a tag (or at its digest when `tag` is `None`).
    pub fn put_manifest_at(
        &self,
        tag: Option<&str>,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<Digest, RegistryError> {
        let d = sha256(bytes);
        self.put_manifest(tag.unwrap_or(&d.to_string()), bytes, content_type)?;
        Ok(d)
    }

    /// The OCI 1.1 referrers index of `digest`, or `None` when the
    /// registry has no referrers API (use the tag schema instead).
    pub fn referrers(&self, digest: &Digest) -> Result<Option<Vec<u8>>, RegistryError> {
        let shown = self.display(&digest.to_string());
        self.conn.referrers(&shown, &self.at(&digest.to_string()))
    }

    /// Point `tag` at `digest` (the manifest must already be in this repository).
    pub fn tag(&self, digest: &Digest, tag: &str) -> Result<(), RegistryError> {
        let shown = self.display(&digest.to_string());
        let (bytes, _) = self
            .conn
            .manifest_for(&shown, &self.at(&digest.to_string()))?;
        let ct = media_type_of(&bytes);
        self.put_manifest(tag, &bytes, &ct)
    }
}
