//! One image through the run: the sequence of steps ([`crate::steps`]),
//! each timed, each result written into the image's [`ImageOutcome`]. A
//! step that stops the image (a failure, a block, a dry run, nothing
//! changed) ends the sequence; the outcome says which and why.

use std::time::Instant;

use model::{Failure, ImageOutcome, Outcome, PlatformOutcome, Stage, Step};

use crate::cx::ImageCx;
use crate::engine::Built;
use crate::steps::{self, AtStep, Stop};

/// Stops before `step` when the run was asked to stop.
fn go_on(cx: &ImageCx<'_>, step: Step) -> Result<(), Stop> {
    if cx.cancel.is_set() {
        return Err(Stop::Failed(
            step,
            Box::new(steps::StepError::Interrupted(step)),
        ));
    }
    Ok(())
}

struct Laps(Instant);

impl Laps {
    fn lap(&mut self, o: &mut ImageOutcome, step: Step) {
        *o.steps.entry(step).or_default() += self.0.elapsed().as_secs_f64();
        self.0 = Instant::now();
    }
}

/// The sequence. Adding a step is one module in `steps/` and one line here.
fn sequence(cx: &ImageCx<'_>, o: &mut ImageOutcome) -> Result<(), Stop> {
    let mut t = Laps(Instant::now());
    let tags = steps::tags::run(cx).at(Step::Tags)?;
    let df = steps::dockerfile::run(cx).at(Step::Dockerfile)?;
    // A prohibited base is blocked before anything contacts its registry.
    let linted = steps::lint::run(cx, &df);
    o.lint = linted.findings;
    if !linted.blocked.is_empty() {
        return Err(Stop::Blocked(linted.blocked));
    }
    t.lap(o, Step::Lint);
    // A secret in the context would be baked in or leaked: nothing is built.
    let found = steps::secrets::context(cx, cx.secrets).at(Step::Secrets)?;
    o.secrets = found.findings;
    t.lap(o, Step::Secrets);
    if !found.blocking.is_empty() {
        return Err(Stop::Blocked(found.blocking));
    }
    let resolved = steps::resolve::run(cx, &df).at(Step::Resolve)?;
    o.bases = resolved.bases.clone();
    t.lap(o, Step::Resolve);
    if !cx.config.base_signatures.is_empty() {
        // An unsigned or wrongly signed base: nothing is built on it.
        o.bases_verified = steps::provenance::verify_bases(cx, &resolved)?;
        t.lap(o, Step::Verify);
    }
    (cx.stage)(&cx.spec.name, Stage::Checked, None);
    if cx.dry_run {
        o.tags = tags;
        return Err(Stop::DryRun);
    }
    o.inputs = steps::inputs::fingerprint(cx, &df).at(Step::Build)?;
    let plan = steps::inputs::plan(cx, o.inputs.as_deref(), &resolved)?;
    for p in plan {
        let done = platform(cx, &df, &resolved, p, o, &mut t)?;
        o.platforms.push(done);
    }
    let digest = match o.platforms.as_slice() {
        [one] => one.digest.clone().expect("a pushed platform has a digest"),
        several => {
            let manifests: Vec<_> = several
                .iter()
                .filter_map(|p| p.digest.clone().map(|d| (p.platform.clone(), d)))
                .collect();
            steps::push::index(cx, &manifests).at(Step::Push)?
        }
    };
    o.digest = Some(digest.clone());
    // The -debug siblings, as one image like the main one.
    let debug: Vec<_> = o
        .platforms
        .iter()
        .filter_map(|p| {
            p.hardened
                .as_ref()
                .and_then(|h| h.debug_digest.clone())
                .map(|d| (p.platform.clone(), d))
        })
        .collect();
    o.debug_digest = match debug.as_slice() {
        [] => None,
        [(_, one)] if o.platforms.len() == 1 => Some(one.clone()),
        several => Some(steps::push::index(cx, several).at(Step::Push)?),
    };
    (cx.stage)(&cx.spec.name, Stage::Pushed, Some(&digest));
    summarise(o);
    if cx.spec.gate.block_on_overdue {
        steps::gate::overdue(&cx.overdue, &mut o.platforms);
    }
    steps::gate::run(&o.platforms)?;
    (cx.stage)(&cx.spec.name, Stage::Gated, Some(&digest));
    if cx.evaluate {
        return Err(Stop::Evaluated);
    }
    if let Some(signer) = cx.signer {
        // Signed before any tag moves: no tag ever names an unsigned image.
        go_on(cx, Step::Sign)?;
        let attached = steps::provenance::sign(cx, signer, &digest, o)?;
        o.signed = std::iter::once("signature".to_string())
            .chain(attached)
            .collect();
        t.lap(o, Step::Sign);
    }
    go_on(cx, Step::Promote)?;
    (cx.fence)().map_err(|e| Stop::Failed(Step::Promote, Box::new(e.into())))?;
    let mut moves = vec![(digest.clone(), tags.clone())];
    if let Some(d) = &o.debug_digest {
        moves.push((
            d.clone(),
            tags.iter().map(|t| format!("{t}-debug")).collect(),
        ));
    }
    o.tags = steps::promote::run(cx, &moves).at(Step::Promote)?;
    t.lap(o, Step::Promote);
    Ok(())
}

/// One platform: build, push by digest, scan, gate; or the last
/// promotion's manifest when the plan keeps it.
fn platform(
    cx: &ImageCx<'_>,
    df: &steps::dockerfile::Dockerfile,
    resolved: &steps::resolve::Resolved,
    plan: steps::inputs::Plan,
    o: &mut ImageOutcome,
    t: &mut Laps,
) -> Result<PlatformOutcome, Stop> {
    use steps::inputs::Plan;
    let p = match plan {
        Plan::Reuse(platform, digest) => {
            let findings = cx
                .history
                .promoted
                .as_ref()
                .and_then(|h| h.findings_for(&platform))
                .cloned()
                .unwrap_or_default();
            let (counts, fixable) = scan::session::counts(&findings);
            let reasons = steps::gate::evaluate(cx, &findings);
            PlatformOutcome {
                platform,
                digest: Some(digest),
                rebuilt: false,
                counts,
                fixable,
                baseline: None,
                reasons,
                findings,
                hardened: None,
                inventory: None,
                eol: Vec::new(),
            }
        }
        Plan::Build(platform) => {
            go_on(cx, Step::Build)?;
            let mut built = steps::build::run(cx, df, resolved, &platform).at(Step::Build)?;
            o.engine_seconds += built.seconds;
            t.lap(o, Step::Build);
            let mut hardened = None;
            if let Some(spec) = &cx.spec.harden {
                go_on(cx, Step::Harden)?;
                let h = steps::harden::run(cx, spec, &built, &platform)?;
                built = Built {
                    layout: h.built.layout.clone(),
                    seconds: built.seconds,
                };
                hardened = Some(h);
                t.lap(o, Step::Harden);
            }
            // Every layer of what would be pushed: a secret blocks it here.
            let found = steps::secrets::image(cx.secrets, &built, &platform)?;
            o.secrets.extend(found.findings);
            t.lap(o, Step::Secrets);
            if !found.blocking.is_empty() {
                return Err(Stop::Blocked(found.blocking));
            }
            go_on(cx, Step::Push)?;
            let digest = steps::push::run(cx, &built).at(Step::Push)?;
            let hardened = match hardened {
                Some(mut h) => {
                    if let Some(layout) = &h.debug {
                        let debug = Built {
                            layout: layout.clone(),
                            seconds: 0.0,
                        };
                        h.summary.debug_digest = Some(steps::push::run(cx, &debug).at(Step::Push)?);
                    }
                    Some(h.summary)
                }
                None => None,
            };
            t.lap(o, Step::Push);
            let s =
                steps::scan::run(cx, &built, df, resolved, &digest, &platform).at(Step::Scan)?;
            t.lap(o, Step::Scan);
            PlatformOutcome {
                platform,
                digest: Some(digest),
                rebuilt: true,
                counts: s.counts,
                fixable: s.fixable,
                baseline: s.baseline,
                reasons: s.reasons,
                findings: s.findings,
                hardened,
                inventory: Some(s.inventory),
                eol: s.eol,
            }
        }
    };
    t.lap(o, Step::Gate);
    Ok(p)
}

/// The image's own findings, counts and baseline: a single platform's, or
/// for several the union (a vulnerability in a package counted once).
fn summarise(o: &mut ImageOutcome) {
    let mut eol: Vec<vulndb::feed::eol::EolStatus> = Vec::new();
    for p in &o.platforms {
        for e in &p.eol {
            if !eol.iter().any(|x| x.release == e.release) {
                eol.push(e.clone());
            }
        }
    }
    o.eol = eol;
    if let [one] = o.platforms.as_slice() {
        o.findings = one.findings.clone();
        o.counts = one.counts.clone();
        o.fixable = one.fixable;
        o.baseline = one.baseline.clone();
        return;
    }
    let mut all: Vec<scan::Finding> = Vec::new();
    for p in &o.platforms {
        for f in &p.findings {
            if !all.iter().any(|g| {
                g.id == f.id
                    && g.package.name == f.package.name
                    && g.package.version == f.package.version
            }) {
                all.push(f.clone());
            }
        }
    }
    scan::sort_findings(&mut all);
    let (counts, fixable) = scan::session::counts(&all);
    o.counts = counts;
    o.fixable = fixable;
    o.findings = all;
}

/// Run one image.
pub fn run(cx: &ImageCx<'_>) -> ImageOutcome {
    let start = Instant::now();
    let previous = cx.history.promoted.as_ref().map(|p| p.digest.clone());
    let mut o = ImageOutcome::new(&cx.spec.name, &cx.spec.repository, previous);
    match sequence(cx, &mut o) {
        Ok(()) => o.outcome = Outcome::Promoted,
        Err(Stop::Blocked(reasons)) => {
            o.outcome = Outcome::Blocked;
            o.reasons = reasons;
        }
        Err(Stop::DryRun) => o.outcome = Outcome::DryRun,
        Err(Stop::Evaluated) => o.outcome = Outcome::Evaluated,
        Err(Stop::Unchanged(why)) => {
            o.outcome = Outcome::Unchanged;
            o.digest = o.previous_digest.clone();
            o.reasons.push(why);
        }
        Err(Stop::Failed(step, e)) => {
            o.outcome = Outcome::Failed;
            o.tags.clear();
            let message = e.to_string();
            o.reasons.push(message.clone());
            o.failure = Some(Failure { step, message });
        }
    }
    o.other_seconds = (start.elapsed().as_secs_f64() - o.engine_seconds).max(0.0);
    o
}
