//! `safeimage audit verify`: check every image's audit log (hash chain,
//! sequence, and the head the store recorded). Exit 0 when intact, 1 when
//! anything was edited, deleted or reordered.

use std::path::PathBuf;
use std::process::ExitCode;

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
        #[arg(
            long,
            short = 'c',
            default_value = "safeimage.toml",
            value_name = "FILE"
        )]
        config: PathBuf,
    },
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Sub::Verify { config } = args.command;
    let cfg = pipeline::FleetConfig::load(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    if !cfg.store.exists() {
        anyhow::bail!(
            "no state store at {} (nothing has run with this config yet)",
            cfg.store.display()
        );
    }
    let store = store::Sqlite::open(&cfg.store, &cfg.audit_dir)?;
    for n in &store.recovered {
        eprintln!("note: {n}");
    }
    let mut bad = 0;
    for v in store::verify(&store)? {
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
