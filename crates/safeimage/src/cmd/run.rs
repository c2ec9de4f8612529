//! `safeimage run`: one pass of the daily job (`pipeline::fleet::run`).
//! This module resolves settings, builds the real side effects, renders the
//! run report (table, JSON, HTML) and picks the exit code: 0 = every image
//! promoted, unchanged or checked; 1 = an image was blocked by the gate or
//! the policy; 2 = an error (bad config, missing engine or DB, a registry or
//! build failure, a decision that could not be recorded).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use model::Outcome;
use pipeline::deps::{DbFile, OciRegistry, SystemClock};
use pipeline::{Deps, FleetConfig, Options};
use settings::env;

/// Arguments of `safeimage run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Fleet config.
    #[arg(long, short = 'c', env = env::SAFEIMAGE_CONFIG.name, default_value = "safeimage.toml", value_name = "FILE")]
    config: PathBuf,
    /// Only these images (repeatable).
    #[arg(long = "only", value_name = "NAME")]
    only: Vec<String>,
    /// Only this part of the fleet (a stable partition by image name), for
    /// a CI matrix of N jobs: `--shard 2/4`.
    #[arg(long, value_name = "I/N")]
    shard: Option<pipeline::fleet::Shard>,
    /// Images built in parallel.
    #[arg(long, short = 'j', default_value_t = 2, value_name = "N")]
    jobs: usize,
    /// Resolve bases, lint and check policy only: no build, push or tag.
    #[arg(long)]
    dry_run: bool,
    /// The build engine's program (default: buildah, docker or podman on
    /// PATH, by `[engine] kind`); never read from the config file.
    #[arg(long, env = env::SAFEIMAGE_ENGINE_PROGRAM.name, value_name = "PATH")]
    engine_program: Option<PathBuf>,
    /// Let an image's `context` and `dockerfile` be outside the config's
    /// directory (only for a trusted config: one from a pull request could
    /// send any host directory to a build).
    #[arg(long)]
    allow_outside_root: bool,
    /// Layer cache directory; default: $XDG_CACHE_HOME/safeimage.
    #[arg(long, env = env::SAFEIMAGE_CACHE_DIR.name, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Also write the run report as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut cfg = FleetConfig::load_fleet_with(
        &args.config,
        &pipeline::config::LoadOptions {
            allow_outside_root: args.allow_outside_root,
        },
    )?;
    cfg.engine_program = args.engine_program.clone();
    let engine = pipeline::engine::engine(cfg.engine, cfg.engine_program.as_deref());
    let registry = OciRegistry {
        opts: cfg.registry_options()?,
    };
    let db_location = (cfg.scan.db.clone())
        .or_else(env::default_db_path)
        .context("no [scan] db and neither XDG_CACHE_HOME nor HOME is set")?;
    let advisories = DbFile {
        path: if args.dry_run {
            db_location
        } else {
            crate::shared::db::resolve_location(
                &db_location,
                &cfg.registry_options()?.insecure,
                &cfg.scan.db_keys,
                cfg.scan.db_max_mib,
            )?
        },
        max_age_hours: cfg.scan.max_age_hours,
        max_feed_age_days: cfg.scan.max_feed_age_days,
    };
    let mut store = cfg.open_store()?;
    // the forge security issues are mirrored to: checked before anything is built
    let tracker = if cfg.issues.mirror && !args.dry_run {
        update::forge::connect_issues(&cfg.update)
            .with_context(|| format!("{}: [issues] mirror", args.config.display()))?
    } else {
        None
    };
    let observer = super::progress::Progress {
        pause: env::SAFEIMAGE_TEST_PAUSE_BEFORE_TAG
            .get_os()
            .map(PathBuf::from),
    };
    let deps = Deps {
        registry: &registry,
        engine: engine.as_ref(),
        store: &mut *store,
        notifier: &notify::Live,
        advisories: &advisories,
        clock: &SystemClock,
        observer: &observer,
        issues: tracker.as_deref(),
    };
    let opts = Options {
        only: args.only,
        jobs: args.jobs,
        dry_run: args.dry_run,
        evaluate: false,
        cache_dir: args.cache_dir.or_else(super::default_cache_dir),
        cancel: Default::default(),
        shard: args.shard,
    };
    let stopper = super::signals::Stopper::watch(opts.cancel.clone())?;
    let report = pipeline::fleet::run(&cfg, deps, &opts)?;

    let json = serde_json::to_string_pretty(&report)?;
    let html = report::runs::html(&report);
    let html_path = pipeline::fleet::html_report(&cfg, report.run);
    super::write_output(
        Some(&cfg.report_dir.join(format!("run-{}.json", report.run))),
        &json,
    )?;
    super::write_output(Some(&html_path), &html)?;
    super::write_output(Some(&cfg.report_dir.join("latest.html")), &html)?;
    if let Some(p) = &args.json {
        super::write_output(Some(p), &json)?;
    }
    print!("{}", report::runs::table(&report));
    println!("report: {}", html_path.display());
    // An image that could not even start is in `errors`.
    Ok(if let Some(sig) = stopper.caught() {
        ExitCode::from(128 + sig as u8)
    } else if report.any(Outcome::Failed) || !report.errors.is_empty() {
        ExitCode::from(2)
    } else if report.any(Outcome::Blocked) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
