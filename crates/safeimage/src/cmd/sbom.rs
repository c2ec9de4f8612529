//! `safeimage sbom`: inventory an image and write CycloneDX, SPDX (2.3 or 3.0.1), JSON or a table.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;

/// SBOM formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// CycloneDX JSON (1.6; `--spec 1.7` for 1.7).
    CyclonedxJson,
    /// SPDX 2.3 JSON.
    SpdxJson,
    /// SPDX 3.0.1 JSON-LD.
    #[value(name = "spdx3-json")]
    Spdx3Json,
    /// safeimage's own JSON.
    Json,
    /// A table.
    Table,
}

/// CycloneDX specification versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CdxSpec {
    /// 1.6 (the default).
    #[value(name = "1.6")]
    V16,
    /// 1.7 (ECMA-424 2nd edition).
    #[value(name = "1.7")]
    V17,
}

/// Standards `--check` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Standard {
    /// BSI TR-03183-2 v2.1.0's required fields.
    #[value(name = "tr-03183")]
    Tr03183,
}

/// Arguments of `safeimage sbom`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: oci:DIR[:TAG], docker-archive:FILE, dir:PATH, registry:REF or REF.
    source: String,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    format: Format,
    /// Write to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// CycloneDX specification version (`-f cyclonedx-json` only).
    #[arg(long, value_enum, value_name = "VERSION")]
    spec: Option<CdxSpec>,
    /// Check an SBOM (a CycloneDX or SPDX JSON file, or our CycloneDX of the
    /// image) for the fields a standard requires; exit 1 when some are missing
    /// (`-f json` for the gaps as JSON).
    #[arg(long, value_enum, value_name = "STANDARD")]
    check: Option<Standard>,
    #[command(flatten)]
    image: crate::shared::image::ImageArgs,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.spec.is_none() || args.format == Format::CyclonedxJson,
        "--spec is a CycloneDX version: it needs -f cyclonedx-json"
    );
    if args.check.is_some() {
        let p = std::path::Path::new(&args.source);
        if p.is_file() {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", args.source))?;
            if inventory::sbom_in::looks_like_sbom(&bytes) {
                let doc: serde_json::Value = serde_json::from_slice(&bytes)
                    .with_context(|| format!("{}: not JSON", args.source))?;
                return check(&args, &doc);
            }
        }
    }
    let src: oci::Source = args
        .source
        .parse()
        .with_context(|| format!("image source `{}`", args.source))?;
    let bar = crate::shared::image::progress(&args.source);
    let done = inventory::inventory(&src, &args.image.options(), &|p| {
        crate::shared::image::feed(&bar, p)
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let inventory::Inventoried {
        image: analysed,
        layer_notes,
        inventory: inv,
        ..
    } = done?;
    for n in &layer_notes {
        eprintln!(
            "note: {}: {}",
            findings::text::clean(&n.path),
            findings::text::clean(&n.reason)
        );
    }
    crate::shared::image::warn_incomplete(&inv);
    let subject = inventory::sbom::Subject {
        name: analysed
            .reference
            .as_ref()
            .map_or_else(|| args.source.clone(), |r| r.to_string()),
        digest: analysed.manifest_digest.as_ref().map(|d| d.to_string()),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        created: super::output_time().to_string(),
    };
    if args.check.is_some() {
        let spec = match args.spec {
            Some(CdxSpec::V17) => inventory::sbom::CycloneDxSpec::V1_7,
            _ => inventory::sbom::CycloneDxSpec::V1_6,
        };
        return check(
            &args,
            &inventory::sbom::cyclonedx_spec(&inv, &subject, spec),
        );
    }
    let text = match args.format {
        Format::CyclonedxJson => {
            let spec = match args.spec {
                Some(CdxSpec::V17) => inventory::sbom::CycloneDxSpec::V1_7,
                _ => inventory::sbom::CycloneDxSpec::V1_6,
            };
            serde_json::to_string_pretty(&inventory::sbom::cyclonedx_spec(&inv, &subject, spec))?
        }
        Format::SpdxJson => serde_json::to_string_pretty(&inventory::sbom::spdx(&inv, &subject))?,
        Format::Spdx3Json => serde_json::to_string_pretty(&inventory::sbom::spdx3(&inv, &subject))?,
        Format::Json => serde_json::to_string_pretty(&inventory::sbom::native_with_layers(
            &inv,
            &subject,
            &analysed.layers,
        ))?,
        Format::Table => inventory::sbom::table(&inv),
    };
    super::write_output(args.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}

/// `--check`: the gaps, as a table or JSON; exit 1 when there are any.
fn check(args: &Args, doc: &serde_json::Value) -> anyhow::Result<ExitCode> {
    let c = inventory::sbom_check::tr03183(doc).with_context(|| args.source.clone())?;
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&c)? + "\n",
        Format::Table => inventory::sbom_check::table(&c),
        _ => anyhow::bail!("--check writes a table or -f json"),
    };
    super::write_output(args.output.as_deref(), &text)?;
    Ok(if c.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
