//! Image sources, named as Syft and Trivy users expect: `oci:DIR[:TAG]`
//! (OCI image layout), `docker-archive:FILE` (`docker save`), `dir:PATH` (a
//! root filesystem), `registry:REF` or a bare reference (pull from a registry).

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::image::{
    self, Descriptor, Image, ImageConfig, Index, Manifest, ModelError, parse_digest, parse_json,
};
use crate::verify::{Verified, sha256};
use crate::{Digest, ImageRef, Layer, Platform, ReferenceError};

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An OCI image layout directory, optionally with a tag (`org.opencontainers.image.ref.name`).
    OciLayout {
        /// Directory.
        dir: PathBuf,
        /// Tag to pick.
        tag: Option<String>,
    },
    /// A `docker save` tarball.
    DockerArchive {
        /// File.
        file: PathBuf,
    },
    /// A root filesystem directory.
    Dir {
        /// Directory.
        path: PathBuf,
    },
    /// A registry reference.
    Registry {
        /// Reference.
        reference: ImageRef,
    },
}

/// Why a source string is not usable.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Bad reference.
    #[error("invalid image reference: {0}")]
    Reference(#[from] ReferenceError),
    /// Structure problem.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// File problem.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// Something is missing from a layout or archive.
    #[error("{0}")]
    Missing(String),
    /// Registry problem.
    #[cfg(feature = "registry")]
    #[error(transparent)]
    Registry(#[from] crate::error::RegistryError),
    /// Built without registry support.
    #[error("{0}: this build of safeimage cannot pull from registries")]
    NoRegistrySupport(String),
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> SourceError + '_ {
    move |source| SourceError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl FromStr for Source {
    type Err = SourceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = s
            .strip_prefix("oci:")
            .or_else(|| s.strip_prefix("oci-dir:"))
        {
            // `oci:DIR:TAG` — a trailing `:TAG` only when DIR alone exists
            if let Some((dir, tag)) = rest.rsplit_once(':')
                && !tag.contains('/')
                && !Path::new(rest).exists()
                && Path::new(dir).exists()
            {
                return Ok(Source::OciLayout {
                    dir: dir.into(),
                    tag: Some(tag.to_string()),
                });
            }
            return Ok(Source::OciLayout {
                dir: rest.into(),
                tag: None,
            });
        }
        if let Some(rest) = s.strip_prefix("docker-archive:") {
            return Ok(Source::DockerArchive { file: rest.into() });
        }
        if let Some(rest) = s.strip_prefix("dir:") {
            return Ok(Source::Dir { path: rest.into() });
        }
        let r = s
            .strip_prefix("registry:")
            .or_else(|| s.strip_prefix("docker://"))
            .unwrap_or(s);
        Ok(Source::Registry {
            reference: r.parse()?,
        })
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::OciLayout { dir, tag: Some(t) } => write!(f, "oci:{}:{t}", dir.display()),
            Source::OciLayout { dir, tag: None } => write!(f, "oci:{}", dir.display()),
            Source::DockerArchive { file } => write!(f, "docker-archive:{}", file.display()),
            Source::Dir { path } => write!(f, "dir:{}", path.display()),
            Source::Registry { reference } => write!(f, "registry:{reference}"),
        }
    }
}

/// Options for registry access.
#[derive(Clone, Default)]
pub struct RegistryOptions {
    /// Hosts (`host:port`) to use over plain HTTP besides loopback.
    pub insecure: Vec<String>,
    /// Username and password per host, used before the Docker config
    /// (from the fleet config's environment variables). Never logged.
    pub basic_auth: std::collections::BTreeMap<String, (String, String)>,
}

impl std::fmt::Debug for RegistryOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials never reach a log: hosts and user names only.
        let creds: Vec<String> = self
            .basic_auth
            .iter()
            .map(|(h, (u, _))| format!("{h}: {u}:<redacted>"))
            .collect();
        f.debug_struct("RegistryOptions")
            .field("insecure", &self.insecure)
            .field("basic_auth", &creds)
            .finish()
    }
}

/// Reads a small file (an index, manifest or config), refusing one larger
/// than `limit` bytes.
fn read_capped(path: &Path, limit: u64, what: &str) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    File::open(path)?.take(limit + 1).read_to_end(&mut v)?;
    if v.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the {what} is larger than {limit} bytes; refusing to read it"),
        ));
    }
    Ok(v)
}

/// Whether a registry host (`HOST[:PORT]`) is on loopback, where plain HTTP
/// is the default: an IP address in 127.0.0.0/8, `::1`, or exactly
/// `localhost`. Names are never guessed from their spelling
/// (`127.attacker.example` is not loopback).
pub fn is_loopback(host: &str) -> bool {
    let h = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port or [v6]
        match rest.split_once(']') {
            Some((ip, tail)) if tail.is_empty() || tail.strip_prefix(':').is_some_and(is_port) => {
                ip
            }
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((h, p)) if is_port(p) => h,
            Some(_) => return false,
            None => host,
        }
    };
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

/// Opens layer blobs of a resolved image. Every reader verifies the blob's
/// digest when it reaches the end.
pub trait Blobs: Send + Sync {
    /// Opens the blob of `layer`.
    fn open(&self, layer: &Layer) -> Result<Verified<Box<dyn Read + Send>>, SourceError>;
}

// ---------------------------------------------------------------- OCI layout

/// Reads an OCI image layout.
pub struct OciLayout {
    dir: PathBuf,
}

impl OciLayout {
    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join("blobs")
            .join(digest.algorithm())
            .join(digest.encoded())
    }

    fn read_blob(&self, d: &Descriptor, what: &str) -> Result<(Vec<u8>, Digest), SourceError> {
        let digest = parse_digest(&d.digest, what)?;
        let path = self.blob_path(&digest);
        let limit = if what.contains("config") {
            image::MAX_CONFIG_BYTES
        } else {
            image::MAX_MANIFEST_BYTES
        };
        let bytes = read_capped(&path, limit, what).map_err(|e| {
            SourceError::Missing(format!(
                "{}: {what} blob {digest} is missing or unreadable ({e})",
                self.dir.display()
            ))
        })?;
        if sha256(&bytes) != digest {
            return Err(SourceError::Missing(format!(
                "{}: {what} blob {digest} does not match its digest",
                self.dir.display()
            )));
        }
        Ok((bytes, digest))
    }

    /// Resolves the image in the layout.
    pub fn open(
        dir: &Path,
        tag: Option<&str>,
        platform: &Platform,
        source: &str,
    ) -> Result<(Image, OciLayout), SourceError> {
        let layout = OciLayout {
            dir: dir.to_path_buf(),
        };
        let index_path = dir.join("index.json");
        let bytes = read_capped(&index_path, image::MAX_MANIFEST_BYTES, "index.json")
            .map_err(io_at(&index_path))?;
        let index: Index = parse_json(&bytes, &index_path.display().to_string())?;
        let top = match tag {
            Some(t) => index
                .manifests
                .iter()
                .find(|d| {
                    d.annotations
                        .as_ref()
                        .and_then(|a| a.get("org.opencontainers.image.ref.name"))
                        .is_some_and(|n| n == t || n.rsplit(':').next() == Some(t))
                })
                .ok_or_else(|| {
                    SourceError::Missing(format!(
                        "{}: no image tagged `{t}` in index.json",
                        dir.display()
                    ))
                })?,
            None => {
                if index.manifests.len() == 1 {
                    &index.manifests[0]
                } else {
                    image::pick_platform(&index, platform, source)?
                }
            }
        };
        let (mut bytes, mut digest) = layout.read_blob(top, "manifest")?;
        let mut index_digest = None;
        if image::is_index(
            Some(top.media_type.as_str()).filter(|m| !m.is_empty()),
            &bytes,
        ) {
            let idx: Index = parse_json(&bytes, &format!("{source}: index {digest}"))?;
            let d = image::pick_platform(&idx, platform, source)?.clone();
            index_digest = Some(digest);
            (bytes, digest) = layout.read_blob(&d, "manifest")?;
        }
        let manifest: Manifest = parse_json(&bytes, &format!("{source}: manifest {digest}"))?;
        let (cbytes, cdigest) = layout.read_blob(&manifest.config, "config")?;
        let config: ImageConfig = parse_json(&cbytes, &format!("{source}: config {cdigest}"))?;
        let layers = image::layers(&manifest, &config, source)?;
        let image = Image {
            source: source.to_string(),
            reference: None,
            manifest_digest: Some(digest),
            index_digest,
            platform: config.platform(),
            config_digest: Some(cdigest),
            config,
            layers,
            annotations: manifest.annotations.unwrap_or_default(),
        };
        Ok((image, layout))
    }
}

impl OciLayout {
    /// The platforms of the index the layout names for `tag` (or its only
    /// entry); `None` when that is one manifest.
    pub fn platforms(
        dir: &Path,
        tag: Option<&str>,
        source: &str,
    ) -> Result<Option<Vec<Platform>>, SourceError> {
        let layout = OciLayout {
            dir: dir.to_path_buf(),
        };
        let bytes = read_capped(
            &dir.join("index.json"),
            image::MAX_MANIFEST_BYTES,
            "index.json",
        )
        .map_err(|e| SourceError::Missing(format!("{}: index.json: {e}", dir.display())))?;
        let index: Index = parse_json(&bytes, &format!("{source}: index.json"))?;
        let top = match tag {
            Some(t) => index.manifests.iter().find(|d| {
                d.annotations
                    .as_ref()
                    .and_then(|a| a.get("org.opencontainers.image.ref.name"))
                    .is_some_and(|n| n == t || n.rsplit(':').next() == Some(t))
            }),
            None if index.manifests.len() == 1 => index.manifests.first(),
            None => return Ok(Some(image::index_platforms(&index))),
        };
        let Some(top) = top else {
            return Ok(None);
        };
        let (bytes, _) = layout.read_blob(top, "manifest")?;
        if !image::is_index(
            Some(top.media_type.as_str()).filter(|m| !m.is_empty()),
            &bytes,
        ) {
            return Ok(None);
        }
        let idx: Index = parse_json(&bytes, &format!("{source}: index"))?;
        Ok(Some(image::index_platforms(&idx)))
    }
}

impl Blobs for OciLayout {
    fn open(&self, layer: &Layer) -> Result<Verified<Box<dyn Read + Send>>, SourceError> {
        let path = self.blob_path(&layer.digest);
        let f = File::open(&path).map_err(|e| {
            SourceError::Missing(format!(
                "{}: layer blob {} is missing ({e})",
                self.dir.display(),
                layer.digest
            ))
        })?;
        Ok(Verified::new(
            Box::new(f),
            layer.digest.clone(),
            Some(layer.size).filter(|s| *s > 0),
        ))
    }
}

// ---------------------------------------------------------- docker-archive

/// Reads a `docker save` tarball without unpacking it: member offsets are
/// indexed once and blobs are read in place.
pub struct DockerArchive {
    file: PathBuf,
    members: HashMap<String, (u64, u64)>,
    layer_paths: HashMap<Digest, String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

impl DockerArchive {
    fn read_member(&self, name: &str) -> Result<Vec<u8>, SourceError> {
        let &(off, len) = self.members.get(name).ok_or_else(|| {
            SourceError::Missing(format!(
                "{}: `{name}` is missing from the archive",
                self.file.display()
            ))
        })?;
        let mut f = File::open(&self.file).map_err(io_at(&self.file))?;
        f.seek(SeekFrom::Start(off)).map_err(io_at(&self.file))?;
        if len > image::MAX_CONFIG_BYTES {
            return Err(SourceError::Missing(format!(
                "{}: `{name}` is larger than {} bytes; refusing to read it",
                self.file.display(),
                image::MAX_CONFIG_BYTES
            )));
        }
        let mut v = Vec::with_capacity(len as usize);
        f.take(len).read_to_end(&mut v).map_err(io_at(&self.file))?;
        Ok(v)
    }

    /// The config of the (first) image, byte for byte.
    pub fn config_bytes(&self) -> Result<Vec<u8>, SourceError> {
        let manifest = self.read_member("manifest.json")?;
        let entries: Vec<ArchiveEntry> = parse_json(&manifest, "manifest.json")?;
        let entry = entries
            .into_iter()
            .next()
            .ok_or_else(|| SourceError::Missing("manifest.json lists no image".into()))?;
        self.read_member(&entry.config)
    }

    /// Resolves the (first) image in the archive.
    pub fn open(file: &Path, source: &str) -> Result<(Image, DockerArchive), SourceError> {
        let f = File::open(file).map_err(io_at(file))?;
        let mut ar = tar::Archive::new(f);
        let mut members = HashMap::new();
        for e in ar.entries().map_err(io_at(file))? {
            let e = e.map_err(io_at(file))?;
            let Some(name) = crate::layer::normalize(&String::from_utf8_lossy(&e.path_bytes()))
            else {
                continue;
            };
            if e.header().entry_type().is_file() {
                members.insert(name, (e.raw_file_position(), e.size()));
            }
        }
        let mut this = DockerArchive {
            file: file.to_path_buf(),
            members,
            layer_paths: HashMap::new(),
        };
        let manifest = this.read_member("manifest.json")?;
        let entries: Vec<ArchiveEntry> =
            parse_json(&manifest, &format!("{source}: manifest.json"))?;
        let entry = entries.into_iter().next().ok_or_else(|| {
            SourceError::Missing(format!("{source}: manifest.json lists no image"))
        })?;
        let cbytes = this.read_member(&entry.config)?;
        let config: ImageConfig = parse_json(&cbytes, &format!("{source}: {}", entry.config))?;
        if entry.layers.len() != config.rootfs.diff_ids.len() {
            return Err(ModelError::LayerCount(
                source.to_string(),
                entry.layers.len(),
                config.rootfs.diff_ids.len(),
            )
            .into());
        }
        let mut history = config
            .history
            .iter()
            .filter(|h| h.empty_layer != Some(true));
        let mut layers = Vec::new();
        for (i, (path, diff)) in entry.layers.iter().zip(&config.rootfs.diff_ids).enumerate() {
            let diff_id = parse_digest(diff, &format!("{source}: layer {i} diff ID"))?;
            // `blobs/sha256/<hex>` (Docker 25+, OCI inside) is named by its blob digest;
            // legacy `<id>/layer.tar` is the uncompressed tar, so its digest is the diff ID.
            let digest = match path.strip_prefix("blobs/sha256/") {
                Some(hex) => {
                    parse_digest(&format!("sha256:{hex}"), &format!("{source}: layer {i}"))?
                }
                None => diff_id.clone(),
            };
            let size = this.members.get(path).map_or(0, |m| m.1);
            this.layer_paths.insert(digest.clone(), path.clone());
            layers.push(Layer {
                digest,
                diff_id,
                media_type: String::new(),
                size,
                created_by: history.next().and_then(|h| h.created_by.clone()),
            });
        }
        let image = Image {
            source: source.to_string(),
            reference: entry
                .repo_tags
                .and_then(|t| t.into_iter().next())
                .and_then(|t| t.parse().ok()),
            manifest_digest: None,
            index_digest: None,
            platform: config.platform(),
            config_digest: Some(sha256(&cbytes)),
            config,
            layers,
            annotations: Default::default(),
        };
        Ok((image, this))
    }
}

impl Blobs for DockerArchive {
    fn open(&self, layer: &Layer) -> Result<Verified<Box<dyn Read + Send>>, SourceError> {
        let path = self.layer_paths.get(&layer.digest).ok_or_else(|| {
            SourceError::Missing(format!(
                "{}: no member for layer {}",
                self.file.display(),
                layer.digest
            ))
        })?;
        let &(off, len) = self.members.get(path).ok_or_else(|| {
            SourceError::Missing(format!(
                "{}: `{path}` is missing from the archive",
                self.file.display()
            ))
        })?;
        let mut f = File::open(&self.file).map_err(io_at(&self.file))?;
        f.seek(SeekFrom::Start(off)).map_err(io_at(&self.file))?;
        Ok(Verified::new(
            Box::new(f.take(len)),
            layer.digest.clone(),
            Some(len),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_source_names() {
        assert!(matches!(
            "registry:alpine:3.20".parse::<Source>().unwrap(),
            Source::Registry { .. }
        ));
        assert!(matches!(
            "localhost:5000/a/b:1".parse::<Source>().unwrap(),
            Source::Registry { .. }
        ));
        assert_eq!(
            "docker-archive:/x/img.tar".parse::<Source>().unwrap(),
            Source::DockerArchive {
                file: "/x/img.tar".into()
            }
        );
        assert_eq!(
            "dir:/".parse::<Source>().unwrap(),
            Source::Dir { path: "/".into() }
        );
        let d = tempfile::tempdir().unwrap();
        let s = format!("oci:{}:v1", d.path().display());
        assert_eq!(
            s.parse::<Source>().unwrap(),
            Source::OciLayout {
                dir: d.path().into(),
                tag: Some("v1".into())
            }
        );
        let s = format!("oci:{}", d.path().display());
        assert_eq!(
            s.parse::<Source>().unwrap(),
            Source::OciLayout {
                dir: d.path().into(),
                tag: None
            }
        );
        assert!("registry:Bad".parse::<Source>().is_err());
    }
}
