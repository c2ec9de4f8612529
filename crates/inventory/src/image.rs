//! The one way an image source becomes an inventory: open it (resolved,
//! verified), try the image-level cache, otherwise read the layers (each
//! from the layer cache or streamed and checked) and run the catalogers,
//! keep the result for next time, and hand back what reading noted. Every
//! command and run step that inventories an image comes through here, and
//! so do SBOM files given where an image could be ([`load`]).

use std::path::Path;

use crate::Inventory;

/// An image inventoried.
#[derive(Debug)]
pub struct Inventoried {
    /// The resolved image.
    pub image: oci::Image,
    /// What reading the layers noted (skipped entries, capture limits).
    pub layer_notes: Vec<oci::layer::Note>,
    /// The inventory.
    pub inventory: Inventory,
    /// Bytes of the layers' files, all layers together (what the image
    /// takes unpacked, before one layer hides another's files); unknown
    /// for a cache entry written before this was kept.
    pub unpacked_bytes: Option<u64>,
    /// It came whole from the image-level cache (no layer was read).
    pub cached: bool,
}

/// Inventories `source`. With `opts.cache_dir` and diffIDs verified, the
/// image-level cache is read and written (only checked reads are kept).
pub fn inventory(
    source: &oci::Source,
    opts: &oci::Options,
    progress: &(dyn Fn(oci::Progress) + Sync),
) -> Result<Inventoried, oci::AnalyzeError> {
    let opened = oci::open(source, opts)?;
    let cache_dir = opts.cache_dir.as_ref().filter(|_| opts.verify_diff_ids);
    if let (Some(dir), Some(img)) = (cache_dir, opened.image())
        && let Some(hit) = crate::cache::load(dir, img)
        && let oci::Opened::Image { image, .. } = opened
    {
        return Ok(Inventoried {
            image,
            layer_notes: hit.layer_notes,
            inventory: hit.inventory,
            unpacked_bytes: hit.unpacked_bytes,
            cached: true,
        });
    }
    let is_image = opened.image().is_some();
    let want = oci::Want {
        select: crate::select(),
        key: crate::CATALOGER_VERSION,
    };
    let analysis = oci::analyze_opened(opened, opts, &want, progress)?;
    let inventory = crate::catalog(&analysis);
    let oci::Analysis { image, layers, .. } = analysis;
    let unpacked_bytes = layers
        .iter()
        .flat_map(|r| &r.entries)
        .filter(|e| e.kind == oci::layer::EntryKind::File)
        .map(|e| e.size)
        .sum();
    let layer_notes: Vec<oci::layer::Note> = layers.into_iter().flat_map(|r| r.notes).collect();
    if let (Some(dir), true) = (cache_dir, is_image) {
        crate::cache::store(dir, &image, &inventory, layer_notes.clone(), unpacked_bytes);
    }
    Ok(Inventoried {
        image,
        layer_notes,
        inventory,
        unpacked_bytes: Some(unpacked_bytes),
        cached: false,
    })
}

/// What a source given on the command line holds: an image, or an SBOM.
#[derive(Debug)]
pub struct Loaded {
    /// How reports name it (the image reference, or the SBOM's subject).
    pub name: String,
    /// Its manifest digest, when known.
    pub digest: Option<String>,
    /// The inventory.
    pub inventory: Inventory,
    /// The image, when it was one (an SBOM file has none).
    pub image: Option<oci::Image>,
    /// What reading the layers noted.
    pub layer_notes: Vec<oci::layer::Note>,
    /// Bytes of the layers' files (an image read now or cached since this
    /// was kept; never for an SBOM).
    pub unpacked_bytes: Option<u64>,
}

/// Why a source could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not an image source.
    #[error("image source `{source_text}`: {message}")]
    Source {
        /// As given.
        source_text: String,
        /// Why.
        message: String,
    },
    /// The SBOM file.
    #[error("SBOM {path}: {source}")]
    Sbom {
        /// The file.
        path: String,
        /// Why.
        source: crate::sbom_in::SbomReadError,
    },
    /// Reading the file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Reading the image.
    #[error(transparent)]
    Analyze(#[from] oci::AnalyzeError),
}

/// Loads `source`: an existing file that looks like a CycloneDX or SPDX
/// JSON SBOM is read as one; anything else is an image source
/// (`oci:DIR[:TAG]`, `docker-archive:FILE`, `dir:PATH`, `registry:REF`, `REF`).
pub fn load(
    source: &str,
    opts: &oci::Options,
    progress: &(dyn Fn(oci::Progress) + Sync),
) -> Result<Loaded, LoadError> {
    let p = Path::new(source);
    if p.is_file() {
        let io = |e| LoadError::Io {
            path: source.to_string(),
            source: e,
        };
        let mut head = vec![0u8; 4096];
        let n =
            std::io::Read::read(&mut std::fs::File::open(p).map_err(io)?, &mut head).map_err(io)?;
        if crate::sbom_in::looks_like_sbom(&head[..n]) {
            let bytes = std::fs::read(p).map_err(io)?;
            let r = crate::sbom_in::read(&bytes).map_err(|e| LoadError::Sbom {
                path: p.display().to_string(),
                source: e,
            })?;
            return Ok(Loaded {
                name: r.subject.unwrap_or_else(|| source.to_string()),
                digest: r.digest,
                inventory: r.inventory,
                image: None,
                layer_notes: Vec::new(),
                unpacked_bytes: None,
            });
        }
    }
    let src: oci::Source =
        source
            .parse()
            .map_err(|e: oci::source::SourceError| LoadError::Source {
                source_text: source.to_string(),
                message: e.to_string(),
            })?;
    let done = inventory(&src, opts, progress)?;
    Ok(Loaded {
        name: done
            .image
            .reference
            .as_ref()
            .map_or_else(|| source.to_string(), |r| r.to_string()),
        digest: done.image.manifest_digest.as_ref().map(|d| d.to_string()),
        inventory: done.inventory,
        image: Some(done.image),
        layer_notes: done.layer_notes,
        unpacked_bytes: done.unpacked_bytes,
    })
}
