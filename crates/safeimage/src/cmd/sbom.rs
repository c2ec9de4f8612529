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
    #[command(flatten)]
    image: crate::shared::image::ImageArgs,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.spec.is_none() || args.format == Format::CyclonedxJson,
        "--spec is a CycloneDX version: it needs -f cyclonedx-json"
    );
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
        Format::Json => serde_json::to_string_pretty(&inventory::sbom::native(&inv, &subject))?,
        Format::Table => inventory::sbom::table(&inv),
    };
    super::write_output(args.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}
