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
use notify::{NotifyError, RunDigest, Target};
use serde::Serialize;
use store::StateStore;
use update::plan::{FleetImage, Lookup, Plan, Proposal};
use update::propose::{Judgement, Pushed};
use update::settings::Automerge;

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
    fn send(&self, _: &Target, _: &RunDigest) -> Result<(), NotifyError> {
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

/// Compares one image's evaluation with its promotion, platform by
/// platform (the findings each run judged), and for the pull request body
/// its first platform in full (packages, sizes, layers).
fn verdict(
    store: &dyn StateStore,
    cfg: &FleetConfig,
    o: &ImageOutcome,
    image_opts: &oci::Options,
) -> Result<(ImageVerdict, Option<String>), UpdateError> {
    let spec = cfg.images.iter().find(|s| s.name.as_str() == o.name);
    let version = spec.and_then(|s| s.version.as_deref());
    let promoted = store
        .history(&model::ImageName::from(o.name.as_str()), version)?
        .promoted;
    let mut securities = Vec::new();
    let mut body = None;
    for p in &o.platforms {
        let before = promoted
            .as_ref()
            .and_then(|h| h.findings_for(&p.platform))
            .cloned();
        let Some(before) = before else {
            securities.push(Security::Unchanged(format!(
                "{}: nothing promoted to compare with",
                p.platform
            )));
            continue;
        };
        let a = side_of_findings("promoted", None, before.clone());
        let b = side_of_findings("proposed", None, p.findings.clone());
        let c = compare::compare(&a, &b);
        securities.push(match compare::security(&c) {
            Security::Improved(r) => Security::Improved(format!("{}: {r}", p.platform)),
            Security::Unchanged(r) => Security::Unchanged(format!("{}: {r}", p.platform)),
            Security::Blocked(r) => Security::Blocked(format!("{}: {r}", p.platform)),
        });
        if body.is_none()
            && let (Some(old), Some(new), Some(spec)) = (
                promoted.as_ref().and_then(|h| h.digest_for(&p.platform)),
                p.digest.as_ref(),
                spec,
            )
        {
            body = full_diff(spec, old, new, (before, p.findings.clone()), image_opts);
        }
    }
    let security = if let Some(b) = securities
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
    };
    Ok((
        ImageVerdict {
            image: o.name.clone(),
            outcome: o.outcome,
            reasons: o.reasons.clone(),
            promoted: promoted.map(|h| h.digest.to_string()),
            built: o.digest.as_ref().map(ToString::to_string),
            security,
        },
        body,
    ))
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
    eval_cfg.report_dir = scratch.path().join("reports");
    eval_cfg.notify.clear();
    eval_cfg.sign = None;
    let mut private = store::Sqlite::open(
        &scratch.path().join("evaluate.db"),
        &scratch.path().join("audit"),
    )?;
    let report = crate::fleet::run(
        &eval_cfg,
        Deps {
            registry: deps.registry,
            engine: deps.engine,
            store: &mut private,
            notifier: &Silent,
            advisories: deps.advisories,
            clock: deps.clock,
            observer: deps.observer,
        },
        &Options {
            only: p.images.clone(),
            jobs: opts.jobs.max(1),
            evaluate: true,
            cache_dir: opts.cache_dir.clone(),
            ..Default::default()
        },
    );
    let mut images = Vec::new();
    let mut bodies = Vec::new();
    let image_opts = oci::Options {
        registry: cfg.registry_options().unwrap_or_default(),
        cache_dir: opts.cache_dir.clone(),
        ..Default::default()
    };
    match report {
        Ok(r) => {
            for o in &r.images {
                let (v, body) = verdict(&*deps.store, cfg, o, &image_opts)?;
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
        out.pushed =
            update::propose::push(repo, &out.plan.proposals, &cfg.update, now, &mut judge)?;
    }
    Ok(out)
}
