//! `safeimage init [DIR]`: writes `safeimage.toml` (one `[[image]]` per
//! Dockerfile found), a GitHub workflow and an ignore-file skeleton into a
//! repository. Nothing is overwritten without `--force`: when any of the
//! files exists, none is written. The repository is not trusted: nothing
//! is written through a symbolic link, on the way or at the file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

/// Arguments of `safeimage init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository (default: the current directory).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Registry and namespace images are pushed to (`REGISTRY/NAME`).
    #[arg(long, default_value = "registry.example.com/your-team")]
    registry: String,
    /// Overwrite files that exist.
    #[arg(long)]
    force: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dockerfiles = dockerfile::discover::find(&args.dir)?;
    if dockerfiles.is_empty() {
        bail!(
            "no Dockerfile under {} (looked for Dockerfile*, Containerfile*, *.dockerfile)",
            args.dir.display()
        );
    }
    let git = sandbox::git::command(&args.dir)
        .args(["rev-parse", "--verify", "-q", "HEAD"])
        .output()
        .is_ok_and(|o| o.status.success());
    let plan = pipeline::init::plan(&args.dir, &dockerfiles, &args.registry, git);
    // a link anywhere on the way: refused before anything is written
    for (rel, _) in &plan.files {
        let mut at = args.dir.clone();
        for c in std::path::Path::new(rel).components() {
            at.push(c);
            if at
                .symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink())
            {
                bail!(
                    "{} is a symbolic link; init writes nothing through links (the repository may not be yours): nothing written",
                    at.display()
                );
            }
        }
    }
    // a link counts as there (a dangling one too): init never writes through it
    let existing: Vec<String> = plan
        .files
        .iter()
        .map(|(p, _)| args.dir.join(p))
        .filter(|p| p.symlink_metadata().is_ok())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() && !args.force {
        bail!(
            "{} already exist{}; nothing written (--force overwrites)",
            existing.join(", "),
            if existing.len() == 1 { "s" } else { "" }
        );
    }
    for (rel, text) in &plan.files {
        safefs::write_beneath(
            &args.dir,
            std::path::Path::new(rel),
            text.as_bytes(),
            safefs::Mode::Public,
            args.force,
        )?;
        println!("wrote {}", args.dir.join(rel).display());
    }
    for (name, context, file) in &plan.images {
        println!("  image {name}: {context}/{file}");
    }
    println!(
        "next: set each image's repository in {}, then `safeimage run --config {} --dry-run`",
        pipeline::init::CONFIG,
        args.dir.join(pipeline::init::CONFIG).display()
    );
    Ok(ExitCode::SUCCESS)
}
