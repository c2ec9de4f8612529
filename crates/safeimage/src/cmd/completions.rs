//! `safeimage completions SHELL` and `safeimage man`: shell completion
//! scripts and man pages, generated from the same clap definitions the
//! parser uses, so they always list the commands and flags that exist.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `safeimage completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Install, for example:\n  \
    safeimage completions bash > ~/.local/share/bash-completion/completions/safeimage\n  \
    safeimage completions zsh > \"${fpath[1]}/_safeimage\"\n  \
    safeimage completions fish > ~/.config/fish/completions/safeimage.fish")]
pub struct Args {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Prints the completion script for the shell.
pub fn run(args: Args, mut cli: clap::Command) -> anyhow::Result<ExitCode> {
    let name = cli.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cli, name, &mut script);
    super::write_output(None, &String::from_utf8_lossy(&script))?;
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `safeimage man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `safeimage.1` and one page per command (`safeimage-scan.1`, ...)
    /// into DIR; without it, print `safeimage.1`.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

/// The page of `cmd` (named by its path of commands) and its subcommands'.
fn pages(
    cmd: &clap::Command,
    prefix: &str,
    out: &mut Vec<(String, Vec<u8>)>,
) -> std::io::Result<()> {
    let name = if prefix.is_empty() {
        cmd.get_name().to_string()
    } else {
        format!("{prefix}-{}", cmd.get_name())
    };
    let page = cmd.clone().name(name.clone());
    let mut roff = Vec::new();
    clap_mangen::Man::new(page).render(&mut roff)?;
    out.push((format!("{name}.1"), roff));
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        pages(sub, &name, out)?;
    }
    Ok(())
}

/// Prints or writes the man pages.
pub fn man(args: ManArgs, mut cli: clap::Command) -> anyhow::Result<ExitCode> {
    cli.build();
    let mut out = Vec::new();
    pages(&cli, "", &mut out)?;
    match args.out_dir {
        None => {
            let (_, top) = &out[0];
            super::write_output(None, &String::from_utf8_lossy(top))?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (file, roff) in &out {
                safefs::write(&dir.join(file), roff, safefs::Mode::Public)?;
            }
            eprintln!("wrote {} man pages to {}", out.len(), dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
