//! `safeimage secrets`: committed and baked-in credentials in a directory
//! tree, a repository's history (`--git`) or any image (every layer and the
//! config), rendered as a table, JSON or SARIF. Secrets are redacted unless
//! `--show-secrets`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::shared::image::ImageArgs;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human text.
    Table,
    /// JSON.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

/// Arguments of `safeimage secrets`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directories or files (several: as a pre-commit hook passes the staged
    /// files), a repository with --git, or an image (oci:DIR[:TAG],
    /// docker-archive:FILE, registry:REF or REF).
    #[arg(required = true, num_args = 1..)]
    targets: Vec<String>,
    /// Scan every line the repository's commits added (all refs).
    #[arg(long)]
    git: bool,
    /// With --git: only commits after this one (`REV..HEAD`).
    #[arg(long, value_name = "REV", requires = "git")]
    since_commit: Option<String>,
    /// Rules: a .gitleaks.toml (default: TARGET/.gitleaks.toml when there is one, ./.gitleaks.toml
    /// for files or several targets; else the built-in rules).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Fingerprints to ignore, one per line (default: TARGET/.gitleaksignore when there is one).
    #[arg(long, value_name = "FILE")]
    ignore_file: Option<PathBuf>,
    /// Also scan what .gitignore ignores.
    #[arg(long)]
    no_ignore: bool,
    /// Print secrets in full (default: first 4 characters, then ****).
    #[arg(long)]
    show_secrets: bool,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    format: Format,
    /// Write to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    image: ImageArgs,
}

fn is_image(target: &str) -> bool {
    ["oci:", "docker-archive:", "registry:"]
        .iter()
        .any(|p| target.starts_with(p))
        || !Path::new(target).exists()
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let target = args.targets[0].clone();
    let several = args.targets.len() > 1;
    if several && (args.git || args.targets.iter().any(|t| is_image(t))) {
        anyhow::bail!(
            "several targets are files or directories only (one repository with --git, one image); \
             not a file or directory: {}",
            args.targets
                .iter()
                .filter(|t| is_image(t))
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let image = !args.git && is_image(&target);
    let base = (!image).then(|| {
        if !several && Path::new(&target).is_dir() {
            PathBuf::from(&target)
        } else {
            PathBuf::from(".")
        }
    });
    let config = args.config.clone().or_else(|| {
        base.as_ref()
            .map(|b| b.join(".gitleaks.toml"))
            .filter(|p| p.is_file())
    });
    let engine = match &config {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?;
            let c = secrets::config::read(&p.display().to_string(), &text)?;
            secrets::Engine::new(c.rules, c.allowlists)?
        }
        None => secrets::Engine::builtin()?,
    };
    let ignore_path = args.ignore_file.clone().or_else(|| {
        base.as_ref()
            .map(|b| b.join(".gitleaksignore"))
            .filter(|p| p.is_file())
    });
    let ignored = match &ignore_path {
        Some(p) => secrets::config::ignore_file(
            &std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?,
        ),
        None => Vec::new(),
    };
    let (found, files) = if args.git {
        let range = args.since_commit.as_ref().map(|c| format!("{c}..HEAD"));
        let (f, h) = secrets::git::scan(Path::new(&target), range.as_deref(), &engine)?;
        (f, h.commits)
    } else if image {
        let src: oci::Source = target
            .parse()
            .with_context(|| format!("`{target}` is neither a path nor an image source"))?;
        let (f, s) = secrets::image::scan(&src, &args.image.options(), &engine)
            .with_context(|| format!("reading {target}"))?;
        (f, s.files)
    } else {
        let opts = secrets::dir::DirOptions {
            gitignore: !args.no_ignore,
            ..Default::default()
        };
        let (mut found, mut files) = (Vec::new(), 0);
        for t in &args.targets {
            let (f, s) = secrets::dir::scan(Path::new(t), &engine, &opts);
            // what could not be read is said, never passed over as clean
            for (path, why) in &s.skipped {
                eprintln!(
                    "note: not scanned: {}: {}",
                    findings::text::clean_lines(path),
                    findings::text::clean_lines(why)
                );
            }
            found.extend(f);
            files += s.files;
        }
        (found, files)
    };
    let found: Vec<_> = found
        .into_iter()
        .filter(|f| !ignored.contains(&f.fingerprint()))
        .collect();
    let findings: Vec<findings::Finding> = found
        .iter()
        .map(|f| f.to_finding(args.show_secrets))
        .collect();
    let rules = secrets::found::rule_infos(engine.rules());
    let tool = report::ToolInfo {
        name: "safeimage".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    };
    let text = match args.format {
        Format::Table => {
            let color = super::stdout_color(args.output.as_deref());
            // no source snippets: they would print the secret
            let mut s = report::human(&findings, &Default::default(), color);
            s.push_str(&report::summary(&findings, files));
            s
        }
        Format::Json => report::json(&findings, &rules, &tool, files),
        Format::Sarif => serde_json::to_string_pretty(&report::sarif(&findings, &rules, &tool))?,
    };
    super::write_output(args.output.as_deref(), &text)?;
    let leaks = found.iter().any(|f| !f.hit.example);
    Ok(if leaks {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
