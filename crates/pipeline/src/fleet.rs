//! The daily run over a fleet: check everything that can be checked before
//! building (engine, advisory DB, ignore files, notifier secrets, registry
//! credentials), recover what an interrupted run left, then run the images
//! on a small worker pool. Each image's decision is recorded (audit log,
//! then state) as soon as it is made; one digest goes to each notifier
//! whose route matches; the [`RunReport`] is returned for rendering.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use model::{ImageOutcome, Outcome, RUN_REPORT_SCHEMA, RunId, RunReport, Stage};
use notify::{Notifier, RunDigest};
use oci::Digest;
use store::{Decision, RunStatus, StateStore};

use crate::config::FleetConfig;
use crate::deps::{Advisories, Clock, Event, Observer, Registry};
use crate::engine::Engine;
use crate::image::{ImageCx, Suppressions};

/// The side effects a run uses.
pub struct Deps<'a> {
    /// Registry.
    pub registry: &'a dyn Registry,
    /// Build engine.
    pub engine: &'a dyn Engine,
    /// State store.
    pub store: &'a mut dyn StateStore,
    /// Notification sender.
    pub notifier: &'a dyn Notifier,
    /// Advisory DB.
    pub advisories: &'a dyn Advisories,
    /// Clock.
    pub clock: &'a dyn Clock,
    /// Progress.
    pub observer: &'a dyn Observer,
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only these images (empty: all).
    pub only: Vec<String>,
    /// Images built in parallel.
    pub jobs: usize,
    /// Resolve bases, lint and check policy only.
    pub dry_run: bool,
    /// Layer cache.
    pub cache_dir: Option<PathBuf>,
    /// Set from a signal handler to stop the run.
    pub cancel: crate::deps::Cancel,
}

/// Why a run could not start (nothing was built, moved or recorded).
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// `--only` names an image the config does not have.
    #[error("--only {name}: no such image in {config} (images: {known})")]
    UnknownImage {
        /// The name.
        name: String,
        /// Config file.
        config: String,
        /// Names it has.
        known: String,
    },
    /// The engine is missing.
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    /// The advisory DB is missing, unreadable or too old.
    #[error(transparent)]
    Db(#[from] vulndb::DbError),
    /// An ignore file or VEX document is unreadable.
    #[error(transparent)]
    Suppress(#[from] scan::suppress::SuppressError),
    /// A notifier's secret is not set.
    #[error("notify: {0}")]
    Notifier(#[from] notify::NotifyError),
    /// A registry credential is not set.
    #[error(transparent)]
    Credential(#[from] crate::config::MissingCredential),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The work directory could not be made.
    #[error("cannot create {}: {source}", path.display())]
    Work {
        /// Directory.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// The HTML report's path for a run (named in notifications).
pub fn html_report(cfg: &FleetConfig, run: RunId) -> PathBuf {
    cfg.report_dir.join(format!("run-{run}.html"))
}

/// One pass of the daily job.
pub fn run(cfg: &FleetConfig, deps: Deps<'_>, opts: &Options) -> Result<RunReport, FleetError> {
    let wall = Instant::now();
    for o in &opts.only {
        if !cfg.images.iter().any(|i| &i.name == o) {
            return Err(FleetError::UnknownImage {
                name: o.clone(),
                config: cfg.path.display().to_string(),
                known: cfg
                    .images
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let images: Vec<_> = cfg
        .images
        .iter()
        .filter(|i| opts.only.is_empty() || opts.only.contains(&i.name))
        .collect();
    // Everything that can be checked before building is checked first.
    let started = deps.clock.now();
    if !opts.dry_run {
        deps.engine.available()?;
        deps.advisories.check(started)?;
    }
    let (rules, vex) = cfg.scan.suppressions()?;
    let suppress = Suppressions { rules, vex };
    for r in &cfg.notify {
        r.target.check()?;
    }
    let registry_options = cfg.registry_options()?;
    let scan_opts = scan::Options {
        show_unimportant: false,
        severity_priority: cfg.scan.severity_priority.clone(),
    };

    let store = deps.store;
    let mut notes = store.recover()?;
    if !opts.dry_run {
        notes.extend(crate::steps::build::remove_stale_authfiles());
    }
    for n in &notes {
        deps.observer.event(&Event::Recovered(n));
    }
    let run = store.begin_run(started, &cfg.path.display().to_string())?;
    let work = cfg.report_dir.join(format!("run-{run}"));
    std::fs::create_dir_all(&work).map_err(|source| FleetError::Work {
        path: work.clone(),
        source,
    })?;
    deps.observer.event(&Event::Started {
        run,
        images: images.len(),
        engine: deps.engine.name(),
        dry_run: opts.dry_run,
    });

    let store = Mutex::new(store);
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let record_error = |e: String| {
        deps.observer.event(&Event::Warning(&e));
        if let Ok(mut v) = errors.lock() {
            v.push(e);
        }
    };
    let stage = |image: &str, s: Stage, d: Option<&Digest>| {
        if !opts.dry_run
            && let Ok(mut st) = store.lock()
            && let Err(e) = st.stage(run, image, s, d)
        {
            record_error(format!(
                "{image}: could not record stage {}: {e}",
                s.as_str()
            ));
        }
        deps.observer.event(&Event::Stage(image, s));
    };
    let queue = Mutex::new(images.iter());
    let results: Mutex<Vec<ImageOutcome>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1).min(images.len().max(1)) {
            s.spawn(|| {
                while let Some(spec) = queue
                    .lock()
                    .ok()
                    .filter(|_| !opts.cancel.is_set())
                    .and_then(|mut q| q.next())
                {
                    deps.observer.event(&Event::ImageStarted(&spec.name));
                    let history = match store
                        .lock()
                        .map_err(|_| "the store lock was poisoned".to_string())
                        .and_then(|st| {
                            st.history(&spec.name, spec.version.as_deref())
                                .map_err(|e| e.to_string())
                        }) {
                        Ok(h) => h,
                        Err(e) => {
                            record_error(format!("{}: reading its history: {e}", spec.name));
                            continue;
                        }
                    };
                    let cx = ImageCx {
                        run,
                        spec,
                        config: cfg,
                        history: &history,
                        registry: deps.registry,
                        engine: deps.engine,
                        advisories: deps.advisories,
                        suppress: &suppress,
                        scan_opts: &scan_opts,
                        registry_options: &registry_options,
                        work: work.join(&spec.name),
                        cache_dir: opts.cache_dir.clone(),
                        today: started,
                        dry_run: opts.dry_run,
                        stage: &stage,
                        cancel: &opts.cancel,
                    };
                    let mut outcome = crate::image::run(&cx);
                    if opts.cancel.is_set() && outcome.outcome == Outcome::Failed {
                        outcome.reasons.insert(
                            0,
                            "interrupted: the run was stopped (SIGINT/SIGTERM)".into(),
                        );
                    }
                    deps.observer
                        .event(&Event::ImageDone(&spec.name, outcome.outcome));
                    if outcome.outcome.is_decision() {
                        let recorded = store.lock().map_err(|_| "store lock".to_string()).and_then(
                            |mut st| {
                                for b in &outcome.bases {
                                    st.remember_platform(
                                        &b.digest,
                                        &spec.platform(),
                                        &b.platform_digest,
                                    )
                                    .map_err(|e| e.to_string())?;
                                }
                                st.decide(&Decision {
                                    run,
                                    time: deps.clock.now(),
                                    outcome: &outcome,
                                    version: spec.version.as_deref(),
                                })
                                .map_err(|e| e.to_string())
                            },
                        );
                        if let Err(e) = recorded {
                            record_error(format!("{}: recording the decision: {e}", spec.name));
                        }
                    }
                    if let Ok(mut v) = results.lock() {
                        v.push(outcome);
                    }
                }
            });
        }
    });
    let mut outcomes = results.into_inner().unwrap_or_default();
    outcomes.sort_by_key(|o| images.iter().position(|i| i.name == o.name));
    let errors = errors.into_inner().unwrap_or_default();
    let mut report = RunReport {
        schema: RUN_REPORT_SCHEMA.into(),
        run,
        started,
        finished: deps.clock.now(),
        config: cfg.path.display().to_string(),
        engine: deps.engine.name().into(),
        images: outcomes,
        notes: Vec::new(),
        errors,
        interrupted: false,
        wall_seconds: 0.0,
    };
    // One digest per notifier, routed by outcome; failures are reported
    // and never change a decision.
    if !opts.dry_run {
        let digest = RunDigest::new(&report, Some(html_report(cfg, run).display().to_string()));
        for r in &cfg.notify {
            if !r.wants(report.images.iter().map(|i| i.outcome)) {
                continue;
            }
            if let Err(e) = deps.notifier.send(&r.target, &digest) {
                let msg = e.to_string();
                deps.observer.event(&Event::Warning(&msg));
                notes.push(msg);
            }
        }
    }
    report.notes = notes;
    let incomplete = report.images.len() < images.len();
    report.interrupted = opts.cancel.is_set();
    let status = if report.interrupted {
        RunStatus::Interrupted
    } else if report.any(Outcome::Failed) || incomplete || !report.errors.is_empty() {
        RunStatus::CompletedWithErrors
    } else {
        RunStatus::Completed
    };
    let finished = deps.clock.now();
    report.finished = finished;
    if let Ok(mut st) = store.lock() {
        st.finish_run(run, finished, status)?;
    }
    report.wall_seconds = wall.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
#[path = "fleet_tests.rs"]
mod tests;
