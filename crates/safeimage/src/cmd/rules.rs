//! `safeimage rules`: the lint rule table.

use std::process::ExitCode;

use clap::ValueEnum;

/// Output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// A table.
    Table,
    /// JSON.
    Json,
}

/// Arguments of `safeimage rules`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Prints the rules.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let infos: Vec<_> = dockerfile::rules::RULES.iter().map(|r| r.info()).collect();
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&infos)?,
        Format::Table => {
            let mut s = format!(
                "{:<32} {:<8} {:<22} {}\n",
                "CODE", "LEVEL", "HADOLINT", "SUMMARY"
            );
            for r in &infos {
                s.push_str(&format!(
                    "{:<32} {:<8} {:<22} {}\n",
                    r.code,
                    r.default_level,
                    r.equivalents.hadolint.join(","),
                    r.summary
                ));
            }
            s
        }
    };
    super::write_output(None, &text)?;
    Ok(ExitCode::SUCCESS)
}
