//! Streaming layer reading: gzip, zstd or plain tar (sniffed from the bytes),
//! every entry recorded with its normalised path, and the contents of the
//! files a caller asks for captured (capped per file and per layer; a path
//! written twice keeps only its last content). Nothing is ever written to
//! disk, so hostile archives (`../` paths, links out of the root, device
//! nodes) cannot touch the host; they are recorded as notes and skipped.
//! The SHA-256 of the uncompressed stream (the diffID) is computed as it
//! is read, so callers can check it against what the image config claims.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::Digest;
use crate::verify::{Hasher, Limited};

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EntryKind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink {
        /// Target as stored.
        target: String,
    },
    /// Hard link to another path in the image.
    Hardlink {
        /// Target path, normalised.
        target: String,
    },
    /// `.wh.NAME`: deletes NAME from lower layers.
    Whiteout,
    /// `.wh..wh..opq`: hides the directory's lower-layer contents.
    Opaque,
    /// Device, FIFO or other.
    Other,
}

/// One tar entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Normalised path without a leading `/` (`usr/bin/env`); for whiteouts,
    /// the path they delete; for opaque markers, the directory.
    pub path: String,
    /// Kind.
    #[serde(flatten)]
    pub kind: EntryKind,
    /// Size in bytes.
    pub size: u64,
    /// Mode bits.
    pub mode: u32,
    /// Captured contents, when the caller asked for them.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_bytes")]
    pub content: Option<Vec<u8>>,
    /// A small summary an extractor made of the file (e.g. a Go binary's build
    /// info), kept instead of the file itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<String>,
}

/// Looks at files the caller does not capture whole (executables, archives)
/// and returns a small summary worth keeping, or `None`.
pub type Extractor<'a> = dyn Fn(&str, &[u8]) -> Option<String> + Sync + 'a;

/// What to keep from a layer.
#[derive(Clone, Copy)]
pub struct Select<'a> {
    /// `(path, size) -> capture the whole file?`
    pub capture: &'a (dyn Fn(&str, u64) -> bool + Sync),
    /// `(path, mode, size) -> read the file and hand it to the extractor?`
    pub probe: &'a (dyn Fn(&str, u32, u64) -> bool + Sync),
    /// The extractor.
    pub extract: &'a Extractor<'a>,
}

fn never(_: &str, _: u32, _: u64) -> bool {
    false
}

fn nothing(_: &str, _: &[u8]) -> Option<String> {
    None
}

impl<'a> Select<'a> {
    /// Captures whole files only; probes nothing.
    pub fn capture(capture: &'a (dyn Fn(&str, u64) -> bool + Sync)) -> Self {
        Select {
            capture,
            probe: &never,
            extract: &nothing,
        }
    }
}

/// Captured contents in the cache: text as a JSON string (most captured files
/// are text), anything else as hex. Halves cache size and load time.
mod opt_bytes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    enum Enc {
        #[serde(rename = "t")]
        Text(String),
        #[serde(rename = "x")]
        Hex(String),
    }

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => match std::str::from_utf8(b) {
                Ok(t) => s.serialize_some(&Enc::Text(t.to_string())),
                Err(_) => s.serialize_some(&Enc::Hex(hex::encode(b))),
            },
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<Enc>::deserialize(d)? {
            Some(Enc::Text(t)) => Ok(Some(t.into_bytes())),
            Some(Enc::Hex(h)) => hex::decode(h).map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

/// A skipped or suspicious entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Path as stored in the archive.
    pub path: String,
    /// What was wrong.
    pub reason: String,
}

/// Everything read from one layer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// Entries in archive order.
    pub entries: Vec<Entry>,
    /// Skipped entries.
    pub notes: Vec<Note>,
}

/// Limits for reading untrusted layers.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Maximum decompressed bytes per layer.
    pub max_layer_bytes: u64,
    /// Maximum bytes captured for one file.
    pub max_file_bytes: u64,
    /// Maximum bytes captured from one layer, all files together.
    pub max_captured_bytes: u64,
    /// Maximum entries per layer.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_layer_bytes: 64 << 30,
            max_file_bytes: 128 << 20,
            max_captured_bytes: 192 << 20,
            max_entries: 2_000_000,
        }
    }
}

/// Why a layer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// Reading or decompressing failed (truncated, corrupt, bomb, digest mismatch).
    #[error("layer {layer}: {source}")]
    Io {
        /// Layer digest or name.
        layer: String,
        /// Why.
        source: io::Error,
    },
    /// Too many entries.
    #[error("layer {0}: more than {1} entries")]
    TooManyEntries(String, usize),
    /// The uncompressed content is not what the image config says.
    #[error(
        "layer {layer}: its uncompressed content has diffID {actual}, but the image config claims {claimed}"
    )]
    DiffId {
        /// Layer (blob) digest.
        layer: String,
        /// What the config says.
        claimed: Box<Digest>,
        /// What the content hashes to.
        actual: Box<Digest>,
    },
}

/// Hashes what passes through (the diffID of a decompressed layer), when
/// asked to.
struct Hashing<R> {
    inner: R,
    hash: Option<Hasher>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hash {
            h.update(&buf[..n])?;
        }
        Ok(n)
    }
}

/// Whether and where [`read_layer_as`] hashes the uncompressed stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffIdHash {
    /// Not at all.
    Skip,
    /// On the reading thread.
    Here,
    /// On a helper thread (for a layer that sets the wall time).
    Apart,
}

/// Compression of a blob, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip (`1f 8b`).
    Gzip,
    /// zstd (`28 b5 2f fd`).
    Zstd,
    /// Plain tar.
    None,
}

/// Sniffs compression from magic bytes.
pub fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Normalises a tar path: strips `./` and `/`, resolves `.`; `None` when it
/// climbs above the root (`..`).
pub fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// Reads one layer: `want` says which files to capture whole and which to
/// hand to the extractor. Returns the record and the diffID (SHA-256 of the
/// uncompressed stream). The caller verifies the blob digest on the reader
/// it passes (this drains the reader to its end).
pub fn read_layer<R: Read>(
    reader: R,
    name: &str,
    want: &Select<'_>,
    limits: &Limits,
) -> Result<(LayerRecord, Digest), LayerError> {
    let read = read_layer_as(reader, name, want, limits, DiffIdHash::Here)?;
    let diff_id = read.diff_id.expect("hashed when asked");
    Ok((read.record, diff_id))
}

/// What [`read_layer_as`] read.
#[derive(Debug)]
pub struct LayerRead {
    /// The layer's record.
    pub record: LayerRecord,
    /// How the blob was compressed.
    pub compression: Compression,
    /// SHA-256 of the uncompressed stream, when it was asked for.
    pub diff_id: Option<Digest>,
}

/// [`read_layer`], with the diffID hash (a SHA-256 pass over the whole
/// uncompressed stream, about a quarter of a cold read) as `diff_id` says.
pub fn read_layer_as<R: Read>(
    reader: R,
    name: &str,
    want: &Select<'_>,
    limits: &Limits,
    diff_id: DiffIdHash,
) -> Result<LayerRead, LayerError> {
    let io_err = |source: io::Error| LayerError::Io {
        layer: name.to_string(),
        source,
    };
    let mut buf = BufReader::with_capacity(256 << 10, reader);
    let head = buf.fill_buf().map_err(io_err)?.to_vec();
    let compression = sniff(&head);
    let decoded: Box<dyn Read + '_> = match compression {
        Compression::Gzip => Box::new(gunzip::Gunzip::new(&mut buf)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(&mut buf).map_err(io_err)?)
        }
        Compression::None => Box::new(&mut buf),
    };
    // ISA-L inflates fastest into large buffers; tar reads 512-byte headers
    let decoded = BufReader::with_capacity(256 << 10, decoded);
    let hashed = Hashing {
        inner: Limited::new(decoded, limits.max_layer_bytes),
        hash: match diff_id {
            DiffIdHash::Skip => None,
            DiffIdHash::Here => Some(Hasher::Here(Sha256::new())),
            DiffIdHash::Apart => Some(Hasher::apart()),
        },
    };
    let (record, hash) = walk(hashed, name, want, limits)?;
    // drain what the tar reader left (padding, trailing blocks) so callers can verify the digest
    io::copy(&mut buf, &mut io::sink()).map_err(io_err)?;
    let diff_id = match hash {
        Some(h) => Some(
            format!("sha256:{}", hex::encode(h.finalize().map_err(io_err)?))
                .parse()
                .expect("a sha256 digest"),
        ),
        None => None,
    };
    Ok(LayerRead {
        record,
        compression,
        diff_id,
    })
}

fn walk<R: Read>(
    reader: Hashing<R>,
    name: &str,
    want: &Select<'_>,
    limits: &Limits,
) -> Result<(LayerRecord, Option<Hasher>), LayerError> {
    let io_err = |source: io::Error| LayerError::Io {
        layer: name.to_string(),
        source,
    };
    let mut archive = tar::Archive::new(reader);
    let mut rec = LayerRecord::default();
    // Captured bytes so far, and which entry holds each captured path: a
    // path written again drops its earlier content (tar semantics: the last
    // one wins), so repeating an entry cannot multiply memory.
    let mut captured: u64 = 0;
    let mut holder: HashMap<String, usize> = HashMap::new();
    let mut over_budget = false;
    let mut entries = archive.entries().map_err(io_err)?;
    for entry in entries.by_ref() {
        let mut entry = entry.map_err(io_err)?;
        if rec.entries.len() >= limits.max_entries {
            return Err(LayerError::TooManyEntries(
                name.to_string(),
                limits.max_entries,
            ));
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(path) = normalize(&raw) else {
            rec.notes.push(Note {
                path: raw,
                reason: "path climbs above the image root (..); skipped".into(),
            });
            continue;
        };
        let header = entry.header();
        let size = header.size().unwrap_or(0);
        let mode = header.mode().unwrap_or(0);
        let file_name = path.rsplit('/').next().unwrap_or("");
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        let kind = if file_name == ".wh..wh..opq" {
            rec.entries.push(Entry {
                path: dir.to_string(),
                kind: EntryKind::Opaque,
                size: 0,
                mode,
                content: None,
                extract: None,
            });
            continue;
        } else if let Some(victim) = file_name.strip_prefix(".wh.") {
            let p = if dir.is_empty() {
                victim.to_string()
            } else {
                format!("{dir}/{victim}")
            };
            rec.entries.push(Entry {
                path: p,
                kind: EntryKind::Whiteout,
                size: 0,
                mode,
                content: None,
                extract: None,
            });
            continue;
        } else {
            match header.entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
                tar::EntryType::Directory => EntryKind::Dir,
                tar::EntryType::Symlink => {
                    let target = entry
                        .link_name_bytes()
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    EntryKind::Symlink { target }
                }
                tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    match normalize(&target) {
                        Some(t) => EntryKind::Hardlink { target: t },
                        None => {
                            rec.notes.push(Note {
                                path: raw,
                                reason: format!(
                                    "hard link to `{target}` outside the image root; skipped"
                                ),
                            });
                            continue;
                        }
                    }
                }
                // device nodes and FIFOs are recorded as `Other`; nothing is ever created on the host
                tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                    EntryKind::Other
                }
                tar::EntryType::XGlobalHeader
                | tar::EntryType::XHeader
                | tar::EntryType::GNULongName
                | tar::EntryType::GNULongLink => continue,
                _ => EntryKind::Other,
            }
        };
        let mut extract = None;
        if let Some(i) = holder.remove(&path)
            && let Some(old) = rec.entries[i].content.take()
        {
            captured -= old.len() as u64;
        }
        let content = if kind == EntryKind::File && (want.capture)(&path, size) {
            let take = size.min(limits.max_file_bytes);
            if over_budget || captured + take > limits.max_captured_bytes {
                if !over_budget {
                    over_budget = true;
                    rec.notes.push(Note {
                        path: raw.clone(),
                        reason: format!(
                            "capture limit exceeded: more than {} bytes of files to analyse in one layer; this file and later ones are not analysed",
                            limits.max_captured_bytes
                        ),
                    });
                }
                None
            } else {
                let mut v = Vec::with_capacity(take.min(1 << 20) as usize);
                (&mut entry)
                    .take(take)
                    .read_to_end(&mut v)
                    .map_err(io_err)?;
                if size > limits.max_file_bytes {
                    rec.notes.push(Note {
                        path: raw.clone(),
                        reason: format!(
                            "capture limit exceeded: file larger than {} bytes; only its first {} bytes are analysed",
                            limits.max_file_bytes, limits.max_file_bytes
                        ),
                    });
                }
                captured += v.len() as u64;
                holder.insert(path.clone(), rec.entries.len());
                Some(v)
            }
        } else {
            if kind == EntryKind::File
                && size <= limits.max_file_bytes
                && (want.probe)(&path, mode, size)
            {
                let mut v = Vec::with_capacity(size as usize);
                entry.read_to_end(&mut v).map_err(io_err)?;
                extract = (want.extract)(&path, &v);
            }
            None
        };
        rec.entries.push(Entry {
            path,
            kind,
            size,
            mode,
            content,
            extract,
        });
    }
    // read the decompressed stream to its end (tar stops at the end-of-archive blocks)
    let mut inner = archive.into_inner();
    io::copy(&mut inner, &mut io::sink()).map_err(io_err)?;
    Ok((rec, inner.hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (p, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // set_path refuses `..`; write the raw name for hostile cases
            let name = h.as_old_mut().name.as_mut();
            name[..p.len()].copy_from_slice(p.as_bytes());
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn cache_encoding_round_trips_text_and_binary() {
        let rec = LayerRecord {
            entries: vec![
                Entry {
                    path: "a".into(),
                    kind: EntryKind::File,
                    size: 2,
                    mode: 0,
                    content: Some(b"hi".to_vec()),
                    extract: None,
                },
                Entry {
                    path: "b".into(),
                    kind: EntryKind::File,
                    size: 2,
                    mode: 0,
                    content: Some(vec![0xff, 0x00]),
                    extract: None,
                },
                Entry {
                    path: "c".into(),
                    kind: EntryKind::Dir,
                    size: 0,
                    mode: 0,
                    content: None,
                    extract: None,
                },
            ],
            notes: vec![],
        };
        let json = serde_json::to_string(&rec).unwrap();
        assert!(
            json.contains(r#""t":"hi""#) && json.contains(r#""x":"ff00""#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<LayerRecord>(&json).unwrap(), rec);
    }

    #[test]
    fn normalizes_and_refuses_escapes() {
        assert_eq!(
            normalize("./etc//os-release").as_deref(),
            Some("etc/os-release")
        );
        assert_eq!(normalize("/usr/./bin").as_deref(), Some("usr/bin"));
        assert_eq!(normalize("a/../../etc/passwd"), None);
    }

    #[test]
    fn whiteouts_and_capture() {
        let t = tar_of(&[
            ("etc/.wh.motd", b""),
            ("var/lib/.wh..wh..opq", b""),
            ("etc/os-release", b"ID=debian\n"),
            ("bin/sh", b"ELF"),
        ]);
        let rec = read_layer(
            &t[..],
            "l",
            &Select::capture(&|p, _| p == "etc/os-release"),
            &Limits::default(),
        )
        .unwrap()
        .0;
        assert_eq!(rec.entries[0].kind, EntryKind::Whiteout);
        assert_eq!(rec.entries[0].path, "etc/motd");
        assert_eq!(
            (rec.entries[1].kind.clone(), rec.entries[1].path.as_str()),
            (EntryKind::Opaque, "var/lib")
        );
        assert_eq!(rec.entries[2].content.as_deref(), Some(&b"ID=debian\n"[..]));
        assert_eq!(rec.entries[3].content, None);
    }

    #[test]
    fn hostile_path_is_skipped_with_a_note() {
        let t = tar_of(&[("../../etc/evil", b"x"), ("ok", b"y")]);
        let rec = read_layer(
            &t[..],
            "l",
            &Select::capture(&|_, _| true),
            &Limits::default(),
        )
        .unwrap()
        .0;
        assert_eq!(rec.entries.len(), 1);
        assert!(rec.notes[0].reason.contains("above the image root"));
    }

    #[test]
    fn gzip_and_zstd_and_bomb_and_truncation() {
        let t = tar_of(&[("a", &[7u8; 5000][..])]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &t).unwrap();
        let gz = gz.finish().unwrap();
        let rec = read_layer(
            &gz[..],
            "l",
            &Select::capture(&|_, _| true),
            &Limits::default(),
        )
        .unwrap()
        .0;
        assert_eq!(rec.entries[0].content.as_ref().unwrap().len(), 5000);
        let zs = zstd::encode_all(&t[..], 3).unwrap();
        let rec = read_layer(
            &zs[..],
            "l",
            &Select::capture(&|_, _| false),
            &Limits::default(),
        )
        .unwrap()
        .0;
        assert_eq!(rec.entries[0].size, 5000);
        // bomb: limit decompressed bytes
        let e = read_layer(
            &gz[..],
            "l",
            &Select::capture(&|_, _| false),
            &Limits {
                max_layer_bytes: 1024,
                ..Limits::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("limit"), "{e}");
        // truncated gzip
        let e = read_layer(
            &gz[..gz.len() / 2],
            "l",
            &Select::capture(&|_, _| true),
            &Limits::default(),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("layer l:"), "{e}");
    }
}
