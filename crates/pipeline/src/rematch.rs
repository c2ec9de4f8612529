//! Re-matching after the advisory DB changed: the inventory kept with each
//! promoted platform of the fleet is matched against the DB again and
//! judged with the fleet's ignore rules and VEX — no image is pulled or
//! built. Where the findings differ from what the promotion recorded, the
//! store takes the new findings: new ones enter the lifecycle first seen
//! now (and so the `[sla]` clock starts), ones the DB no longer has leave
//! it. Unchanged images are silent. The matching runs on every core; the
//! store is written once per changed image.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::FleetConfig;
use crate::deps::{Advisories, Clock};
use crate::fleet::FleetError;

/// What changed for one promoted platform.
#[derive(Debug, Clone, Serialize)]
pub struct Changed {
    /// The image.
    pub image: String,
    /// The platform.
    pub platform: String,
    /// The promoted manifest.
    pub digest: String,
    /// Findings the DB has now that the promotion did not.
    pub new: Vec<scan::Finding>,
    /// Findings of the promotion the DB no longer gives.
    pub gone: Vec<scan::Finding>,
}

/// A re-match.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RematchReport {
    /// Promoted platforms matched again.
    pub matched: usize,
    /// Those whose findings changed.
    pub changed: Vec<Changed>,
    /// Platforms that could not be matched (an unreadable kept inventory).
    pub errors: Vec<String>,
}

/// What a re-match needs.
pub struct RematchDeps<'a> {
    /// The state store.
    pub store: &'a mut dyn store::StateStore,
    /// The advisory DB.
    pub advisories: &'a dyn Advisories,
    /// The time.
    pub clock: &'a dyn Clock,
}

fn key(f: &scan::Finding) -> (String, String, String, String) {
    (
        f.id.to_string(),
        f.package.kind.clone(),
        f.package.name.clone(),
        f.package.version.clone(),
    )
}

/// Matches every promoted platform of the fleet in `cfg` again.
pub fn rematch(cfg: &FleetConfig, deps: RematchDeps<'_>) -> Result<RematchReport, FleetError> {
    let now = deps.clock.now();
    deps.advisories.check(now)?;
    let (rules, vex) = cfg.scan.suppressions()?;
    let opts = scan::Options {
        show_unimportant: false,
        severity_priority: cfg.scan.severity_priority.clone(),
    };
    let kept: Vec<store::StoredInventory> = deps
        .store
        .promoted_inventories()?
        .into_iter()
        .filter(|k| cfg.images.iter().any(|i| i.name.as_str() == k.image))
        .collect();
    let today = now.date();
    // match in parallel: the DB reads are the work
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = kept.len().div_ceil(workers).max(1);
    let results: Vec<Result<Vec<scan::Finding>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = kept
            .chunks(chunk)
            .map(|part| {
                let (rules, vex, opts, today) = (&rules, &vex, &opts, &today);
                let advisories = deps.advisories;
                s.spawn(move || {
                    part.iter()
                        .map(|k| {
                            let inv: inventory::Inventory = serde_json::from_str(&k.inventory)
                                .map_err(|e| {
                                    format!("{} {}: its kept inventory: {e}", k.image, k.platform)
                                })?;
                            let m = advisories
                                .matches(&inv, opts)
                                .map_err(|e| format!("{} {}: {e}", k.image, k.platform))?;
                            let subject = format!("{}@{}", k.image, k.digest);
                            let spec = cfg.images.iter().find(|i| i.name.as_str() == k.image);
                            let gate = spec
                                .map(|s| s.gate.clone())
                                .unwrap_or_else(scan::gate::Gate::daily);
                            Ok(scan::session::judge(
                                m,
                                &scan::session::Judging {
                                    rules,
                                    vex,
                                    today,
                                    subject: &subject,
                                    digest: Some(&k.digest),
                                    baseline: None,
                                    gate: &gate,
                                },
                            )
                            .findings)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut report = RematchReport {
        matched: kept.len(),
        ..Default::default()
    };
    // per image: the new findings document, when anything changed
    let mut documents: BTreeMap<String, (String, BTreeMap<String, Vec<scan::Finding>>)> =
        BTreeMap::new();
    for (k, r) in kept.iter().zip(results) {
        let findings = match r {
            Ok(f) => f,
            Err(e) => {
                report.errors.push(e);
                continue;
            }
        };
        let history = deps.store.history(&k.image.as_str().into(), None)?;
        let Some(promoted) = history.promoted else {
            continue;
        };
        let old = promoted
            .findings
            .get(&k.platform)
            .or_else(|| promoted.findings.get("*"))
            .cloned()
            .unwrap_or_default();
        let old_keys: Vec<_> = old.iter().map(key).collect();
        let new_keys: Vec<_> = findings.iter().map(key).collect();
        let new: Vec<scan::Finding> = findings
            .iter()
            .filter(|f| !old_keys.contains(&key(f)))
            .cloned()
            .collect();
        let gone: Vec<scan::Finding> = old
            .iter()
            .filter(|f| !new_keys.contains(&key(f)))
            .cloned()
            .collect();
        if new.is_empty() && gone.is_empty() {
            continue;
        }
        let entry = documents
            .entry(k.image.clone())
            .or_insert_with(|| (promoted.digest.to_string(), promoted.findings.clone()));
        // a document kept under `*` (one platform) stays under `*`
        let slot = if entry.1.contains_key(&k.platform) || !entry.1.contains_key("*") {
            k.platform.clone()
        } else {
            "*".to_string()
        };
        entry.1.insert(slot, findings);
        report.changed.push(Changed {
            image: k.image.clone(),
            platform: k.platform.clone(),
            digest: k.digest.clone(),
            new,
            gone,
        });
    }
    for (image, (digest, document)) in documents {
        deps.store.record_rematch(&image, &digest, now, &document)?;
    }
    Ok(report)
}
