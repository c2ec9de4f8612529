//! An in-memory [`StateStore`] with the same semantics as [`crate::Sqlite`]
//! (audit chains included), for unit tests of the run's logic. It can also
//! be told to fail its next decision, to test that a failed record is
//! reported and changes nothing else.

use std::collections::BTreeMap;
use std::path::PathBuf;

use model::{
    History, Holder, ImageName, Origin, Outcome, Promoted, PromotedBase, RunId, Stage, Timestamp,
};
use oci::{Digest, Platform};
use serde_json::Value;

use crate::audit;
use crate::{AuditHead, Decision, Lease, Log, RunStatus, StateStore, StoreError};

/// Where an image of a run got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageState {
    /// A stage, not decided yet.
    At(Stage),
    /// Decided.
    Decided(Outcome),
    /// The run was killed before it decided.
    Interrupted,
}

/// One run as the memory store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// Id.
    pub id: RunId,
    /// The process doing it (see [`StateStore::begin_run`]).
    pub origin: String,
    /// Status.
    pub status: RunStatus,
    /// Latest state per image.
    pub images: BTreeMap<String, ImageState>,
    /// When it started.
    pub started: Timestamp,
    /// When it ended.
    pub finished: Option<Timestamp>,
    /// The outcome decided per image (JSON, as the stores keep it).
    pub outcomes: BTreeMap<String, String>,
}

/// State in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    /// Runs, oldest first.
    pub runs: Vec<RunRow>,
    /// Last promotion per image.
    pub promoted: BTreeMap<String, Promoted>,
    /// Promotions per (image, version).
    pub promotions: BTreeMap<(String, Option<String>), u64>,
    /// Platform digests.
    pub platforms: BTreeMap<(Digest, Platform), Digest>,
    /// First-seen times by (subject, digest).
    pub seen: BTreeMap<(String, Digest), Timestamp>,
    /// Audit log text per image.
    pub logs: BTreeMap<String, String>,
    /// Audit heads.
    pub heads: BTreeMap<String, (u64, String)>,
    /// When set, the next `decide` fails with this message (and records nothing).
    pub fail_next_decision: Option<String>,
    /// Last decision per image, and its number in the order of decisions.
    pub decisions: BTreeMap<String, (RunId, u64)>,
    /// Decisions so far, and how many there were when each run began.
    pub decision_count: u64,
    pub marks: BTreeMap<RunId, u64>,
    /// Signs records and the global head.
    pub key: Option<audit::AuditKey>,
    /// Leases: image → (run, holder, expires).
    pub leases: BTreeMap<String, (RunId, String, i64)>,
    /// Last heartbeat per run.
    pub heartbeats: BTreeMap<RunId, i64>,
    /// The signed global head.
    pub global: Option<(u64, String)>,
    /// Findings over time.
    pub tracked: Vec<crate::lifecycle::Tracked>,
    /// Inventories kept with promotions.
    pub inventories: Vec<crate::StoredInventory>,
    /// Security issues per image.
    pub issues: BTreeMap<String, model::tracked::SecurityIssue>,
    /// Values kept by key.
    pub meta: BTreeMap<String, String>,
    /// Scheduled jobs' ticks.
    pub jobs: Vec<crate::JobRecord>,
    /// The store's own time, as a shared store has one (`None`: the
    /// caller's clock, as SQLite).
    pub time: Option<Timestamp>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn run_mut(&mut self, run: RunId) -> Option<&mut RunRow> {
        self.runs.iter_mut().find(|r| r.id == run)
    }

    /// The audit records of an image.
    pub fn records(&self, image: &str) -> Vec<serde_json::Map<String, Value>> {
        audit::parse_chain(
            self.logs.get(image).map_or("", String::as_str),
            &PathBuf::from(image),
        )
        .records
    }
}

impl StateStore for MemoryStore {
    fn recover(
        &mut self,
        now: Timestamp,
        stale_secs: i64,
        gone: &dyn Fn(&Origin) -> bool,
    ) -> Result<Vec<String>, StoreError> {
        let beats = self.heartbeats.clone();
        let stale = |r: &RunRow| {
            r.status == RunStatus::Running
                && (beats.get(&r.id).is_none_or(|b| *b < now.0 - stale_secs)
                    || (!r.origin.is_empty() && gone(&Origin::from(r.origin.as_str()))))
        };
        let interrupted: Vec<RunId> = self
            .runs
            .iter()
            .filter(|r| stale(r))
            .map(|r| r.id)
            .collect();
        if interrupted.is_empty() {
            return Ok(Vec::new());
        }
        self.leases.retain(|_, l| !interrupted.contains(&l.0));
        let mut unfinished = 0;
        for r in self.runs.iter_mut().filter(|r| interrupted.contains(&r.id)) {
            r.status = RunStatus::Interrupted;
            for s in r.images.values_mut() {
                if let ImageState::At(_) = s {
                    *s = ImageState::Interrupted;
                    unfinished += 1;
                }
            }
        }
        let mut notes = vec![format!(
            "{} interrupted run(s) marked ({unfinished} image(s) had not finished)",
            interrupted.len()
        )];
        let names: Vec<String> = self.logs.keys().cloned().collect();
        for image in names {
            let chain = audit::parse_chain(&self.logs[&image], &PathBuf::from(&image));
            if !chain.problems.is_empty() {
                continue;
            }
            let (seq, _) = self
                .heads
                .get(&image)
                .cloned()
                .unwrap_or((0, audit::GENESIS.into()));
            let extra = chain.records.get(seq as usize..).unwrap_or(&[]);
            if !extra.is_empty()
                && extra.iter().all(|r| {
                    r.get("run")
                        .and_then(Value::as_i64)
                        .is_some_and(|x| interrupted.contains(&RunId(x)))
                })
            {
                let (hseq, hhash) = chain.head();
                self.heads.insert(image.clone(), (hseq, hhash));
                notes.push(format!(
                    "audit log of {image}: anchored {} record(s) written before an interruption",
                    hseq - seq
                ));
            }
        }
        Ok(notes)
    }

    fn begin_run(
        &mut self,
        started: Timestamp,
        _config: &str,
        origin: &Origin,
    ) -> Result<RunId, StoreError> {
        let origin = origin.as_str();
        let id = RunId(self.runs.len() as i64 + 1);
        self.runs.push(RunRow {
            id,
            origin: origin.into(),
            status: RunStatus::Running,
            images: BTreeMap::new(),
            started,
            finished: None,
            outcomes: BTreeMap::new(),
        });
        self.heartbeats.insert(id, started.0);
        self.marks.insert(id, self.decision_count);
        Ok(id)
    }

    fn heartbeat(&mut self, run: RunId, now: Timestamp) -> Result<(), StoreError> {
        self.heartbeats.insert(run, now.0);
        Ok(())
    }

    fn acquire(
        &mut self,
        image: &ImageName,
        run: RunId,
        holder: &Holder,
        now: Timestamp,
        ttl_secs: i64,
    ) -> Result<Lease, StoreError> {
        let image = image.as_str();
        let holder = holder.as_str();
        if let Some((other, who, expires)) = self.leases.get(image)
            && *other != run
            && *expires > now.0
        {
            return Ok(Lease::Held {
                run: *other,
                holder: Holder::new(who.clone()),
            });
        }
        self.leases
            .insert(image.into(), (run, holder.into(), now.0 + ttl_secs));
        Ok(Lease::Acquired)
    }

    fn renew(
        &mut self,
        image: &ImageName,
        run: RunId,
        now: Timestamp,
        ttl_secs: i64,
    ) -> Result<bool, StoreError> {
        let image = image.as_str();
        match self.leases.get_mut(image) {
            Some(l) if l.0 == run => {
                l.2 = now.0 + ttl_secs;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn release(&mut self, image: &ImageName, run: RunId) -> Result<(), StoreError> {
        let image = image.as_str();
        if self.leases.get(image).is_some_and(|l| l.0 == run) {
            self.leases.remove(image);
        }
        Ok(())
    }

    fn stage(
        &mut self,
        run: RunId,
        image: &ImageName,
        stage: Stage,
        _digest: Option<&Digest>,
    ) -> Result<(), StoreError> {
        let image = image.as_str();
        if let Some(r) = self.run_mut(run) {
            r.images.insert(image.into(), ImageState::At(stage));
        }
        Ok(())
    }

    fn decide(&mut self, d: &Decision<'_>) -> Result<(), StoreError> {
        if let Some(m) = self.fail_next_decision.take() {
            return Err(StoreError::Io {
                path: PathBuf::from("memory"),
                source: std::io::Error::other(m),
            });
        }
        let o = d.outcome;
        let (seq, prev) = self
            .heads
            .get(&o.name)
            .cloned()
            .unwrap_or((0, audit::GENESIS.into()));
        let gseq = self.global.as_ref().map_or(0, |g| g.0) + 1;
        let (line, hash) = audit::line_for(
            &o.name,
            seq + 1,
            &prev,
            audit::record_fields(d.run, d.time, o),
            self.key.as_ref().map(|k| (k, gseq)),
        );
        self.logs.entry(o.name.clone()).or_default().push_str(&line);
        if let Some(r) = self.run_mut(d.run) {
            r.images
                .insert(o.name.clone(), ImageState::Decided(o.outcome));
            r.outcomes
                .insert(o.name.clone(), serde_json::to_string(o).unwrap_or_default());
        }
        self.decision_count += 1;
        self.decisions
            .insert(o.name.clone(), (d.run, self.decision_count));
        if o.outcome == Outcome::Promoted
            && let Some(dg) = &o.digest
        {
            for p in &o.platforms {
                if let Some(inv) = &p.inventory {
                    let platform = p.platform.to_string();
                    self.inventories
                        .retain(|x| !(x.image == o.name && x.platform == platform));
                    self.inventories.push(crate::StoredInventory {
                        image: o.name.clone(),
                        platform,
                        digest: p.digest.as_ref().unwrap_or(dg).to_string(),
                        inventory: inv.clone(),
                        fingerprint: crate::findings_fingerprint(&p.findings),
                    });
                }
            }
            crate::lifecycle::apply(
                &mut self.tracked,
                &o.name,
                &crate::findings_document(o),
                &dg.to_string(),
                d.time,
            );
            self.promoted.insert(
                o.name.clone(),
                Promoted {
                    run: d.run,
                    digest: dg.clone(),
                    findings: crate::findings_document(o)
                        .into_iter()
                        .map(|(k, v)| (k, v.to_vec()))
                        .collect(),
                    platforms: o
                        .platforms
                        .iter()
                        .filter_map(|p| {
                            p.digest.as_ref().map(|d| model::PlatformDigest {
                                platform: p.platform.clone(),
                                digest: d.clone(),
                            })
                        })
                        .collect(),
                    bases: o
                        .bases
                        .iter()
                        .map(|b| PromotedBase {
                            reference: b.reference.clone(),
                            digest: b.digest.clone(),
                        })
                        .collect(),
                    version: d.version.map(str::to_string),
                    inputs: o.inputs.clone(),
                },
            );
            *self
                .promotions
                .entry((o.name.clone(), d.version.map(str::to_string)))
                .or_default() += 1;
        }
        self.heads.insert(o.name.clone(), (seq + 1, hash));
        if let Some(key) = &self.key {
            let heads: Vec<(String, u64, String)> = self
                .heads
                .iter()
                .map(|(i, (s, h))| (i.clone(), *s, h.clone()))
                .collect();
            self.global = Some((gseq, key.mac(&audit::global_message(gseq, &heads))));
        }
        Ok(())
    }

    fn finish_run(
        &mut self,
        run: RunId,
        finished: Timestamp,
        status: RunStatus,
    ) -> Result<(), StoreError> {
        if let Some(r) = self.run_mut(run) {
            r.status = status;
            r.finished = Some(finished);
        }
        self.leases.retain(|_, l| l.0 != run);
        Ok(())
    }

    fn decided_since(&self, image: &ImageName, run: RunId) -> Result<Option<RunId>, StoreError> {
        let image = image.as_str();
        let mark = self.marks.get(&run).copied().unwrap_or(0);
        Ok(self
            .decisions
            .get(image)
            .filter(|(other, seq)| *other != run && *seq > mark)
            .map(|(other, _)| *other))
    }

    fn history(&self, image: &ImageName, version: Option<&str>) -> Result<History, StoreError> {
        let image = image.as_str();
        Ok(History {
            promoted: self.promoted.get(image).cloned(),
            platform_cache: self.platforms.clone(),
            n: match version {
                Some(v) => {
                    self.promotions
                        .get(&(image.to_string(), Some(v.to_string())))
                        .copied()
                        .unwrap_or(0)
                        + 1
                }
                None => 1,
            },
        })
    }

    fn remember_platform(
        &mut self,
        digest: &Digest,
        platform: &Platform,
        platform_digest: &Digest,
    ) -> Result<(), StoreError> {
        self.platforms
            .insert((digest.clone(), platform.clone()), platform_digest.clone());
        Ok(())
    }

    fn first_seen(
        &mut self,
        subject: &str,
        digest: &Digest,
        now: Timestamp,
    ) -> Result<Timestamp, StoreError> {
        Ok(*self
            .seen
            .entry((subject.to_string(), digest.clone()))
            .or_insert(now))
    }

    fn tracked(
        &self,
        image: Option<&str>,
        with_fixed: bool,
    ) -> Result<Vec<crate::lifecycle::Tracked>, StoreError> {
        let mut v: Vec<_> = self
            .tracked
            .iter()
            .filter(|r| image.is_none_or(|i| r.image == i))
            .filter(|r| with_fixed || r.fixed_at.is_none())
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.key(), a.occurrence).cmp(&(b.key(), b.occurrence)));
        Ok(v)
    }

    fn promoted_inventories(&self) -> Result<Vec<crate::StoredInventory>, StoreError> {
        Ok(self.inventories.clone())
    }

    fn record_rematch(
        &mut self,
        image: &str,
        digest: &str,
        time: Timestamp,
        document: &BTreeMap<String, Vec<scan::Finding>>,
    ) -> Result<(), StoreError> {
        if let Some(p) = self.promoted.get_mut(image) {
            p.findings = document.clone();
        }
        for (platform, findings) in document {
            for k in &mut self.inventories {
                if k.image == image && (k.platform == *platform || platform == "*") {
                    k.fingerprint = crate::findings_fingerprint(findings);
                }
            }
        }
        let view: BTreeMap<String, &[scan::Finding]> = document
            .iter()
            .map(|(k, v)| (k.clone(), v.as_slice()))
            .collect();
        crate::lifecycle::apply(&mut self.tracked, image, &view, digest, time);
        Ok(())
    }

    fn security_issue(
        &self,
        image: &str,
    ) -> Result<Option<model::tracked::SecurityIssue>, StoreError> {
        Ok(self.issues.get(image).cloned())
    }

    fn save_security_issue(
        &mut self,
        issue: &model::tracked::SecurityIssue,
    ) -> Result<(), StoreError> {
        self.issues.insert(issue.image.clone(), issue.clone());
        Ok(())
    }

    fn audit_event(
        &mut self,
        image: &str,
        time: Timestamp,
        event: &str,
        mut fields: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), StoreError> {
        fields.insert("time".into(), time.to_string().into());
        fields.insert("event".into(), event.into());
        let (seq, prev) = self
            .heads
            .get(image)
            .cloned()
            .unwrap_or((0, audit::GENESIS.into()));
        let gseq = self.global.as_ref().map_or(0, |g| g.0) + 1;
        let (line, hash) = audit::line_for(
            image,
            seq + 1,
            &prev,
            fields,
            self.key.as_ref().map(|k| (k, gseq)),
        );
        self.logs
            .entry(image.to_string())
            .or_default()
            .push_str(&line);
        self.heads.insert(image.to_string(), (seq + 1, hash));
        if let Some(key) = &self.key {
            let heads: Vec<(String, u64, String)> = self
                .heads
                .iter()
                .map(|(i, (s, h))| (i.clone(), *s, h.clone()))
                .collect();
            self.global = Some((gseq, key.mac(&audit::global_message(gseq, &heads))));
        }
        Ok(())
    }

    fn image_summaries(&self) -> Result<Vec<crate::ImageSummary>, StoreError> {
        let mut out: BTreeMap<String, crate::ImageSummary> = BTreeMap::new();
        for (name, (run, _)) in &self.decisions {
            let row = self.runs.iter().find(|r| r.id == *run);
            let detail = row
                .and_then(|r| r.outcomes.get(name))
                .cloned()
                .unwrap_or_default();
            let status = row
                .and_then(|r| r.images.get(name))
                .map(|s| match s {
                    ImageState::Decided(o) => o.as_str().to_string(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            out.insert(
                name.clone(),
                crate::ImageSummary {
                    image: name.clone(),
                    last: Some((
                        *run,
                        status,
                        row.map(|r| r.started.to_string()).unwrap_or_default(),
                        detail,
                    )),
                    promoted: None,
                },
            );
        }
        for (name, p) in &self.promoted {
            let detail = self
                .runs
                .iter()
                .find(|r| r.id == p.run)
                .and_then(|r| r.outcomes.get(name))
                .cloned()
                .unwrap_or_default();
            out.entry(name.clone())
                .or_insert_with(|| crate::ImageSummary {
                    image: name.clone(),
                    last: None,
                    promoted: None,
                })
                .promoted = Some((p.digest.to_string(), detail));
        }
        Ok(out.into_values().collect())
    }

    fn runs(&self, limit: usize) -> Result<Vec<crate::RunSummary>, StoreError> {
        Ok(self
            .runs
            .iter()
            .rev()
            .take(limit)
            .map(|r| crate::RunSummary {
                id: r.id,
                started: r.started.to_string(),
                finished: r.finished.map(|f| f.to_string()),
                status: r.status.as_str().to_string(),
                config: String::new(),
            })
            .collect())
    }

    fn run_images(&self, run: RunId) -> Result<Vec<model::ImageOutcome>, StoreError> {
        Ok(self
            .runs
            .iter()
            .find(|r| r.id == run)
            .map(|r| {
                r.outcomes
                    .values()
                    .filter_map(|d| serde_json::from_str(d).ok())
                    .collect()
            })
            .unwrap_or_default())
    }

    fn claim_job(
        &mut self,
        job: &str,
        tick: Timestamp,
        holder: &str,
        now: Timestamp,
        busy_secs: i64,
    ) -> Result<bool, StoreError> {
        if self.jobs.iter().any(|j| {
            j.job == job
                && (j.tick == tick || (j.finished.is_none() && j.started.0 > now.0 - busy_secs))
        }) {
            return Ok(false);
        }
        self.jobs.push(crate::JobRecord {
            job: job.into(),
            tick,
            holder: holder.into(),
            started: now,
            finished: None,
            ok: None,
            log: String::new(),
        });
        Ok(true)
    }

    fn finish_job(
        &mut self,
        job: &str,
        tick: Timestamp,
        ok: bool,
        log: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if let Some(j) = self
            .jobs
            .iter_mut()
            .find(|j| j.job == job && j.tick == tick)
        {
            j.finished = Some(now);
            j.ok = Some(ok);
            j.log = crate::log_tail(log).to_string();
        }
        Ok(())
    }

    fn jobs(&self, limit: usize) -> Result<Vec<crate::JobRecord>, StoreError> {
        let mut v = self.jobs.clone();
        v.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| a.job.cmp(&b.job)));
        v.truncate(limit);
        Ok(v)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.meta.get(key).cloned())
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.meta.insert(key.into(), value.into());
        Ok(())
    }

    fn time(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.time)
    }

    fn mark_notified(
        &mut self,
        rows: &[crate::lifecycle::Tracked],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        for r in &mut self.tracked {
            if rows
                .iter()
                .any(|x| x.key() == r.key() && x.occurrence == r.occurrence)
            {
                r.notified_at = Some(now);
            }
        }
        Ok(())
    }

    fn audit_heads(&self) -> Result<Vec<AuditHead>, StoreError> {
        Ok(self
            .heads
            .iter()
            .map(|(image, (seq, hash))| AuditHead {
                image: image.clone(),
                seq: *seq,
                hash: hash.clone(),
            })
            .collect())
    }

    fn audit_global(&self) -> Result<Option<(u64, String)>, StoreError> {
        Ok(self.global.clone())
    }

    fn audit_logs(&self) -> Result<Vec<Log>, StoreError> {
        Ok(self
            .logs
            .iter()
            .map(|(image, text)| {
                let file = PathBuf::from(format!("memory:{image}"));
                Log {
                    image: image.clone(),
                    chain: audit::parse_chain(text, &file),
                    file,
                }
            })
            .collect())
    }
}
