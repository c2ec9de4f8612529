//! Opens any [`Source`], reads its layers in parallel (or serves them from the
//! per-layer cache, keyed by blob digest + diffID + the caller's cataloger
//! version, each verified against the content before an entry is written),
//! and builds the squashed [`FileTree`].
//!
//! The cache needs no lock: entries are content-addressed and written by
//! atomic rename, so any number of processes can share one directory.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::image::{Image, ImageConfig};
use crate::layer::{
    Compression, DiffIdHash, Entry, EntryKind, LayerError, LayerRecord, Limits, Note, Select,
    read_layer_as,
};
use crate::source::{Blobs, DockerArchive, OciLayout, RegistryOptions, SourceError};
use crate::tree::FileTree;
use crate::{Platform, Source};

/// How to read images.
#[derive(Debug, Clone)]
pub struct Options {
    /// Platform to pick from multi-arch images.
    pub platform: Platform,
    /// Registry access.
    pub registry: RegistryOptions,
    /// Per-layer cache directory (`None`: no cache).
    pub cache_dir: Option<PathBuf>,
    /// Limits for untrusted layers.
    pub limits: Limits,
    /// Layers read at once.
    pub jobs: usize,
    /// Hash every compressed layer's uncompressed stream and check it against
    /// the config's diffID (on by default). The blob digest, always checked,
    /// authenticates the content (as the manifest and any signature over it
    /// do); the diffID check proves the config's claims too, at the cost of
    /// a second SHA-256 pass (about a quarter of a cold read). Off, a plain
    /// tar's diffID is still checked (it is its blob digest) and the layer
    /// cache keeps such records apart from checked ones.
    pub verify_diff_ids: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            platform: Platform::host(),
            registry: RegistryOptions::default(),
            cache_dir: None,
            limits: Limits::default(),
            jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
            verify_diff_ids: true,
        }
    }
}

/// Which files the caller needs (whole, or summarised by an extractor), and a
/// key that changes whenever that selection or the analysis changes (part of
/// the cache key).
pub struct Want<'a> {
    /// What to keep.
    pub select: Select<'a>,
    /// Cache key part, e.g. `inventory-v1`.
    pub key: &'a str,
}

/// Progress events, for a progress bar.
#[derive(Debug, Clone)]
pub enum Progress {
    /// The image was resolved.
    Resolved {
        /// Number of layers.
        layers: usize,
        /// Total blob bytes.
        bytes: u64,
    },
    /// A layer finished.
    LayerDone {
        /// Blob bytes.
        bytes: u64,
        /// Served from the cache.
        cached: bool,
    },
}

/// An analysed image.
#[derive(Debug)]
pub struct Analysis {
    /// The resolved image.
    pub image: Image,
    /// Per-layer records, base first.
    pub layers: Vec<LayerRecord>,
    /// The squashed view.
    pub tree: FileTree,
    /// How many layers came from the cache.
    pub cached_layers: usize,
}

/// Errors of the analysis.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// Opening the source.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Reading a layer.
    #[error(transparent)]
    Layer(#[from] LayerError),
}

/// A layer's record and whether it came from the cache.
type LayerResult = Result<(LayerRecord, bool), AnalyzeError>;

/// A cache entry is named by the blob digest *and* the diffID: it is
/// written only after both were verified against the content (without
/// `verify_diff_ids`, only the blob digest, under a key of its own), so an
/// image whose config lies about a diffID can never be served another
/// layer's result (it misses, is read, and fails the diffID check).
fn cache_path(dir: &Path, layer: &crate::Layer, key: &str) -> PathBuf {
    dir.join("layers").join(format!(
        "{}-{}-{}-{}.json",
        layer.digest.algorithm(),
        layer.digest.encoded(),
        layer.diff_id.encoded(),
        key
    ))
}

/// Writes a cache entry as JSON (best effort: a cache that cannot be written
/// only costs the next run time): through a temp file beside it and an
/// atomic rename, so readers never see half an entry; no fsync (a lost
/// entry is a miss).
pub fn store_json<T: serde::Serialize>(path: &Path, value: &T) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let Ok(tmp) = tempfile::NamedTempFile::new_in(dir) else {
        return;
    };
    // buffered: serde writes a record in many small pieces
    let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp);
    if serde_json::to_writer(&mut w, value).is_ok()
        && let Ok(tmp) = w.into_inner()
    {
        let _ = tmp.persist(path);
    }
}

/// Whether layer `i` is bigger than all the others together: it sets the
/// wall time of a cold read, so its hashes run on a spare core (with
/// layers of like sizes every core is already busy inflating one).
fn dominant(image: &Image, i: usize) -> bool {
    let total: u64 = image.layers.iter().map(|l| l.size).sum();
    let own = image.layers[i].size;
    own > total - own
}

/// A source opened: its image resolved (manifest and config read, no layer
/// yet), or a root filesystem directory.
#[allow(clippy::large_enum_variant)] // one per command, moved once
pub enum Opened {
    /// An image and where its blobs are.
    Image {
        /// The resolved image.
        image: Image,
        /// Its blobs.
        blobs: Box<dyn Blobs>,
    },
    /// A directory, read as one layer.
    Dir {
        /// The directory.
        path: PathBuf,
        /// The source's name.
        name: String,
    },
}

impl Opened {
    /// The resolved image (none for a directory).
    pub fn image(&self) -> Option<&Image> {
        match self {
            Opened::Image { image, .. } => Some(image),
            Opened::Dir { .. } => None,
        }
    }
}

/// Opens a source: resolves the image (index, manifest, config) without
/// reading its layers.
pub fn open(source: &Source, opts: &Options) -> Result<Opened, AnalyzeError> {
    let name = source.to_string();
    let (image, blobs): (Image, Box<dyn Blobs>) = match source {
        Source::OciLayout { dir, tag } => {
            let (i, b) = OciLayout::open(dir, tag.as_deref(), &opts.platform, &name)?;
            (i, Box::new(b))
        }
        Source::DockerArchive { file } => {
            let (i, b) = DockerArchive::open(file, &name)?;
            (i, Box::new(b))
        }
        #[cfg(feature = "registry")]
        Source::Registry { reference } => {
            let (i, b) = crate::registry::open(reference, &opts.platform, &opts.registry, &name)?;
            (i, Box::new(b))
        }
        #[cfg(not(feature = "registry"))]
        Source::Registry { .. } => return Err(SourceError::NoRegistrySupport(name).into()),
        Source::Dir { path } => {
            return Ok(Opened::Dir {
                path: path.clone(),
                name,
            });
        }
    };
    Ok(Opened::Image { image, blobs })
}

/// The platforms of a multi-platform source (an index); `None` for one
/// image, a docker archive or a directory.
pub fn platforms(source: &Source, opts: &Options) -> Result<Option<Vec<Platform>>, AnalyzeError> {
    let name = source.to_string();
    Ok(match source {
        Source::OciLayout { dir, tag } => OciLayout::platforms(dir, tag.as_deref(), &name)?,
        #[cfg(feature = "registry")]
        Source::Registry { reference } => {
            crate::registry::platforms(reference, &opts.registry, &name)?
        }
        _ => {
            let _ = opts;
            None
        }
    })
}

/// Opens a source and analyses it.
pub fn analyze(
    source: &Source,
    opts: &Options,
    want: &Want<'_>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Analysis, AnalyzeError> {
    analyze_opened(open(source, opts)?, opts, want, progress)
}

/// Analyses an opened source: reads its layers in parallel (or from the
/// cache) and builds the squashed tree.
pub fn analyze_opened(
    opened: Opened,
    opts: &Options,
    want: &Want<'_>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Analysis, AnalyzeError> {
    let (image, blobs) = match opened {
        Opened::Image { image, blobs } => (image, blobs),
        Opened::Dir { path, name } => return analyze_dir(&path, &name, want, &opts.limits),
    };
    progress(Progress::Resolved {
        layers: image.layers.len(),
        bytes: image.layers.iter().map(|l| l.size).sum(),
    });
    let n = image.layers.len();
    let results: Vec<Mutex<Option<LayerResult>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.clamp(1, n.max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let layer = &image.layers[i];
                    // records read without the diffID check are kept apart:
                    // a checked run is never served an unchecked record
                    let cached = opts.cache_dir.as_ref().map(|d| {
                        if opts.verify_diff_ids {
                            cache_path(d, layer, want.key)
                        } else {
                            cache_path(d, layer, &format!("{}-unchecked", want.key))
                        }
                    });
                    let hit = cached
                        .as_ref()
                        .and_then(|p| std::fs::read(p).ok())
                        .and_then(|b| serde_json::from_slice::<LayerRecord>(&b).ok());
                    let r = match hit {
                        Some(rec) => Ok((rec, true)),
                        None => read_one(blobs.as_ref(), layer, want, opts, dominant(&image, i))
                            .inspect(|rec| {
                                if let Some(p) = &cached {
                                    store_json(p, rec);
                                }
                            })
                            .map(|rec| (rec, false)),
                    };
                    if let Ok((_, cached)) = &r {
                        progress(Progress::LayerDone {
                            bytes: layer.size,
                            cached: *cached,
                        });
                    }
                    *results[i].lock().expect("result slot") = Some(r);
                }
            });
        }
    });
    let mut layers = Vec::with_capacity(n);
    let mut cached_layers = 0;
    for slot in results {
        let (rec, cached) = slot
            .into_inner()
            .expect("result slot")
            .expect("every layer was read")?;
        cached_layers += usize::from(cached);
        layers.push(rec);
    }
    let tree = FileTree::from_layers(&layers);
    Ok(Analysis {
        image,
        layers,
        tree,
        cached_layers,
    })
}

fn read_one(
    blobs: &dyn Blobs,
    layer: &crate::Layer,
    want: &Want<'_>,
    opts: &Options,
    dominant: bool,
) -> Result<LayerRecord, AnalyzeError> {
    let (limits, verify_diff_id) = (&opts.limits, opts.verify_diff_ids);
    let name = layer.digest.to_string();
    let mut reader = blobs.open(layer)?;
    if dominant {
        reader = reader.hash_apart();
    }
    let hash = match (verify_diff_id, dominant) {
        (false, _) => DiffIdHash::Skip,
        (true, false) => DiffIdHash::Here,
        (true, true) => DiffIdHash::Apart,
    };
    let read = read_layer_as(&mut reader, &name, &want.select, limits, hash)?;
    reader.finish().map_err(|source| LayerError::Io {
        layer: name.clone(),
        source,
    })?;
    // The blob digest, just verified, authenticates the content. The diffID
    // is the config's claim about the same bytes uncompressed: hashed when
    // asked, and free to check for a plain tar (its blob digest is its diffID).
    let actual = match (read.diff_id, read.compression) {
        (Some(d), _) => Some(d),
        (None, Compression::None) if layer.digest.algorithm() == "sha256" => {
            Some(layer.digest.clone())
        }
        (None, _) => None,
    };
    if let Some(actual) = actual
        && actual != layer.diff_id
    {
        return Err(LayerError::DiffId {
            layer: name,
            claimed: Box::new(layer.diff_id.clone()),
            actual: Box::new(actual),
        }
        .into());
    }
    Ok(read.record)
}

/// A root filesystem directory as a single layer. Symlinks are recorded,
/// never followed, so nothing outside the directory is read.
fn analyze_dir(
    root: &Path,
    name: &str,
    want: &Want<'_>,
    limits: &Limits,
) -> Result<Analysis, AnalyzeError> {
    let io_at = |p: &Path| {
        let p = p.display().to_string();
        move |source| SourceError::Io {
            path: p.clone(),
            source,
        }
    };
    let meta = std::fs::symlink_metadata(root).map_err(io_at(root))?;
    if !meta.is_dir() {
        return Err(SourceError::Missing(format!("{name}: not a directory")).into());
    }
    let mut rec = LayerRecord::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd.filter_map(Result::ok).collect(),
            Err(e) => {
                rec.notes.push(Note {
                    path: dir.display().to_string(),
                    reason: format!("unreadable: {e}"),
                });
                continue;
            }
        };
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            use std::os::unix::fs::PermissionsExt;
            let mode = m.permissions().mode();
            let ft = m.file_type();
            let (kind, content) = if ft.is_symlink() {
                let target = std::fs::read_link(&p)
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (EntryKind::Symlink { target }, None)
            } else if ft.is_dir() {
                stack.push(p.clone());
                (EntryKind::Dir, None)
            } else if ft.is_file() {
                let content = if (want.select.capture)(&rel, m.len()) {
                    use std::io::Read;
                    let mut v = Vec::new();
                    std::fs::File::open(&p)
                        .and_then(|f| f.take(limits.max_file_bytes).read_to_end(&mut v))
                        .map_err(io_at(&p))?;
                    Some(v)
                } else {
                    None
                };
                (EntryKind::File, content)
            } else {
                (EntryKind::Other, None)
            };
            let mut extract = None;
            if kind == EntryKind::File
                && content.is_none()
                && m.len() <= limits.max_file_bytes
                && (want.select.probe)(&rel, mode, m.len())
            {
                let bytes = std::fs::read(&p).map_err(io_at(&p))?;
                extract = (want.select.extract)(&rel, &bytes);
            }
            rec.entries.push(Entry {
                path: rel,
                kind,
                size: m.len(),
                mode,
                content,
                extract,
            });
        }
    }
    let tree = FileTree::from_layers([&rec]);
    let image = Image {
        source: name.to_string(),
        reference: None,
        manifest_digest: None,
        index_digest: None,
        platform: Platform::host(),
        config_digest: None,
        config: ImageConfig::default(),
        layers: Vec::new(),
        annotations: Default::default(),
    };
    Ok(Analysis {
        image,
        layers: vec![rec],
        tree,
        cached_layers: 0,
    })
}
