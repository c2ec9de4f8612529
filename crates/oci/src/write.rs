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
        })
    }

    /// Stores a blob; returns its digest and size.
    pub fn blob(&self, bytes: &[u8]) -> std::io::Result<(Digest, u64)> {
        let d = sha256(bytes);
        std::fs::write(self.dir.join("blobs/sha256").join(d.encoded()), bytes)?;
        Ok((d, bytes.len() as u64))
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
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::MANIFEST,
            "config": {"mediaType": media::CONFIG, "digest": cd.to_string(), "size": csize},
            "layers": self.layers,
        });
        let mbytes = serde_json::to_vec(&manifest)?;
        let (md, msize) = self.blob(&mbytes)?;
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": media::MANIFEST, "digest": md.to_string(), "size": msize,
                "annotations": {"org.opencontainers.image.ref.name": tag}
            }]
        });
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec(&index)?)?;
        Ok(md)
    }
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
}
