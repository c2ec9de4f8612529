//! `safeimage update`: propose base-image updates for the fleet
//! (`pipeline::update::run`): newer digests and tags of every base,
//! evaluated with the run's own steps (nothing tagged), pushed as one
//! branch per proposal and, in git mode, merged when `[update] automerge`
//! allows. Renders the plan and what was done; exit 0 when it ran (blocked
//! proposals are results, not errors), 2 on an error (a proposal the forge
//! refused is reported with the others first).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use pipeline::FleetConfig;
use pipeline::deps::SystemClock;
use pipeline::update::{UpdateDeps, UpdateOptions, UpdateReport};
use settings::env;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people.
    Table,
    /// The whole report.
    Json,
}

/// Arguments of `safeimage update`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Fleet config.
    #[arg(long, short = 'c', env = env::SAFEIMAGE_CONFIG.name, default_value = "safeimage.toml", value_name = "FILE")]
    config: PathBuf,
    /// Plan only: look up bases and show the proposals; nothing is built,
    /// committed or pushed (first-seen times are still recorded).
    #[arg(long)]
    dry_run: bool,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    format: Format,
    /// Images built in parallel in an evaluation.
    #[arg(long, short = 'j', default_value_t = 2, value_name = "N")]
    jobs: usize,
    /// The build engine's program (never read from the config file).
    #[arg(long, env = env::SAFEIMAGE_ENGINE_PROGRAM.name, value_name = "PATH")]
    engine_program: Option<PathBuf>,
    /// Let an image's `context` and `dockerfile` be outside the config's directory.
    #[arg(long)]
    allow_outside_root: bool,
    /// Layer cache directory; default: $XDG_CACHE_HOME/safeimage.
    #[arg(long, env = env::SAFEIMAGE_CACHE_DIR.name, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

fn table(r: &UpdateReport) -> String {
    let mut o = String::new();
    if r.plan.proposals.is_empty() {
        o.push_str("no update to propose\n");
    }
    for p in &r.plan.proposals {
        o.push_str(&format!(
            "proposal {} ({})\n",
            p.branch,
            p.images.join(", ")
        ));
        for u in &p.updates {
            let file = u.file.display();
            o.push_str(&format!(
                "  {}:{} {:?}: {} -> {}\n",
                file, u.line, u.change, u.from, u.to
            ));
        }
    }
    for u in &r.plan.waiting {
        o.push_str(&format!(
            "waiting: {} {} -> {} (ready at {})\n",
            u.image,
            u.from,
            u.to,
            findings::time::Timestamp(u.ready_at)
        ));
    }
    for e in &r.evaluations {
        o.push_str(&format!(
            "evaluated {}: {}\n",
            e.branch,
            findings::text::clean(&e.judgement.reason)
        ));
    }
    for p in &r.pushed {
        o.push_str(&format!(
            "branch {}: {:?}{}{}\n",
            p.branch,
            p.state,
            if p.merged { ", merged" } else { "" },
            p.pull_request
                .as_deref()
                .map(|u| format!(", {u}"))
                .unwrap_or_default()
        ));
        if let Some(e) = &p.error {
            o.push_str(&format!("  error: {}\n", findings::text::clean(e)));
        }
    }
    for c in &r.closed {
        o.push_str(&format!("closed {} ({})\n", c.url, c.branch));
    }
    for n in &r.plan.notes {
        o.push_str(&format!("note: {}\n", findings::text::clean(n)));
    }
    o
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut cfg = FleetConfig::load_fleet_with(
        &args.config,
        &pipeline::config::LoadOptions {
            allow_outside_root: args.allow_outside_root,
        },
    )?;
    let forge = if args.dry_run {
        None
    } else {
        update::forge::connect(&cfg.update)
            .with_context(|| format!("{}: [update]", args.config.display()))?
    };
    cfg.engine_program = args.engine_program.clone();
    let parts = crate::shared::fleet::parts(&cfg, !args.dry_run)?;
    let repo = if args.dry_run {
        None
    } else {
        let dir = cfg.path.parent().filter(|p| !p.as_os_str().is_empty());
        Some(update::git::Repo::open(
            dir.unwrap_or(std::path::Path::new(".")),
            &cfg.update.remote,
        )?)
    };
    let mut store = cfg.open_store()?;
    let observer = pipeline::deps::Quiet;
    let report = pipeline::update::run(
        &cfg,
        UpdateDeps {
            lookup: &parts.lookup,
            store: &mut *store,
            registry: &parts.registry,
            engine: parts.engine.as_ref(),
            advisories: &parts.advisories,
            clock: &SystemClock,
            observer: &observer,
            git: repo.as_ref(),
            forge: forge.as_deref(),
        },
        &UpdateOptions {
            dry_run: args.dry_run,
            jobs: args.jobs,
            cache_dir: args.cache_dir.or_else(super::default_cache_dir),
        },
    )?;
    let text = match args.format {
        Format::Table => table(&report),
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
    };
    super::write_output(None, &text)?;
    // a proposal the forge refused: reported above with the others, and
    // the run is not a success
    Ok(if report.pushed.iter().any(|p| p.error.is_some()) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
