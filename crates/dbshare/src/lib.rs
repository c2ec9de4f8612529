//! The advisory DB as an OCI artifact, so a fleet downloads the feeds once:
//! `db push` stores the DB file zstd-compressed as the one layer of an OCI
//! image manifest with its own artifact type, its metadata (schema version,
//! build time, the feeds with their newest record times, the uncompressed
//! file's SHA-256) in annotations; `db pull` (and `oci://` DB locations)
//! resolve the tag to a digest, refuse another artifact type, another
//! schema version or an older build than the DB in place, download the
//! layer checked against its digest, decompress it with a cap, check the
//! file's SHA-256 and what the DB says of itself against the annotations,
//! and only then rename it into place. The pulled digest is kept beside the
//! file, so pulling the same tag again downloads nothing.

use std::io::Read;
use std::path::{Path, PathBuf};

use findings::time::Timestamp;
use oci::push::Repo;
use oci::registry::RegistryError;
use oci::source::RegistryOptions;
use oci::{Digest, ImageRef};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use vulndb::Db;
use vulndb::db::{DbError, SCHEMA_VERSION};

/// The manifest's `artifactType`.
pub const ARTIFACT_TYPE: &str = "application/vnd.safeimage.advisory-db.v1";
/// The layer: the SQLite DB file, zstd-compressed.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.safeimage.advisory-db.layer.v1.sqlite+zstd";
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Annotation: the DB schema version.
pub const A_SCHEMA: &str = "dev.safeimage.advisory-db.schema-version";
/// Annotation: when the DB was built (RFC 3339).
pub const A_BUILT: &str = "dev.safeimage.advisory-db.built-at";
/// Annotation: the feeds (JSON: name, records, newest record).
pub const A_FEEDS: &str = "dev.safeimage.advisory-db.feeds";
/// Annotation: SHA-256 of the uncompressed file.
pub const A_SHA256: &str = "dev.safeimage.advisory-db.sha256";
/// Annotation: size of the uncompressed file.
pub const A_SIZE: &str = "dev.safeimage.advisory-db.size";
/// The largest layer downloaded.
pub const MAX_LAYER: u64 = 4 << 30;
/// The largest DB file a layer may inflate to.
pub const MAX_DB: u64 = 16 << 30;

/// Why a push or pull failed; the DB in place is untouched in every case.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    /// The registry.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The local DB.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Not an advisory DB artifact, or a malformed one.
    #[error("{reference}: {message}")]
    NotADb {
        /// What was pulled.
        reference: String,
        /// What is wrong.
        message: String,
    },
    /// Another schema version.
    #[error(
        "{reference} ({digest}) holds an advisory DB of schema {found}; this safeimage reads schema {SCHEMA_VERSION}: push one built by this version"
    )]
    Schema {
        /// What was pulled.
        reference: String,
        /// Its digest.
        digest: Digest,
        /// Its schema.
        found: String,
    },
    /// Older than the DB in place.
    #[error(
        "{reference} ({digest}) holds a DB built {remote}, older than the one at {} (built {local}); keeping it",
        path.display()
    )]
    Older {
        /// What was pulled.
        reference: String,
        /// Its digest.
        digest: Digest,
        /// Its build time.
        remote: Timestamp,
        /// The local file.
        path: PathBuf,
        /// Its build time.
        local: Timestamp,
    },
    /// The file does not match what the manifest says of it.
    #[error("{reference} ({digest}): {message}")]
    Mismatch {
        /// What was pulled.
        reference: String,
        /// Its digest.
        digest: Digest,
        /// What does not match.
        message: String,
    },
    /// Local files.
    #[error("{}: {source}", path.display())]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ShareError + '_ {
    move |source| ShareError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The manifest's digest.
    pub digest: Digest,
    /// Bytes of the DB file.
    pub size: u64,
    /// Bytes of the compressed layer.
    pub compressed: u64,
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The manifest's digest.
    pub digest: Digest,
    /// False when the DB in place already was this digest.
    pub downloaded: bool,
    /// The DB's build time.
    pub built_at: Timestamp,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The digest file kept beside a pulled DB.
pub fn digest_file(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".digest");
    PathBuf::from(s)
}

/// Pushes the DB at `db` to `reference` (a tag).
pub fn push(db: &Path, reference: &ImageRef, opts: &RegistryOptions) -> Result<Pushed, ShareError> {
    let opened = Db::open(db)?;
    let st = opened.status().clone();
    drop(opened);
    let bytes = std::fs::read(db).map_err(io(db))?;
    let compressed = zstd::bulk::compress(&bytes, 9).map_err(io(db))?;
    let feeds: Vec<Value> = st
        .sources
        .iter()
        .map(|s| json!({"name": s.name, "records": s.records, "newest_record": s.newest_record, "fetched_at": s.fetched_at}))
        .collect();
    let repo = Repo::connect(reference, opts)?;
    let config = repo.push_blob(b"{}")?;
    let layer = repo.push_blob(&compressed)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": config.to_string(), "size": 2, "data": "e30="},
        "layers": [{
            "mediaType": LAYER_MEDIA_TYPE,
            "digest": layer.to_string(),
            "size": compressed.len(),
            "annotations": {"org.opencontainers.image.title": "advisories.db"},
        }],
        "annotations": {
            "org.opencontainers.image.created": st.built_at.to_string(),
            A_SCHEMA: st.schema_version.to_string(),
            A_BUILT: st.built_at.to_string(),
            A_FEEDS: serde_json::Value::Array(feeds).to_string(),
            A_SHA256: sha256_hex(&bytes),
            A_SIZE: bytes.len().to_string(),
        },
    });
    let body = serde_json::to_vec(&manifest).map_err(|e| ShareError::NotADb {
        reference: reference.to_string(),
        message: e.to_string(),
    })?;
    let tag = reference.tag().unwrap_or("latest");
    let digest = repo.put_manifest_at(Some(tag), &body, MANIFEST_MEDIA_TYPE)?;
    Ok(Pushed {
        digest,
        size: bytes.len() as u64,
        compressed: compressed.len() as u64,
    })
}

/// What the manifest says.
struct Described {
    layer: Digest,
    layer_size: u64,
    built_at: Timestamp,
    sha256: String,
    size: u64,
}

fn describe(reference: &str, digest: &Digest, manifest: &[u8]) -> Result<Described, ShareError> {
    let bad = |m: String| ShareError::NotADb {
        reference: reference.to_string(),
        message: m,
    };
    let v: Value = serde_json::from_slice(manifest).map_err(|e| bad(format!("manifest: {e}")))?;
    let artifact = v["artifactType"].as_str().unwrap_or("");
    if artifact != ARTIFACT_TYPE {
        return Err(bad(format!(
            "not a safeimage advisory DB (artifact type `{artifact}`, expected `{ARTIFACT_TYPE}`)"
        )));
    }
    let a = &v["annotations"];
    let schema = a[A_SCHEMA].as_str().unwrap_or("none").to_string();
    if schema != SCHEMA_VERSION.to_string() {
        return Err(ShareError::Schema {
            reference: reference.to_string(),
            digest: digest.clone(),
            found: schema,
        });
    }
    let layers = v["layers"].as_array().cloned().unwrap_or_default();
    let [layer] = layers.as_slice() else {
        return Err(bad(format!("{} layers, expected one", layers.len())));
    };
    if layer["mediaType"] != LAYER_MEDIA_TYPE {
        return Err(bad(format!("layer media type {}", layer["mediaType"])));
    }
    let layer_digest: Digest = layer["digest"]
        .as_str()
        .unwrap_or("")
        .parse()
        .map_err(|e| bad(format!("layer digest: {e}")))?;
    let built_at: Timestamp = a[A_BUILT]
        .as_str()
        .unwrap_or("")
        .parse()
        .map_err(|e| bad(format!("{A_BUILT}: {e}")))?;
    let sha256 = a[A_SHA256].as_str().unwrap_or("").to_string();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(format!("{A_SHA256}: `{sha256}` is not a SHA-256")));
    }
    let size: u64 = a[A_SIZE]
        .as_str()
        .unwrap_or("")
        .parse()
        .map_err(|_| bad(format!("{A_SIZE} is not a size")))?;
    if size > MAX_DB {
        return Err(bad(format!("the DB would be {size} bytes, over {MAX_DB}")));
    }
    Ok(Described {
        layer: layer_digest,
        layer_size: layer["size"].as_u64().unwrap_or(0),
        built_at,
        sha256,
        size,
    })
}

/// Pulls `reference` into `dest` (see the module doc).
pub fn pull(
    reference: &ImageRef,
    dest: &Path,
    opts: &RegistryOptions,
) -> Result<Pulled, ShareError> {
    let shown = reference.to_string();
    let repo = Repo::connect(reference, opts)?;
    let want = match (reference.digest(), reference.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => "latest".to_string(),
    };
    let (manifest, _) = repo
        .fetch_manifest(&want)?
        .ok_or_else(|| ShareError::NotADb {
            reference: shown.clone(),
            message: "no such tag or digest in the registry".into(),
        })?;
    let digest = oci::verify::sha256(&manifest);
    if let Some(d) = reference.digest()
        && *d != digest
    {
        return Err(ShareError::Mismatch {
            reference: shown,
            digest,
            message: format!("the registry served a manifest of another digest than {d}"),
        });
    }
    let described = describe(&shown, &digest, &manifest)?;
    // the DB in place: the same digest is done; an older remote is refused
    if dest.is_file() {
        // the same digest pulled before, and the file is still that DB (an
        // update or import since would have changed its build time or size)
        let same = std::fs::read_to_string(digest_file(dest))
            .ok()
            .is_some_and(|d| d.trim() == digest.to_string())
            && std::fs::metadata(dest).is_ok_and(|m| m.len() == described.size)
            && Db::open(dest).is_ok_and(|db| db.status().built_at == described.built_at);
        if same {
            return Ok(Pulled {
                digest,
                downloaded: false,
                built_at: described.built_at,
            });
        }
        if let Ok(local) = Db::open(dest) {
            let local = local.status().built_at;
            if described.built_at < local {
                return Err(ShareError::Older {
                    reference: shown,
                    digest,
                    remote: described.built_at,
                    path: dest.to_path_buf(),
                    local,
                });
            }
        }
    }
    if described.layer_size > MAX_LAYER {
        return Err(ShareError::NotADb {
            reference: shown,
            message: format!("layer of {} bytes, over {MAX_LAYER}", described.layer_size),
        });
    }
    let blob = repo.fetch_blob(&described.layer, MAX_LAYER)?;
    let mismatch = |m: String| ShareError::Mismatch {
        reference: shown.clone(),
        digest: digest.clone(),
        message: m,
    };
    let mut bytes = Vec::new();
    zstd::stream::read::Decoder::new(blob.as_slice())
        .and_then(|d| d.take(described.size + 1).read_to_end(&mut bytes))
        .map_err(|e| mismatch(format!("the layer does not decompress: {e}")))?;
    if bytes.len() as u64 != described.size {
        return Err(mismatch(format!(
            "the DB is {} bytes, the manifest says {}",
            bytes.len(),
            described.size
        )));
    }
    let got = sha256_hex(&bytes);
    if got != described.sha256 {
        return Err(mismatch(format!(
            "the DB's SHA-256 is {got}, the manifest says {}",
            described.sha256
        )));
    }
    if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let mut tmp = safefs::temp_beside(dest, safefs::Mode::Public).map_err(io(dest))?;
    std::io::Write::write_all(&mut tmp, &bytes).map_err(io(dest))?;
    tmp.as_file().sync_all().map_err(io(dest))?;
    // what the DB says of itself must be what the manifest says
    let opened = Db::open(tmp.path())?;
    if opened.status().built_at != described.built_at {
        return Err(mismatch(format!(
            "the DB says it was built {}, the manifest says {}",
            opened.status().built_at,
            described.built_at
        )));
    }
    drop(opened);
    tmp.persist(dest).map_err(|e| io(dest)(e.error))?;
    safefs::write(
        &digest_file(dest),
        format!("{digest}\n").as_bytes(),
        safefs::Mode::Public,
    )
    .map_err(|e| io(dest)(std::io::Error::other(e.to_string())))?;
    Ok(Pulled {
        digest,
        downloaded: true,
        built_at: described.built_at,
    })
}

/// Where an `oci://` DB location is cached under `cache_dir`.
pub fn cached_path(cache_dir: &Path, reference: &ImageRef) -> PathBuf {
    let key = sha256_hex(reference.to_string().as_bytes());
    cache_dir
        .join("db")
        .join("oci")
        .join(format!("{}.db", &key[..32]))
}

/// `oci://REGISTRY/REPO:TAG` → the reference; `None` for a plain path.
pub fn oci_location(s: &str) -> Option<&str> {
    s.strip_prefix("oci://")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(schema: &str, artifact: &str) -> Vec<u8> {
        json!({"artifactType": artifact, "annotations": {A_SCHEMA: schema, A_BUILT: "2026-11-30T00:00:00Z",
            A_SHA256: "a".repeat(64), A_SIZE: "10"},
            "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": format!("sha256:{}", "b".repeat(64)), "size": 5}]})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn manifests_are_checked_before_any_download() {
        let d = oci::verify::sha256(b"x");
        assert!(
            describe(
                "r",
                &d,
                &manifest(&SCHEMA_VERSION.to_string(), ARTIFACT_TYPE)
            )
            .is_ok()
        );
        let e = describe("r", &d, &manifest("99", ARTIFACT_TYPE))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("schema 99") && e.contains(&format!("reads schema {SCHEMA_VERSION}")),
            "{e}"
        );
        let e = describe(
            "r",
            &d,
            &manifest("1", "application/vnd.oci.image.config.v1+json"),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("not a safeimage advisory DB"), "{e}");
        assert_eq!(oci_location("oci://h/r:t"), Some("h/r:t"));
        assert_eq!(oci_location("/var/db"), None);
    }
}
