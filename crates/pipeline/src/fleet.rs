//! The daily run over a fleet: check everything that can be checked before
//! building (engine, advisory DB, ignore files, notifier secrets, registry
//! credentials), recover what a killed run left, then run the images (this
//! shard's, see [`Shard`]) on a small worker pool. Each image is leased in
//! the store first, so overlapping runs (cron on one machine, CI runners on
//! one PostgreSQL) never build or promote the same image at once; a
//! heartbeat keeps the leases and the run alive, and the lease is checked
//! again right before tags move. Each decision is recorded (audit log, then
//! state) as soon as it is made; one digest goes to each notifier whose
//! route matches; the [`RunReport`] is returned for rendering.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use model::{ImageOutcome, Outcome, RUN_REPORT_SCHEMA, RunId, RunReport, Stage, Timestamp};
use notify::{Notifier, RunDigest};
use oci::Digest;
use store::{Decision, Lease, RunStatus, StateStore};

use crate::config::{FleetConfig, ImageSpec};
use crate::cx::{FenceError, ImageCx, Suppressions};
use crate::deps::{Advisories, Clock, Event, Observer, Registry};
use crate::engine::Engine;
use model::ImageName;

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
    /// The forge security issues are mirrored to (`[issues] mirror`).
    pub issues: Option<&'a dyn update::forge::IssueTracker>,
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
    /// Build, push by digest, scan and gate, then stop: no signature, no
    /// tag (an update's evaluation).
    pub evaluate: bool,
    /// Layer cache.
    pub cache_dir: Option<PathBuf>,
    /// Set from a signal handler to stop the run.
    pub cancel: crate::deps::Cancel,
    /// Only this shard of the fleet.
    pub shard: Option<Shard>,
}

/// One of N stable parts of the fleet (`--shard I/N`): an image belongs to
/// shard `fnv1a64(name) % N + 1`, so a CI matrix of N jobs covers every
/// image exactly once, whatever order the config lists them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based index.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Shard {
    /// Whether `image` is in this shard.
    pub fn has(&self, image: &str) -> bool {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in image.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h % u64::from(self.count) == u64::from(self.index - 1)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("shard `{s}`: expected I/N with 1 <= I <= N, e.g. 2/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<u32>().map_err(|_| bad())?,
            n.trim().parse::<u32>().map_err(|_| bad())?,
        );
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
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
    Credential(#[from] oci::settings::MissingCredential),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The `[secrets]` rules could not be read.
    #[error("[secrets]: {0}")]
    Secrets(#[from] secrets::settings::SettingsError),
    /// The `[sign]` key could not be opened.
    #[error("[sign]: {0}")]
    SignKey(#[from] crate::signer::SignKeyError),
    /// A worker thread panicked while holding the store.
    #[error("a worker thread failed while holding the state store")]
    Poisoned,
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

/// Who this process is, for lease messages (`host:pid`).
fn holder() -> model::Holder {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id()).into()
}

/// What the workers share.
struct Shared<'a> {
    cfg: &'a FleetConfig,
    opts: &'a Options,
    run: RunId,
    started: Timestamp,
    ttl: i64,
    holder: model::Holder,
    store: Mutex<&'a mut dyn StateStore>,
    registry: &'a dyn Registry,
    engine: &'a dyn Engine,
    advisories: &'a dyn Advisories,
    clock: &'a dyn Clock,
    observer: &'a dyn Observer,
    suppress: Suppressions,
    scan_opts: scan::Options,
    secrets: crate::scanner::Scanner,
    signer: Option<crate::signer::Signer>,
    registry_options: oci::source::RegistryOptions,
    work: PathBuf,
    /// Images this run holds a lease on.
    held: Mutex<Vec<ImageName>>,
    errors: Mutex<Vec<String>>,
    results: Mutex<Vec<ImageOutcome>>,
}

impl Shared<'_> {
    fn error(&self, e: String) {
        self.observer.event(&Event::Warning(&e));
        if let Ok(mut v) = self.errors.lock() {
            v.push(e);
        }
    }

    fn with_store<T>(
        &self,
        f: impl FnOnce(&mut dyn StateStore) -> Result<T, store::StoreError>,
    ) -> Result<T, String> {
        let mut st = self
            .store
            .lock()
            .map_err(|_| "the store lock was poisoned".to_string())?;
        f(&mut **st).map_err(|e| e.to_string())
    }

    fn stage(&self, image: &ImageName, s: Stage, d: Option<&Digest>) {
        if !self.opts.dry_run
            && let Err(e) = self.with_store(|st| st.stage(self.run, image, s, d))
        {
            self.error(format!(
                "{image}: could not record stage {}: {e}",
                s.as_str()
            ));
        }
        self.observer.event(&Event::Stage(image.as_str(), s));
    }

    /// Renews the image's lease now; an error when another run has it.
    fn fence(&self, image: &ImageName) -> Result<(), FenceError> {
        if self.opts.dry_run {
            return Ok(());
        }
        let now = self.clock.now();
        let renewed = self
            .with_store(|st| st.renew(image, self.run, now, self.ttl))
            .map_err(|message| FenceError::Store {
                image: image.clone(),
                message,
            })?;
        if renewed {
            Ok(())
        } else {
            Err(FenceError::Taken(image.clone()))
        }
    }

    /// Takes the image's lease; `Some(outcome)` when another run holds it.
    fn lease(&self, spec: &ImageSpec) -> Result<Option<ImageOutcome>, String> {
        if self.opts.dry_run {
            return Ok(None);
        }
        let now = self.clock.now();
        match self.with_store(|st| st.acquire(&spec.name, self.run, &self.holder, now, self.ttl))? {
            Lease::Acquired => {
                if let Ok(mut h) = self.held.lock() {
                    h.push(spec.name.clone());
                }
                Ok(None)
            }
            Lease::Held { run, holder } => {
                let mut o = ImageOutcome::new(&spec.name, &spec.repository, None);
                o.outcome = Outcome::Skipped;
                o.reasons
                    .push(format!("skipped: held by run {run} ({holder})"));
                Ok(Some(o))
            }
        }
    }

    fn unlease(&self, image: &ImageName) {
        if self.opts.dry_run {
            return;
        }
        if let Ok(mut h) = self.held.lock() {
            h.retain(|x| x != image);
        }
        if let Err(e) = self.with_store(|st| st.release(image, self.run)) {
            self.error(format!("{image}: releasing its lease: {e}"));
        }
    }

    /// Renews the run's heartbeat and every lease it holds.
    fn beat(&self) {
        let now = self.clock.now();
        let held: Vec<ImageName> = self.held.lock().map(|h| h.clone()).unwrap_or_default();
        let r = self.with_store(|st| {
            st.heartbeat(self.run, now)?;
            for image in &held {
                st.renew(image, self.run, now, self.ttl)?;
            }
            Ok(())
        });
        if let Err(e) = r {
            self.error(format!("run heartbeat: {e}"));
        }
    }

    /// One image: lease, history, the sequence, record, release.
    fn image(&self, spec: &ImageSpec) {
        self.observer.event(&Event::ImageStarted(&spec.name));
        match self.lease(spec) {
            Ok(None) => {}
            Ok(Some(skipped)) => {
                self.observer
                    .event(&Event::ImageDone(&spec.name, skipped.outcome));
                if let Ok(mut v) = self.results.lock() {
                    v.push(skipped);
                }
                return;
            }
            Err(e) => {
                self.error(format!("{}: taking its lease: {e}", spec.name));
                return;
            }
        }
        let outcome = self.leased(spec);
        self.unlease(&spec.name);
        if let Ok(mut v) = self.results.lock() {
            v.push(outcome);
        }
    }

    fn leased(&self, spec: &ImageSpec) -> ImageOutcome {
        let history = match self.with_store(|st| st.history(&spec.name, spec.version.as_deref())) {
            Ok(h) => h,
            Err(e) => {
                let mut o = ImageOutcome::new(&spec.name, &spec.repository, None);
                o.reasons.push(format!("reading its history: {e}"));
                self.error(format!("{}: reading its history: {e}", spec.name));
                return o;
            }
        };
        // An overlapping run already decided this image after this one
        // began: the fleet is covered once, not twice.
        let since = if self.opts.dry_run {
            Ok(None)
        } else {
            self.with_store(|st| st.decided_since(&spec.name, self.run))
        };
        if let Ok(Some(run)) = since {
            let mut o = ImageOutcome::new(&spec.name, &spec.repository, None);
            o.outcome = Outcome::Skipped;
            o.reasons.push(format!(
                "skipped: run {run} decided it while this run was going"
            ));
            self.observer
                .event(&Event::ImageDone(&spec.name, o.outcome));
            return o;
        }
        let stage = |image: &ImageName, s: Stage, d: Option<&Digest>| self.stage(image, s, d);
        let fence = || self.fence(&spec.name);
        let overdue = if spec.gate.block_on_overdue && !self.opts.dry_run {
            match self.with_store(|st| st.tracked(Some(spec.name.as_str()), false)) {
                Ok(rows) => self.cfg.sla.overdue(&rows, self.started),
                Err(e) => {
                    let mut o = ImageOutcome::new(&spec.name, &spec.repository, None);
                    o.reasons
                        .push(format!("reading its findings over time: {e}"));
                    self.error(format!(
                        "{}: reading its findings over time: {e}",
                        spec.name
                    ));
                    return o;
                }
            }
        } else {
            Vec::new()
        };
        let cx = ImageCx {
            run: self.run,
            spec,
            config: self.cfg,
            history: &history,
            registry: self.registry,
            engine: self.engine,
            advisories: self.advisories,
            suppress: &self.suppress,
            scan_opts: &self.scan_opts,
            registry_options: &self.registry_options,
            work: self.work.join(spec.name.as_str()),
            cache_dir: self.opts.cache_dir.clone(),
            today: self.started,
            dry_run: self.opts.dry_run,
            evaluate: self.opts.evaluate,
            stage: &stage,
            cancel: &self.opts.cancel,
            fence: &fence,
            secrets: &self.secrets,
            signer: self.signer.as_ref(),
            overdue,
        };
        let mut outcome = crate::image::run(&cx);
        if self.opts.cancel.is_set() && outcome.outcome == Outcome::Failed {
            outcome.reasons.insert(
                0,
                "interrupted: the run was stopped (SIGINT/SIGTERM)".into(),
            );
        }
        self.observer
            .event(&Event::ImageDone(&spec.name, outcome.outcome));
        if outcome.outcome.is_decision() {
            let recorded = self.with_store(|st| {
                for b in &outcome.bases {
                    for p in &b.platforms {
                        st.remember_platform(&b.digest, &p.platform, &p.digest)?;
                    }
                }
                st.decide(&Decision {
                    run: self.run,
                    time: self.clock.now(),
                    outcome: &outcome,
                    version: spec.version.as_deref(),
                })
            });
            if let Err(e) = recorded {
                self.error(format!("{}: recording the decision: {e}", spec.name));
            }
        }
        outcome
    }
}

/// One pass of the daily job.
pub fn run(cfg: &FleetConfig, deps: Deps<'_>, opts: &Options) -> Result<RunReport, FleetError> {
    // times come from the store's clock when it has one (replicas may
    // disagree); a machine far off is named in the report
    let (store_clock, ahead) = crate::deps::StoreClock::follow(deps.clock, &*deps.store)?;
    run_on(
        cfg,
        Deps {
            registry: deps.registry,
            engine: deps.engine,
            store: &mut *deps.store,
            notifier: deps.notifier,
            advisories: deps.advisories,
            clock: &store_clock,
            observer: deps.observer,
            issues: deps.issues,
        },
        opts,
        ahead,
    )
}

fn run_on(
    cfg: &FleetConfig,
    deps: Deps<'_>,
    opts: &Options,
    ahead: i64,
) -> Result<RunReport, FleetError> {
    let wall = Instant::now();
    for o in &opts.only {
        if !cfg.images.iter().any(|i| i.name.as_str() == o) {
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
    let images: Vec<&ImageSpec> = cfg
        .images
        .iter()
        .filter(|i| opts.only.is_empty() || opts.only.iter().any(|o| o == i.name.as_str()))
        .filter(|i| opts.shard.is_none_or(|s| s.has(&i.name)))
        .collect();
    // Everything that can be checked before building is checked first.
    let started = deps.clock.now();
    let mut feed_warnings = Vec::new();
    if !opts.dry_run {
        deps.engine.available()?;
        feed_warnings = deps.advisories.check(started)?;
    }
    let (rules, vex) = cfg.scan.suppressions()?;
    let (secret_engine, ignored) = cfg.secrets.engine()?;
    let secrets = crate::scanner::Scanner {
        engine: secret_engine,
        ignored,
        settings: cfg.secrets.clone(),
    };
    for r in &cfg.notify {
        r.target.check()?;
    }
    let signer = match &cfg.sign {
        Some(spec) if !opts.dry_run => Some(crate::signer::Signer::open(spec)?),
        _ => None,
    };
    let registry_options = cfg.registry_options()?;
    let ttl = cfg.store.lease_seconds as i64;

    let store = deps.store;
    let mut notes = store.recover(started, ttl, &crate::origin::gone)?;
    if ahead.abs() > 60 {
        notes.push(format!(
            "this machine's clock is {} s {} the store's; the run's times are the store's",
            ahead.abs(),
            if ahead > 0 { "ahead of" } else { "behind" }
        ));
    }
    notes.extend(feed_warnings);
    if !opts.dry_run {
        notes.extend(crate::steps::build::remove_stale_authfiles());
    }
    for n in &notes {
        deps.observer.event(&Event::Recovered(n));
    }
    let run = store.begin_run(
        started,
        &cfg.path.display().to_string(),
        &crate::origin::current(),
    )?;
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
    let sh = Shared {
        cfg,
        opts,
        run,
        started,
        ttl,
        holder: holder(),
        store: Mutex::new(store),
        registry: deps.registry,
        engine: deps.engine,
        advisories: deps.advisories,
        clock: deps.clock,
        observer: deps.observer,
        suppress: Suppressions { rules, vex },
        secrets,
        signer,
        scan_opts: scan::Options {
            show_unimportant: false,
            severity_priority: cfg.scan.severity_priority.clone(),
        },
        registry_options,
        work,
        held: Mutex::new(Vec::new()),
        errors: Mutex::new(Vec::new()),
        results: Mutex::new(Vec::new()),
    };
    let queue = Mutex::new(images.iter());
    let done = std::sync::atomic::AtomicUsize::new(0);
    let workers = opts.jobs.max(1).min(images.len().max(1));
    std::thread::scope(|s| {
        // The heartbeat: the run and its leases stay alive while it works.
        s.spawn(|| {
            let every = Duration::from_millis((ttl.max(3) as u64 * 1000) / 3);
            let mut last = Instant::now();
            while done.load(std::sync::atomic::Ordering::SeqCst) < workers {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() >= every {
                    sh.beat();
                    last = Instant::now();
                }
            }
        });
        for _ in 0..workers {
            s.spawn(|| {
                while let Some(spec) = queue
                    .lock()
                    .ok()
                    .filter(|_| !opts.cancel.is_set())
                    .and_then(|mut q| q.next())
                {
                    sh.image(spec);
                }
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
    });
    let mut outcomes = sh.results.into_inner().unwrap_or_default();
    outcomes.sort_by_key(|o| images.iter().position(|i| i.name.as_str() == o.name));
    let errors = sh.errors.into_inner().unwrap_or_default();
    let store = sh.store.into_inner().map_err(|_| FleetError::Poisoned)?;
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
        overdue: Vec::new(),
        issues: Vec::new(),
    };
    // after the advisory DB changed: the promoted images this run did not
    // replace are matched again from their kept inventories (the ones it
    // promoted match their fingerprint and are skipped)
    if !opts.dry_run && !opts.evaluate && !opts.cancel.is_set() {
        match crate::rematch::due(&*store, deps.advisories) {
            Ok(false) => {}
            Ok(true) => match crate::rematch::rematch(
                cfg,
                crate::rematch::RematchDeps {
                    store: &mut *store,
                    advisories: deps.advisories,
                    clock: deps.clock,
                    notifier: deps.notifier,
                },
            ) {
                Ok(r) => {
                    let new: usize = r.changed.iter().map(|c| c.new.len()).sum();
                    let gone: usize = r.changed.iter().map(|c| c.gone.len()).sum();
                    if new + gone > 0 {
                        notes.push(format!(
                            "the advisory DB changed: {} promoted platform(s) matched again, {new} new finding(s), {gone} no longer reported",
                            r.matched
                        ));
                    }
                    notes.extend(r.errors.iter().map(|e| format!("re-match: {e}")));
                    notes.extend(r.notify_errors.iter().cloned());
                }
                Err(e) => notes.push(format!("re-match: {e}")),
            },
            Err(e) => notes.push(format!("re-match: {e}")),
        }
    }
    // the fleet's findings past their [sla] deadline, from the store's
    // findings over time
    if !opts.dry_run {
        match store.tracked(None, false) {
            Ok(rows) => {
                let rows: Vec<_> = rows
                    .into_iter()
                    .filter(|r| cfg.images.iter().any(|i| i.name.as_str() == r.image))
                    .collect();
                report.overdue = cfg.sla.overdue_marked(&rows, deps.clock.now());
            }
            Err(e) => notes.push(format!("findings over time: {e}")),
        }
    }
    // One digest per notifier, routed by outcome (and to every notifier
    // when findings are newly overdue); failures are reported and never
    // change a decision. Overdue findings count as notified once a
    // notifier took them.
    if !opts.dry_run {
        let digest = RunDigest::new(&report, Some(html_report(cfg, run).display().to_string()));
        let overdue_sent = !digest.overdue.is_empty();
        let message = notify::Message::Run(digest);
        let mut delivered = false;
        for r in &cfg.notify {
            if !r.wants_message(&message) {
                continue;
            }
            match deps.notifier.send(&r.target, &message) {
                Ok(()) => delivered = true,
                Err(e) => {
                    let msg = e.to_string();
                    deps.observer.event(&Event::Warning(&msg));
                    notes.push(msg);
                }
            }
        }
        if delivered && overdue_sent {
            let noticed: Vec<_> = report
                .overdue
                .iter()
                .filter(|o| o.notice)
                .map(|o| o.finding.clone())
                .collect();
            if let Err(e) = store.mark_notified(&noticed, deps.clock.now()) {
                notes.push(format!("findings over time: {e}"));
            }
        }
    }
    // one security issue per image, from the findings the store tracks
    if !opts.dry_run && !opts.evaluate {
        let names: Vec<String> = images.iter().map(|i| i.name.to_string()).collect();
        match crate::issues::update_issues(
            &names,
            &mut *store,
            &cfg.sla,
            &cfg.issues,
            deps.issues,
            deps.clock.now(),
        ) {
            Ok(changes) => {
                for c in &changes {
                    if let Some(e) = &c.error {
                        notes.push(format!("security issue of {}: {e}", c.image));
                    }
                }
                report.issues = changes;
            }
            Err(e) => notes.push(format!("security issues: {e}")),
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
    store.finish_run(run, finished, status)?;
    report.wall_seconds = wall.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
#[path = "fleet_tests/mod.rs"]
mod tests;
