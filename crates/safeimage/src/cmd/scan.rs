//! `safeimage scan`: match an image (any source) or an SBOM file against the
//! advisory DB, apply ignore rules, VEX and a baseline, render the report
//! and decide the exit code from the gate. Findings are attributed to the
//! layer that brought their package, base or the image's own, and with
//! `--dockerfile` to the instruction. No network access happens here beyond
//! reading the image itself and its base (`--base`, the manifest's base
//! annotations, the Dockerfile's FROM).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use findings::time::Timestamp;
use report::vulns::{DbInfo, ScanReport, Target};
use scan::gate::Gate;
use scan::severity::Source;
use vulndb::{Db, Severity};

use crate::shared::db::DbArg;
use crate::shared::image::ImageArgs;

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Grouped by package, coloured on a terminal.
    Table,
    /// safeimage-scan/1 JSON (also the baseline format).
    Json,
    /// SARIF 2.1.0 (GitHub code scanning).
    Sarif,
    /// A self-contained HTML page.
    Html,
    /// JUnit XML.
    Junit,
    /// GitLab's container-scanning report (`artifacts:reports:container_scanning`).
    Gitlab,
    /// An OpenVEX v0.2.0 document of what the scan decided (as --vex-out).
    Openvex,
    /// The same statements as a CycloneDX 1.6 VEX document.
    CyclonedxVex,
}

/// Finding order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Sort {
    /// Most severe first.
    Severity,
    /// CISA KEV first, then EPSS times severity (the DB needs `db update --feed kev --feed epss`).
    Risk,
}

/// Which layers' findings to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Layers {
    /// Every finding.
    All,
    /// Only those in the base image's layers (fixed by bumping the base).
    Base,
    /// Only those in the image's own layers (fixed in its Dockerfile).
    App,
}

fn severity(s: &str) -> Result<Severity, String> {
    s.parse::<Severity>().map_err(|e| e.to_string())
}

/// Arguments of `safeimage scan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image (oci:DIR[:TAG], docker-archive:FILE, dir:PATH, registry:REF
    /// or REF), or a CycloneDX/SPDX JSON SBOM file.
    source: String,
    #[command(flatten)]
    db: DbArg,
    /// Refuse a DB older than this many hours (0: no limit).
    #[arg(
        long,
        env = settings::env::SAFEIMAGE_DB_MAX_AGE_HOURS.name,
        default_value_t = 120,
        value_name = "HOURS"
    )]
    db_max_age: u64,
    /// Refuse a DB whose downloaded feeds have no record newer than this many
    /// days (a feed that stopped updating; older than 14 days is warned about).
    #[arg(long, env = settings::env::SAFEIMAGE_MAX_FEED_AGE_DAYS.name, value_name = "DAYS")]
    max_feed_age_days: Option<u64>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    format: Format,
    /// Write to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit with --exit-code when a counted finding is at or above SEVERITY.
    #[arg(long, value_parser = severity, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
    /// Count only findings that have a fixed version toward the gate.
    #[arg(long)]
    only_fixed: bool,
    /// Exit code when the gate fails (errors always exit 2).
    #[arg(long, default_value_t = 1, value_name = "N")]
    exit_code: u8,
    /// Show findings the vendor rates unimportant (Debian).
    #[arg(long)]
    show_unimportant: bool,
    /// Severity source priority, comma-separated: vendor, a vendor name
    /// (debian, ghsa, alpine, pypa...), nvd (NVD's score, when NVD data was
    /// imported), cvss_v4, cvss_v3, cvss_v2.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "vendor,nvd,cvss_v4,cvss_v3,cvss_v2"
    )]
    severity_source: Vec<String>,
    /// Ignore file(s): .safeimage-ignore.yaml format or .trivyignore lines
    /// (default: those two files in the current directory, if present).
    #[arg(long = "ignore-file", value_name = "FILE")]
    ignore_files: Vec<PathBuf>,
    /// OpenVEX document(s); `not_affected` and `fixed` statements suppress.
    #[arg(long = "vex", value_name = "FILE")]
    vex: Vec<PathBuf>,
    /// An earlier `--format json` report to compare with.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// With --baseline: fail when a new finding is at or above SEVERITY.
    #[arg(long, value_parser = severity, value_name = "SEVERITY", requires = "baseline")]
    fail_on_new: Option<Severity>,
    /// With --baseline: fail when the number of findings went up.
    #[arg(long, requires = "baseline")]
    fail_on_increase: bool,
    /// Fail (exit with --exit-code) when a package database in the image
    /// is present but cannot be read, so the scan cannot be complete.
    #[arg(long)]
    fail_on_unreadable: bool,
    /// Finding order in every format.
    #[arg(long, value_enum, default_value_t = Sort::Severity)]
    sort: Sort,
    /// Mark each finding with its patch deadline as the fleet tracks it in
    /// the promoted image NAME (first seen, `[sla]` deadline, overdue),
    /// from the store and `[sla]` of --config.
    #[arg(long, value_name = "NAME")]
    tracked: Option<String>,
    /// The fleet config --tracked reads.
    #[arg(long, short = 'c', env = settings::env::SAFEIMAGE_CONFIG.name, default_value = "safeimage.toml", value_name = "FILE", requires = "tracked")]
    config: PathBuf,
    /// With --tracked: fail (exit with --exit-code) when a finding is past
    /// its patch deadline.
    #[arg(long, requires = "tracked")]
    fail_on_overdue: bool,
    /// The Dockerfile the image was built from: each finding is traced to
    /// the instruction and line that installed its package (matched against
    /// the image's history; a Dockerfile that does not match is a note).
    #[arg(long, value_name = "FILE")]
    dockerfile: Option<PathBuf>,
    /// The base image (a reference or image source) whose layers are the
    /// base's (default: the manifest's base annotations, else the
    /// Dockerfile's final FROM).
    #[arg(long, value_name = "REF")]
    base: Option<String>,
    /// Also write an OpenVEX v0.2.0 document to FILE: `not_affected` for
    /// findings an ignore rule (with its justification) or VEX suppressed,
    /// `fixed` for the baseline's findings this image no longer has,
    /// `under_investigation` for the rest.
    #[arg(long, value_name = "FILE")]
    vex_out: Option<PathBuf>,
    /// Fail (exit with --exit-code) when the image's distribution release
    /// reaches its end of life within DAYS days (0: only when it is past
    /// it), from the DB's end-of-life data (`db import` of distro-info-data's
    /// debian.csv / ubuntu.csv).
    #[arg(long, value_name = "DAYS")]
    fail_on_eol: Option<i64>,
    /// Report only the findings of the base's layers or of the image's own
    /// (the gate judges those only).
    #[arg(long, value_enum, default_value_t = Layers::All)]
    layers: Layers,
    #[command(flatten)]
    image: ImageArgs,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = super::output_time().to_string();
    let priority: Vec<Source> = args
        .severity_source
        .iter()
        .map(|s| s.parse::<Source>().map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<_>>()?;
    // Everything that can fail on bad input is read before the image.
    let db = Db::open_fresh(
        &args.db.resolve(&args.image.insecure_registry)?,
        args.db_max_age,
        Timestamp::now(),
    )?;
    let feed_warnings = db.check_feeds(Timestamp::now(), args.max_feed_age_days)?;
    for w in &feed_warnings {
        eprintln!("warning: {w}");
    }
    let mut rules = Vec::new();
    let ignore_files: Vec<PathBuf> = if args.ignore_files.is_empty() {
        [".safeimage-ignore.yaml", ".trivyignore"]
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .collect()
    } else {
        args.ignore_files.clone()
    };
    for f in &ignore_files {
        rules.extend(scan::suppress::read_rules(f)?);
    }
    let mut vex = Vec::new();
    for f in &args.vex {
        vex.extend(scan::suppress::read_openvex(f)?);
    }
    let baseline = args
        .baseline
        .as_deref()
        .map(scan::baseline::read)
        .transpose()?;
    let tracking = match &args.tracked {
        Some(name) => {
            let cfg = pipeline::FleetConfig::load_fleet(&args.config)?;
            anyhow::ensure!(
                cfg.images.iter().any(|i| i.name.as_str() == name),
                "{}: --tracked {name}: no image of that name in the config",
                args.config.display()
            );
            let store = cfg.open_store()?;
            Some((name.clone(), cfg.sla.clone(), store))
        }
        None => None,
    };

    let dockerfile = args
        .dockerfile
        .as_deref()
        .map(pipeline::attribution::read_dockerfile)
        .transpose()?;

    let scanned = crate::shared::image::load(&args.source, &args.image)?;
    let attribution = match &scanned.image {
        Some(image) => Some(pipeline::attribution::attribute_image(
            image,
            dockerfile.as_ref(),
            &pipeline::attribution::BaseHint {
                given: args.base.clone(),
                known: None,
            },
            &args.image.options(),
        )?),
        None => {
            anyhow::ensure!(
                args.dockerfile.is_none() && args.base.is_none() && args.layers == Layers::All,
                "{}: an SBOM has no layers: --dockerfile, --base and --layers need an image",
                args.source
            );
            None
        }
    };
    let opts = scan::Options {
        show_unimportant: args.show_unimportant,
        severity_priority: priority,
    };
    let mut m = scan::match_inventory(&scanned.inventory, &db, &opts)?;
    if let Some(a) = &attribution {
        scan::attribute(&mut m.findings, a);
        if args.layers != Layers::All {
            anyhow::ensure!(
                a.knows_base(),
                "{}: --layers {}: the base image's layers are not known: give --base REF or --dockerfile FILE{}",
                scanned.name,
                if args.layers == Layers::App {
                    "app"
                } else {
                    "base"
                },
                a.notes
                    .iter()
                    .map(|n| format!("\n  note: {n}"))
                    .collect::<String>()
            );
            scan::keep_layers(
                &mut m.findings,
                if args.layers == Layers::App {
                    scan::LayerFilter::App
                } else {
                    scan::LayerFilter::Base
                },
            );
        }
    }
    let gate = Gate {
        fail_on: args.fail_on,
        only_fixed: args.only_fixed,
        fail_on_new: args.fail_on_new,
        fail_on_increase: args.fail_on_increase,
        block_on_overdue: false,
        block_on_eol_days: None,
    };
    let today = Timestamp::now().date();
    let mut j = scan::session::judge(
        m,
        &scan::session::Judging {
            rules: &rules,
            vex: &vex,
            today: &today,
            subject: &scanned.name,
            digest: scanned.digest.as_deref(),
            baseline: baseline.as_deref(),
            gate: &gate,
        },
    );
    j.notes.extend(feed_warnings);
    crate::shared::image::warn_incomplete(&scanned.inventory);
    j.notes.extend(
        scanned
            .inventory
            .notes
            .iter()
            .map(|n| format!("incomplete inventory: {}: {}", n.path, n.message)),
    );
    let eol = scan::eol::check(&db, &scanned.inventory, &super::output_time().date())?;
    let mut decision = j.decision.clone();
    if let Some(days) = args.fail_on_eol {
        if !db.has_eol() {
            anyhow::bail!(
                "--fail-on-eol: the DB has no end-of-life data: `safeimage db import /usr/share/distro-info/debian.csv /usr/share/distro-info/ubuntu.csv` (Debian's distro-info-data) or `safeimage db update --feed eol` (endoflife.date)"
            );
        }
        if eol.is_empty() {
            j.notes.push(format!(
                "--fail-on-eol: no end-of-life data for {} or the runtimes found",
                scanned.inventory.distro.as_ref().map_or(
                    "an unknown distribution".to_string(),
                    |d| format!("{} {}", d.id, d.version_id)
                )
            ));
        }
        for reason in scan::eol::blocking(&eol, days) {
            decision.failed = true;
            decision
                .reasons
                .push(format!("{reason} (--fail-on-eol {days})"));
        }
    }
    if let Some((name, sla, store)) = &tracking {
        let now = store.time()?.unwrap_or_else(Timestamp::now);
        let late = pipeline::due::annotate(&mut j.findings, name, &**store, sla, now)?;
        if args.fail_on_overdue && late > 0 {
            decision.failed = true;
            decision.reasons.push(format!(
                "{late} finding(s) past their patch deadline (--fail-on-overdue)"
            ));
        }
    }
    let gated = gate != Gate::default()
        || args.fail_on_unreadable
        || args.fail_on_overdue
        || args.fail_on_eol.is_some();
    if args.fail_on_unreadable && !scanned.inventory.notes.is_empty() {
        decision.failed = true;
        decision.reasons.push(format!(
            "the inventory is incomplete: {} (--fail-on-unreadable)",
            scanned
                .inventory
                .notes
                .iter()
                .map(|n| n.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if args.sort == Sort::Risk {
        scan::sort_by_risk(&mut j.findings);
    }
    let mut report = ScanReport::new(
        report::ToolInfo {
            name: "safeimage".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        super::output_time().to_string(),
        Target {
            name: scanned.name.clone(),
            digest: scanned.digest.clone(),
            distro: scanned
                .inventory
                .distro
                .as_ref()
                .map(|d| format!("{} {}", d.id, d.version_id)),
        },
        DbInfo {
            built_at: db.status().built_at.to_string(),
            schema_version: db.status().schema_version,
        },
        &j.findings,
        j.packages_checked,
        j.hidden_unimportant,
        &j.notes,
    );
    report.baseline = j.baseline.as_ref();
    report.attribution = attribution.as_ref();
    report.eol = &eol;
    report.by_risk = args.sort == Sort::Risk;
    report.gate = gated.then_some(&decision);
    let vex = |cdx: bool| {
        let gone = baseline
            .as_deref()
            .map(|b| scan::baseline::gone(&j.findings, b))
            .unwrap_or_default();
        let product = scan::vex::Product {
            name: scanned.name.clone(),
            digest: scanned.digest.clone(),
        };
        let created = super::output_time().to_string();
        let doc = if cdx {
            scan::vex::cyclonedx(
                &j.findings,
                &gone,
                &product,
                &created,
                env!("CARGO_PKG_VERSION"),
            )
        } else {
            scan::vex::openvex(
                &j.findings,
                &gone,
                &product,
                &created,
                concat!("safeimage ", env!("CARGO_PKG_VERSION")),
            )
        };
        serde_json::to_string_pretty(&doc).map(|mut t| {
            t.push('\n');
            t
        })
    };
    if let Some(file) = &args.vex_out {
        super::write_output(Some(file), &vex(false)?)?;
    }
    let text = match args.format {
        Format::Openvex => vex(false)?,
        Format::CyclonedxVex => vex(true)?,
        Format::Table => {
            let color = super::stdout_color(args.output.as_deref());
            report::vulns::table(&report, color)
        }
        Format::Json => report::vulns::json(&report),
        Format::Sarif => serde_json::to_string_pretty(&report::vulns::sarif(&report))?,
        Format::Html => report::vulns::html(&report),
        Format::Junit => report::vulns::junit(&report),
        Format::Gitlab => {
            serde_json::to_string_pretty(&report::gitlab::container_scanning(&report, &started))?
        }
    };
    super::write_output(args.output.as_deref(), &text)?;
    if decision.failed {
        if args.format != Format::Table || args.output.is_some() {
            for r in &decision.reasons {
                eprintln!("gate failed: {}", findings::text::clean(r));
            }
        }
        return Ok(ExitCode::from(args.exit_code));
    }
    Ok(ExitCode::SUCCESS)
}
