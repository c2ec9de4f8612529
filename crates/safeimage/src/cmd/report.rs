//! `safeimage report weekly`: the weekly security summary of the fleet
//! (`pipeline::weekly`) from the store's findings over time and audit log,
//! as Markdown, a self-contained HTML page or JSON, and with `--send`
//! through the notifiers and into one forge issue. `safeimage report
//! image NAME`: one promoted image's report for its consumers
//! (`pipeline::dossier`) as HTML, JSON, or PDF printed by headless Chromium
//! from our own page (no script runs in it). Both read only.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use pipeline::FleetConfig;
use settings::env;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For notifiers and forge issues.
    Markdown,
    /// A self-contained page with the twelve-week trend.
    Html,
    /// The data.
    Json,
}

/// `safeimage report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// The weekly security summary: per image, counts by severity and their
    /// change, new and fixed, days to fix, overdue, builds, blocked; twelve
    /// weeks of history.
    Weekly(WeeklyArgs),
    /// One promoted image's security report for its consumers: what it is,
    /// what it contains, its findings with status, deadline and
    /// justification, its verified audit trail.
    Image(ImageArgs),
}

/// Formats of `report image`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImageFormat {
    /// A self-contained page.
    Html,
    /// The page printed by headless Chromium (needs -o).
    Pdf,
    /// The data.
    Json,
}

/// `safeimage report image`.
#[derive(Debug, clap::Args)]
pub struct ImageArgs {
    /// The image's name in the fleet config.
    image: String,
    /// Fleet config.
    #[arg(long, short = 'c', env = env::SAFEIMAGE_CONFIG.name, default_value = "safeimage.toml", value_name = "FILE")]
    config: PathBuf,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "html")]
    format: ImageFormat,
    /// Write here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Check the promoted digest's signature and attestations in the
    /// registry with this public key (repeatable); the report says what
    /// holds.
    #[arg(long, value_name = "FILE")]
    key: Vec<PathBuf>,
    /// Let paths the config names be outside its directory.
    #[arg(long)]
    allow_outside_root: bool,
}

/// `safeimage report weekly`.
#[derive(Debug, clap::Args)]
pub struct WeeklyArgs {
    /// Fleet config.
    #[arg(long, short = 'c', env = env::SAFEIMAGE_CONFIG.name, default_value = "safeimage.toml", value_name = "FILE")]
    config: PathBuf,
    /// The ISO week (`2026-W49`); default: this week so far.
    #[arg(long, value_name = "YYYY-Www")]
    week: Option<String>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "markdown")]
    format: Format,
    /// Write here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also send it to the notifiers that take `weekly`, and keep it as one
    /// issue on the forge when `[issues] mirror` is on.
    #[arg(long)]
    send: bool,
    /// Let paths the config names be outside its directory.
    #[arg(long)]
    allow_outside_root: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let a = match args.command {
        Sub::Weekly(a) => a,
        Sub::Image(a) => return image(a),
    };
    let cfg = FleetConfig::load_fleet_with(
        &a.config,
        &pipeline::config::LoadOptions {
            allow_outside_root: a.allow_outside_root,
        },
    )?;
    let store = cfg.open_store()?;
    // a shared store's clock, as the runs that wrote it used
    let now = store.time()?.unwrap_or_else(findings::time::Timestamp::now);
    let monday = match &a.week {
        Some(w) => pipeline::weekly::parse_week(w)
            .with_context(|| format!("--week {w}: expected an ISO week such as 2026-W49"))?,
        None => {
            let (y, w) = now.iso_week();
            findings::time::Timestamp::iso_week_start(y, w).context("this week")?
        }
    };
    let images: Vec<String> = cfg.images.iter().map(|i| i.name.to_string()).collect();
    let s = pipeline::weekly::summary(&images, &*store, &cfg.sla, monday, now)?;
    let text = match a.format {
        Format::Markdown => report::weekly::markdown(&s),
        Format::Html => report::weekly::html(&s),
        Format::Json => report::weekly::json(&s),
    };
    super::write_output(a.output.as_deref(), &text)?;
    if !a.send {
        return Ok(ExitCode::SUCCESS);
    }
    let tracker = if cfg.issues.mirror {
        update::forge::connect_issues(&cfg.update)
            .with_context(|| format!("{}: [issues] mirror", a.config.display()))?
    } else {
        None
    };
    let sent = pipeline::weekly::send(
        &s,
        &cfg.notify,
        &notify::Live,
        tracker.as_deref(),
        &cfg.issues.labels,
    );
    for n in &sent.notified {
        eprintln!("sent to {n}");
    }
    if let Some(u) = &sent.issue {
        eprintln!("kept in {u}");
    }
    for e in &sent.errors {
        eprintln!("error: {e}");
    }
    Ok(if sent.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn image(a: ImageArgs) -> anyhow::Result<ExitCode> {
    let cfg = FleetConfig::load_fleet_with(
        &a.config,
        &pipeline::config::LoadOptions {
            allow_outside_root: a.allow_outside_root,
        },
    )?;
    let spec = cfg
        .images
        .iter()
        .find(|i| i.name.as_str() == a.image)
        .with_context(|| {
            format!(
                "{}: no image named {} in the config",
                a.config.display(),
                a.image
            )
        })?;
    let store = cfg.open_store()?;
    let mut d = pipeline::dossier::dossier(
        &a.image,
        &spec.repository.to_string(),
        &*store,
        &cfg.sla,
        store.time()?.unwrap_or_else(findings::time::Timestamp::now),
    )?
    .with_context(|| format!("{}: never promoted, so there is nothing to report", a.image))?;
    if !a.key.is_empty() {
        let keys = a
            .key
            .iter()
            .map(|p| provenance::keys::load_public(p))
            .collect::<Result<Vec<_>, _>>()?;
        pipeline::dossier::verify_in_registry(
            &mut d,
            &spec.repository,
            &cfg.registry_options()?,
            &keys,
        );
    }
    match a.format {
        ImageFormat::Json => super::write_output(a.output.as_deref(), &report::dossier::json(&d))?,
        ImageFormat::Html => super::write_output(a.output.as_deref(), &report::dossier::html(&d))?,
        ImageFormat::Pdf => {
            let out = a.output.as_deref().context("-f pdf needs -o FILE")?;
            pipeline::dossier::print_pdf(&report::dossier::html(&d), out)?;
        }
    }
    if let Some(f) = d.verified.as_ref().and_then(|v| v.failure.as_ref()) {
        eprintln!("verification failed: {}", findings::text::clean(f));
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
