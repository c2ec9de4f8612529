//! One image's security report for its consumers (`safeimage report
//! image`), assembled from the store: the promotion (digest, platforms,
//! bases), the kept inventories (packages per type), the findings the
//! promoted image carries with their deadlines and justifications, and the
//! image's audit trail, verified. Reads only.

use std::collections::BTreeMap;

use model::Timestamp;
use model::dossier::{Dossier, DossierFinding, TrailEntry};

/// The report of `image` (a fleet image name), or `None` when it was never
/// promoted.
pub fn dossier(
    image: &str,
    repository: &str,
    store: &dyn store::StateStore,
    sla: &store::sla::Sla,
    now: Timestamp,
) -> Result<Option<Dossier>, store::StoreError> {
    let Some(p) = store.history(&image.into(), None)?.promoted else {
        return Ok(None);
    };
    let mut packages: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for k in store
        .promoted_inventories()?
        .into_iter()
        .filter(|k| k.image == image)
    {
        let counts = packages.entry(k.platform.clone()).or_default();
        match serde_json::from_str::<inventory::Inventory>(&k.inventory) {
            Ok(inv) => {
                for pkg in &inv.packages {
                    *counts.entry(pkg.kind.as_str().to_string()).or_default() += 1;
                }
            }
            Err(e) => {
                counts.insert(format!("(unreadable kept inventory: {e})"), 0);
            }
        }
    }
    let mut findings: Vec<DossierFinding> = store
        .tracked(Some(image), false)?
        .into_iter()
        .map(|t| DossierFinding {
            deadline: sla.deadline(&t),
            finding: t,
        })
        .collect();
    let rank = |s: &str| {
        ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
            .iter()
            .position(|x| *x == s)
            .unwrap_or(5)
    };
    findings.sort_by(|a, b| {
        rank(&a.finding.severity)
            .cmp(&rank(&b.finding.severity))
            .then_with(|| a.finding.key().cmp(&b.finding.key()))
    });
    let mut trail = Vec::new();
    let mut trail_problems = Vec::new();
    for v in store::verify(store, None)?
        .into_iter()
        .filter(|v| v.image == image)
    {
        trail_problems.extend(v.problems.iter().map(|p| p.message.clone()));
    }
    for log in store.audit_logs()?.into_iter().filter(|l| l.image == image) {
        for r in &log.chain.records {
            let s = |k: &str| {
                r.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            trail.push(TrailEntry {
                time: s("time"),
                outcome: s("outcome"),
                digest: s("digest"),
                tags: r
                    .get("tags")
                    .and_then(|v| v.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
    }
    Ok(Some(Dossier {
        image: image.to_string(),
        repository: repository.to_string(),
        created: now,
        digest: p.digest.to_string(),
        platforms: p
            .platforms
            .iter()
            .map(|x| (x.platform.to_string(), x.digest.to_string()))
            .collect(),
        bases: p
            .bases
            .iter()
            .map(|b| (b.reference.to_string(), b.digest.to_string()))
            .collect(),
        packages,
        findings,
        trail,
        trail_problems,
    }))
}
