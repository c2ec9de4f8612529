//! `safeimage run`: one pass of the daily job over the fleet config. Each
//! image is resolved, linted, built, pushed by digest, scanned and gated;
//! tags move only for images that pass. Every decision is recorded in the
//! store and the audit log, one digest message goes to each notifier, and
//! the HTML report's path is printed at the end.
//!
//! Exit codes: 0 = every image promoted (or checked, with --dry-run);
//! 1 = an image was blocked by the gate or the policy; 2 = an error (bad
//! config, missing engine or DB, a registry or build failure).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, bail};
use pipeline::config::NotifyTarget;
use pipeline::run::{Ctx, Hooks, ImageOutcome, OciRegistry, Stage};
use pipeline::{FleetConfig, History, Outcome, RunReport};
use serde_json::{Map, Value};
use store::{Sqlite, StateStore};

/// Arguments of `safeimage run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Fleet config.
    #[arg(
        long,
        short = 'c',
        default_value = "safeimage.toml",
        value_name = "FILE"
    )]
    config: PathBuf,
    /// Only these images (repeatable).
    #[arg(long = "only", value_name = "NAME")]
    only: Vec<String>,
    /// Images built in parallel.
    #[arg(long, short = 'j', default_value_t = 2, value_name = "N")]
    jobs: usize,
    /// Resolve bases, lint and check policy only: no build, push or tag.
    #[arg(long)]
    dry_run: bool,
    /// Layer cache directory; default: $XDG_CACHE_HOME/safeimage.
    #[arg(long, env = "SAFEIMAGE_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Also write the run report as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

struct Progress<'a> {
    store: &'a Mutex<Sqlite>,
    run: i64,
}

impl Hooks for Progress<'_> {
    fn stage(&self, image: &str, stage: Stage, partial: &ImageOutcome) {
        let what = match stage {
            Stage::Checked => "bases resolved, lint and policy checked",
            Stage::Pushed => "built and pushed by digest",
            Stage::Gated => "scanned, gate passed; moving tags",
        };
        eprintln!("  {image}: {what}");
        let detail = serde_json::json!({"digest": partial.digest, "bases": partial.bases});
        if let Ok(mut s) = self.store.lock() {
            let name = serde_json::to_value(stage)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            if let Err(e) = s.stage(self.run, image, &name, &detail) {
                eprintln!("  {image}: could not record stage: {e}");
            }
        }
    }
}

fn history(store: &Sqlite, img: &pipeline::ImageSpec) -> anyhow::Result<History> {
    let mut h = History::default();
    if let Some(p) = store.promoted(&img.name)? {
        h.promoted_digest = Some(p.digest);
        h.promoted_findings = serde_json::from_str(&p.findings).ok();
        h.promoted_bases = serde_json::from_str(&p.bases).unwrap_or_default();
    }
    // Platform digests seen before need no GET.
    h.platform_cache = store
        .platform_digests()?
        .into_iter()
        .map(|(d, p, pd)| ((d, p), pd))
        .collect();
    h.n = match &img.version {
        Some(v) => store.promotions(&img.name, v)? + 1,
        None => 1,
    };
    Ok(h)
}

fn audit_fields(o: &ImageOutcome, run: i64, time: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("time".into(), Value::from(time));
    m.insert("run".into(), Value::from(run));
    m.insert("outcome".into(), Value::from(o.outcome.as_str()));
    m.insert("repository".into(), Value::from(o.repository.clone()));
    m.insert("digest".into(), serde_json::json!(o.digest));
    m.insert(
        "previous_digest".into(),
        serde_json::json!(o.previous_digest),
    );
    m.insert("tags".into(), serde_json::json!(o.tags));
    m.insert("reasons".into(), serde_json::json!(o.reasons));
    m.insert(
        "bases".into(),
        Value::Array(
            o.bases
                .iter()
                .map(|b| serde_json::json!({"reference": b.reference, "digest": b.digest}))
                .collect(),
        ),
    );
    m.insert(
        "counts".into(),
        serde_json::to_value(&o.counts).unwrap_or(Value::Null),
    );
    m
}

fn notifier_targets(cfg: &FleetConfig) -> anyhow::Result<Vec<(notify::Target, Vec<String>)>> {
    let env = |name: &Option<String>| -> anyhow::Result<Option<String>> {
        match name {
            Some(n) => Ok(Some(std::env::var(n).with_context(|| {
                format!("notify: environment variable {n} is not set")
            })?)),
            None => Ok(None),
        }
    };
    let mut out = Vec::new();
    for n in &cfg.notify {
        let t = match &n.target {
            NotifyTarget::Webhook { url, secret_env } => notify::Target::Webhook {
                url: url.clone(),
                secret: env(secret_env)?,
            },
            NotifyTarget::Slack { url } => notify::Target::Slack { url: url.clone() },
            NotifyTarget::Email {
                host,
                port,
                security,
                from,
                to,
                username_env,
                password_env,
            } => notify::Target::Email {
                host: host.clone(),
                port: *port,
                security: security.clone(),
                from: from.clone(),
                to: to.clone(),
                credentials: match (env(username_env)?, env(password_env)?) {
                    (Some(u), Some(p)) => Some((u, p)),
                    _ => None,
                },
            },
        };
        out.push((t, n.on.clone()));
    }
    Ok(out)
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let wall = Instant::now();
    let cfg = FleetConfig::load(&args.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    for o in &args.only {
        if !cfg.images.iter().any(|i| &i.name == o) {
            bail!(
                "--only {o}: no such image in {} (images: {})",
                args.config.display(),
                cfg.images
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let images: Vec<&pipeline::ImageSpec> = cfg
        .images
        .iter()
        .filter(|i| args.only.is_empty() || args.only.contains(&i.name))
        .collect();
    // Everything that can be checked before building is checked first.
    let engine = pipeline::engine::engine(cfg.engine);
    if !args.dry_run {
        engine.available()?;
    }
    let db_arg = super::db::DbArg {
        db: cfg.scan.db.clone(),
    };
    let db_path = db_arg.path()?;
    if !args.dry_run {
        super::scan::open_db(&db_arg, cfg.scan.max_age_hours)?;
    }
    let mut rules = Vec::new();
    for f in &cfg.scan.ignore_files {
        rules.extend(scan::suppress::read_rules(f)?);
    }
    let mut vex = Vec::new();
    for f in &cfg.scan.vex {
        vex.extend(scan::suppress::read_openvex(f)?);
    }
    let scan_opts = scan::Options {
        show_unimportant: false,
        severity_priority: cfg
            .scan
            .severity_source
            .iter()
            .map(|s| s.parse().map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<_>>()?,
    };
    let targets = notifier_targets(&cfg)?;
    let registry = OciRegistry {
        opts: cfg.registry_options().map_err(anyhow::Error::msg)?,
    };

    let store = Sqlite::open(&cfg.store, &cfg.audit_dir)?;
    let mut notes: Vec<String> = store.recovered.clone();
    for n in &notes {
        eprintln!("note: {n}");
    }
    let store = Mutex::new(store);
    let started = super::now_rfc3339();
    let run_id = store
        .lock()
        .map_err(|_| anyhow::anyhow!("store lock"))?
        .begin_run(&started, &args.config.display().to_string())?;
    let secs = super::unix_now();
    let now = super::rfc3339(secs);
    let date = now[..10].replace('-', "");
    let work = cfg.report_dir.join(format!("run-{run_id}"));
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let ctx = Ctx {
        config: &cfg,
        registry: &registry,
        engine: engine.as_ref(),
        db: &db_path,
        rules: &rules,
        vex: &vex,
        scan_opts: &scan_opts,
        work: &work,
        cache_dir: args.cache_dir.clone().or_else(super::default_cache_dir),
        date: &date,
        today: &now[..10],
        dry_run: args.dry_run,
        pause_before_tag: std::env::var_os("SAFEIMAGE_TEST_PAUSE_BEFORE_TAG").map(PathBuf::from),
    };
    let hooks = Progress {
        store: &store,
        run: run_id,
    };
    eprintln!(
        "run {run_id}: {} image(s) with {}{}",
        images.len(),
        engine.name(),
        if args.dry_run { " (dry run)" } else { "" }
    );
    let queue = Mutex::new(images.clone().into_iter());
    let results: Mutex<Vec<ImageOutcome>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..args.jobs.max(1).min(images.len().max(1)) {
            s.spawn(|| {
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.next());
                    let Some(img) = next else { break };
                    eprintln!("  {}: started", img.name);
                    let hist = match store
                        .lock()
                        .map_err(|_| anyhow::anyhow!("store lock"))
                        .and_then(|s| history(&s, img))
                    {
                        Ok(h) => h,
                        Err(e) => {
                            errors
                                .lock()
                                .map(|mut v| v.push(format!("{}: {e}", img.name)))
                                .ok();
                            continue;
                        }
                    };
                    let outcome = pipeline::run::run_image(&ctx, img, &hist, &hooks);
                    eprintln!("  {}: {}", img.name, outcome.outcome.as_str());
                    if let Ok(mut s) = store.lock() {
                        for b in &outcome.bases {
                            let _ = s.remember_platform(
                                &b.digest,
                                &img.platforms
                                    .first()
                                    .map(|p| p.to_string())
                                    .unwrap_or_else(|| oci::Platform::host().to_string()),
                                &b.platform_digest,
                            );
                        }
                        let record = if outcome.outcome == Outcome::DryRun {
                            s.stage(
                                run_id,
                                &img.name,
                                "dry-run",
                                &serde_json::json!({"bases": outcome.bases}),
                            )
                        } else {
                            let detail = serde_json::to_value(&outcome).unwrap_or(Value::Null);
                            let findings = serde_json::to_string(&outcome.findings)
                                .unwrap_or_else(|_| "[]".into());
                            let bases: std::collections::BTreeMap<&str, &str> = outcome
                                .bases
                                .iter()
                                .map(|b| (b.reference.as_str(), b.digest.as_str()))
                                .collect();
                            let bases =
                                serde_json::to_string(&bases).unwrap_or_else(|_| "{}".into());
                            s.decide(&store::Decision {
                                run: run_id,
                                image: &img.name,
                                outcome: outcome.outcome.as_str(),
                                digest: outcome.digest.as_deref(),
                                version: img.version.as_deref(),
                                detail: &detail,
                                findings: &findings,
                                bases: &bases,
                                audit: audit_fields(&outcome, run_id, &super::now_rfc3339()),
                            })
                        };
                        if let Err(e) = record {
                            errors
                                .lock()
                                .map(|mut v| {
                                    v.push(format!("{}: recording the decision: {e}", img.name))
                                })
                                .ok();
                        }
                    }
                    results.lock().map(|mut v| v.push(outcome)).ok();
                }
            });
        }
    });
    let mut outcomes = results.into_inner().unwrap_or_default();
    outcomes.sort_by_key(|o| images.iter().position(|i| i.name == o.name));
    let run_errors = errors.into_inner().unwrap_or_default();
    let had_errors = !run_errors.is_empty();
    notes.extend(run_errors);
    let finished = super::now_rfc3339();
    let mut report = RunReport {
        schema: "safeimage-run-report/1".into(),
        run: run_id,
        started: started.clone(),
        finished: finished.clone(),
        config: args.config.display().to_string(),
        engine: engine.name().into(),
        images: outcomes,
        notes,
        wall_seconds: 0.0,
    };
    // Notifications: one digest per notifier, routed by outcome; failures are
    // reported and never change a decision.
    let html_path = cfg.report_dir.join(format!("run-{run_id}.html"));
    let digest = notify::RunDigest {
        schema: notify::SCHEMA,
        run: run_id,
        started,
        finished: finished.clone(),
        summary: report.summary(),
        images: report
            .images
            .iter()
            .map(|i| notify::ImageLine {
                name: i.name.clone(),
                outcome: i.outcome.as_str().into(),
                reasons: i.reasons.clone(),
                repository: i.repository.clone(),
                digest: i.digest.clone(),
                previous_digest: i.previous_digest.clone(),
                tags: i.tags.clone(),
                counts: i
                    .counts
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), *v))
                    .collect(),
                fixable: i.fixable,
                new: i.baseline.as_ref().map(|b| b.new.len()),
                fixed: i.baseline.as_ref().map(|b| b.fixed.len()),
            })
            .collect(),
        report: Some(html_path.display().to_string()),
    };
    if !args.dry_run {
        for (t, on) in &targets {
            if !report
                .images
                .iter()
                .any(|i| on.iter().any(|o| o == i.outcome.as_str()))
            {
                continue;
            }
            if let Err(e) = notify::send(t, &digest) {
                eprintln!("warning: {e}");
                report.notes.push(e.to_string());
            }
        }
    }
    report.wall_seconds = wall.elapsed().as_secs_f64();
    let failed = report.images.iter().any(|i| i.outcome == Outcome::Failed)
        || report.images.len() < images.len();
    let status = if failed || had_errors {
        "completed-with-errors"
    } else {
        "completed"
    };
    if let Ok(mut s) = store.lock() {
        s.finish_run(run_id, &finished, status)?;
    }
    let json = serde_json::to_string_pretty(&report)?;
    super::write_output(
        Some(&cfg.report_dir.join(format!("run-{run_id}.json"))),
        &json,
    )?;
    let html = report::runs::html(&report);
    super::write_output(Some(&html_path), &html)?;
    super::write_output(Some(&cfg.report_dir.join("latest.html")), &html)?;
    if let Some(p) = &args.json {
        super::write_output(Some(p), &json)?;
    }
    print!("{}", report::runs::table(&report));
    println!("report: {}", html_path.display());
    let blocked = report.images.iter().any(|i| i.outcome == Outcome::Blocked);
    Ok(if failed {
        ExitCode::from(2)
    } else if blocked {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
