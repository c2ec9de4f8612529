//! Writing OCI image layouts: layers from tar bytes (stored gzip-compressed,
//! diffIDs computed from the uncompressed tar), a config whose
//! `rootfs.diff_ids` lists them, a manifest, and `index.json` naming it
//! with a tag. What the writer produces reads back through
//! [`crate::Source::OciLayout`] and pushes with [`crate::push`].

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::Digest;
use crate::verify::sha256;

/// OCI media types written here.
pub mod media {
    /// Image manifest.
    pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// Image index.
    pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// Image config.
    pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// gzip layer.
    pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
}

/// One entry of a layer tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory.
    Dir {
        /// Path inside the image (no leading `/`).
        path: String,
        /// Mode bits.
        mode: u32,
    },
    /// A regular file.
    File {
        /// Path inside the image.
        path: String,
        /// Mode bits.
        mode: u32,
        /// Content.
        data: Vec<u8>,
    },
    /// A symbolic link.
    Symlink {
        /// Path inside the image.
        path: String,
        /// Where it points.
        target: String,
    },
}

/// A tar of `entries`, in order (ownership root, mtime 0).
pub fn tar_of(entries: &[Entry]) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        match e {
            Entry::Dir { path, mode } => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                h.set_size(0);
                b.append_data(&mut h, path, std::io::empty())?;
            }
            Entry::File { path, mode, data } => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, data.as_slice())?;
            }
            Entry::Symlink { path, target } => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, path, target)?;
            }
        }
    }
    b.into_inner()
}

/// Writes one image into an OCI layout directory.
pub struct LayoutWriter {
    dir: PathBuf,
    layers: Vec<serde_json::Value>,
    diff_ids: Vec<String>,
    /// Keep the images `index.json` already names (another tag).
    append: bool,
    annotations: serde_json::Map<String, serde_json::Value>,
}

impl LayoutWriter {
    /// Starts a layout in `dir` (created; an existing layout there is replaced).
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir.join("blobs/sha256"))?;
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        Ok(LayoutWriter {
            dir: dir.to_path_buf(),
            layers: Vec::new(),
            diff_ids: Vec::new(),
            append: false,
            annotations: serde_json::Map::new(),
        })
    }

    /// Adds another image to the layout in `dir` (written by
    /// [`LayoutWriter::create`]): blobs are shared, and `index.json` keeps
    /// the images it names under other tags.
    pub fn append(dir: &Path) -> std::io::Result<Self> {
        if !dir.join("oci-layout").is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} is not an OCI layout", dir.display()),
            ));
        }
        Ok(LayoutWriter {
            dir: dir.to_path_buf(),
            layers: Vec::new(),
            diff_ids: Vec::new(),
            append: true,
            annotations: serde_json::Map::new(),
        })
    }

    /// Annotations of the manifest.
    pub fn annotate(&mut self, key: &str, value: &str) {
        self.annotations
            .insert(key.to_string(), serde_json::Value::from(value));
    }

    /// Stores a blob; returns its digest and size.
    pub fn blob(&self, bytes: &[u8]) -> std::io::Result<(Digest, u64)> {
        let d = sha256(bytes);
        std::fs::write(self.dir.join("blobs/sha256").join(d.encoded()), bytes)?;
        Ok((d, bytes.len() as u64))
    }

    /// Adds a layer streamed from an uncompressed tar reader (compressed
    /// with gzip on the way to its blob file); returns its diffID.
    pub fn add_layer_from(&mut self, tar: &mut dyn std::io::Read) -> std::io::Result<Digest> {
        use sha2::Digest as _;
        struct Hashing<W> {
            inner: W,
            hash: sha2::Sha256,
            len: u64,
        }
        impl<W: Write> Write for Hashing<W> {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let n = self.inner.write(buf)?;
                self.hash.update(&buf[..n]);
                self.len += n as u64;
                Ok(n)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                self.inner.flush()
            }
        }
        let blobs = self.dir.join("blobs/sha256");
        let tmp = tempfile::NamedTempFile::new_in(&blobs)?;
        let compressed = Hashing {
            inner: std::io::BufWriter::new(tmp.as_file().try_clone()?),
            hash: sha2::Sha256::new(),
            len: 0,
        };
        let mut plain = Hashing {
            inner: GzEncoder::new(compressed, Compression::fast()),
            hash: sha2::Sha256::new(),
            len: 0,
        };
        std::io::copy(tar, &mut plain)?;
        let diff_id: Digest = format!("sha256:{}", hex::encode(plain.hash.finalize()))
            .parse()
            .expect("a sha256 digest");
        let mut compressed = plain.inner.finish()?;
        compressed.flush()?;
        let Hashing { inner, hash, len } = compressed;
        inner.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        let d: Digest = format!("sha256:{}", hex::encode(hash.finalize()))
            .parse()
            .expect("a sha256 digest");
        let size = len;
        tmp.persist(blobs.join(d.encoded())).map_err(|e| e.error)?;
        self.layers.push(serde_json::json!({
            "mediaType": media::LAYER_GZIP, "digest": d.to_string(), "size": size
        }));
        self.diff_ids.push(diff_id.to_string());
        Ok(diff_id)
    }

    /// Writes `config` verbatim (its `rootfs.diff_ids` must already list the
    /// layers added), the manifest and `index.json`; returns the manifest digest.
    pub fn finish_raw(self, config: &[u8], tag: &str) -> std::io::Result<Digest> {
        let (cd, csize) = self.blob(config)?;
        self.manifest(cd, csize, tag)
    }

    fn manifest(self, cd: Digest, csize: u64, tag: &str) -> std::io::Result<Digest> {
        let mut manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::MANIFEST,
            "config": {"mediaType": media::CONFIG, "digest": cd.to_string(), "size": csize},
            "layers": self.layers,
        });
        if !self.annotations.is_empty() {
            manifest["annotations"] = serde_json::Value::Object(self.annotations.clone());
        }
        let mbytes = serde_json::to_vec(&manifest)?;
        let (md, msize) = self.blob(&mbytes)?;
        let mut manifests = Vec::new();
        if self.append {
            let bytes = std::fs::read(self.dir.join("index.json"))?;
            let old: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("index.json: {e}"))
            })?;
            manifests.extend(
                old["manifests"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|m| m["annotations"]["org.opencontainers.image.ref.name"] != tag)
                    .cloned(),
            );
        }
        manifests.push(serde_json::json!({
            "mediaType": media::MANIFEST, "digest": md.to_string(), "size": msize,
            "annotations": {"org.opencontainers.image.ref.name": tag}
        }));
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": manifests,
        });
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec(&index)?)?;
        Ok(md)
    }

    /// Adds a layer blob exactly as another image stores it (the same
    /// bytes, so the same digest): `blob` is read to the end into the
    /// layout and must hash to `layer.digest`. Docker media types become
    /// their OCI equivalents (the bytes do not change).
    pub fn add_existing_layer(
        &mut self,
        layer: &crate::Layer,
        blob: &mut dyn std::io::Read,
    ) -> std::io::Result<()> {
        use sha2::Digest as _;
        let blobs = self.dir.join("blobs/sha256");
        let path = blobs.join(layer.digest.encoded());
        if !path.is_file() {
            let mut tmp = tempfile::NamedTempFile::new_in(&blobs)?;
            let mut hash = sha2::Sha256::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = blob.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hash.update(&buf[..n]);
                tmp.write_all(&buf[..n])?;
            }
            let got = format!("sha256:{}", hex::encode(hash.finalize()));
            if got != layer.digest.to_string() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("layer {} read as {got}", layer.digest),
                ));
            }
            tmp.as_file().sync_all()?;
            tmp.persist(&path).map_err(|e| e.error)?;
        }
        let size = std::fs::metadata(&path)?.len();
        let media_type = match layer.media_type.as_str() {
            "" | "application/vnd.docker.image.rootfs.diff.tar" => {
                "application/vnd.oci.image.layer.v1.tar"
            }
            "application/vnd.docker.image.rootfs.diff.tar.gzip" => media::LAYER_GZIP,
            m => m,
        };
        self.layers.push(serde_json::json!({
            "mediaType": media_type, "digest": layer.digest.to_string(), "size": size
        }));
        self.diff_ids.push(layer.diff_id.to_string());
        Ok(())
    }

    /// Annotations on the layer added last.
    pub fn annotate_layer(&mut self, key: &str, value: &str) {
        if let Some(l) = self.layers.last_mut() {
            l["annotations"][key] = serde_json::Value::from(value);
        }
    }

    /// Adds a layer from uncompressed tar bytes; returns its diffID.
    pub fn add_layer(&mut self, tar: &[u8]) -> std::io::Result<Digest> {
        let diff_id = sha256(tar);
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(tar)?;
        let compressed = gz.finish()?;
        let (d, size) = self.blob(&compressed)?;
        self.layers.push(serde_json::json!({
            "mediaType": media::LAYER_GZIP, "digest": d.to_string(), "size": size
        }));
        self.diff_ids.push(diff_id.to_string());
        Ok(diff_id)
    }

    /// Writes the config (`config` is the image config without `rootfs`:
    /// architecture, os, config.Entrypoint/User...), the manifest and
    /// `index.json` with `tag`; returns the manifest digest.
    pub fn finish(self, mut config: serde_json::Value, tag: &str) -> std::io::Result<Digest> {
        config["rootfs"] = serde_json::json!({"type": "layers", "diff_ids": self.diff_ids});
        let cbytes = serde_json::to_vec(&config)?;
        let (cd, csize) = self.blob(&cbytes)?;
        self.manifest(cd, csize, tag)
    }
}

/// A docker-archive could not be turned into an OCI layout.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// Reading the archive.
    #[error(transparent)]
    Source(#[from] crate::SourceError),
    /// Writing the layout.
    #[error("{}: {source}", path.display())]
    Io {
        /// Layout directory.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A layer is not what the config says.
    #[error("layer {layer}: its content has diffID {actual}, the config claims {claimed}")]
    DiffId {
        /// Layer.
        layer: String,
        /// Claimed.
        claimed: Box<Digest>,
        /// Actual.
        actual: Box<Digest>,
    },
}

/// Turns a `docker save` archive into an OCI layout in `dir` (layers
/// gzip-compressed, the config kept byte for byte), tagged `tag`; returns
/// the manifest digest. Each layer's diffID is checked on the way.
pub fn docker_archive_to_layout(
    archive: &Path,
    dir: &Path,
    tag: &str,
) -> Result<Digest, ConvertError> {
    use crate::Blobs as _;
    let io = |source| ConvertError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let name = format!("docker-archive:{}", archive.display());
    let (image, blobs) = crate::source::DockerArchive::open(archive, &name)?;
    let config = blobs.config_bytes()?;
    let mut w = LayoutWriter::create(dir).map_err(io)?;
    for layer in &image.layers {
        let mut r = blobs.open(layer)?;
        let diff_id = w.add_layer_from(&mut r).map_err(io)?;
        r.finish().map_err(io)?;
        if diff_id != layer.diff_id {
            return Err(ConvertError::DiffId {
                layer: layer.digest.to_string(),
                claimed: Box::new(layer.diff_id.clone()),
                actual: Box::new(diff_id),
            });
        }
    }
    w.finish_raw(&config, tag).map_err(io)
}

/// An OCI image index over per-platform manifests: (digest, size, media
/// type, platform) each.
pub fn index_json(entries: &[(Digest, u64, String, crate::Platform)]) -> Vec<u8> {
    let manifests: Vec<serde_json::Value> = entries
        .iter()
        .map(|(d, size, mt, p)| {
            serde_json::json!({
                "mediaType": mt, "digest": d.to_string(), "size": size, "platform": p
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::INDEX,
        "manifests": manifests,
    }))
    .expect("an index serialises")
}

/// Digest, size and media type of the manifest a layout's `index.json`
/// names for `tag`.
pub fn layout_descriptor(dir: &Path, tag: Option<&str>) -> std::io::Result<(Digest, u64, String)> {
    let d = layout_manifest(dir, tag)?;
    let bytes = std::fs::read(dir.join("blobs").join(d.algorithm()).join(d.encoded()))?;
    let mt = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["mediaType"].as_str().map(str::to_string))
        .unwrap_or_else(|| media::MANIFEST.to_string());
    Ok((d, bytes.len() as u64, mt))
}

/// Copies the image `from` names for `tag` (its manifest, config and layer
/// blobs, byte for byte; an index with every manifest it lists) into the layout `to` under `to_tag`, created when
/// it is not a layout yet; the other tags of `to` stay. Returns the
/// manifest digest (the same as in `from`).
pub fn copy_image(from: &Path, tag: &str, to: &Path, to_tag: &str) -> std::io::Result<Digest> {
    let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
    let (d, size, mt) = layout_descriptor(from, Some(tag))?;
    let blob = |d: &str| -> std::io::Result<(PathBuf, String)> {
        let digest: Digest = d.parse().map_err(|e| bad(format!("{d}: {e}")))?;
        Ok((
            Path::new("blobs")
                .join(digest.algorithm())
                .join(digest.encoded()),
            digest.to_string(),
        ))
    };
    // the manifest (or index and its manifests), configs and layers
    let mut all = Vec::new();
    let mut pending = vec![d.to_string()];
    while let Some(md) = pending.pop() {
        let mbytes = std::fs::read(from.join(blob(&md)?.0))?;
        let m: serde_json::Value =
            serde_json::from_slice(&mbytes).map_err(|e| bad(format!("manifest {md}: {e}")))?;
        all.push(md);
        pending.extend(
            m["manifests"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["digest"].as_str().map(str::to_string)),
        );
        all.extend(m["config"]["digest"].as_str().map(str::to_string));
        all.extend(
            m["layers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["digest"].as_str().map(str::to_string)),
        );
    }
    if !to.join("oci-layout").is_file() {
        std::fs::create_dir_all(to.join("blobs/sha256"))?;
        std::fs::write(to.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    }
    for b in &all {
        let (rel, _) = blob(b)?;
        let dst = to.join(&rel);
        if !dst.is_file() {
            std::fs::create_dir_all(dst.parent().expect("a blob path has a parent"))?;
            let tmp = tempfile::NamedTempFile::new_in(dst.parent().expect("a parent"))?;
            std::fs::copy(from.join(&rel), tmp.path())?;
            tmp.persist(&dst).map_err(|e| e.error)?;
        }
    }
    let mut manifests = Vec::new();
    if let Ok(bytes) = std::fs::read(to.join("index.json")) {
        let old: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("index.json: {e}")))?;
        manifests.extend(
            old["manifests"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| m["annotations"]["org.opencontainers.image.ref.name"] != to_tag)
                .cloned(),
        );
    }
    manifests.push(serde_json::json!({
        "mediaType": mt, "digest": d.to_string(), "size": size,
        "annotations": {"org.opencontainers.image.ref.name": to_tag}
    }));
    let index = serde_json::json!({"schemaVersion": 2, "manifests": manifests});
    let tmp = tempfile::NamedTempFile::new_in(to)?;
    std::fs::write(tmp.path(), serde_json::to_vec(&index)?)?;
    tmp.persist(to.join("index.json")).map_err(|e| e.error)?;
    Ok(d)
}

/// Writes an index over manifests already in the layout `dir` ((digest,
/// size, media type, platform) each) and names it `tag` in `index.json`
/// (the other tags stay); returns its digest.
pub fn tag_index(
    dir: &Path,
    entries: &[(Digest, u64, String, crate::Platform)],
    tag: &str,
) -> std::io::Result<Digest> {
    let bytes = index_json(entries);
    let d = sha256(&bytes);
    std::fs::write(dir.join("blobs/sha256").join(d.encoded()), &bytes)?;
    let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
    let old: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("index.json"))?)
        .map_err(|e| bad(format!("index.json: {e}")))?;
    let mut manifests: Vec<serde_json::Value> = old["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["annotations"]["org.opencontainers.image.ref.name"] != tag)
        .cloned()
        .collect();
    manifests.push(serde_json::json!({
        "mediaType": media::INDEX, "digest": d.to_string(), "size": bytes.len(),
        "annotations": {"org.opencontainers.image.ref.name": tag}
    }));
    let index = serde_json::json!({"schemaVersion": 2, "manifests": manifests});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index)?)?;
    Ok(d)
}

/// The manifest digest `index.json` names for `tag` (or the only one).
pub fn layout_manifest(dir: &Path, tag: Option<&str>) -> std::io::Result<Digest> {
    let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
    let text = std::fs::read(dir.join("index.json"))?;
    let index: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| bad(format!("index.json: {e}")))?;
    let manifests = index["manifests"]
        .as_array()
        .ok_or_else(|| bad("index.json has no manifests".into()))?;
    let pick = manifests
        .iter()
        .find(|m| tag.is_none_or(|t| m["annotations"]["org.opencontainers.image.ref.name"] == t))
        .ok_or_else(|| bad(format!("index.json has no manifest tagged {tag:?}")))?;
    pick["digest"]
        .as_str()
        .unwrap_or("")
        .parse()
        .map_err(|e| bad(format!("index.json: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_layout_reads_back() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("oci");
        let mut w = LayoutWriter::create(&dir).unwrap();
        let tar = tar_of(&[
            Entry::Dir {
                path: "etc".into(),
                mode: 0o755,
            },
            Entry::File {
                path: "etc/os-release".into(),
                mode: 0o644,
                data: b"ID=debian\nVERSION_ID=\"12\"\n".to_vec(),
            },
            Entry::Symlink {
                path: "bin".into(),
                target: "usr/bin".into(),
            },
        ])
        .unwrap();
        let diff = w.add_layer(&tar).unwrap();
        assert_eq!(diff, sha256(&tar));
        let md = w
            .finish(
                serde_json::json!({"architecture": "amd64", "os": "linux", "config": {}}),
                "latest",
            )
            .unwrap();
        assert_eq!(layout_manifest(&dir, Some("latest")).unwrap(), md);
        assert!(layout_manifest(&dir, Some("other")).is_err());
        let src = crate::Source::OciLayout {
            dir: dir.clone(),
            tag: Some("latest".into()),
        };
        let want = crate::Want {
            select: crate::Select::capture(&|p: &str, _| p == "etc/os-release"),
            key: "t",
        };
        let a = crate::analyze(&src, &crate::Options::default(), &want, &|_| {}).unwrap();
        assert_eq!(a.image.manifest_digest.as_ref(), Some(&md));
        assert_eq!(a.image.layers.len(), 1);
    }

    fn docker_archive(layer: &[u8], claimed: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let config = serde_json::json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [claimed]}, "config": {}});
        let cbytes = serde_json::to_vec(&config).unwrap();
        let cname = format!("{}.json", sha256(&cbytes).encoded());
        let manifest = serde_json::json!([{"Config": cname, "RepoTags": ["x:1"], "Layers": ["abc/layer.tar"]}]);
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [
            ("manifest.json", serde_json::to_vec(&manifest).unwrap()),
            (cname.as_str(), cbytes.clone()),
            ("abc/layer.tar", layer.to_vec()),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, data.as_slice()).unwrap();
        }
        let path = d.path().join("save.tar");
        std::fs::write(&path, b.into_inner().unwrap()).unwrap();
        (d, path)
    }

    #[test]
    fn a_docker_save_archive_becomes_a_layout_with_the_same_config() {
        let layer = tar_of(&[Entry::File {
            path: "etc/os-release".into(),
            mode: 0o644,
            data: b"ID=debian\n".to_vec(),
        }])
        .unwrap();
        let (d, archive) = docker_archive(&layer, &sha256(&layer).to_string());
        let dir = d.path().join("oci");
        let md = docker_archive_to_layout(&archive, &dir, "latest").unwrap();
        assert_eq!(layout_manifest(&dir, Some("latest")).unwrap(), md);
        let src = crate::Source::OciLayout {
            dir: dir.clone(),
            tag: Some("latest".into()),
        };
        let want = crate::Want {
            select: crate::Select::capture(&|p: &str, _| p == "etc/os-release"),
            key: "t",
        };
        let a = crate::analyze(&src, &crate::Options::default(), &want, &|_| {}).unwrap();
        assert_eq!(a.tree.read("etc/os-release"), Some(&b"ID=debian\n"[..]));
        assert_eq!(a.image.layers[0].diff_id, sha256(&layer));
        // The config is kept byte for byte: the image id does not change.
        let (_, archive_image) = crate::source::DockerArchive::open(&archive, "a").unwrap();
        assert_eq!(
            a.image.config_digest,
            Some(sha256(&archive_image.config_bytes().unwrap()))
        );
        // A layer that is not what the config claims is refused.
        let (d2, lying) = docker_archive(&layer, &format!("sha256:{}", "0".repeat(64)));
        let e = docker_archive_to_layout(&lying, &d2.path().join("oci"), "latest").unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("sha256:{}", "0".repeat(64))),
            "{e}"
        );
    }
}
