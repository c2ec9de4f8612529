//! `safeimage diff A B`: what changed between two images (each an image
//! source, an SBOM, or one of our scan reports): packages, vulnerabilities
//! by severity, sizes, layers and bases, as a table, the Markdown a pull
//! request shows, or JSON; exits by `--fail-on` conditions.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;
use compare::{FailOn, Side};
use findings::time::Timestamp;
use scan::gate::Gate;
use vulndb::Db;

mod check;

use crate::shared::db::DbArg;
use crate::shared::image::ImageArgs;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For a terminal.
    Table,
    /// For a pull request's body or a job summary.
    Markdown,
    /// safeimage-diff/1 JSON.
    Json,
}

/// Arguments of `safeimage diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Before: an image (oci:DIR[:TAG], docker-archive:FILE, registry:REF or
    /// REF), a CycloneDX/SPDX JSON SBOM, or a `scan --format json` report.
    #[arg(required_unless_present = "git_base")]
    a: Option<String>,
    /// After, as A.
    #[arg(required_unless_present = "git_base")]
    b: Option<String>,
    /// Check mode: the fleet at this revision (e.g. the pull request's
    /// base) against --git-head; the images whose Dockerfile, context or
    /// config changed are built and scanned at both (nothing tagged) and
    /// compared; exits by the hard rules (CRITICAL present or more findings).
    #[arg(long, value_name = "REV", requires_all = ["git_head"], conflicts_with_all = ["a", "b"])]
    git_base: Option<String>,
    /// Check mode: the revision to judge (e.g. the pull request's head).
    #[arg(long, value_name = "REV", requires = "git_base")]
    git_head: Option<String>,
    /// Check mode: the fleet config in this repository.
    #[arg(long, short = 'c', env = settings::env::SAFEIMAGE_CONFIG.name, default_value = "safeimage.toml", value_name = "FILE")]
    config: PathBuf,
    /// Check mode: the build engine's program (never read from the config file).
    #[arg(long, env = settings::env::SAFEIMAGE_ENGINE_PROGRAM.name, value_name = "PATH")]
    engine_program: Option<PathBuf>,
    #[command(flatten)]
    db: DbArg,
    /// Refuse a DB older than this many hours (0: no limit).
    #[arg(
        long,
        env = settings::env::SAFEIMAGE_DB_MAX_AGE_HOURS.name,
        default_value_t = 120,
        value_name = "HOURS"
    )]
    db_max_age: u64,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    format: Format,
    /// Write to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit with --exit-code when B has a new CRITICAL finding
    /// (new-critical), more findings than A (count-up) or any new finding
    /// (any-new); comma-separated or repeated.
    #[arg(long, value_delimiter = ',', value_name = "CONDITION")]
    fail_on: Vec<FailOn>,
    /// Exit code when a --fail-on condition is met (errors always exit 2).
    #[arg(long, default_value_t = 1, value_name = "N")]
    exit_code: u8,
    /// Ignore file(s) applied to both sides (.safeimage-ignore.yaml format
    /// or .trivyignore lines).
    #[arg(long = "ignore-file", value_name = "FILE")]
    ignore_files: Vec<PathBuf>,
    /// OpenVEX document(s) applied to both sides.
    #[arg(long = "vex", value_name = "FILE")]
    vex: Vec<PathBuf>,
    #[command(flatten)]
    image: ImageArgs,
}

fn is_report(source: &str) -> bool {
    let p = Path::new(source);
    let mut head = [0u8; 512];
    p.is_file()
        && std::fs::File::open(p)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
            .is_ok_and(|n| scan::baseline::looks_like_report(&head[..n]))
}

struct Judge {
    db: Option<Db>,
    rules: Vec<scan::suppress::Rule>,
    vex: Vec<scan::suppress::VexStatement>,
}

impl Judge {
    fn side(&self, source: &str, image: &ImageArgs) -> anyhow::Result<Side> {
        if is_report(source) {
            return Ok(compare::side::report(Path::new(source))?);
        }
        let db = self
            .db
            .as_ref()
            .expect("the DB is opened when a side is not a report");
        let loaded = crate::shared::image::load(source, image)?;
        crate::shared::image::warn_incomplete(&loaded.inventory);
        let m = scan::match_inventory(&loaded.inventory, db, &scan::Options::default())?;
        let today = Timestamp::now().date();
        let j = scan::session::judge(
            m,
            &scan::session::Judging {
                rules: &self.rules,
                vex: &self.vex,
                today: &today,
                subject: &loaded.name,
                digest: loaded.digest.as_deref(),
                baseline: None,
                gate: &Gate::default(),
            },
        );
        Ok(compare::side::loaded(&loaded, j.findings))
    }
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let (Some(base), Some(head)) = (&args.git_base, &args.git_head) {
        return check::run(&args, base, head);
    }
    let (Some(a_src), Some(b_src)) = (args.a.clone(), args.b.clone()) else {
        anyhow::bail!("give two sources to compare, or --git-base and --git-head");
    };
    // Everything that can fail on bad input is read before the images.
    let db = if is_report(&a_src) && is_report(&b_src) {
        None
    } else {
        Some(Db::open_fresh(
            &args.db.resolve(&args.image.insecure_registry)?,
            args.db_max_age,
            Timestamp::now(),
        )?)
    };
    let mut judge = Judge {
        db,
        rules: Vec::new(),
        vex: Vec::new(),
    };
    for f in &args.ignore_files {
        judge.rules.extend(scan::suppress::read_rules(f)?);
    }
    for f in &args.vex {
        judge.vex.extend(scan::suppress::read_openvex(f)?);
    }
    let a = judge.side(&a_src, &args.image)?;
    let b = judge.side(&b_src, &args.image)?;
    let c = compare::compare(&a, &b);
    let security = compare::security(&c);
    let failures = compare::failures(&c, &args.fail_on);
    let r = report::diff::DiffReport {
        comparison: &c,
        security: &security,
        failures: &failures,
    };
    let text = match args.format {
        Format::Table => report::diff::table(&r),
        Format::Markdown => report::diff::markdown(&r),
        Format::Json => report::diff::json(&r),
    };
    super::write_output(args.output.as_deref(), &text)?;
    if failures.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if args.format != Format::Table || args.output.is_some() {
        for f in &failures {
            eprintln!("diff failed: {f}");
        }
    }
    Ok(ExitCode::from(args.exit_code))
}
