//! What the dashboard and the API show, read from the store: the fleet
//! overview (each image's last decision, promoted digest, open findings by
//! severity, SLA state, KEV, signed, hardened; the fleet's trend), an
//! image's page (promotions, trend, open findings with first-seen,
//! deadline and justification, the change the last promotion made, bases),
//! the runs and one run (steps and timings, lint and secret findings, the
//! scheduled jobs and their logs), and the audit log with its verification.
//! The same types are the JSON API's responses; their JSON Schemas (derived
//! here) make the OpenAPI description.

use std::collections::BTreeMap;

use model::Timestamp;
use model::tracked::{TrackState, Tracked};
use schemars::JsonSchema;
use serde::Serialize;

/// Days of trend shown.
pub const TREND_DAYS: i64 = 90;
const DAY: i64 = 86_400;

/// Open findings per day, oldest first.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Trend {
    /// The days (`YYYY-MM-DD`).
    pub days: Vec<String>,
    /// Open findings at the end of each day.
    pub open: Vec<usize>,
}

/// An image's last decision.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LastDecision {
    /// When (RFC 3339).
    pub time: String,
    /// `promoted`, `blocked`, `failed`, ...
    pub outcome: String,
    /// The run.
    pub run: i64,
    /// Why (gate reasons, the error).
    pub reasons: Vec<String>,
}

/// One image of the overview.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImageRow {
    /// Its name in the fleet config.
    pub name: String,
    /// Its repository.
    pub repository: String,
    /// Its last decision, if any.
    pub last: Option<LastDecision>,
    /// The promoted digest.
    pub digest: Option<String>,
    /// Open findings of the promoted image by severity.
    pub counts: BTreeMap<String, usize>,
    /// Open findings past their `[sla]` deadline.
    pub overdue: usize,
    /// Open findings in CISA's KEV catalog.
    pub kev: usize,
    /// Signed at its promotion.
    pub signed: bool,
    /// Hardened at its promotion.
    pub hardened: bool,
}

/// The fleet at a glance.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Overview {
    /// When this view was made (RFC 3339).
    pub generated: String,
    /// Every image of the fleet, in config order.
    pub images: Vec<ImageRow>,
    /// The fleet's open findings per day.
    pub trend: Trend,
}

/// A finding of the promoted image.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FindingRow {
    /// Severity.
    pub severity: String,
    /// Advisory id.
    pub advisory: String,
    /// `type/name`.
    pub package: String,
    /// Platform (`*`: the image's only results).
    pub platform: String,
    /// `open`, `ignored`, `ignore-expired`.
    pub state: String,
    /// First seen (RFC 3339).
    pub first_seen: String,
    /// The `[sla]` deadline (RFC 3339).
    pub deadline: Option<String>,
    /// Past it.
    pub overdue: bool,
    /// Why it is ignored (and until when).
    pub justification: Option<String>,
    /// CISA's KEV due date, when listed.
    pub kev_due: Option<String>,
}

/// A promotion of the image.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Promotion {
    /// When.
    pub time: String,
    /// The run.
    pub run: i64,
    /// The digest promoted.
    pub digest: String,
    /// Counted findings by severity then.
    pub counts: BTreeMap<String, usize>,
    /// Tags moved.
    pub tags: Vec<String>,
}

/// What the last promotion changed against the one before.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Change {
    /// Advisories it brought (`ID package`).
    pub new: Vec<String>,
    /// Advisories it fixed.
    pub fixed: Vec<String>,
}

/// A base image of the promoted build.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Base {
    /// As the Dockerfile names it.
    pub reference: String,
    /// The digest it was built from.
    pub digest: String,
}

/// A base-image update `safeimage update` proposed for the image.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Proposal {
    /// The branch.
    pub branch: String,
    /// The reference today.
    pub from: String,
    /// What it becomes.
    pub to: String,
    /// `proposed`, `merged`, or `waiting` (its stability window).
    pub state: String,
    /// Its pull request (an `http(s)` URL), on a forge.
    pub pull_request: Option<String>,
    /// Why it was or was not merged.
    pub verdict: Option<String>,
}

/// One image in full.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImageDetail {
    /// Its overview row.
    pub image: ImageRow,
    /// Its promotions, newest first.
    pub promotions: Vec<Promotion>,
    /// Its open findings per day.
    pub trend: Trend,
    /// The promoted image's findings (open, ignored, ignore expired).
    pub findings: Vec<FindingRow>,
    /// What the last promotion changed.
    pub change: Option<Change>,
    /// Its bases.
    pub bases: Vec<Base>,
    /// The last `update`'s proposals for its bases (and when it ran).
    pub proposals: Vec<Proposal>,
    /// When `update` last ran.
    pub proposals_time: Option<String>,
}

fn proposals_for(record: Option<String>, name: &str) -> (Vec<Proposal>, Option<String>) {
    let Some(v) = record.and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok()) else {
        return (Vec::new(), None);
    };
    let text = |x: &serde_json::Value, k: &str| {
        x.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let mut out = Vec::new();
    for p in v["proposals"].as_array().into_iter().flatten() {
        for u in p["updates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|u| u["image"] == name)
        {
            out.push(Proposal {
                branch: text(p, "branch"),
                from: text(u, "from"),
                to: text(u, "to"),
                state: if p["merged"] == true {
                    "merged"
                } else {
                    "proposed"
                }
                .into(),
                // only a web address becomes a link
                pull_request: p["pull_request"]
                    .as_str()
                    .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
                    .map(str::to_string),
                verdict: p["verdict"].as_str().map(str::to_string),
            });
        }
    }
    for u in v["waiting"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|u| u["image"] == name)
    {
        out.push(Proposal {
            branch: String::new(),
            from: text(u, "from"),
            to: text(u, "to"),
            state: "waiting".into(),
            pull_request: None,
            verdict: None,
        });
    }
    (out, v["time"].as_str().map(str::to_string))
}

/// A run in the list.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunRow {
    /// Its id.
    pub id: i64,
    /// Start (RFC 3339).
    pub started: String,
    /// End.
    pub finished: Option<String>,
    /// Status.
    pub status: String,
}

/// A finding of lint or the secret scanner, as a run recorded it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NoteRow {
    /// Rule code.
    pub code: String,
    /// Severity.
    pub severity: String,
    /// Where (`file:line`).
    pub location: String,
    /// What.
    pub message: String,
}

/// One image of a run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunImage {
    /// Name.
    pub name: String,
    /// Decision.
    pub outcome: String,
    /// Why.
    pub reasons: Vec<String>,
    /// Seconds per step.
    pub steps: BTreeMap<String, f64>,
    /// Lint findings.
    pub lint: Vec<NoteRow>,
    /// Secrets found (redacted).
    pub secrets: Vec<NoteRow>,
}

/// One run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunDetail {
    /// The run.
    pub run: RunRow,
    /// Its images.
    pub images: Vec<RunImage>,
}

/// A tick of a scheduled job.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct JobRow {
    /// The job.
    pub job: String,
    /// The tick (RFC 3339).
    pub tick: String,
    /// Who ran it.
    pub holder: String,
    /// Start.
    pub started: String,
    /// End (none: running, or its process died).
    pub finished: Option<String>,
    /// Whether it succeeded.
    pub ok: Option<bool>,
    /// The end of its output.
    pub log: String,
}

/// Runs and jobs.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Runs {
    /// The last runs, newest first.
    pub runs: Vec<RunRow>,
    /// The last job ticks, newest first.
    pub jobs: Vec<JobRow>,
}

/// One record of an image's audit log.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AuditRecord {
    /// Its number in the image's chain.
    pub seq: u64,
    /// When.
    pub time: String,
    /// A decision's outcome, or the event (`ignored`).
    pub what: String,
    /// The digest decided, when one was.
    pub digest: Option<String>,
    /// Its hash.
    pub hash: String,
}

/// One image's audit log.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AuditLog {
    /// The image.
    pub image: String,
    /// Whether the chain verifies.
    pub verified: bool,
    /// What does not hold.
    pub problems: Vec<String>,
    /// Its records, newest first.
    pub records: Vec<AuditRecord>,
}

/// The audit logs.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Audit {
    /// Every image's log.
    pub logs: Vec<AuditLog>,
}

/// The fleet as the service reads it: the config's images and `[sla]`.
pub struct Fleet<'a> {
    /// Images in config order: (name, repository).
    pub images: &'a [(String, String)],
    /// Deadlines.
    pub sla: &'a store::sla::Sla,
}

fn open_at(t: &Tracked, at: Timestamp) -> bool {
    t.first_seen <= at && t.fixed_at.is_none_or(|f| f > at) && t.state != TrackState::Ignored
}

/// Open findings of `rows` at the end of each of the last days to `now`.
pub fn trend(rows: &[&Tracked], now: Timestamp) -> Trend {
    let today = now.0 - now.0.rem_euclid(DAY);
    let mut t = Trend::default();
    for i in (0..TREND_DAYS).rev() {
        let day = today - i * DAY;
        let end = Timestamp((day + DAY - 1).min(now.0));
        t.days.push(Timestamp(day).date());
        t.open.push(rows.iter().filter(|r| open_at(r, end)).count());
    }
    t
}

type Record = serde_json::Map<String, serde_json::Value>;

fn str_field(r: &Record, k: &str) -> String {
    r.get(k)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

fn last_decision(log: Option<&store::Log>) -> Option<(LastDecision, &Record)> {
    let r = log?
        .chain
        .records
        .iter()
        .rev()
        .find(|r| r.get("outcome").is_some())?;
    Some((
        LastDecision {
            time: str_field(r, "time"),
            outcome: str_field(r, "outcome"),
            run: r.get("run").and_then(|v| v.as_i64()).unwrap_or_default(),
            reasons: r
                .get("reasons")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        },
        r,
    ))
}

/// The record that promoted `digest`.
fn promoting<'a>(log: Option<&'a store::Log>, digest: &str) -> Option<&'a Record> {
    log?.chain.records.iter().rev().find(|r| {
        r.get("outcome").and_then(|v| v.as_str()) == Some("promoted")
            && r.get("digest").and_then(|v| v.as_str()) == Some(digest)
    })
}

fn row(
    name: &str,
    repository: &str,
    mine: &[&Tracked],
    log: Option<&store::Log>,
    digest: Option<String>,
    sla: &store::sla::Sla,
    now: Timestamp,
) -> ImageRow {
    let (counts, overdue, kev) = counts(mine, sla, now);
    let promoted = digest.as_deref().and_then(|d| promoting(log, d));
    ImageRow {
        name: name.to_string(),
        repository: repository.to_string(),
        last: last_decision(log).map(|x| x.0),
        signed: promoted.is_some_and(|r| r.get("signed").is_some()),
        hardened: promoted.is_some_and(|r| r.get("hardened").is_some()),
        digest,
        counts,
        overdue,
        kev,
    }
}

/// What the overview reads of a decision's outcome (its findings are
/// skipped, not built).
#[derive(serde::Deserialize, Default)]
struct Slim {
    #[serde(default)]
    reasons: Vec<String>,
    #[serde(default)]
    signed: Vec<String>,
    #[serde(default)]
    platforms: Vec<SlimPlatform>,
}

#[derive(serde::Deserialize)]
struct SlimPlatform {
    #[serde(default)]
    hardened: Option<serde::de::IgnoredAny>,
}

fn counts(
    mine: &[&Tracked],
    sla: &store::sla::Sla,
    now: Timestamp,
) -> (BTreeMap<String, usize>, usize, usize) {
    let mut counts = BTreeMap::new();
    let (mut overdue, mut kev) = (0, 0);
    for t in mine.iter().filter(|t| t.state.counts()) {
        *counts.entry(t.severity.clone()).or_insert(0) += 1;
        overdue += usize::from(sla.deadline(t).is_some_and(|d| d <= now));
        kev += usize::from(t.kev_due.is_some());
    }
    (counts, overdue, kev)
}

/// The overview: one read of the decisions and one of the findings,
/// whatever the fleet's size.
pub fn overview(
    fleet: &Fleet<'_>,
    store: &dyn store::StateStore,
    now: Timestamp,
) -> Result<Overview, store::StoreError> {
    let rows = store.tracked(None, true)?;
    let summaries: BTreeMap<String, store::ImageSummary> = store
        .image_summaries()?
        .into_iter()
        .map(|s| (s.image.clone(), s))
        .collect();
    let mut by_image: BTreeMap<&str, Vec<&Tracked>> = BTreeMap::new();
    for t in rows.iter().filter(|t| t.fixed_at.is_none()) {
        by_image.entry(t.image.as_str()).or_default().push(t);
    }
    let mut images = Vec::new();
    for (name, repository) in fleet.images {
        let open = by_image.get(name.as_str()).cloned().unwrap_or_default();
        let (counts, overdue, kev) = counts(&open, fleet.sla, now);
        let s = summaries.get(name);
        let last = s
            .and_then(|s| s.last.as_ref())
            .map(|(run, outcome, time, detail)| {
                let slim: Slim = serde_json::from_str(detail).unwrap_or_default();
                LastDecision {
                    time: time.clone(),
                    outcome: outcome.clone(),
                    run: run.0,
                    reasons: slim.reasons,
                }
            });
        let promoted = s.and_then(|s| s.promoted.as_ref());
        let pslim: Slim = promoted
            .and_then(|(_, d)| serde_json::from_str(d).ok())
            .unwrap_or_default();
        images.push(ImageRow {
            name: name.clone(),
            repository: repository.clone(),
            last,
            digest: promoted.map(|(d, _)| d.clone()),
            counts,
            overdue,
            kev,
            signed: !pslim.signed.is_empty(),
            hardened: pslim.platforms.iter().any(|p| p.hardened.is_some()),
        });
    }
    let mine: Vec<&Tracked> = rows
        .iter()
        .filter(|t| fleet.images.iter().any(|(n, _)| n == &t.image))
        .collect();
    Ok(Overview {
        generated: now.to_string(),
        images,
        trend: trend(&mine, now),
    })
}

/// One image's page; `None` when the fleet has no such image.
pub fn image(
    fleet: &Fleet<'_>,
    name: &str,
    store: &dyn store::StateStore,
    now: Timestamp,
) -> Result<Option<ImageDetail>, store::StoreError> {
    let Some((_, repository)) = fleet.images.iter().find(|(n, _)| n == name) else {
        return Ok(None);
    };
    let all = store.tracked(Some(name), true)?;
    let all_refs: Vec<&Tracked> = all.iter().collect();
    let open: Vec<&Tracked> = all.iter().filter(|t| t.fixed_at.is_none()).collect();
    let log = store.audit_log(name)?;
    let log = log.as_ref();
    let promoted = store.history(&name.into(), None)?.promoted;
    let digest = promoted.as_ref().map(|p| p.digest.to_string());
    let image = row(name, repository, &open, log, digest, fleet.sla, now);
    let promotions: Vec<Promotion> = log
        .map(|l| {
            l.chain
                .records
                .iter()
                .rev()
                .filter(|r| r.get("outcome").and_then(|v| v.as_str()) == Some("promoted"))
                .map(|r| Promotion {
                    time: str_field(r, "time"),
                    run: r.get("run").and_then(|v| v.as_i64()).unwrap_or_default(),
                    digest: str_field(r, "digest"),
                    counts: r
                        .get("counts")
                        .and_then(|c| serde_json::from_value(c.clone()).ok())
                        .unwrap_or_default(),
                    tags: r
                        .get("tags")
                        .and_then(|c| serde_json::from_value(c.clone()).ok())
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let rank = |s: &str| {
        ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
            .iter()
            .position(|x| *x == s)
            .unwrap_or(5)
    };
    let mut findings: Vec<FindingRow> = open
        .iter()
        .map(|t| {
            let deadline = fleet.sla.deadline(t);
            FindingRow {
                severity: t.severity.clone(),
                advisory: t.advisory.clone(),
                package: t.package.clone(),
                platform: t.platform.clone(),
                state: t.state.as_str().to_string(),
                first_seen: t.first_seen.to_string(),
                deadline: deadline.map(|d| d.to_string()),
                overdue: deadline.is_some_and(|d| d <= now),
                justification: t.reason.as_ref().map(|r| match &t.expires {
                    Some(e) => format!("{r} (until {e})"),
                    None => r.clone(),
                }),
                kev_due: t.kev_due.clone(),
            }
        })
        .collect();
    findings.sort_by(|a, b| {
        rank(&a.severity)
            .cmp(&rank(&b.severity))
            .then_with(|| a.advisory.cmp(&b.advisory))
    });
    // what the promoting run recorded against the promotion before it
    let change = match &promoted {
        Some(p) => store
            .run_image(p.run, name)?
            .and_then(|o| o.baseline)
            .map(|b| Change {
                new: b
                    .new
                    .iter()
                    .map(|f| format!("{} {}", f.id, f.package))
                    .collect(),
                fixed: b
                    .fixed
                    .iter()
                    .map(|f| format!("{} {}", f.id, f.package))
                    .collect(),
            }),
        None => None,
    };
    let (proposals, proposals_time) = proposals_for(store.meta(store::UPDATE_PROPOSALS)?, name);
    Ok(Some(ImageDetail {
        proposals,
        proposals_time,
        image,
        promotions,
        trend: trend(&all_refs, now),
        findings,
        change,
        bases: promoted
            .map(|p| {
                p.bases
                    .iter()
                    .map(|b| Base {
                        reference: b.reference.to_string(),
                        digest: b.digest.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }))
}

/// The runs and jobs.
pub fn runs(store: &dyn store::StateStore, limit: usize) -> Result<Runs, store::StoreError> {
    Ok(Runs {
        runs: store
            .runs(limit)?
            .into_iter()
            .map(|r| RunRow {
                id: r.id.0,
                started: r.started,
                finished: r.finished,
                status: r.status,
            })
            .collect(),
        jobs: store
            .jobs(limit)?
            .into_iter()
            .map(|j| JobRow {
                job: j.job,
                tick: j.tick.to_string(),
                holder: j.holder,
                started: j.started.to_string(),
                finished: j.finished.map(|f| f.to_string()),
                ok: j.ok,
                log: j.log,
            })
            .collect(),
    })
}

fn notes(list: &[findings::Finding]) -> Vec<NoteRow> {
    list.iter()
        .map(|f| NoteRow {
            code: f.code.clone(),
            severity: f.level.as_str().to_string(),
            location: format!("{}:{}", f.location.path, f.location.line),
            message: f.message.clone(),
        })
        .collect()
}

/// One run; `None` when the store has no such run.
pub fn run(store: &dyn store::StateStore, id: i64) -> Result<Option<RunDetail>, store::StoreError> {
    // the list holds the run when it is recent; older ones are looked up whole
    let Some(r) = store
        .runs(usize::MAX >> 1)?
        .into_iter()
        .find(|r| r.id.0 == id)
    else {
        return Ok(None);
    };
    let images = store
        .run_images(r.id)?
        .into_iter()
        .map(|o| RunImage {
            name: o.name.clone(),
            outcome: o.outcome.as_str().to_string(),
            reasons: o.reasons.clone(),
            steps: o
                .steps
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), *v))
                .collect(),
            lint: notes(&o.lint),
            secrets: notes(&o.secrets),
        })
        .collect();
    Ok(Some(RunDetail {
        run: RunRow {
            id: r.id.0,
            started: r.started,
            finished: r.finished,
            status: r.status,
        },
        images,
    }))
}

/// The audit logs, verified.
pub fn audit(store: &dyn store::StateStore) -> Result<Audit, store::StoreError> {
    let verified = store::verify(store, None)?;
    let logs = store
        .audit_logs()?
        .into_iter()
        .map(|l| {
            let problems: Vec<String> = verified
                .iter()
                .filter(|v| v.image == l.image)
                .flat_map(|v| v.problems.iter().map(|p| p.message.clone()))
                .collect();
            AuditLog {
                verified: problems.is_empty(),
                problems,
                records: l
                    .chain
                    .records
                    .iter()
                    .rev()
                    .map(|r| AuditRecord {
                        seq: r.get("seq").and_then(|v| v.as_u64()).unwrap_or_default(),
                        time: str_field(r, "time"),
                        what: r
                            .get("outcome")
                            .or_else(|| r.get("event"))
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_string(),
                        digest: r.get("digest").and_then(|v| v.as_str()).map(str::to_string),
                        hash: str_field(r, "hash"),
                    })
                    .collect(),
                image: l.image,
            }
        })
        .collect();
    Ok(Audit { logs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_images_proposals_and_waiting_updates_are_read_and_only_web_links_kept() {
        let record = serde_json::json!({
            "time": "2026-12-07T07:00:00Z",
            "proposals": [
                {"branch": "safeimage/update/app", "images": ["app"], "merged": false,
                 "pull_request": "javascript:alert(1)", "verdict": "security unchanged",
                 "updates": [{"image": "app", "from": "r/debian:12", "to": "r/debian:12@sha256:bb"}]},
                {"branch": "safeimage/update/web", "images": ["web"], "merged": true,
                 "pull_request": "https://forge.example/pr/2", "verdict": null,
                 "updates": [{"image": "web", "from": "r/node:22", "to": "r/node:22@sha256:cc"}]}
            ],
            "waiting": [{"image": "app", "from": "r/py:3", "to": "r/py:3@sha256:dd", "ready_at": 0}]
        })
        .to_string();
        let (app, time) = proposals_for(Some(record.clone()), "app");
        assert_eq!(time.as_deref(), Some("2026-12-07T07:00:00Z"));
        assert_eq!(app.len(), 2);
        assert_eq!(
            (app[0].state.as_str(), app[0].pull_request.as_deref()),
            ("proposed", None)
        );
        assert_eq!(app[0].verdict.as_deref(), Some("security unchanged"));
        assert_eq!(app[1].state, "waiting");
        let (web, _) = proposals_for(Some(record), "web");
        assert_eq!(web[0].state, "merged");
        assert_eq!(
            web[0].pull_request.as_deref(),
            Some("https://forge.example/pr/2")
        );
        assert!(proposals_for(None, "app").0.is_empty());
    }
}
