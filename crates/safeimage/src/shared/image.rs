//! Reading images on the command line: the image-access flags every
//! command that reads images shares (`--platform`, `--insecure-registry`,
//! the cache), a progress bar on a terminal, and loading an image or SBOM
//! file through the `inventory` library.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;

/// Image access options shared by commands that read images.
#[derive(Debug, clap::Args)]
pub struct ImageArgs {
    /// Platform to pick from multi-arch images (default: this machine's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<oci::Platform>,
    /// Registry to reach over plain HTTP (loopback registries always are); repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,
    /// Cache directory; default: $XDG_CACHE_HOME/safeimage.
    #[arg(long, env = settings::env::SAFEIMAGE_CACHE_DIR.name, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Do not read or write the layer cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Do not hash compressed layers a second time, uncompressed, to check
    /// the config's diffIDs (about a quarter of a cold read); blob digests,
    /// which authenticate the content, are still checked.
    #[arg(long)]
    pub no_verify_diff_ids: bool,
}

impl ImageArgs {
    /// Options for `oci::analyze`.
    pub fn options(&self) -> oci::Options {
        let mut o = oci::Options::default();
        if let Some(p) = &self.platform {
            o.platform = p.clone();
        }
        o.registry.insecure = self.insecure_registry.clone();
        o.verify_diff_ids = !self.no_verify_diff_ids;
        o.cache_dir = if self.no_cache {
            None
        } else {
            self.cache_dir
                .clone()
                .or_else(settings::env::default_cache_dir)
        };
        o
    }
}

/// A progress bar on a terminal for reading `source` (none elsewhere), and
/// the callback that feeds it.
pub fn progress(source: &str) -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes}",
            )
            .expect("progress template")
            .progress_chars("=> "),
        );
        b.set_message(format!("reading {source}"));
        b
    })
}

/// Feeds `bar` from the analysis' progress events.
pub fn feed(bar: &Option<indicatif::ProgressBar>, p: oci::Progress) {
    if let Some(b) = bar {
        match p {
            oci::Progress::Resolved { bytes, .. } => b.set_length(bytes),
            oci::Progress::LayerDone { bytes, .. } => b.inc(bytes),
        }
    }
}

/// Loads an image or SBOM file through the library, with a progress bar.
pub fn load(source: &str, image: &ImageArgs) -> anyhow::Result<inventory::Loaded> {
    let bar = progress(source);
    let loaded = inventory::load(source, &image.options(), &|p| feed(&bar, p));
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(loaded?)
}

/// Prints, once each, what the catalogers could not read: the SBOM is
/// incomplete there (also noted in the documents themselves).
pub fn warn_incomplete(inv: &inventory::Inventory) {
    for n in &inv.notes {
        eprintln!(
            "warning: {}: {}",
            findings::text::clean(&n.path),
            findings::text::clean(&n.message)
        );
    }
}

/// Where the result goes.
pub enum Dest {
    /// `oci:DIR[:TAG]`.
    Layout {
        /// The layout directory.
        dir: PathBuf,
        /// The tag (`latest` when none).
        tag: String,
    },
    /// A registry reference with a tag.
    Registry(oci::ImageRef),
}

/// Parses `-o`: `oci:DIR[:TAG]` or a registry reference (with a tag).
pub fn dest(s: &str) -> anyhow::Result<Dest> {
    if let Some(rest) = s.strip_prefix("oci:") {
        let (dir, tag) = match rest.rsplit_once(':') {
            Some((d, t)) if !t.contains('/') && !t.is_empty() => (d, t),
            _ => (rest, "latest"),
        };
        if dir.is_empty() {
            anyhow::bail!("--output `{s}`: expected oci:DIR[:TAG]");
        }
        return Ok(Dest::Layout {
            dir: PathBuf::from(dir),
            tag: tag.to_string(),
        });
    }
    let r = s.strip_prefix("registry:").unwrap_or(s);
    let r: oci::ImageRef = r.parse().with_context(|| {
        format!("--output `{s}`: expected oci:DIR[:TAG] or a registry reference")
    })?;
    if r.digest().is_some() {
        anyhow::bail!("--output `{s}`: a destination needs a tag, not a digest");
    }
    Ok(Dest::Registry(r))
}
