//! The jobs the service runs and when. A job is behind [`Jobs`] (the
//! binary runs each as its own `safeimage` command, so a crash is that
//! process's, and a stop is forwarded to it); the [`Scheduler`] claims each
//! tick in the store before running it, so replicas on one store run every
//! tick exactly once, and a restart never runs a claimed tick again. A tick
//! missed while no replica was up runs once when one starts (only the
//! latest: a week down is one run, not seven).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use model::Timestamp;

use crate::settings::{JobKind, Schedule};

/// A job to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// The fleet run, or one image of it.
    Run {
        /// Only this image.
        image: Option<String>,
    },
    /// Base-image update proposals.
    Update,
    /// The advisory DB.
    DbUpdate,
    /// A re-match after the DB changed; or, with `image`, that image judged
    /// again after its ignore rules changed.
    Rematch {
        /// Only this image, judged again.
        image: Option<String>,
    },
    /// The weekly summary, sent.
    Weekly,
}

impl Job {
    /// The job of a schedule.
    pub fn of(kind: JobKind) -> Job {
        match kind {
            JobKind::Run => Job::Run { image: None },
            JobKind::Update => Job::Update,
            JobKind::DbUpdate => Job::DbUpdate,
            JobKind::Rematch => Job::Rematch { image: None },
            JobKind::Weekly => Job::Weekly,
        }
    }

    /// Its name in the store (`run`, `run:IMAGE`, `rematch:IMAGE`, ...).
    pub fn name(&self) -> String {
        match self {
            Job::Run { image: None } => "run".into(),
            Job::Run { image: Some(i) } => format!("run:{i}"),
            Job::Update => JobKind::Update.as_str().into(),
            Job::DbUpdate => JobKind::DbUpdate.as_str().into(),
            Job::Rematch { image: None } => "rematch".into(),
            Job::Rematch { image: Some(i) } => format!("rematch:{i}"),
            Job::Weekly => JobKind::Weekly.as_str().into(),
        }
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobResult {
    /// It succeeded.
    pub ok: bool,
    /// Its output (the store keeps the end).
    pub log: String,
    /// For `db update`: whether the DB changed (a re-match follows).
    pub changed_db: bool,
}

/// Runs jobs (the side effect; a recording double in tests).
pub trait Jobs: Send + Sync {
    /// Runs `job` to its end; `stop` asks it to stop as `run` stops on
    /// SIGTERM (the step finishes or the run is marked interrupted).
    fn run(&self, job: &Job, stop: &AtomicBool) -> JobResult;
}

/// How long an unfinished tick holds its job (a replica that died while
/// running one on another machine): no other tick of the job starts before.
pub const BUSY_SECS: i64 = 12 * 3600;

/// Who this process is (`host:pid`).
pub fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Whether `holder` (`host:pid`) names a process of this machine that is
/// gone.
pub fn holder_gone(holder: &str) -> bool {
    let me = self::holder();
    let here = me.rsplit_once(':').map(|(h, _)| h);
    match holder.rsplit_once(':') {
        Some((host, pid)) if Some(host) == here => pid
            .parse::<u32>()
            .is_ok_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()),
        _ => false,
    }
}

/// Ticks left unfinished by a process of this machine that is gone (a
/// crashed or killed `serve`) are recorded as failed, so their job runs
/// again at its next tick; returns how many.
pub fn recover_lost(
    store: &mut dyn store::StateStore,
    now: Timestamp,
) -> Result<usize, store::StoreError> {
    let lost: Vec<store::JobRecord> = store
        .jobs(1000)?
        .into_iter()
        .filter(|j| j.finished.is_none() && holder_gone(&j.holder))
        .collect();
    for j in &lost {
        store.finish_job(
            &j.job,
            j.tick,
            false,
            &format!("{}its serve process ({}) is gone", j.log, j.holder),
            now,
        )?;
    }
    Ok(lost.len())
}

/// Claims `tick` of `job` and runs it when the claim is ours; returns
/// whether it ran. The end is recorded, a failure too (the next tick
/// still runs).
pub fn run_claimed(
    store: &mut dyn store::StateStore,
    jobs: &dyn Jobs,
    job: &Job,
    tick: Timestamp,
    holder: &str,
    now: &dyn Fn() -> Timestamp,
    stop: &AtomicBool,
) -> Result<Option<JobResult>, store::StoreError> {
    let name = job.name();
    if !store.claim_job(&name, tick, holder, now(), BUSY_SECS)? {
        return Ok(None);
    }
    let r = jobs.run(job, stop);
    store.finish_job(&name, tick, r.ok, &r.log, now())?;
    Ok(Some(r))
}

/// The latest tick of `s` at or before `now`.
pub fn latest_tick(s: &Schedule, tz: chrono_tz::Tz, now: Timestamp) -> Option<Timestamp> {
    let at = tz.from_utc_datetime(&Utc.timestamp_opt(now.0, 0).single()?.naive_utc());
    s.cron
        .find_previous_occurrence(&at, true)
        .ok()
        .map(|t| Timestamp(t.timestamp()))
}

/// The next tick of `s` after `now`.
pub fn next_tick(s: &Schedule, tz: chrono_tz::Tz, now: Timestamp) -> Option<Timestamp> {
    let at = tz.from_utc_datetime(&Utc.timestamp_opt(now.0, 0).single()?.naive_utc());
    s.cron
        .find_next_occurrence(&at, false)
        .ok()
        .map(|t| Timestamp(t.timestamp()))
}

/// Runs the schedules until `stop` is set.
pub struct Scheduler {
    /// The schedules.
    pub schedules: Vec<Schedule>,
    /// Their time zone.
    pub tz: chrono_tz::Tz,
    /// Its own connection to the store.
    pub store: Box<dyn store::StateStore>,
    /// What runs the jobs.
    pub jobs: Arc<dyn Jobs>,
    /// This process.
    pub holder: String,
    /// The time (the store's, on a shared store).
    pub now: Box<dyn Fn() -> Timestamp + Send>,
    /// Set to stop (SIGTERM): no new job starts; a running one is told.
    pub stop: Arc<AtomicBool>,
    /// Problems (a store error), for the log.
    pub on_error: Box<dyn Fn(String) + Send>,
}

impl Scheduler {
    /// One pass: every schedule's latest tick, claimed and run when not
    /// claimed before (a `db-update` that changed the DB is followed by a
    /// re-match under the same tick).
    pub fn pass(&mut self) -> Result<usize, store::StoreError> {
        let mut ran = 0;
        for s in self.schedules.clone() {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let Some(tick) = latest_tick(&s, self.tz, (self.now)()) else {
                continue;
            };
            let job = Job::of(s.kind);
            let r = run_claimed(
                &mut *self.store,
                &*self.jobs,
                &job,
                tick,
                &self.holder,
                &*self.now,
                &self.stop,
            )?;
            if let Some(r) = r {
                ran += 1;
                if s.kind == JobKind::DbUpdate && r.ok && r.changed_db {
                    let again = run_claimed(
                        &mut *self.store,
                        &*self.jobs,
                        &Job::Rematch { image: None },
                        tick,
                        &self.holder,
                        &*self.now,
                        &self.stop,
                    )?;
                    ran += usize::from(again.is_some());
                }
            }
        }
        Ok(ran)
    }

    /// Passes until `stop`, sleeping to the next tick (at most 30 s, so a
    /// changed clock is noticed).
    pub fn run(mut self) {
        if let Err(e) = recover_lost(&mut *self.store, (self.now)()) {
            (self.on_error)(format!("scheduler: {e}"));
        }
        while !self.stop.load(Ordering::SeqCst) {
            if let Err(e) = self.pass() {
                (self.on_error)(format!("scheduler: {e}"));
            }
            let now = (self.now)();
            let next = self
                .schedules
                .iter()
                .filter_map(|s| next_tick(s, self.tz, now))
                .min()
                .map_or(30, |t| (t.0 - now.0).clamp(0, 30));
            // wake on time, or soon after a stop
            let until = std::time::Instant::now() + Duration::from_secs(next as u64);
            while std::time::Instant::now() < until && !self.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::parse_cron;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recording(Mutex<Vec<String>>, bool);

    impl Jobs for Recording {
        fn run(&self, job: &Job, _: &AtomicBool) -> JobResult {
            self.0.lock().unwrap().push(job.name());
            JobResult {
                ok: self.1,
                log: format!("ran {}", job.name()),
                changed_db: true,
            }
        }
    }

    fn schedule(kind: JobKind, text: &str) -> Schedule {
        Schedule {
            kind,
            text: text.into(),
            cron: parse_cron(text).unwrap(),
        }
    }

    #[test]
    fn a_tick_left_by_a_gone_process_of_this_machine_is_recorded_failed() {
        use store::StateStore as _;
        let mut s = store::MemoryStore::new();
        let t = Timestamp(1_000_000);
        let host = holder().rsplit_once(':').unwrap().0.to_string();
        let dead = format!("{host}:{}", u32::MAX - 7);
        assert!(s.claim_job("run", t, &dead, t, BUSY_SECS).unwrap());
        assert!(s.claim_job("weekly", t, &holder(), t, BUSY_SECS).unwrap());
        assert!(
            s.claim_job("update", t, "elsewhere:1", t, BUSY_SECS)
                .unwrap()
        );
        assert_eq!(recover_lost(&mut s, t).unwrap(), 1);
        let jobs = s.jobs(10).unwrap();
        let run = jobs.iter().find(|j| j.job == "run").unwrap();
        assert_eq!(run.ok, Some(false));
        assert!(run.log.contains("is gone"));
        assert!(
            jobs.iter()
                .filter(|j| j.job != "run")
                .all(|j| j.finished.is_none())
        );
        let next = Timestamp(t.0 + 60);
        assert!(
            s.claim_job("run", next, &holder(), next, BUSY_SECS)
                .unwrap()
        );
    }

    #[test]
    fn ticks_follow_the_time_zone_across_a_dst_change() {
        let s = schedule(JobKind::Run, "0 6 * * *");
        let berlin = chrono_tz::Europe::Berlin;
        // 2026-03-29 is the spring change in Berlin: 06:00 is 04:00 UTC
        let now: Timestamp = "2026-03-29T05:00:00Z".parse().unwrap();
        assert_eq!(
            latest_tick(&s, berlin, now).unwrap().to_string(),
            "2026-03-29T04:00:00Z"
        );
        let before: Timestamp = "2026-03-28T05:30:00Z".parse().unwrap();
        assert_eq!(
            latest_tick(&s, berlin, before).unwrap().to_string(),
            "2026-03-28T05:00:00Z",
            "CET: 06:00 is 05:00 UTC"
        );
        assert_eq!(
            next_tick(&s, chrono_tz::UTC, before).unwrap().to_string(),
            "2026-03-28T06:00:00Z"
        );
    }

    #[test]
    fn a_tick_runs_once_a_failure_is_kept_and_a_changed_db_brings_a_rematch() {
        let jobs = Arc::new(Recording(Mutex::new(vec![]), false));
        let now: Timestamp = "2026-12-07T06:30:00Z".parse().unwrap();
        let mut s = Scheduler {
            schedules: vec![
                schedule(JobKind::Run, "0 6 * * *"),
                schedule(JobKind::DbUpdate, "0 5 * * *"),
            ],
            tz: chrono_tz::UTC,
            store: Box::new(store::MemoryStore::new()),
            jobs: jobs.clone(),
            holder: "test:1".into(),
            now: Box::new(move || now),
            stop: Arc::new(AtomicBool::new(false)),
            on_error: Box::new(|e| panic!("{e}")),
        };
        assert_eq!(
            s.pass().unwrap(),
            2,
            "run, db-update; its failure brings no rematch"
        );
        assert_eq!(s.pass().unwrap(), 0, "claimed: never twice");
        let records = s.store.jobs(10).unwrap();
        assert!(records.iter().all(|r| r.ok == Some(false)));
        assert!(records.iter().any(|r| r.log == "ran run"));
        assert_eq!(*jobs.0.lock().unwrap(), ["run", "db-update"]);

        let ok = Arc::new(Recording(Mutex::new(vec![]), true));
        let later: Timestamp = "2026-12-08T06:30:00Z".parse().unwrap();
        s.jobs = ok.clone();
        s.now = Box::new(move || later);
        assert_eq!(s.pass().unwrap(), 3);
        assert_eq!(*ok.0.lock().unwrap(), ["run", "db-update", "rematch"]);
    }
}
