//! Re-matching after the advisory DB changed: the inventory kept with each
//! promoted platform of the fleet is matched against the DB again and
//! judged with the fleet's ignore rules and VEX — no image is pulled or
//! built. Where the findings differ from what the promotion recorded, the
//! store takes the new findings: new ones enter the lifecycle first seen
//! now (and so the `[sla]` clock starts), ones the DB no longer has leave
//! it. Unchanged images are silent; new findings go to the notifiers that
//! take `rematch` (one message). The matching runs on every core; the
//! store is written once per changed image, and keeps which DB it matched
//! last ([`store::MATCHED_DB`]) so `run` re-matches only after the DB
//! changed ([`due`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::FleetConfig;
use crate::deps::{Advisories, Clock};

/// Why a re-match could not be done.
#[derive(Debug, thiserror::Error)]
pub enum RematchError {
    /// The advisory DB is missing, unreadable or too old.
    #[error(transparent)]
    Db(#[from] vulndb::DbError),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// An ignore file or VEX document of the fleet cannot be read.
    #[error(transparent)]
    Suppress(#[from] scan::suppress::SuppressError),
}

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
    /// When the DB matched against was built.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_built: Option<model::Timestamp>,
    /// Notifiers told of the new findings (redacted targets).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notified: Vec<String>,
    /// Notifiers that failed (nothing else is undone by it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notify_errors: Vec<String>,
}

/// What a re-match needs.
pub struct RematchDeps<'a> {
    /// The state store.
    pub store: &'a mut dyn store::StateStore,
    /// The advisory DB.
    pub advisories: &'a dyn Advisories,
    /// The time.
    pub clock: &'a dyn Clock,
    /// Where new findings are told.
    pub notifier: &'a dyn notify::Notifier,
}

/// Whether the DB changed since the promoted findings were last matched
/// (or they never were): `run` re-matches then.
pub fn due(
    store: &dyn store::StateStore,
    advisories: &dyn Advisories,
) -> Result<bool, RematchError> {
    let Some(built) = advisories.built()? else {
        return Ok(false);
    };
    Ok(store.meta(store::MATCHED_DB)?.as_deref() != Some(built.to_string().as_str()))
}

fn digest(r: &RematchReport, built: Option<model::Timestamp>) -> notify::RematchDigest {
    notify::RematchDigest {
        schema: notify::message::REMATCH_SCHEMA,
        db_built: built.map(|b| b.to_string()).unwrap_or_default(),
        matched: r.matched,
        images: r
            .changed
            .iter()
            .filter(|c| !c.new.is_empty())
            .map(|c| notify::RematchLine {
                image: c.image.clone(),
                platform: c.platform.clone(),
                digest: c.digest.clone(),
                new: c
                    .new
                    .iter()
                    .map(|f| notify::NewFinding {
                        advisory: f.id.to_string(),
                        package: format!("{}/{}", f.package.kind, f.package.name),
                        version: f.package.version.clone(),
                        severity: f.severity.as_str().to_string(),
                        fixed: f.fixed_version.clone(),
                        kev: f.kev.is_some(),
                    })
                    .collect(),
                gone: c.gone.iter().map(|f| f.id.to_string()).collect(),
            })
            .collect(),
    }
}

fn key(f: &scan::Finding) -> (String, String, String, String) {
    (
        f.id.to_string(),
        f.package.kind.clone(),
        f.package.name.clone(),
        f.package.version.clone(),
    )
}

/// A package as a finding names it (its locations aside).
type PackageKey = (String, String, String, String);

fn package_key(p: &inventory::Package) -> PackageKey {
    (
        p.kind.as_str().to_string(),
        p.name.clone(),
        p.version.clone(),
        p.purl.clone(),
    )
}

fn finding_key(f: &scan::Finding) -> PackageKey {
    let p = &f.package;
    (
        p.kind.clone(),
        p.name.clone(),
        p.version.clone(),
        p.purl.clone(),
    )
}

type DistroKey = Option<(String, String)>;

type FoundMap = BTreeMap<DistroKey, BTreeMap<PackageKey, Vec<scan::Finding>>>;

/// The findings of every distinct package, per distro.
struct Found(FoundMap);

fn distro_key(inv: &inventory::Inventory) -> DistroKey {
    inv.distro
        .as_ref()
        .map(|d| (d.id.clone(), d.version_id.clone()))
}

impl Found {
    /// The findings of one inventory's packages, without copying them.
    fn of<'a>(
        &'a self,
        inv: &'a inventory::Inventory,
    ) -> impl Iterator<Item = (&'a inventory::Package, &'a scan::Finding)> + 'a {
        let slot = self.0.get(&distro_key(inv));
        inv.packages.iter().flat_map(move |p| {
            slot.and_then(|s| s.get(&package_key(p)))
                .into_iter()
                .flatten()
                .map(move |f| (p, f))
        })
    }

    /// The fingerprint of one inventory's findings (see
    /// [`store::findings_fingerprint`]).
    fn fingerprint(&self, inv: &inventory::Inventory) -> String {
        store::fingerprint_keys(self.of(inv).map(|(_, f)| {
            (
                f.id.as_str(),
                f.package.kind.as_str(),
                f.package.name.as_str(),
                f.package.version.as_str(),
            )
        }))
    }

    /// One inventory's findings, as matching it alone gives them.
    fn matched(&self, inv: &inventory::Inventory) -> scan::Matched {
        let mut findings: Vec<scan::Finding> = self
            .of(inv)
            .map(|(p, f)| {
                let mut f = f.clone();
                f.package.locations = p.locations.iter().map(scan::LocationRef::from).collect();
                f
            })
            .collect();
        scan::sort_findings(&mut findings);
        scan::Matched {
            packages_checked: inv.packages.len(),
            findings,
            ..Default::default()
        }
    }
}

/// Matches many inventories, each distinct package once: a fleet's images
/// share most of their packages (their bases), so the packages of all
/// inventories of one distro are matched as one inventory, on every core,
/// and each inventory gets the findings of its own packages back (with its
/// own locations).
fn match_many(
    advisories: &dyn Advisories,
    inventories: &[Result<inventory::Inventory, String>],
    opts: &scan::Options,
) -> Result<Found, vulndb::DbError> {
    // distinct packages per distro
    let mut by_distro: BTreeMap<
        DistroKey,
        (
            Option<inventory::Distro>,
            BTreeMap<PackageKey, inventory::Package>,
        ),
    > = BTreeMap::new();
    for inv in inventories.iter().flatten() {
        let e = by_distro
            .entry(distro_key(inv))
            .or_insert_with(|| (inv.distro.clone(), BTreeMap::new()));
        for p in &inv.packages {
            e.1.entry(package_key(p)).or_insert_with(|| p.clone());
        }
    }
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut found: FoundMap = BTreeMap::new();
    for (d, (distro, packages)) in by_distro {
        let all: Vec<(PackageKey, inventory::Package)> = packages.into_iter().collect();
        let chunk = all.len().div_ceil(workers).max(1);
        let parts: Vec<Result<scan::Matched, vulndb::DbError>> = std::thread::scope(|s| {
            let handles: Vec<_> = all
                .chunks(chunk)
                .map(|part| {
                    let distro = distro.clone();
                    s.spawn(move || {
                        let inv = inventory::Inventory {
                            distro,
                            packages: part.iter().map(|(_, p)| p.clone()).collect(),
                            notes: Vec::new(),
                        };
                        advisories.matches(&inv, opts)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a matching thread panicked"))
                .collect()
        });
        let slot = found.entry(d).or_default();
        for m in parts {
            for f in m?.findings {
                slot.entry(finding_key(&f)).or_default().push(f);
            }
        }
    }
    Ok(Found(found))
}

/// Which promoted platforms a re-match looks at.
#[derive(Debug, Clone, Default)]
pub struct RematchOptions {
    /// Only this image (none: the fleet).
    pub only: Option<String>,
    /// Judge again even where the DB gives the same findings (after the
    /// ignore rules or VEX changed).
    pub rejudge: bool,
}

/// Matches every promoted platform of the fleet in `cfg` again.
pub fn rematch(cfg: &FleetConfig, deps: RematchDeps<'_>) -> Result<RematchReport, RematchError> {
    rematch_with(cfg, deps, &RematchOptions::default())
}

/// [`rematch`], limited or forced by `opts`.
pub fn rematch_with(
    cfg: &FleetConfig,
    deps: RematchDeps<'_>,
    which: &RematchOptions,
) -> Result<RematchReport, RematchError> {
    let now = crate::deps::StoreClock::follow(deps.clock, &*deps.store)?
        .0
        .now();
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
        .filter(|k| which.only.as_deref().is_none_or(|o| o == k.image))
        .collect();
    let today = now.date();
    let parsed: Vec<Result<inventory::Inventory, String>> = kept
        .iter()
        .map(|k| {
            serde_json::from_str(&k.inventory)
                .map_err(|e| format!("{} {}: its kept inventory: {e}", k.image, k.platform))
        })
        .collect();
    let found = match_many(deps.advisories, &parsed, &opts)?;
    let mut report = RematchReport {
        matched: kept.len(),
        ..Default::default()
    };
    // per image: the new findings document, when anything changed
    let mut documents: BTreeMap<String, (String, BTreeMap<String, Vec<scan::Finding>>)> =
        BTreeMap::new();
    for (k, inv) in kept.iter().zip(&parsed) {
        let inv = match inv {
            Ok(i) => i,
            Err(e) => {
                report.errors.push(e.clone());
                continue;
            }
        };
        // the same findings as last time: nothing to read or write
        if !which.rejudge && !k.fingerprint.is_empty() && found.fingerprint(inv) == k.fingerprint {
            continue;
        }
        let subject = format!("{}@{}", k.image, k.digest);
        let spec = cfg.images.iter().find(|i| i.name.as_str() == k.image);
        let gate = spec.map_or_else(scan::gate::Gate::daily, |s| s.gate.clone());
        let findings = scan::session::judge(
            found.matched(inv),
            &scan::session::Judging {
                rules: &rules,
                vex: &vex,
                today: &today,
                subject: &subject,
                digest: Some(&k.digest),
                baseline: None,
                gate: &gate,
            },
        )
        .findings;
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
        let old_keys: std::collections::HashSet<_> = old.iter().map(key).collect();
        let new_keys: std::collections::HashSet<_> = findings.iter().map(key).collect();
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
        if !new.is_empty() || !gone.is_empty() {
            report.changed.push(Changed {
                image: k.image.clone(),
                platform: k.platform.clone(),
                digest: k.digest.clone(),
                new,
                gone,
            });
        }
    }
    for (image, (digest, document)) in documents {
        deps.store.record_rematch(&image, &digest, now, &document)?;
    }
    let built = deps.advisories.built()?;
    report.db_built = built;
    // the fleet as a whole now matches this DB (one image does not say so)
    if let Some(b) = built.filter(|_| which.only.is_none()) {
        deps.store.set_meta(store::MATCHED_DB, &b.to_string())?;
    }
    if report.changed.iter().any(|c| !c.new.is_empty()) {
        let message = notify::Message::Rematch(digest(&report, built));
        for r in cfg.notify.iter().filter(|r| r.wants_message(&message)) {
            match deps.notifier.send(&r.target, &message) {
                Ok(()) => report.notified.push(r.target.shown()),
                Err(e) => report.notify_errors.push(e.to_string()),
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use inventory::{Distro, Inventory, Location, Package, PackageType};

    fn deb(name: &str, version: &str, source: &str, path: &str) -> Package {
        Package {
            kind: PackageType::Deb,
            name: name.into(),
            version: version.into(),
            source_name: Some(source.into()),
            source_version: Some(version.into()),
            arch: None,
            purl: format!("pkg:deb/debian/{name}@{version}?distro=debian-12"),
            licenses: vec![],
            locations: vec![Location {
                path: path.into(),
                layer: None,
            }],
            owned_by: None,
            supplier: None,
            relations: Default::default(),
        }
    }

    fn inv(packages: Vec<Package>) -> Inventory {
        Inventory::new(
            Some(Distro {
                id: "debian".into(),
                version_id: "12".into(),
                codename: None,
                detected_from: "test".into(),
            }),
            packages,
        )
    }

    #[test]
    fn matching_a_fleet_together_gives_each_inventory_what_matching_it_alone_gives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut b = vulndb::DbBuilder::create(&path).unwrap();
        vulndb::import::import_path(&mut b, &testkit::data_dir().join("fixtures/osv/Debian-12"))
            .unwrap();
        b.finish("2026-01-01T00:00:00Z".parse().unwrap()).unwrap();
        let db = crate::deps::DbFile {
            path,
            max_age_hours: 0,
            max_feed_age_days: None,
        };
        let a = inv(vec![
            deb("nginx-common", "1.22.1-9", "nginx", "var/lib/dpkg/status"),
            deb(
                "libssl3",
                "3.0.15-1~deb12u1",
                "openssl",
                "var/lib/dpkg/status",
            ),
        ]);
        let b2 = inv(vec![
            deb("nginx-common", "1.22.1-9", "nginx", "other/status"),
            deb("perl-base", "5.36.0-7+deb12u3", "perl", "other/status"),
        ]);
        let opts = scan::Options::default();
        let together = match_many(&db, &[Ok(a.clone()), Ok(b2.clone())], &opts).unwrap();
        for inv in [&a, &b2] {
            let alone = db.matches(inv, &opts).unwrap();
            assert!(!alone.findings.is_empty());
            assert_eq!(together.matched(inv).findings, alone.findings);
            assert_eq!(
                together.fingerprint(inv),
                store::findings_fingerprint(&alone.findings)
            );
        }
    }
}
