//! Base-image updates as a library call (`safeimage update`): plan the
//! fleet's updates (`update::plan`), evaluate each proposal with the run's
//! own steps — lint, secrets, build for every platform, harden, push by
//! digest, scan, gate, and nothing signed or tagged — on a private store,
//! compare what it built with what is promoted (`compare`), decide by the
//! hard rules and `[update] automerge`, and push the proposal's branch
//! (merged at once in git mode when allowed).

use std::path::{Path, PathBuf};

use compare::{Security, Side};
use model::{ImageOutcome, Outcome};
use notify::{NotifyError, Target};
use serde::Serialize;
use store::StateStore;
use update::plan::{FleetImage, Lookup, Plan, Proposal};
use update::propose::{Judgement, Pushed};
use update::settings::Automerge;

pub mod check;

use crate::config::FleetConfig;
use crate::deps::{Advisories, Clock, Observer, Registry};
use crate::engine::Engine;
use crate::fleet::{Deps, FleetError, Options};

/// What `update` uses.
pub struct UpdateDeps<'a> {
    /// Registry questions for planning (asked once each).
    pub lookup: &'a dyn Lookup,
    /// The fleet's store: first-seen times, what is promoted.
    pub store: &'a mut dyn StateStore,
    /// For evaluations: the registry, the engine, the DB, the clock.
    pub registry: &'a dyn Registry,
    /// Build engine.
    pub engine: &'a dyn Engine,
    /// Advisory DB.
    pub advisories: &'a dyn Advisories,
    /// Clock.
    pub clock: &'a dyn Clock,
    /// Progress of evaluations.
    pub observer: &'a dyn Observer,
    /// The fleet repository (none for a dry run).
    pub git: Option<&'a update::git::Repo>,
    /// The forge pull requests are opened on (none: git mode).
    pub forge: Option<&'a dyn update::forge::Forge>,
}

/// What an evaluation uses.
pub struct EvalDeps<'a> {
    /// Registry (pushes by digest).
    pub registry: &'a dyn Registry,
    /// Build engine.
    pub engine: &'a dyn Engine,
    /// Advisory DB.
    pub advisories: &'a dyn Advisories,
    /// Clock.
    pub clock: &'a dyn Clock,
    /// Progress.
    pub observer: &'a dyn Observer,
}

impl UpdateDeps<'_> {
    /// The part an evaluation uses.
    pub fn eval(&self) -> EvalDeps<'_> {
        EvalDeps {
            registry: self.registry,
            engine: self.engine,
            advisories: self.advisories,
            clock: self.clock,
            observer: self.observer,
        }
    }
}

/// How to update.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    /// Plan only: nothing built, nothing pushed.
    pub dry_run: bool,
    /// Images built in parallel in an evaluation.
    pub jobs: usize,
    /// Layer cache.
    pub cache_dir: Option<PathBuf>,
}

/// One image of an evaluated proposal.
#[derive(Debug, Clone, Serialize)]
pub struct ImageVerdict {
    /// The image.
    pub image: String,
    /// How its evaluation ended.
    pub outcome: Outcome,
    /// Why, when it did not pass.
    pub reasons: Vec<String>,
    /// The promoted digest it was compared with.
    pub promoted: Option<String>,
    /// What the evaluation built (pushed by digest only).
    pub built: Option<String>,
    /// The hard rules' verdict over every platform.
    pub security: Security,
}

/// An evaluated proposal.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// The proposal's branch.
    pub branch: String,
    /// Per image.
    pub images: Vec<ImageVerdict>,
    /// The decision.
    pub judgement: Judgement,
}

/// What `update` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateReport {
    /// The plan.
    pub plan: Plan,
    /// Evaluations, one per proposal.
    pub evaluations: Vec<Evaluation>,
    /// Branches pushed.
    pub pushed: Vec<Pushed>,
    /// Pull requests closed because their update is no longer proposed.
    pub closed: Vec<update::propose::Closed>,
}

/// `update` failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Planning.
    #[error(transparent)]
    Plan(#[from] update::plan::PlanError),
    /// Pushing.
    #[error(transparent)]
    Propose(#[from] update::propose::ProposeError),
    /// The store.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A registry credential the config names is missing.
    #[error(transparent)]
    Credential(#[from] oci::settings::MissingCredential),
    /// A revision's fleet config (check mode).
    #[error("the fleet config at {what}: {message}")]
    Revision {
        /// Which revision.
        what: String,
        /// Why.
        message: String,
    },
    /// Git.
    #[error(transparent)]
    Git(#[from] update::git::GitError),
    /// The evaluation's scratch space.
    #[error("evaluation: {0}")]
    Scratch(std::io::Error),
}

/// The fleet's images as planning sees them.
pub fn fleet_images(cfg: &FleetConfig) -> Vec<FleetImage> {
    cfg.images
        .iter()
        .map(|spec| {
            let mut args = cfg.lint.build_args.clone();
            args.extend(spec.build_args.iter().map(|(k, v)| (k.clone(), v.clone())));
            FleetImage {
                name: spec.name.to_string(),
                dockerfile: spec.dockerfile.clone(),
                build_args: args,
                platforms: spec.platforms(),
                policy: spec.policy.clone().or_else(|| cfg.lint.policy.clone()),
            }
        })
        .collect()
}

struct Silent;

impl notify::Notifier for Silent {
    fn send(&self, _: &Target, _: &notify::Message) -> Result<(), NotifyError> {
        Ok(())
    }
}

/// Combines the images' verdicts: any blocked blocks; improved when every
/// image improved; otherwise unchanged.
fn combined(images: &[ImageVerdict]) -> Security {
    if let Some(b) = images
        .iter()
        .find(|i| matches!(i.security, Security::Blocked(_)))
    {
        return Security::Blocked(format!("{}: {}", b.image, b.security.reason()));
    }
    if !images.is_empty() && images.iter().all(|i| i.security.improved()) {
        let why: Vec<String> = images
            .iter()
            .map(|i| format!("{}: {}", i.image, i.security.reason()))
            .collect();
        return Security::Improved(why.join("; "));
    }
    let why: Vec<String> = images
        .iter()
        .filter(|i| !i.security.improved())
        .map(|i| format!("{}: {}", i.image, i.security.reason()))
        .collect();
    Security::Unchanged(why.join("; "))
}

/// The decision `automerge` makes of an evaluation.
pub fn decide(automerge: Automerge, images: &[ImageVerdict]) -> (bool, String) {
    let failed: Vec<String> = images
        .iter()
        .filter(|i| i.outcome != Outcome::Evaluated)
        .map(|i| format!("{} {}: {}", i.image, i.outcome, i.reasons.join("; ")))
        .collect();
    let security = combined(images);
    match automerge {
        Automerge::Never => (
            false,
            format!("automerge is off; security {}", security.reason()),
        ),
        _ if !failed.is_empty() => (false, format!("not merged: {}", failed.join("; "))),
        Automerge::SecurityImproved => match &security {
            Security::Improved(r) => (true, format!("security improved: {r}")),
            other => (false, format!("not merged: {}", other.reason())),
        },
        Automerge::GatePasses => match &security {
            Security::Blocked(r) => (false, format!("not merged: {r}")),
            _ => (true, format!("the gate passes; {}", security.reason())),
        },
    }
}

fn side_of_findings(name: &str, digest: Option<String>, findings: Vec<scan::Finding>) -> Side {
    Side {
        name: name.to_string(),
        digest,
        findings,
        ..Default::default()
    }
}

/// What an image is compared with: per platform, the findings and the
/// manifest digest (the promotion, or the other side of a check).
pub struct Before {
    /// How it is named in reasons.
    pub name: String,
    /// The index or manifest digest, when there is one.
    pub digest: Option<String>,
    /// Per platform: findings and manifest.
    pub platforms: Vec<(oci::Platform, Vec<scan::Finding>, Option<oci::Digest>)>,
}

impl Before {
    /// The last promotion of `o`'s image in `store`.
    pub fn promoted(
        store: &dyn StateStore,
        cfg: &FleetConfig,
        image: &str,
    ) -> Result<Option<Before>, UpdateError> {
        let version = cfg
            .images
            .iter()
            .find(|s| s.name.as_str() == image)
            .and_then(|s| s.version.as_deref());
        let Some(h) = store
            .history(&model::ImageName::from(image), version)?
            .promoted
        else {
            return Ok(None);
        };
        let mut platforms = Vec::new();
        for (key, findings) in &h.findings {
            let platform = match key.parse::<oci::Platform>() {
                Ok(p) => p,
                Err(_) => oci::Platform::host(),
            };
            let digest = h.digest_for(&platform).cloned();
            platforms.push((platform, findings.clone(), digest));
        }
        Ok(Some(Before {
            name: "promoted".into(),
            digest: Some(h.digest.to_string()),
            platforms,
        }))
    }

    /// What an evaluation built.
    pub fn built(o: &ImageOutcome) -> Before {
        Before {
            name: "base".into(),
            digest: o.digest.as_ref().map(ToString::to_string),
            platforms: o
                .platforms
                .iter()
                .map(|p| (p.platform.clone(), p.findings.clone(), p.digest.clone()))
                .collect(),
        }
    }

    fn for_platform(
        &self,
        p: &oci::Platform,
    ) -> Option<&(oci::Platform, Vec<scan::Finding>, Option<oci::Digest>)> {
        self.platforms
            .iter()
            .find(|(q, _, _)| q == p)
            .or_else(|| self.platforms.iter().find(|(q, _, _)| q.matches(p)))
    }
}

/// Compares an image's evaluation with `before`, platform by platform (the
/// findings each run judged), and for the pull request body its first
/// platform in full (packages, sizes, layers).
pub fn verdict(
    cfg: &FleetConfig,
    o: &ImageOutcome,
    before: Option<&Before>,
    image_opts: &oci::Options,
) -> (ImageVerdict, Option<String>) {
    let spec = cfg.images.iter().find(|s| s.name.as_str() == o.name);
    let mut securities = Vec::new();
    let mut body = None;
    for p in &o.platforms {
        let Some((_, findings, old)) = before.and_then(|b| b.for_platform(&p.platform)) else {
            securities.push(Security::Unchanged(format!(
                "{}: nothing to compare with",
                p.platform
            )));
            continue;
        };
        let a = side_of_findings("before", None, findings.clone());
        let b = side_of_findings("after", None, p.findings.clone());
        let c = compare::compare(&a, &b);
        securities.push(match compare::security(&c) {
            Security::Improved(r) => Security::Improved(format!("{}: {r}", p.platform)),
            Security::Unchanged(r) => Security::Unchanged(format!("{}: {r}", p.platform)),
            Security::Blocked(r) => Security::Blocked(format!("{}: {r}", p.platform)),
        });
        if body.is_none()
            && let (Some(old), Some(new), Some(spec)) = (old, p.digest.as_ref(), spec)
        {
            body = full_diff(
                spec,
                old,
                new,
                (findings.clone(), p.findings.clone()),
                image_opts,
            );
        }
    }
    let security = combine(&securities);
    (
        ImageVerdict {
            image: o.name.clone(),
            outcome: o.outcome,
            reasons: o.reasons.clone(),
            promoted: before.and_then(|b| b.digest.clone()),
            built: o.digest.as_ref().map(ToString::to_string),
            security,
        },
        body,
    )
}

/// Platforms' verdicts as one: any blocked blocks; improved when all
/// improved; otherwise unchanged.
fn combine(securities: &[Security]) -> Security {
    if let Some(b) = securities
        .iter()
        .find(|s| matches!(s, Security::Blocked(_)))
    {
        b.clone()
    } else if !securities.is_empty() && securities.iter().all(Security::improved) {
        Security::Improved(
            securities
                .iter()
                .map(Security::reason)
                .collect::<Vec<_>>()
                .join("; "),
        )
    } else if securities.is_empty() {
        Security::Unchanged("no platform was built".into())
    } else {
        Security::Unchanged(
            securities
                .iter()
                .filter(|s| !s.improved())
                .map(Security::reason)
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

/// The Markdown diff of the promoted and proposed manifests of one
/// platform: packages, sizes and layers read from the registry, with the
/// findings each run judged; `None` when either image cannot be read (the
/// body then has the verdicts only).
fn full_diff(
    spec: &crate::config::ImageSpec,
    old: &oci::Digest,
    new: &oci::Digest,
    findings: (Vec<scan::Finding>, Vec<scan::Finding>),
    image_opts: &oci::Options,
) -> Option<String> {
    let load = |d: &oci::Digest| {
        let r = spec.repository.with_digest(d.clone());
        inventory::load(&format!("registry:{r}"), image_opts, &|_| {}).ok()
    };
    let (a, b) = (load(old)?, load(new)?);
    let c = compare::compare(
        &compare::side::loaded(&a, findings.0),
        &compare::side::loaded(&b, findings.1),
    );
    let security = compare::security(&c);
    Some(report::diff::markdown(&report::diff::DiffReport {
        comparison: &c,
        security: &security,
        failures: &[],
    }))
}

/// Runs `images` of `cfg` through the fleet's steps up to the gate
/// (nothing signed or tagged), on a private store in `scratch`, with no
/// notification and the reports kept in `scratch`.
pub fn evaluate_images(
    cfg: &FleetConfig,
    images: &[String],
    scratch: &Path,
    deps: &EvalDeps<'_>,
    opts: &UpdateOptions,
) -> Result<Result<model::RunReport, FleetError>, UpdateError> {
    let mut eval_cfg = cfg.clone();
    eval_cfg.report_dir = scratch.join("reports");
    eval_cfg.notify.clear();
    eval_cfg.sign = None;
    let mut private = store::Sqlite::open(&scratch.join("evaluate.db"), &scratch.join("audit"))?;
    Ok(crate::fleet::run(
        &eval_cfg,
        Deps {
            registry: deps.registry,
            engine: deps.engine,
            store: &mut private,
            notifier: &Silent,
            advisories: deps.advisories,
            clock: deps.clock,
            observer: deps.observer,
            issues: None,
        },
        &Options {
            only: images.to_vec(),
            jobs: opts.jobs.max(1),
            evaluate: true,
            cache_dir: opts.cache_dir.clone(),
            ..Default::default()
        },
    ))
}

/// How images are read for a diff: the fleet's registries and the cache.
pub fn image_options(cfg: &FleetConfig, opts: &UpdateOptions) -> Result<oci::Options, UpdateError> {
    Ok(oci::Options {
        registry: cfg.registry_options()?,
        cache_dir: opts.cache_dir.clone(),
        ..Default::default()
    })
}

/// Evaluates one proposal: its files written to a scratch directory, the
/// images it changes run through the fleet's steps up to the gate on a
/// private store, each compared with its promotion.
pub fn evaluate(
    cfg: &FleetConfig,
    p: &Proposal,
    deps: &mut UpdateDeps<'_>,
    opts: &UpdateOptions,
) -> Result<Evaluation, UpdateError> {
    let scratch = tempfile::Builder::new()
        .prefix("safeimage-evaluate-")
        .tempdir()
        .map_err(UpdateError::Scratch)?;
    let mut eval_cfg = cfg.clone();
    eval_cfg
        .images
        .retain(|s| p.images.iter().any(|i| i == s.name.as_str()));
    for (i, (path, text)) in p.files.iter().enumerate() {
        let copy = scratch.path().join(format!("Dockerfile.{i}"));
        std::fs::write(&copy, text).map_err(UpdateError::Scratch)?;
        for spec in eval_cfg
            .images
            .iter_mut()
            .filter(|s| same_file(&s.dockerfile, path))
        {
            spec.dockerfile = copy.clone();
        }
    }
    let report = evaluate_images(&eval_cfg, &p.images, scratch.path(), &deps.eval(), opts)?;
    let mut images = Vec::new();
    let mut bodies = Vec::new();
    let image_opts = image_options(cfg, opts)?;
    match report {
        Ok(r) => {
            for o in &r.images {
                let before = Before::promoted(&*deps.store, cfg, &o.name)?;
                let (v, body) = verdict(cfg, o, before.as_ref(), &image_opts);
                images.push(v);
                bodies.extend(body);
            }
            for e in r.errors {
                images.push(failed_verdict(p, &e));
            }
        }
        Err(e) => images.push(failed_verdict(p, &fleet_error(&e))),
    }
    let (merge, reason) = decide(cfg.update.automerge, &images);
    let body = pr_body(p, &images, &reason, &bodies);
    Ok(Evaluation {
        branch: p.branch.clone(),
        images,
        judgement: Judgement {
            merge,
            reason,
            body: Some(body),
        },
    })
}

fn fleet_error(e: &FleetError) -> String {
    e.to_string()
}

fn failed_verdict(p: &Proposal, why: &str) -> ImageVerdict {
    ImageVerdict {
        image: p.images.join(", "),
        outcome: Outcome::Failed,
        reasons: vec![why.to_string()],
        promoted: None,
        built: None,
        security: Security::Blocked(format!("the evaluation failed: {why}")),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// The pull request's body: what changes, the decision, each image's
/// verdict, and the first platform's diff.
pub fn pr_body(p: &Proposal, images: &[ImageVerdict], reason: &str, diffs: &[String]) -> String {
    use report::diff::md;
    let mut b = String::from("Base image update proposed by safeimage.\n\n");
    b.push_str("| Image | Line | From | To |\n|---|---|---|---|\n");
    for u in &p.updates {
        b.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            md(&u.image),
            u.line,
            md(&u.from),
            md(&u.to)
        ));
    }
    b.push_str(&format!("\n**Decision:** {}\n\n", md(reason)));
    for i in images {
        b.push_str(&format!(
            "- {} — {}: {}\n",
            md(&i.image),
            i.outcome,
            md(i.security.reason())
        ));
    }
    for d in diffs {
        b.push('\n');
        b.push_str(d);
    }
    b
}

/// Plans, evaluates and pushes the fleet's base updates.
pub fn run(
    cfg: &FleetConfig,
    mut deps: UpdateDeps<'_>,
    opts: &UpdateOptions,
) -> Result<UpdateReport, UpdateError> {
    let now = deps.clock.now().0;
    let plan = update::plan::plan(
        &fleet_images(cfg),
        deps.lookup,
        &mut *deps.store,
        &cfg.update,
        now,
    )?;
    let mut out = UpdateReport {
        plan,
        ..Default::default()
    };
    if opts.dry_run {
        return Ok(out);
    }
    for p in &out.plan.proposals {
        let e = evaluate(cfg, p, &mut deps, opts)?;
        out.evaluations.push(e);
    }
    if let Some(repo) = deps.git {
        let evaluations = out.evaluations.clone();
        let mut judge = |p: &Proposal| {
            evaluations
                .iter()
                .find(|e| e.branch == p.branch)
                .map(|e| e.judgement.clone())
                .unwrap_or(Judgement {
                    merge: false,
                    reason: "not evaluated".into(),
                    body: None,
                })
        };
        let keep: Vec<String> = out
            .plan
            .waiting
            .iter()
            .map(|u| update::plan::branch_for(&cfg.update, &u.image))
            .collect();
        let (pushed, closed) = update::propose::push(
            repo,
            &out.plan.proposals,
            &cfg.update,
            now,
            &mut judge,
            deps.forge,
            &keep,
        )?;
        out.pushed = pushed;
        out.closed = closed;
    }
    // what was proposed, for the service's image pages
    deps.store
        .set_meta(store::UPDATE_PROPOSALS, &proposals_record(&out, now))?;
    Ok(out)
}

/// The [`store::UPDATE_PROPOSALS`] record of an update: when, and per
/// proposal its branch, images, each base's change, whether it was merged
/// and its pull request; the updates still waiting for their stability
/// window.
pub fn proposals_record(r: &UpdateReport, now: i64) -> String {
    let proposals: Vec<serde_json::Value> = r
        .plan
        .proposals
        .iter()
        .map(|p| {
            let pushed = r.pushed.iter().find(|x| x.branch == p.branch);
            let judged = r.evaluations.iter().find(|e| e.branch == p.branch);
            serde_json::json!({
                "branch": p.branch,
                "images": p.images,
                "updates": p.updates.iter().map(|u| serde_json::json!({
                    "image": u.image, "from": u.from, "to": u.to,
                })).collect::<Vec<_>>(),
                "merged": pushed.is_some_and(|x| x.merged),
                "pull_request": pushed.and_then(|x| x.pull_request.clone()),
                "verdict": judged.map(|e| e.judgement.reason.clone()),
            })
        })
        .collect();
    let waiting: Vec<serde_json::Value> = r
        .plan
        .waiting
        .iter()
        .map(|u| serde_json::json!({"image": u.image, "from": u.from, "to": u.to, "ready_at": u.ready_at}))
        .collect();
    serde_json::json!({
        "time": model::Timestamp(now).to_string(),
        "proposals": proposals,
        "waiting": waiting,
    })
    .to_string()
}

#[cfg(test)]
mod tests;
