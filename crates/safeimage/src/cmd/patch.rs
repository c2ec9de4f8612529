//! `safeimage patch`: fix an image's OS packages in place, for images the
//! fleet does not build and for fixes that cannot wait for the rebuild
//! (the `patch` crate: one patch layer on the original layers, the
//! packages fetched by a tooling container of the same release, the image
//! scanned again before anything is written), then write it to an OCI
//! layout or push it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use findings::time::Timestamp;
use vulndb::Db;

use crate::shared::db::DbArg;
use crate::shared::image::{Dest, ImageArgs, dest};

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table.
    Table,
    /// JSON.
    Json,
}

/// The engine that runs the tooling container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineArg {
    /// buildah (chroot isolation).
    Buildah,
    /// podman.
    Podman,
    /// Docker (BuildKit's daemon; DOCKER_HOST or --docker-host).
    Docker,
}

/// Arguments of `safeimage patch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: oci:DIR[:TAG], docker-archive:FILE, registry:REF or REF.
    source: String,
    /// Where to write: oci:DIR[:TAG] or a registry reference with a tag.
    #[arg(long, short = 'o', value_name = "DEST")]
    output: String,
    /// Patch the fixable findings of this `scan -f json` report instead of scanning.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Lowest severity patched.
    #[arg(long, value_name = "LEVEL", default_value = "unknown")]
    severity: vulndb::model::Severity,
    /// Patch only these packages (repeatable).
    #[arg(long, value_name = "PKG")]
    only: Vec<String>,
    /// Also upgrade every other upgradable package.
    #[arg(long)]
    all: bool,
    /// The tooling image: the same distribution and release as the image,
    /// with its package manager (default: docker.io/library/ID:CODENAME).
    #[arg(long, env = settings::env::SAFEIMAGE_TOOLING_IMAGE.name, value_name = "IMAGE")]
    tooling_image: Option<String>,
    /// The engine that runs the tooling container.
    #[arg(long, value_enum, default_value_t = EngineArg::Buildah)]
    engine: EngineArg,
    /// Docker's socket for `--engine docker`.
    #[arg(long, value_name = "URL")]
    docker_host: Option<String>,
    /// Sign what is pushed with this cosign key (password from
    /// COSIGN_PASSWORD or the terminal) and attach its SBOM (CycloneDX) and
    /// SLSA provenance naming the original image; needs a registry destination.
    #[arg(long, value_name = "FILE")]
    sign_key: Option<PathBuf>,
    /// Report format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    db: DbArg,
    /// Refuse a DB older than this many hours.
    #[arg(long, value_name = "HOURS", default_value_t = 72)]
    db_max_age: u64,
    #[command(flatten)]
    image: ImageArgs,
}

/// The default tooling image for a release.
fn default_tooling(r: &patch::Release) -> anyhow::Result<String> {
    anyhow::ensure!(
        matches!(r.id.as_str(), "debian" | "ubuntu") && !r.codename.is_empty(),
        "the image is {r}: there is no default tooling image for it; give --tooling-image"
    );
    Ok(format!("docker.io/library/{}:{}", r.id, r.codename))
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let dest = dest(&args.output)?;
    // the key before any work: a wrong password stops here
    let key = match &args.sign_key {
        Some(k) => {
            anyhow::ensure!(
                matches!(dest, Dest::Registry(_)),
                "--sign-key needs a registry destination (-o REGISTRY/REPO:TAG)"
            );
            let pw = crate::shared::keys::password(false)?;
            Some(provenance::keys::load_private(k, pw.as_bytes())?)
        }
        None => None,
    };
    let src: oci::Source = args
        .source
        .parse()
        .with_context(|| format!("image source `{}`", args.source))?;
    let report = args
        .report
        .as_deref()
        .map(patch::flow::read_report)
        .transpose()?;
    let db = Db::open_fresh(
        &args.db.resolve(&args.image.insecure_registry)?,
        args.db_max_age,
        Timestamp::now(),
    )?;
    let opts = patch::flow::Options {
        db: &db,
        scan: scan::Options::default(),
        severity: args.severity,
        only: args.only.clone(),
        all: args.all,
        report,
        image: args.image.options(),
    };
    let engine = match args.engine {
        EngineArg::Buildah => patch::Engine::Buildah,
        EngineArg::Podman => patch::Engine::Podman,
        EngineArg::Docker => patch::Engine::Docker {
            host: args.docker_host.clone(),
        },
    };
    let tooling_image = args.tooling_image.clone();
    let tooling = |r: &patch::Release| -> Result<Box<dyn patch::Tooling>, patch::PatchError> {
        let image = match &tooling_image {
            Some(i) => i.clone(),
            None => default_tooling(r).map_err(|e| patch::PatchError::Tooling {
                reason: e.to_string(),
            })?,
        };
        Ok(Box::new(patch::Container::start(engine.clone(), &image)?))
    };
    let work = tempfile::Builder::new()
        .prefix("safeimage-patch-")
        .tempdir()
        .context("a work directory")?;
    // every platform of an index, unless --platform picks one
    let platforms = if args.image.platform.is_some() {
        None
    } else {
        oci::platforms(&src, &opts.image).with_context(|| format!("reading {}", args.source))?
    };
    let done = patch::flow::run_platforms(&src, &opts, platforms.as_deref(), &tooling, work.path())
        .with_context(|| format!("patching {}", args.source))?;
    let layout = patch::flow::result_layout(work.path());
    let written = match &dest {
        Dest::Layout { dir, tag } => {
            let d = patch::flow::export(&layout, "result", dir, tag)?;
            format!("oci:{}:{tag}@{d}", dir.display())
        }
        Dest::Registry(r) => {
            let repo = oci::push::Repo::connect(r, &opts.image.registry)?;
            let d = repo.push_layout(&layout, Some("result"))?;
            let t = r.tag().unwrap_or("latest");
            // signed and attested by digest before the tag moves
            if let Some(key) = &key {
                sign(&repo, r, key, &d, &done, &layout, &args, &opts.image)?;
            }
            repo.tag(&d, t)?;
            format!("{}/{}:{t}@{d}", r.registry(), r.repository())
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    match args.format {
        Format::Json => {
            let mut v = if done.index {
                serde_json::json!({"platforms": done.platforms, "index": done.digest})
            } else {
                serde_json::to_value(&done.platforms[0])?
            };
            v["written"] = serde_json::json!(written);
            v["seconds"] = serde_json::json!((seconds * 10.0).round() / 10.0);
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Table => {
            for o in &done.platforms {
                print!("{}", report::patch::table(o));
            }
            println!("written {written} in {seconds:.1} s");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Signs the pushed image (and each platform of an index), then attaches
/// to each platform's manifest its CycloneDX SBOM and the patch's SLSA
/// provenance.
#[allow(clippy::too_many_arguments)]
fn sign(
    repo: &oci::push::Repo,
    r: &oci::ImageRef,
    key: &provenance::keys::PrivateKey,
    digest: &oci::Digest,
    done: &patch::flow::Done,
    layout: &std::path::Path,
    args: &Args,
    image: &oci::Options,
) -> anyhow::Result<()> {
    let repository = r.full_name();
    let created = super::output_time().to_string();
    let (_, size, media_type) = oci::write::layout_descriptor(layout, Some("result"))?;
    let mut subjects = vec![(digest.clone(), size, media_type, None)];
    if done.index {
        let bytes = std::fs::read(layout.join("blobs/sha256").join(digest.encoded()))?;
        let idx: oci::image::Index = oci::image::parse_json(&bytes, "the patched index")?;
        for m in idx.manifests {
            subjects.push((
                m.digest.parse()?,
                m.size.max(0) as u64,
                m.media_type,
                m.platform,
            ));
        }
    }
    let tooling = args.tooling_image.clone().unwrap_or_default();
    let slsa = patch::flow::slsa_predicate(
        &args.source,
        done,
        &tooling,
        &created,
        concat!("safeimage@", env!("CARGO_PKG_VERSION")),
    );
    let none = std::collections::BTreeMap::new();
    for (d, size, media_type, platform) in &subjects {
        let subject = provenance::sign::Subject {
            repository: &repository,
            digest: d,
            media_type,
            size: *size,
        };
        provenance::sign::sign(repo, key, &subject, &none)?;
        // attestations on each image manifest (the index's platforms, or the one)
        if done.index && platform.is_none() {
            continue;
        }
        let mut o = image.clone();
        if let Some(p) = platform {
            o.platform = p.clone();
        }
        let src = oci::Source::OciLayout {
            dir: layout.to_path_buf(),
            tag: Some("result".into()),
        };
        let inv = inventory::inventory(&src, &o, &|_| {})?;
        let bom_subject = inventory::sbom::Subject {
            name: repository.clone(),
            digest: Some(d.to_string()),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            created: created.clone(),
        };
        let bom = inventory::sbom::cyclonedx_spec(
            &inv.inventory,
            &bom_subject,
            inventory::sbom::CycloneDxSpec::V1_6,
        );
        provenance::sign::attach(
            repo,
            key,
            &subject,
            provenance::predicate::CYCLONEDX,
            serde_json::to_value(&bom)?,
            &created,
        )?;
        provenance::sign::attach(
            repo,
            key,
            &subject,
            provenance::predicate::SLSA_PROVENANCE,
            slsa.clone(),
            &created,
        )?;
    }
    Ok(())
}
