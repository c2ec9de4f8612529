//! The advisory DB as an OCI artifact, so a fleet downloads the feeds once:
//! `db push` stores the DB file zstd-compressed as the one layer of an OCI
//! image manifest with its own artifact type, its metadata (schema version,
//! build time, the feeds with their newest record times, the uncompressed
//! file's SHA-256) in annotations; `db pull` (and `oci://` DB locations)
//! resolve the tag to a digest (with keys: only a digest one of them
//! signed, then pulled by that digest), refuse another artifact type,
//! another schema version, a build time in the future or older than the DB
//! in place, and a DB over the size cap ([`PullOptions::max_bytes`]) before
//! anything is downloaded; then stream the layer through the decompressor
//! into a temp file beside the destination, hashing both as they pass
//! (memory stays bounded: a zstd bomb stops at the cap), check the blob's
//! digest, the file's size and SHA-256 and what the DB says of itself
//! against the annotations, and only then rename it into place. The pulled
//! digest is kept beside the file, so pulling the same tag again downloads
//! nothing.

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
/// The default cap on a pulled DB file (and on its compressed layer): a
/// full import of OSV's main ecosystems is about 0.5 GB (BENCHMARKS.md),
/// Grype's DB 0.9 GB.
pub const DEFAULT_MAX_BYTES: u64 = 2 << 30;
/// How far in the future a build time may be (clock skew between runners).
pub const CLOCK_SKEW_SECS: i64 = 600;
/// The largest zstd window accepted (2^27, zstd's own default limit).
const WINDOW_LOG_MAX: u32 = 27;

/// How to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Registry access.
    pub registry: RegistryOptions,
    /// The largest DB file (and compressed layer) accepted.
    pub max_bytes: u64,
    /// Public keys one of which must have signed the artifact (empty: no
    /// signature required).
    pub keys: Vec<provenance::keys::PublicKey>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            registry: RegistryOptions::default(),
            max_bytes: DEFAULT_MAX_BYTES,
            keys: Vec::new(),
        }
    }
}

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
    /// Built in the future (beyond the allowed skew).
    #[error(
        "{reference} ({digest}) says it was built {built}, in the future (now {now}); refused: it would keep every genuine DB out"
    )]
    Future {
        /// What was pulled.
        reference: String,
        /// Its digest.
        digest: Digest,
        /// Its claimed build time.
        built: Timestamp,
        /// The time here.
        now: Timestamp,
    },
    /// Over the size cap.
    #[error(
        "{reference} ({digest}): {message}, over the cap of {max} bytes (raise it with `db pull --max-mib`, SAFEIMAGE_DB_MAX_MIB or `[scan] db_max_mib`)"
    )]
    TooLarge {
        /// What was pulled.
        reference: String,
        /// Its digest.
        digest: Digest,
        /// What is too large.
        message: String,
        /// The cap.
        max: u64,
    },
    /// Keys were required and none signed it.
    #[error("advisory DB {reference} is not verified, nothing pulled: {message}")]
    Unverified {
        /// The reference.
        reference: String,
        /// Why.
        message: String,
    },
    /// Signature checking failed.
    #[error(transparent)]
    Provenance(#[from] provenance::ProvenanceError),
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
    Ok(Described {
        layer: layer_digest,
        layer_size: layer["size"].as_u64().unwrap_or(0),
        built_at,
        sha256,
        size,
    })
}

/// Pulls `reference` into `dest` (see the module doc).
pub fn pull(reference: &ImageRef, dest: &Path, opts: &PullOptions) -> Result<Pulled, ShareError> {
    let shown = reference.to_string();
    let repo = Repo::connect(reference, &opts.registry)?;
    let tag_or_digest = match (reference.digest(), reference.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => "latest".to_string(),
    };
    // with keys: the digest the tag names now is verified, then pulled by
    // that digest (the tag cannot move in between)
    let want = if opts.keys.is_empty() {
        tag_or_digest
    } else {
        let digest = match reference.digest() {
            Some(d) => d.clone(),
            None => repo
                .head(&tag_or_digest)?
                .ok_or_else(|| ShareError::NotADb {
                    reference: shown.clone(),
                    message: "no such tag in the registry".into(),
                })?,
        };
        let repository = reference.full_name();
        let req = provenance::verify::Requirements::default();
        let report = provenance::verify::verify(&repo, &repository, &digest, &opts.keys, &req)?;
        if let Some(f) = report.failure(&req) {
            return Err(ShareError::Unverified {
                reference: shown,
                message: report.message(&f),
            });
        }
        digest.to_string()
    };
    let (manifest, _) = repo
        .fetch_manifest(&want)?
        .ok_or_else(|| ShareError::NotADb {
            reference: shown.clone(),
            message: "no such tag or digest in the registry".into(),
        })?;
    let digest = oci::verify::sha256(&manifest);
    if want.starts_with("sha256:") && want != digest.to_string() {
        return Err(ShareError::Mismatch {
            reference: shown,
            digest,
            message: format!("the registry served a manifest of another digest than {want}"),
        });
    }
    let described = describe(&shown, &digest, &manifest)?;
    let now = Timestamp::now();
    if described.built_at.since(now) > CLOCK_SKEW_SECS {
        return Err(ShareError::Future {
            reference: shown,
            digest,
            built: described.built_at,
            now,
        });
    }
    let too_large = |message: String| ShareError::TooLarge {
        reference: shown.clone(),
        digest: digest.clone(),
        message,
        max: opts.max_bytes,
    };
    if described.size > opts.max_bytes {
        return Err(too_large(format!(
            "the DB would be {} bytes",
            described.size
        )));
    }
    if described.layer_size > opts.max_bytes {
        return Err(too_large(format!(
            "the layer is {} bytes",
            described.layer_size
        )));
    }
    // the DB in place: the same digest is done; an older remote is refused
    // (a DB in place built in the future is no measure: it is replaced)
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
            if described.built_at < local && local.since(now) <= CLOCK_SKEW_SECS {
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
    let mismatch = |m: String| ShareError::Mismatch {
        reference: shown.clone(),
        digest: digest.clone(),
        message: m,
    };
    if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let mut tmp = safefs::temp_beside(dest, safefs::Mode::Public).map_err(io(dest))?;
    // layer → digest check → zstd (window capped) → size cap → SHA-256 → file
    let blob = repo.open_blob(&described.layer, described.layer_size)?;
    let mut decoder = zstd::stream::read::Decoder::new(blob)
        .map_err(|e| mismatch(format!("the layer does not decompress: {e}")))?;
    decoder
        .window_log_max(WINDOW_LOG_MAX)
        .map_err(|e| mismatch(format!("the layer does not decompress: {e}")))?;
    let mut hashing = Hashing {
        inner: (&mut decoder).take(described.size + 1),
        sha: Sha256::new(),
        n: 0,
    };
    let copied = std::io::copy(&mut hashing, tmp.as_file_mut());
    let (n, got) = (hashing.n, hex::encode(hashing.sha.finalize()));
    // the blob's digest speaks first: a tampered layer is named as such,
    // whatever the decompressor made of it
    decoder
        .finish()
        .into_inner()
        .finish()
        .map_err(|e| mismatch(format!("layer {}: {e}", described.layer)))?;
    copied.map_err(|e| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::Other
        ) {
            mismatch(format!("the layer does not decompress: {e}"))
        } else {
            io(dest)(e)
        }
    })?;
    if n != described.size {
        return Err(mismatch(format!(
            "the DB is {}{n} bytes, the manifest says {}",
            if n > described.size { "over " } else { "" },
            described.size
        )));
    }
    if got != described.sha256 {
        return Err(mismatch(format!(
            "the DB's SHA-256 is {got}, the manifest says {}",
            described.sha256
        )));
    }
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

/// Counts and hashes what passes.
struct Hashing<R> {
    inner: R,
    sha: Sha256,
    n: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.sha.update(&buf[..k]);
        self.n += k as u64;
        Ok(k)
    }
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
