//! The `safeimage` command line: argument parsing, settings, rendering and
//! exit codes. The work happens in the domain crates.
//!
//! Exit codes: 0 = nothing at or above the failure threshold, 1 = findings
//! at or above it (or a gate failed), 2 = an error stopped the command.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cmd;
mod shared;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Keeps a fleet of container images patched, hardened, scanned, gated, signed and pushed.
#[derive(Debug, Parser)]
#[command(name = "safeimage", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Lint Dockerfiles and check their base images against the policy.
    Lint(cmd::lint::Args),
    /// List the lint rules with their levels and equivalent codes.
    Rules(cmd::rules::Args),
    /// Inventory an image and write an SBOM (CycloneDX, SPDX, JSON, table).
    Sbom(cmd::sbom::Args),
    /// Match an image or SBOM against the advisory DB; gate on the result.
    Scan(cmd::scan::Args),
    /// What changed between two images: packages, vulnerabilities, size, layers, base.
    Diff(cmd::diff::Args),
    /// Build, import and inspect the advisory DB.
    Db(cmd::db::Args),
    /// Make an image minimal and non-root, check it runs, keep it scannable.
    Harden(cmd::harden::Args),
    /// Fix an image's OS packages in place: one patch layer on the original layers.
    Patch(cmd::patch::Args),
    /// Find committed and baked-in credentials: files, git history, image layers.
    Secrets(cmd::secrets::Args),
    /// Sign an image with a cosign key; attach signed attestations.
    Sign(cmd::sign::Args),
    /// Verify an image's signatures and attestations with public keys.
    Verify(cmd::verify::Args),
    /// Make a cosign-compatible key pair.
    Keygen(cmd::keygen::Args),
    /// The daily job: rebuild, scan, gate, promote, record, notify, report.
    Run(cmd::run::Args),
    /// Propose base-image updates as branches; merge them when security improves.
    Update(cmd::update::Args),
    /// Match the promoted images' kept inventories against the DB again (no pull, no build).
    Rematch(cmd::rematch::Args),
    /// Reports over time: the weekly security summary.
    Report(cmd::report::Args),
    /// Check the audit logs.
    Audit(cmd::audit::Args),
    /// The fleet on its schedule, a dashboard and a JSON API over the store.
    Serve(cmd::serve::Args),
    /// Set up a repository: safeimage.toml (one image per Dockerfile), a GitHub workflow, an ignore file.
    Init(cmd::init::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cmd::completions::Args),
    /// Print or write the man pages.
    Man(cmd::completions::ManArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Lint(a) => cmd::lint::run(a),
        Command::Rules(a) => cmd::rules::run(a),
        Command::Sbom(a) => cmd::sbom::run(a),
        Command::Scan(a) => cmd::scan::run(a),
        Command::Diff(a) => cmd::diff::run(a),
        Command::Db(a) => cmd::db::run(a),
        Command::Harden(a) => cmd::harden::run(a),
        Command::Patch(a) => cmd::patch::run(a),
        Command::Secrets(a) => cmd::secrets::run(a),
        Command::Sign(a) => cmd::sign::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Keygen(a) => cmd::keygen::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Update(a) => cmd::update::run(a),
        Command::Rematch(a) => cmd::rematch::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Report(a) => cmd::report::run(a),
        Command::Audit(a) => cmd::audit::run(a),
        Command::Init(a) => cmd::init::run(a),
        Command::Completions(a) => cmd::completions::run(a, Cli::command()),
        Command::Man(a) => cmd::completions::man(a, Cli::command()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", findings::text::clean_lines(&error_text(&e)));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each said once: a cause whose text the
/// message already contains (many errors quote their source) is skipped.
fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if c.is_empty() || out.contains(&c) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_cause_is_printed_once() {
        let io = std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "No such file or directory (os error 2)",
        );
        let e = anyhow::Error::new(io)
            .context("oci:/nonexistent: No such file or directory (os error 2)");
        assert_eq!(
            super::error_text(&e),
            "oci:/nonexistent: No such file or directory (os error 2)"
        );
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(super::error_text(&e), "outer: inner");
    }
}
