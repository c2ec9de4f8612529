//! State of the daily run. [`StateStore`] is what the run needs: runs,
//! stages, decisions, history and the audit log heads. [`Sqlite`]
//! implements it on one file (WAL, schema migrations, one transaction per
//! decision); [`memory::MemoryStore`] keeps the same state in memory for
//! unit tests. Every decision is also appended to the image's hash-chained
//! audit log ([`audit`]) before the state commits, and the store keeps each
//! log's head, so [`verify`] can prove nothing was edited, deleted or
//! reordered.
//!
//! Opening never changes anything; [`StateStore::recover`] (called at the
//! start of a run, never by `audit verify`) marks runs that never finished
//! as interrupted and anchors only the audit records those runs wrote just
//! before they were killed.

pub mod audit;
mod decide;
pub mod lifecycle;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
mod postgres;
pub mod settings;
pub mod sla;
mod sqlite;

use std::path::PathBuf;

use model::{History, Holder, ImageName, ImageOutcome, Origin, RunId, Stage, Timestamp};
use oci::{Digest, Platform};

#[cfg(any(test, feature = "testing"))]
pub use memory::MemoryStore;
pub use postgres::{Postgres, redact_url};
pub use sqlite::Sqlite;

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite.
    #[error("state store {}: {source}", path.display())]
    Sqlite {
        /// File.
        path: PathBuf,
        /// Cause.
        source: rusqlite::Error,
    },
    /// Files.
    #[error("state store {}: {source}", path.display())]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A newer schema than this build knows.
    #[error(
        "state store {} has schema version {found}; this safeimage knows up to {known}",
        path.display()
    )]
    Newer {
        /// File.
        path: PathBuf,
        /// Found.
        found: i64,
        /// Known.
        known: i64,
    },
    /// A stored value that does not parse (a digest, a reference, a document).
    #[error("state store {}: {what} `{value}` cannot be read: {message}", path.display())]
    Corrupt {
        /// File.
        path: PathBuf,
        /// What it is.
        what: &'static str,
        /// The stored value (shortened).
        value: String,
        /// Why.
        message: String,
    },
    /// PostgreSQL.
    #[error("state store {url}: {message}")]
    Postgres {
        /// The URL, without its password.
        url: String,
        /// What failed.
        message: String,
    },
    /// No store where one was expected.
    #[error("no state store at {} (nothing has run with this config yet)", .0.display())]
    Missing(PathBuf),
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Still running (or killed: [`StateStore::recover`] decides).
    Running,
    /// Every image got a decision.
    Completed,
    /// Something failed (an image, a record, a notifier's store note).
    CompletedWithErrors,
    /// Killed or stopped before the end.
    Interrupted,
}

impl RunStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::CompletedWithErrors => "completed-with-errors",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// One image's final decision, as recorded.
#[derive(Debug, Clone, Copy)]
pub struct Decision<'a> {
    /// Run.
    pub run: RunId,
    /// When it was decided.
    pub time: Timestamp,
    /// Everything the run learned (stored whole; the audit record and the
    /// promoted baseline are derived from it).
    pub outcome: &'a ImageOutcome,
    /// The version the image was built as (for `{n}`).
    pub version: Option<&'a str>,
}

/// The head of one image's audit log, as the store recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    /// Image.
    pub image: String,
    /// Number of the last record.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
}

/// An image's audit log as stored, chain-checked.
#[derive(Debug, Clone)]
pub struct Log {
    /// Image.
    pub image: String,
    /// Where it lives (a file, or `memory:IMAGE`).
    pub file: PathBuf,
    /// Its records and chain problems.
    pub chain: audit::Chain,
}

/// The answer to a lease request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    /// This run holds the image now.
    Acquired,
    /// Another live run holds it.
    Held {
        /// That run.
        run: RunId,
        /// Who it is (`host:pid`).
        holder: Holder,
    },
}

/// What the run needs from a state store.
pub trait StateStore: Send {
    /// Mark runs that stopped without finishing (no heartbeat for
    /// `stale_secs`, or an origin `gone` says no longer exists) as
    /// interrupted, and anchor audit records those runs wrote just before a
    /// kill; returns what was done. A run another process is still doing is
    /// left alone.
    fn recover(
        &mut self,
        now: Timestamp,
        stale_secs: i64,
        gone: &dyn Fn(&Origin) -> bool,
    ) -> Result<Vec<String>, StoreError>;
    /// The run is alive.
    fn heartbeat(&mut self, run: RunId, now: Timestamp) -> Result<(), StoreError>;
    /// Take the image for `run` until `now + ttl_secs`, unless another
    /// run holds an unexpired lease on it.
    fn acquire(
        &mut self,
        image: &ImageName,
        run: RunId,
        holder: &Holder,
        now: Timestamp,
        ttl_secs: i64,
    ) -> Result<Lease, StoreError>;
    /// Extend `run`'s lease; `false` when it no longer holds it.
    fn renew(
        &mut self,
        image: &ImageName,
        run: RunId,
        now: Timestamp,
        ttl_secs: i64,
    ) -> Result<bool, StoreError>;
    /// Give the image up.
    fn release(&mut self, image: &ImageName, run: RunId) -> Result<(), StoreError>;
    /// Start a run. `origin` names the process doing it, in a form the
    /// caller's `gone` test in [`StateStore::recover`] understands (empty:
    /// unknown, so only the heartbeat can tell the run stopped).
    fn begin_run(
        &mut self,
        started: Timestamp,
        config: &str,
        origin: &Origin,
    ) -> Result<RunId, StoreError>;
    /// Record an intermediate stage.
    fn stage(
        &mut self,
        run: RunId,
        image: &ImageName,
        stage: Stage,
        digest: Option<&Digest>,
    ) -> Result<(), StoreError>;
    /// Record a final decision: the audit record first, then the state, in
    /// one transaction.
    fn decide(&mut self, d: &Decision<'_>) -> Result<(), StoreError>;
    /// Finish a run.
    fn finish_run(
        &mut self,
        run: RunId,
        finished: Timestamp,
        status: RunStatus,
    ) -> Result<(), StoreError>;
    /// What earlier runs left for an image: the last promotion, known
    /// platform digests, and the `{n}` for `version`.
    fn history(&self, image: &ImageName, version: Option<&str>) -> Result<History, StoreError>;
    /// The run, other than `run`, that decided `image` after `run` began
    /// (an overlapping run got there first), if any.
    fn decided_since(&self, image: &ImageName, run: RunId) -> Result<Option<RunId>, StoreError>;
    /// Remember a platform digest.
    fn remember_platform(
        &mut self,
        digest: &Digest,
        platform: &Platform,
        platform_digest: &Digest,
    ) -> Result<(), StoreError>;
    /// When `digest` was first seen under `subject` (a repository and
    /// platform, as the caller names it): recorded as `now` the first time
    /// it is asked, returned unchanged after. Registries give no push time;
    /// this is what a stability window counts from.
    fn first_seen(
        &mut self,
        subject: &str,
        digest: &Digest,
        now: Timestamp,
    ) -> Result<Timestamp, StoreError>;
    /// Tracked findings ([`lifecycle`]) of `image`, or of every image;
    /// fixed ones too when `with_fixed`. Ordered by image, platform,
    /// advisory, package, occurrence.
    fn tracked(
        &self,
        image: Option<&str>,
        with_fixed: bool,
    ) -> Result<Vec<lifecycle::Tracked>, StoreError>;
    /// The inventories kept with each promotion (JSON), for `rematch`.
    fn promoted_inventories(&self) -> Result<Vec<StoredInventory>, StoreError>;
    /// Records a re-match of `image`'s promoted digest `digest` at `time`:
    /// the promotion's findings become `document` and its tracked findings
    /// follow (new ones first seen now).
    fn record_rematch(
        &mut self,
        image: &str,
        digest: &str,
        time: Timestamp,
        document: &std::collections::BTreeMap<String, Vec<scan::Finding>>,
    ) -> Result<(), StoreError>;
    /// `image`'s security issue (the last one, open or closed), if any.
    fn security_issue(
        &self,
        image: &str,
    ) -> Result<Option<model::tracked::SecurityIssue>, StoreError>;
    /// Keeps `issue` as its image's security issue.
    fn save_security_issue(
        &mut self,
        issue: &model::tracked::SecurityIssue,
    ) -> Result<(), StoreError>;
    /// A value kept under `key` ([`MATCHED_DB`]: the advisory DB the
    /// promoted findings were last matched against).
    fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Keeps `value` under `key`.
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Appends an event (not a decision) to `image`'s hash-chained audit
    /// log: `fields` plus `time` and `event` (what happened).
    fn audit_event(
        &mut self,
        image: &str,
        time: Timestamp,
        event: &str,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), StoreError>;
    /// Every image's last decision and its promotion, in one read (the
    /// dashboard's fleet view).
    fn image_summaries(&self) -> Result<Vec<ImageSummary>, StoreError>;
    /// The last `limit` runs, newest first.
    fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, StoreError>;
    /// What each image of `run` came to (its latest state in that run).
    fn run_images(&self, run: RunId) -> Result<Vec<model::ImageOutcome>, StoreError>;
    /// What `image` came to in `run` (one row read, not the run's all).
    fn run_image(
        &self,
        run: RunId,
        image: &str,
    ) -> Result<Option<model::ImageOutcome>, StoreError> {
        Ok(self.run_images(run)?.into_iter().find(|o| o.name == image))
    }
    /// Claims tick `tick` of scheduled job `job` for `holder`: `true` for
    /// exactly one caller however many ask (replicas on one store), so a
    /// tick runs once; a tick claimed before is never claimed again, and
    /// none is claimed while another tick of the same job is unfinished
    /// and started less than `busy_secs` ago (never two at once).
    fn claim_job(
        &mut self,
        job: &str,
        tick: Timestamp,
        holder: &str,
        now: Timestamp,
        busy_secs: i64,
    ) -> Result<bool, StoreError>;
    /// Records how a claimed tick ended (its log's tail kept).
    fn finish_job(
        &mut self,
        job: &str,
        tick: Timestamp,
        ok: bool,
        log: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// The last `limit` job ticks, newest first.
    fn jobs(&self, limit: usize) -> Result<Vec<JobRecord>, StoreError>;
    /// The store's own time, when it has one every writer shares
    /// (PostgreSQL's `now()`): deadlines and first-seen times then come
    /// from it, not from each replica's clock. `None`: the store is on
    /// this machine and its clock is the caller's (SQLite).
    fn time(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(None)
    }
    /// Records that `rows` were notified as overdue at `now`.
    fn mark_notified(
        &mut self,
        rows: &[lifecycle::Tracked],
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// The recorded audit heads.
    fn audit_heads(&self) -> Result<Vec<AuditHead>, StoreError>;
    /// Every audit log there is (including ones the store has no head for).
    fn audit_logs(&self) -> Result<Vec<Log>, StoreError>;
    /// One image's audit log, if it has one (the stores read only it).
    fn audit_log(&self, image: &str) -> Result<Option<Log>, StoreError> {
        Ok(self.audit_logs()?.into_iter().find(|l| l.image == image))
    }
    /// With an audit key: the last global record number and the HMAC over
    /// it and every head.
    fn audit_global(&self) -> Result<Option<(u64, String)>, StoreError>;
}

/// An image's last decision and its promotion, as the store keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    /// The image.
    pub image: String,
    /// Its last decision: run, outcome, when (RFC 3339), the image
    /// outcome as JSON.
    pub last: Option<(RunId, String, String, String)>,
    /// Its promotion: digest, and the promoting decision's image outcome as
    /// JSON (empty when that run's row is gone).
    pub promoted: Option<(String, String)>,
}

/// A run as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunSummary {
    /// Its id.
    pub id: RunId,
    /// When it started (RFC 3339).
    pub started: String,
    /// When it ended.
    pub finished: Option<String>,
    /// `running`, `finished`, `interrupted`, ...
    pub status: String,
    /// The config it ran.
    pub config: String,
}

/// One tick of a scheduled job (`safeimage serve`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobRecord {
    /// The job (`run`, `update`, `db-update`, `rematch`, `weekly`, or
    /// `run:IMAGE` when asked for one image).
    pub job: String,
    /// The tick it ran for.
    pub tick: Timestamp,
    /// Who ran it (`host:pid`).
    pub holder: String,
    /// When it started.
    pub started: Timestamp,
    /// When it ended (none: running, or its process died).
    pub finished: Option<Timestamp>,
    /// Whether it succeeded.
    pub ok: Option<bool>,
    /// The end of its output.
    pub log: String,
}

/// The most of a job's output kept.
pub const JOB_LOG_BYTES: usize = 64 * 1024;

/// Seconds to add to this machine's clock to get the store's, from one
/// reading of each. Both are whole seconds read a moment apart, so a
/// difference of one second is within that resolution — two replicas on
/// the same clock could otherwise get offsets of 0 and -1 and record one's
/// end after the other's start — and counts as none.
pub fn clock_offset(store: Timestamp, local: Timestamp) -> i64 {
    let d = store.0 - local.0;
    if d.abs() <= 1 { 0 } else { d }
}

/// The end of `log`, at most [`JOB_LOG_BYTES`], cut at a character.
pub fn log_tail(log: &str) -> &str {
    let mut start = log.len().saturating_sub(JOB_LOG_BYTES);
    while !log.is_char_boundary(start) {
        start += 1;
    }
    &log[start..]
}

/// The [`StateStore::meta`] key of the advisory DB (its build time) the
/// promoted findings were last matched against.
pub const MATCHED_DB: &str = "matched-db";

/// The [`StateStore::meta`] key of the last `update`'s proposals (JSON:
/// `pipeline::update::proposals_record`), shown by the service.
pub const UPDATE_PROPOSALS: &str = "update-proposals";

/// An inventory kept with a promotion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInventory {
    /// The image.
    pub image: String,
    /// The platform.
    pub platform: String,
    /// The promoted manifest of that platform.
    pub digest: String,
    /// The inventory (JSON).
    pub inventory: String,
    /// [`findings_fingerprint`] of the findings last recorded for it.
    pub fingerprint: String,
}

/// A fingerprint of a set of findings by (advisory, package type, name,
/// version): equal for the same findings in any order, whatever their
/// details. `rematch` skips a platform whose findings keep it.
pub fn findings_fingerprint(findings: &[scan::Finding]) -> String {
    fingerprint_keys(findings.iter().map(|f| {
        (
            f.id.as_str(),
            f.package.kind.as_str(),
            f.package.name.as_str(),
            f.package.version.as_str(),
        )
    }))
}

/// [`findings_fingerprint`] over the keys themselves.
pub fn fingerprint_keys<'a>(
    keys: impl Iterator<Item = (&'a str, &'a str, &'a str, &'a str)>,
) -> String {
    use sha2::Digest as _;
    let mut v: Vec<(&str, &str, &str, &str)> = keys.collect();
    v.sort_unstable();
    v.dedup();
    let mut h = sha2::Sha256::new();
    for (a, b, c, d) in v {
        for part in [a, b, c, d] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        h.update([b'\n']);
    }
    hex::encode(h.finalize())
}

/// The findings document of a promotion: per platform (`*` when the
/// outcome has no per-platform results).
pub fn findings_document(o: &ImageOutcome) -> std::collections::BTreeMap<String, &[scan::Finding]> {
    if o.platforms.is_empty() {
        return [("*".to_string(), o.findings.as_slice())].into();
    }
    o.platforms
        .iter()
        .map(|p| (p.platform.to_string(), p.findings.as_slice()))
        .collect()
}

/// Reads a findings document: the per-platform map, or the plain list
/// stores kept before per-platform results (under `*`).
pub fn read_findings_document(
    text: &str,
) -> Result<std::collections::BTreeMap<String, Vec<scan::Finding>>, serde_json::Error> {
    if text.trim_start().starts_with('[') {
        let list: Vec<scan::Finding> = serde_json::from_str(text)?;
        return Ok([("*".to_string(), list)].into());
    }
    serde_json::from_str(text)
}

/// The manifests of a promotion, per platform.
pub fn platform_rows(o: &ImageOutcome) -> Vec<(String, String)> {
    o.platforms
        .iter()
        .filter_map(|p| {
            p.digest
                .as_ref()
                .map(|d| (p.platform.to_string(), d.to_string()))
        })
        .collect()
}

/// Verification result for one image.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Image.
    pub image: String,
    /// Records in the log.
    pub records: usize,
    /// Problems (empty = intact).
    pub problems: Vec<audit::Problem>,
}

/// Name of the entry for problems that concern every log together.
pub const ALL_LOGS: &str = "(all logs)";

/// Verify every audit log against its chain and the store's head, and,
/// with the audit key, every record's HMAC and the signed global sequence.
/// Reads only: nothing is anchored or repaired here.
pub fn verify(
    store: &dyn StateStore,
    key: Option<&audit::AuditKey>,
) -> Result<Vec<Verified>, StoreError> {
    let heads = store.audit_heads()?;
    let mut logs = store.audit_logs()?;
    for h in &heads {
        if !logs.iter().any(|l| l.image == h.image) {
            logs.push(Log {
                image: h.image.clone(),
                file: PathBuf::from(format!("{}.jsonl", h.image)),
                chain: audit::Chain::default(),
            });
        }
    }
    logs.sort_by(|a, b| a.image.cmp(&b.image));
    let mut out = Vec::new();
    let mut gseqs: Vec<u64> = Vec::new();
    for mut log in logs {
        if let Some(key) = key {
            let mut signed = false;
            for (i, rec) in log.chain.records.iter().enumerate() {
                let line = i + 1;
                let mac = rec.get("mac").and_then(serde_json::Value::as_str);
                let hash = rec
                    .get("hash")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("");
                match mac {
                    None if !signed => continue, // written before the key was set
                    None => log.chain.problems.push(audit::Problem {
                        file: log.file.clone(),
                        line,
                        message: "record has no HMAC after signed records (added without the key)"
                            .into(),
                    }),
                    Some(m) => {
                        signed = true;
                        if !key.check(hash.as_bytes(), m) {
                            log.chain.problems.push(audit::Problem {
                                file: log.file.clone(),
                                line,
                                message: "record's HMAC does not match (forged, or another key)"
                                    .into(),
                            });
                        }
                        match rec.get("gseq").and_then(serde_json::Value::as_u64) {
                            Some(g) => gseqs.push(g),
                            None => log.chain.problems.push(audit::Problem {
                                file: log.file.clone(),
                                line,
                                message: "signed record without a global number".into(),
                            }),
                        }
                    }
                }
            }
        }
        let file = log.file.clone();
        let problem = |message: String| audit::Problem {
            file: file.clone(),
            line: 0,
            message,
        };
        let (fseq, fhash) = log.chain.head();
        match heads.iter().find(|h| h.image == log.image) {
            None => log
                .chain
                .problems
                .push(problem("the store has no record of this log".into())),
            Some(h) => {
                if fseq < h.seq {
                    log.chain.problems.push(problem(format!(
                        "the log ends at record {fseq} but the store recorded {}: records were deleted",
                        h.seq
                    )));
                } else if fseq == h.seq && fhash != h.hash {
                    log.chain.problems.push(problem(
                        "the last record is not the one the store recorded".into(),
                    ));
                } else if fseq > h.seq {
                    log.chain.problems.push(problem(format!(
                        "records after {} are not anchored in the store (added outside a run?)",
                        h.seq
                    )));
                }
            }
        }
        out.push(Verified {
            image: log.image,
            records: log.chain.records.len(),
            problems: log.chain.problems,
        });
    }
    if let Some(key) = key {
        let file = PathBuf::from(ALL_LOGS);
        let problem = |message: String| audit::Problem {
            file: file.clone(),
            line: 0,
            message,
        };
        let mut problems = Vec::new();
        match store.audit_global()? {
            None if !gseqs.is_empty() => problems.push(problem(
                "signed records exist but the store has no signed global head (deleted?)".into(),
            )),
            None => {}
            Some((last, mac)) => {
                let heads: Vec<(String, u64, String)> = heads
                    .iter()
                    .map(|h| (h.image.clone(), h.seq, h.hash.clone()))
                    .collect();
                if !key.check(&audit::global_message(last, &heads), &mac) {
                    problems.push(problem(
                        "the store's audit heads do not match their HMAC: a head was changed or deleted".into(),
                    ));
                }
                gseqs.sort_unstable();
                let dups: Vec<String> = gseqs
                    .windows(2)
                    .filter(|w| w[0] == w[1])
                    .map(|w| w[0].to_string())
                    .collect();
                if !dups.is_empty() {
                    problems.push(problem(format!(
                        "global record numbers used twice: {}",
                        dups.join(", ")
                    )));
                }
                let have: std::collections::BTreeSet<u64> = gseqs.iter().copied().collect();
                let missing: Vec<String> = (1..=last)
                    .filter(|g| !have.contains(g))
                    .map(|g| g.to_string())
                    .collect();
                if !missing.is_empty() {
                    problems.push(problem(format!(
                        "global records {} are in no log: a log (or part of one) was deleted",
                        if missing.len() > 10 {
                            format!(
                                "{} … {} ({} in all)",
                                missing[0],
                                missing[missing.len() - 1],
                                missing.len()
                            )
                        } else {
                            missing.join(", ")
                        }
                    )));
                }
                if have.iter().any(|g| *g > last) {
                    problems.push(problem(
                        "records numbered after the store's signed head (added outside a run?)"
                            .into(),
                    ));
                }
            }
        }
        out.push(Verified {
            image: ALL_LOGS.into(),
            records: gseqs.len(),
            problems,
        });
    }
    Ok(out)
}

/// An image's history as a store's rows hold it (text), before parsing:
/// both stores read these and share one parser, so a bad value is
/// reported the same way by either.
#[derive(Debug, Default)]
pub(crate) struct HistoryRows {
    /// The last promotion, if any.
    pub promoted: Option<PromotedRows>,
    /// (index digest, platform, platform digest) rows.
    pub platform_cache: Vec<(String, String, String)>,
    /// Promotions of the requested version so far.
    pub promotions_of_version: Option<i64>,
}

/// The last promotion's rows.
#[derive(Debug)]
pub(crate) struct PromotedRows {
    pub digest: String,
    pub run: i64,
    pub findings: String,
    pub version: Option<String>,
    pub inputs: Option<String>,
    /// (reference, digest) per base.
    pub bases: Vec<(String, String)>,
    /// (platform, digest) per platform.
    pub platforms: Vec<(String, String)>,
}

impl HistoryRows {
    /// Parses every value; `corrupt(what, value, message)` makes the error
    /// naming the store.
    pub(crate) fn parse(
        self,
        image: &str,
        corrupt: &dyn Fn(&'static str, &str, String) -> StoreError,
    ) -> Result<History, StoreError> {
        let digest = |s: &str| -> Result<Digest, StoreError> {
            s.parse()
                .map_err(|e: oci::DigestError| corrupt("digest", s, e.to_string()))
        };
        let platform = |s: &str| -> Result<Platform, StoreError> {
            s.parse()
                .map_err(|e: oci::PlatformError| corrupt("platform", s, e.to_string()))
        };
        let mut h = History::default();
        if let Some(p) = self.promoted {
            let mut bases = Vec::new();
            for (r, d) in &p.bases {
                bases.push(model::PromotedBase {
                    reference: r
                        .parse::<oci::ImageRef>()
                        .map_err(|e| corrupt("base reference", r, e.to_string()))?,
                    digest: digest(d)?,
                });
            }
            let mut platforms = Vec::new();
            for (pl, d) in &p.platforms {
                platforms.push(model::PlatformDigest {
                    platform: platform(pl)?,
                    digest: digest(d)?,
                });
            }
            h.promoted = Some(model::Promoted {
                run: RunId(p.run),
                digest: digest(&p.digest)?,
                findings: read_findings_document(&p.findings)
                    .map_err(|e| corrupt("findings of the last promotion", image, e.to_string()))?,
                platforms,
                bases,
                version: p.version,
                inputs: p.inputs,
            });
        }
        for (d, pl, pd) in &self.platform_cache {
            h.platform_cache
                .insert((digest(d)?, platform(pl)?), digest(pd)?);
        }
        h.n = self.promotions_of_version.map_or(1, |c| c as u64 + 1);
        Ok(h)
    }
}

#[cfg(test)]
mod clock_tests {
    use super::*;

    #[test]
    fn a_one_second_difference_is_within_resolution_a_larger_one_counts() {
        assert_eq!(clock_offset(Timestamp(100), Timestamp(101)), 0);
        assert_eq!(clock_offset(Timestamp(101), Timestamp(100)), 0);
        assert_eq!(clock_offset(Timestamp(100), Timestamp(100)), 0);
        assert_eq!(clock_offset(Timestamp(100), Timestamp(103)), -3);
        assert_eq!(clock_offset(Timestamp(259_300), Timestamp(100)), 259_200);
    }
}
