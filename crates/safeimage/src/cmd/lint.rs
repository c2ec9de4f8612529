//! `safeimage lint`: Dockerfile lint and base-image policy.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::ValueEnum;
use dockerfile::{LintConfig, SourceFile};
use findings::{Finding, Level, Location};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Source lines with carets, and a summary.
    Human,
    /// JSON document with findings and the rules they reference.
    Json,
    /// SARIF 2.1.0 for code-scanning tools.
    Sarif,
}

/// Arguments of `safeimage lint`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Dockerfiles or directories to walk (default: the current directory).
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "human")]
    format: Format,
    /// safeimage.toml to read `[lint]` and `[policy.base_images]` from (default: ./safeimage.toml if present).
    #[arg(long, short = 'c', env = settings::env::SAFEIMAGE_CONFIG.name)]
    config: Option<PathBuf>,
    /// Hadolint config to honour (default: ./.hadolint.yaml or ./.hadolint.yml if present).
    #[arg(long)]
    hadolint_config: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this level (error, warning, info, style).
    #[arg(long)]
    failure_threshold: Option<Level>,
    /// Ignore a rule code (ours or a Hadolint DLxxxx/SCxxxx); repeatable.
    #[arg(long = "ignore", value_name = "CODE")]
    ignore: Vec<String>,
    /// Build argument for expanding FROM (NAME=value); repeatable.
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    build_args: Vec<String>,
    /// Do not run the ShellCheck binary (the built-in shell checks still run).
    #[arg(long)]
    no_shellcheck: bool,
    /// Do not check RUN scripts at all (neither built-in checks nor ShellCheck).
    #[arg(long)]
    no_shell_checks: bool,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Cache directory (ShellCheck results); default: $XDG_CACHE_HOME/safeimage.
    #[arg(long, env = settings::env::SAFEIMAGE_CACHE_DIR.name, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Do not read or write the cache.
    #[arg(long)]
    no_cache: bool,
    /// Advisory DB whose end-of-life data the policy's `current_release` reads.
    #[arg(long, env = settings::env::SAFEIMAGE_DB.name, value_name = "FILE")]
    db: Option<PathBuf>,
    /// Colour: auto, always or never.
    #[arg(long, default_value = "auto")]
    color: String,
}

fn display_path(p: &Path) -> String {
    let s = p.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).to_string()
}

/// Loads settings: config file, then `.hadolint.yaml`, then flags.
fn settings(args: &Args) -> anyhow::Result<LintConfig> {
    let cfg_path = args
        .config
        .clone()
        .or_else(|| Some(PathBuf::from("safeimage.toml")).filter(|p| p.is_file()));
    let mut cfg = match &cfg_path {
        // The whole file is read (every section by its owner), so a
        // mistake anywhere in it is reported, not just in [lint].
        // (lint builds and writes nothing: paths may be anywhere)
        Some(p) => {
            pipeline::FleetConfig::load_with(
                p,
                &pipeline::config::LoadOptions {
                    allow_outside_root: true,
                },
            )?
            .lint
        }
        None => LintConfig::default(),
    };
    let hl = args.hadolint_config.clone().or_else(|| {
        [".hadolint.yaml", ".hadolint.yml"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    });
    if let Some(p) = hl {
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        cfg.merge_hadolint_yaml(&p.display().to_string(), &text)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    if let Some(l) = args.failure_threshold {
        cfg.failure_threshold = l;
    }
    for code in &args.ignore {
        let mapped = if dockerfile::rules::rule(code).is_some() {
            vec![code.clone()]
        } else {
            dockerfile::rules::codes_for_hadolint(code)
        };
        if mapped.is_empty() {
            bail!("--ignore {code}: unknown rule code (run `safeimage rules` for the list)");
        }
        cfg.ignored.extend(mapped);
    }
    for ba in &args.build_args {
        let Some((k, v)) = ba.split_once('=') else {
            bail!("--build-arg {ba}: expected NAME=value")
        };
        cfg.build_args.insert(k.to_string(), v.to_string());
    }
    if args.no_shellcheck {
        cfg.shellcheck = false;
    }
    if args.no_shell_checks {
        cfg.shell_checks = false;
    }
    cfg.cache_dir = if args.no_cache {
        None
    } else {
        args.cache_dir.clone().or_else(super::default_cache_dir)
    };
    Ok(cfg)
}

/// Runs the linter.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut cfg = settings(&args)?;
    let roots = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut paths = Vec::new();
    for r in &roots {
        let meta = std::fs::metadata(r).with_context(|| format!("cannot read {}", r.display()))?;
        if meta.is_dir() {
            paths.extend(dockerfile::discover::find(r)?);
        } else {
            paths.push(r.clone());
        }
    }
    let mut sources = Vec::with_capacity(paths.len());
    let mut extra = Vec::new();
    for p in &paths {
        let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
        match String::from_utf8(bytes) {
            Ok(text) => sources.push(SourceFile::new(display_path(p), text)),
            Err(e) => {
                let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let line = valid.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
                extra.push(Finding::new(
                    "syntax-error",
                    Level::Error,
                    format!(
                        "file is not valid UTF-8 (first bad byte at offset {})",
                        valid.len()
                    ),
                    Location {
                        path: display_path(p),
                        line,
                        column: 1,
                        end_line: line,
                        end_column: 2,
                    },
                ));
            }
        }
    }
    if cfg.policy.as_ref().is_some_and(|p| p.current_release) {
        let path = args.db.clone().or_else(settings::env::default_db_path);
        let db = match path.filter(|p| p.exists()) {
            Some(p) => {
                vulndb::Db::open(&p).with_context(|| format!("advisory DB {}", p.display()))?
            }
            None => anyhow::bail!(
                "policy `current_release` needs end-of-life data: --db FILE (a DB with `safeimage db update --feed eol` or distro-info-data imported)"
            ),
        };
        if !db.has_eol() {
            anyhow::bail!(
                "policy `current_release`: the DB has no end-of-life data (`safeimage db update --feed eol`, or `db import /usr/share/distro-info/debian.csv`)"
            );
        }
        cfg.releases = Some(dockerfile::config::ReleaseData(std::sync::Arc::new(
            scan::eol::lint_table(&db.eol_all()?, &super::output_time().date()),
        )));
    }
    let mut report = dockerfile::lint(&sources, &cfg);
    report.findings.extend(extra);
    report.files += report
        .findings
        .iter()
        .filter(|f| f.code == "syntax-error" && !sources.iter().any(|s| s.path == f.location.path))
        .count();
    for n in &report.notes {
        eprintln!("warning: {}", findings::text::clean_lines(n));
    }
    let tool = report::ToolInfo {
        name: "safeimage".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    };
    let rules: Vec<_> = dockerfile::rules::RULES.iter().map(|r| r.info()).collect();
    let text = match args.format {
        Format::Human => {
            let color = match args.color.as_str() {
                "always" => true,
                "never" => false,
                _ => super::stdout_color(args.output.as_deref()),
            };
            let texts: HashMap<String, String> = sources
                .iter()
                .map(|s| (s.path.clone(), s.text.clone()))
                .collect();
            let mut s = report::human(&report.findings, &texts, color);
            s.push_str(&report::summary(&report.findings, report.files));
            if cfg.shellcheck && report.native_shell_checks_ran && !sources.is_empty() {
                s.push_str("\n(shellcheck not found: RUN scripts were checked by the built-in shell checks only; apt-get install shellcheck for its other checks)");
            }
            s
        }
        Format::Json => report::json(&report.findings, &rules, &tool, report.files),
        Format::Sarif => {
            serde_json::to_string_pretty(&report::sarif(&report.findings, &rules, &tool))?
        }
    };
    super::write_output(args.output.as_deref(), &text)?;
    Ok(
        if findings::any_at_or_above(&report.findings, cfg.failure_threshold) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}
