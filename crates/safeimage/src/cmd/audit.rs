//! `safeimage audit verify`: check every image's audit log (hash chain,
//! sequence, and the head the store recorded). Read-only: nothing is
//! anchored or repaired here. Exit 0 when intact, 1 when anything was
//! edited, deleted, reordered or added outside a run.

use std::path::PathBuf;
use std::process::ExitCode;

use settings::env;

/// Arguments of `safeimage audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Verify the audit logs against their hash chains and the store.
    Verify {
        /// Fleet config (names the store and the audit directory).
        #[arg(long, short = 'c', env = env::SAFEIMAGE_CONFIG.name, default_value = "safeimage.toml", value_name = "FILE")]
        config: PathBuf,
    },
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Sub::Verify { config } = args.command;
    // verifying reads the store wherever the config keeps it: nothing is
    // built or written, so paths outside the config's directory are fine
    let cfg = pipeline::FleetConfig::load_with(
        &config,
        &pipeline::config::LoadOptions {
            allow_outside_root: true,
        },
    )?;
    let key = cfg.store.audit_key()?;
    let store = cfg.store.open_read_only()?;
    let mut bad = 0;
    for v in store::verify(&*store, key.as_ref())? {
        if v.problems.is_empty() {
            println!("ok      {} ({} records)", v.image, v.records);
        } else {
            bad += 1;
            println!("BROKEN  {} ({} records)", v.image, v.records);
            for p in &v.problems {
                println!("  {p}");
            }
        }
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
