//! `safeimage harden`: make an image minimal and non-root (the `harden`
//! crate), check it runs, write it to an OCI layout or push it, and report
//! sizes, kept files and packages, and vulnerabilities before and after.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::shared::image::{Dest, ImageArgs, dest};

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table.
    Table,
    /// JSON.
    Json,
}

/// Arguments of `safeimage harden`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: oci:DIR[:TAG], docker-archive:FILE, registry:REF or REF.
    source: String,
    /// The program the image runs (a path in the image; must be ELF).
    #[arg(long, value_name = "PATH")]
    entrypoint: String,
    /// Also keep this file or directory (modules loaded at run time, data); repeatable.
    #[arg(long, value_name = "PATH")]
    keep: Vec<String>,
    /// Who the image runs as: UID[:GID] or a user in the image's passwd.
    #[arg(long, value_name = "UID[:GID]", default_value = "65532")]
    user: harden::User,
    /// What the result sits on: scratch, or an image whose files come first.
    #[arg(long, value_name = "scratch|IMAGE", default_value = "scratch")]
    base: String,
    /// Also write a `-debug` sibling with a static busybox in /busybox.
    #[arg(long)]
    debug_variant: bool,
    /// The static busybox for the debug sibling (Debian's busybox-static).
    #[arg(long, value_name = "FILE", default_value = "/bin/busybox")]
    busybox: PathBuf,
    /// Run the entrypoint with ARGS in the hardened root as its user; must exit 0. Repeatable.
    #[arg(long = "check-cmd", value_name = "ARGS", allow_hyphen_values = true)]
    check_cmd: Vec<String>,
    /// Start the image's command and fetch http://127.0.0.1:PORT/PATH; repeatable.
    #[arg(long = "check-http", value_name = "PORT[/PATH]")]
    check_http: Vec<String>,
    /// Seconds each check may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    check_timeout: u64,
    /// Where to write: oci:DIR[:TAG] or a registry reference.
    #[arg(long, short = 'o', value_name = "DEST")]
    output: String,
    /// Report format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    format: Format,
    /// Advisory DB for vulnerability counts before and after (used when it exists).
    #[arg(long, env = settings::env::SAFEIMAGE_DB.name, value_name = "FILE")]
    db: Option<PathBuf>,
    /// Write an OpenVEX document for the hardened image: the source's
    /// findings in packages hardening left out are `not_affected`
    /// (`vulnerable_code_not_present`), the rest `under_investigation`
    /// (needs the advisory DB).
    #[arg(long, value_name = "FILE")]
    vex_out: Option<PathBuf>,
    #[command(flatten)]
    image: ImageArgs,
}

/// Vulnerability counts (critical, high, medium, low) of findings.
fn counts(findings: &[scan::Finding]) -> [usize; 4] {
    let mut c = [0; 4];
    for f in findings {
        let i = match f.severity {
            vulndb::model::Severity::Critical => 0,
            vulndb::model::Severity::High => 1,
            vulndb::model::Severity::Medium => 2,
            vulndb::model::Severity::Low => 3,
            _ => continue,
        };
        c[i] += 1;
    }
    c
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let dest = dest(&args.output)?;
    let src: oci::Source = args
        .source
        .parse()
        .with_context(|| format!("image source `{}`", args.source))?;
    let mut checks = Vec::new();
    for c in &args.check_cmd {
        checks.push(harden::Check::cmd(c).map_err(|e| anyhow::anyhow!("--check-cmd {e}"))?);
    }
    for c in &args.check_http {
        checks.push(harden::Check::http(c).map_err(|e| anyhow::anyhow!("--check-http {e}"))?);
    }
    let db_path = args.db.clone().or_else(settings::env::default_db_path);
    let db = match db_path.filter(|p| p.exists()) {
        Some(p) => {
            Some(vulndb::Db::open(&p).with_context(|| format!("advisory DB {}", p.display()))?)
        }
        None => None,
    };
    if args.vex_out.is_some() && db.is_none() {
        bail!(
            "--vex-out needs the advisory DB (--db FILE or SAFEIMAGE_DB; `safeimage db update` makes one)"
        );
    }
    let opts = args.image.options();
    let a = harden::analyze(&src, &opts).with_context(|| format!("reading {}", args.source))?;
    let base = match args.base.as_str() {
        "scratch" => None,
        b => {
            let s: oci::Source = b.parse().with_context(|| format!("--base `{b}`"))?;
            Some(harden::analyze(&s, &opts).with_context(|| format!("reading --base {b}"))?)
        }
    };
    let busybox = if args.debug_variant {
        Some(harden::read_busybox(&args.busybox, &a.image.platform)?)
    } else {
        None
    };
    let hopts = harden::Options {
        spec: harden::Spec {
            entrypoint: args.entrypoint.clone(),
            keep: args.keep.clone(),
            user: args.user.clone(),
            env: Vec::new(),
        },
        checks,
        check_timeout: Duration::from_secs(args.check_timeout),
        busybox,
    };
    let work = tempfile::Builder::new()
        .prefix("safeimage-harden-")
        .tempdir()
        .context("a work directory")?;
    let (layout, tag) = match &dest {
        Dest::Layout { dir, tag } => (dir.clone(), tag.clone()),
        Dest::Registry(r) => (
            work.path().join("out"),
            r.tag().unwrap_or("latest").to_string(),
        ),
    };
    let h = harden::harden(&a, base.as_ref(), &hopts, &layout, &tag, None)?;
    let mut pushed = Vec::new();
    if let Dest::Registry(r) = &dest {
        let repo = oci::push::Repo::connect(r, &opts.registry)?;
        let d = repo.push_layout(&layout, Some(&tag))?;
        repo.tag(&d, &tag)?;
        pushed.push(format!("{}/{}:{tag}@{d}", r.registry(), r.repository()));
        if h.debug_digest.is_some() {
            let dt = format!("{tag}-debug");
            let dd = repo.push_layout(&layout, Some(&dt))?;
            repo.tag(&dd, &dt)?;
            pushed.push(format!("{}/{}:{dt}@{dd}", r.registry(), r.repository()));
        }
    }
    // Vulnerabilities before and after, and a proof the result is scannable.
    let mut vulns = None;
    if let Some(db) = &db {
        let before = inventory::inventory(&src, &opts, &|_| {})?.inventory;
        let out_src = oci::Source::OciLayout {
            dir: layout.clone(),
            tag: Some(tag.clone()),
        };
        let after = inventory::inventory(&out_src, &opts, &|_| {})?.inventory;
        let matched = |inv| scan::match_inventory(inv, db, &scan::Options::default());
        let (before_found, after_found) = (matched(&before)?, matched(&after)?);
        vulns = Some((
            counts(&before_found.findings),
            counts(&after_found.findings),
        ));
        if let Some(file) = &args.vex_out {
            // the source's findings, matched once for the counts and the VEX
            let findings = scan::vex::hardened(&before_found.findings, &after);
            let product = scan::vex::Product {
                name: match &dest {
                    Dest::Registry(r) => r.to_string(),
                    Dest::Layout { .. } => args.output.clone(),
                },
                digest: Some(h.digest.to_string()),
            };
            let doc = scan::vex::openvex(
                &findings,
                &[],
                &product,
                &super::output_time().to_string(),
                concat!("safeimage ", env!("CARGO_PKG_VERSION")),
            );
            super::write_output(Some(file), &(serde_json::to_string_pretty(&doc)? + "\n"))?;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    match args.format {
        Format::Json => {
            let mut v = serde_json::to_value(&h.report)?;
            v["seconds"] = serde_json::json!((seconds * 10.0).round() / 10.0);
            v["pushed"] = serde_json::json!(pushed);
            if let Some((b, a)) = vulns {
                v["vulnerabilities"] = serde_json::json!({"before": b, "after": a});
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Table => print!(
            "{}",
            report::harden::table(&h.report, &args.output, vulns, &pushed, seconds)
        ),
    }
    Ok(ExitCode::SUCCESS)
}
