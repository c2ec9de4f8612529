//! `safeimage diff --git-base REV --git-head REV`: the check mode for pull
//! requests others open (`pipeline::update::check::check`), rendered as
//! Markdown or JSON; exits with `--exit-code` when the hard rules block.

use std::path::Path;
use std::process::ExitCode;

use super::{Args, Format};

/// Check mode: two revisions of the fleet.
pub fn run(args: &Args, base: &str, head: &str) -> anyhow::Result<ExitCode> {
    let mut cfg = pipeline::FleetConfig::load_fleet(&args.config)?;
    cfg.engine_program = args.engine_program.clone();
    let parts = crate::shared::fleet::parts(&cfg, true)?;
    let dir = cfg.path.parent().filter(|p| !p.as_os_str().is_empty());
    let repo = update::git::Repo::open(dir.unwrap_or(Path::new(".")), &cfg.update.remote)?;
    let observer = pipeline::deps::Quiet;
    let r = pipeline::update::check::check(
        &repo,
        &args.config,
        &cfg,
        base,
        head,
        &pipeline::update::EvalDeps {
            registry: &parts.registry,
            engine: parts.engine.as_ref(),
            advisories: &parts.advisories,
            clock: &pipeline::deps::SystemClock,
            observer: &observer,
        },
        &pipeline::update::UpdateOptions {
            dry_run: false,
            jobs: 2,
            cache_dir: args
                .image
                .cache_dir
                .clone()
                .or_else(crate::cmd::default_cache_dir),
        },
    )?;
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&r)? + "\n",
        Format::Markdown | Format::Table => r.markdown.clone(),
    };
    crate::cmd::write_output(args.output.as_deref(), &text)?;
    if r.blocked {
        for c in r.images.iter().filter(|c| !c.security.improved()) {
            eprintln!(
                "check: {}: {}",
                c.image,
                findings::text::clean(c.security.reason())
            );
        }
        return Ok(ExitCode::from(args.exit_code));
    }
    Ok(ExitCode::SUCCESS)
}
