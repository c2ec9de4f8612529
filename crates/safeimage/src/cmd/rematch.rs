//! `safeimage rematch`: after the advisory DB changed, match the inventory
//! kept with every promoted image of the fleet again (`pipeline::rematch`),
//! without pulling or building; new findings enter the store's lifecycle
//! (their `[sla]` clock starts now). Prints only what changed; exit 0, 2 on
//! an error.

use std::path::PathBuf;
use std::process::ExitCode;

use pipeline::FleetConfig;
use pipeline::deps::SystemClock;
use pipeline::rematch::{RematchDeps, RematchOptions, RematchReport, rematch_with};
use settings::env;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people.
    Table,
    /// The whole report.
    Json,
}

/// Arguments of `safeimage rematch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Fleet config.
    #[arg(long, short = 'c', env = env::SAFEIMAGE_CONFIG.name, default_value = "safeimage.toml", value_name = "FILE")]
    config: PathBuf,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    format: Format,
    /// Only this image of the fleet.
    #[arg(long, value_name = "NAME")]
    image: Option<String>,
    /// Judge every kept inventory again, also where the DB gives the same
    /// findings (after the ignore rules or VEX documents changed).
    #[arg(long)]
    rejudge: bool,
    /// Let paths the config names be outside its directory.
    #[arg(long)]
    allow_outside_root: bool,
}

fn table(r: &RematchReport) -> String {
    let mut o = format!(
        "{} promoted platform(s) matched again, {} changed\n",
        r.matched,
        r.changed.len()
    );
    for c in &r.changed {
        o.push_str(&format!("{} {} {}\n", c.image, c.platform, c.digest));
        for f in &c.new {
            o.push_str(&format!(
                "  new   {} {} in {} {}\n",
                f.severity.as_str(),
                f.id,
                findings::text::clean(&f.package.name),
                findings::text::clean(&f.package.version)
            ));
        }
        for f in &c.gone {
            o.push_str(&format!(
                "  gone  {} {} in {} {}\n",
                f.severity.as_str(),
                f.id,
                findings::text::clean(&f.package.name),
                findings::text::clean(&f.package.version)
            ));
        }
    }
    for n in &r.notified {
        o.push_str(&format!("told {n}\n"));
    }
    for e in r.errors.iter().chain(&r.notify_errors) {
        o.push_str(&format!("error: {}\n", findings::text::clean(e)));
    }
    o
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = FleetConfig::load_fleet_with(
        &args.config,
        &pipeline::config::LoadOptions {
            allow_outside_root: args.allow_outside_root,
        },
    )?;
    let parts = crate::shared::fleet::parts(&cfg, true)?;
    let mut store = cfg.open_store()?;
    if let Some(name) = &args.image {
        anyhow::ensure!(
            cfg.images.iter().any(|i| i.name.as_str() == name),
            "{}: --image {name}: no image of that name in the config",
            args.config.display()
        );
    }
    let r = rematch_with(
        &cfg,
        RematchDeps {
            store: &mut *store,
            advisories: &parts.advisories,
            clock: &SystemClock,
            notifier: &notify::Live,
        },
        &RematchOptions {
            only: args.image.clone(),
            rejudge: args.rejudge,
        },
    )?;
    let text = match args.format {
        Format::Table => table(&r),
        Format::Json => serde_json::to_string_pretty(&r)? + "\n",
    };
    super::write_output(None, &text)?;
    Ok(if r.errors.is_empty() && r.notify_errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
