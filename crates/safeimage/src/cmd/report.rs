//! `safeimage report weekly`: the weekly security summary of the fleet
//! (`pipeline::weekly`) from the store's findings over time and audit log,
//! as Markdown, a self-contained HTML page or JSON. Reads only.

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
    /// Let paths the config names be outside its directory.
    #[arg(long)]
    allow_outside_root: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Sub::Weekly(a) = args.command;
    let cfg = FleetConfig::load_fleet_with(
        &a.config,
        &pipeline::config::LoadOptions {
            allow_outside_root: a.allow_outside_root,
        },
    )?;
    let now = findings::time::Timestamp::now();
    let monday = match &a.week {
        Some(w) => pipeline::weekly::parse_week(w)
            .with_context(|| format!("--week {w}: expected an ISO week such as 2026-W49"))?,
        None => {
            let (y, w) = now.iso_week();
            findings::time::Timestamp::iso_week_start(y, w).context("this week")?
        }
    };
    let store = cfg.open_store()?;
    let images: Vec<String> = cfg.images.iter().map(|i| i.name.to_string()).collect();
    let s = pipeline::weekly::summary(&images, &*store, &cfg.sla, monday, now)?;
    let text = match a.format {
        Format::Markdown => report::weekly::markdown(&s),
        Format::Html => report::weekly::html(&s),
        Format::Json => report::weekly::json(&s),
    };
    super::write_output(a.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}
