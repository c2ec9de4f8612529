//! Matching one package against the DB: pick the ecosystem and lookup name
//! (OS packages by their source package in the distro release's ecosystem,
//! language packages by ecosystem with PEP 503 names), then test the
//! installed version against each affected row's version list and ranges.

use std::cmp::Ordering;

use inventory::{Distro, Package, PackageType};
use vulndb::model::{Affected, Event, RangeKind, distro_ecosystem, normalize_name};
use vulndb::version::Scheme;

/// What to look up for a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// OSV ecosystem.
    pub ecosystem: String,
    /// Normalised name to look up.
    pub name: String,
    /// The version to test (source version for OS packages).
    pub version: String,
    /// Whether the lookup went through the source package.
    pub via_source: bool,
}

/// The lookup for a package, or `None` when no feed covers it (unknown
/// distro, or a language package an OS package owns).
pub fn query(p: &Package, distro: Option<&Distro>) -> Option<Query> {
    if p.owned_by.is_some() {
        return None;
    }
    let (ecosystem, name, version, via_source) = match p.kind {
        PackageType::Deb | PackageType::Apk | PackageType::Rpm => {
            let d = distro?;
            let eco = distro_ecosystem(&d.id, &d.version_id)?;
            let (n, v, via) = match (&p.source_name, &p.source_version) {
                (Some(n), Some(v)) => (n.clone(), v.clone(), true),
                (Some(n), None) => (n.clone(), p.version.clone(), true),
                _ => (p.name.clone(), p.version.clone(), false),
            };
            (eco, n, v, via)
        }
        PackageType::Python => ("PyPI".to_string(), p.name.clone(), p.version.clone(), false),
        PackageType::Npm => ("npm".to_string(), p.name.clone(), p.version.clone(), false),
        PackageType::Go => {
            // The toolchain is `stdlib` in OSV, versioned without `go`.
            let v = if p.name == "stdlib" {
                p.version.trim_start_matches("go").to_string()
            } else {
                p.version.clone()
            };
            ("Go".to_string(), p.name.clone(), v, false)
        }
        PackageType::Rust => (
            "crates.io".to_string(),
            p.name.clone(),
            p.version.clone(),
            false,
        ),
        PackageType::Java => (
            "Maven".to_string(),
            p.name.clone(),
            p.version.clone(),
            false,
        ),
    };
    let name = normalize_name(&ecosystem, &name);
    Some(Query {
        ecosystem,
        name,
        version,
        via_source,
    })
}

/// The result of testing one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not affected.
    No,
    /// Affected; the first fixed version after it, if any.
    Yes(Option<String>),
    /// The version (or every bound) could not be read in the scheme.
    Unknown,
}

fn is_zero(v: &str) -> bool {
    v == "0"
}

/// Test `version` against one affected row.
pub fn affects(row: &Affected, version: &str) -> Verdict {
    let eco_scheme = Scheme::for_ecosystem(&row.ecosystem);
    let listed = row.versions.iter().any(|v| eco_scheme.equal(v, version));
    let mut any_decided = listed;
    let mut hit: Option<Option<String>> = if listed { Some(None) } else { None };
    for r in &row.ranges {
        let scheme = match r.kind {
            RangeKind::Ecosystem => eco_scheme,
            RangeKind::Semver => Scheme::Semver,
        };
        let cmp = |bound: &str| -> Option<Ordering> {
            if is_zero(bound) {
                Some(Ordering::Greater)
            } else {
                scheme.compare(version, bound)
            }
        };
        // Readable at all? (introduced "0" alone decides for any version.)
        if scheme.compare(version, version).is_none() {
            continue;
        }
        any_decided = true;
        // Walk the events in version order; the state after the last event
        // at or below the version is the answer.
        let mut events: Vec<&Event> = r.events.iter().collect();
        let key = |e: &Event| -> String {
            match e {
                Event::Introduced(x)
                | Event::Fixed(x)
                | Event::LastAffected(x)
                | Event::Limit(x) => x.clone(),
            }
        };
        events.sort_by(|a, b| {
            let (x, y) = (key(a), key(b));
            match (is_zero(&x), is_zero(&y)) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                _ => scheme.compare(&x, &y).unwrap_or(Ordering::Equal),
            }
        });
        let mut inside = false;
        let mut limit_ok = true;
        for e in &events {
            match e {
                Event::Introduced(x) => {
                    if matches!(cmp(x), Some(Ordering::Greater | Ordering::Equal)) {
                        inside = true;
                    }
                }
                Event::Fixed(x) => {
                    if matches!(cmp(x), Some(Ordering::Greater | Ordering::Equal)) {
                        inside = false;
                    }
                }
                Event::LastAffected(x) => {
                    if cmp(x) == Some(Ordering::Greater) {
                        inside = false;
                    }
                }
                Event::Limit(x) => {
                    if matches!(cmp(x), Some(Ordering::Greater | Ordering::Equal)) {
                        limit_ok = false;
                    }
                }
            }
        }
        if inside && limit_ok {
            // The first fix above the installed version.
            let fixed = events
                .iter()
                .filter_map(|e| match e {
                    Event::Fixed(x) if cmp(x) == Some(Ordering::Less) => Some(x.clone()),
                    _ => None,
                })
                .next();
            hit = match hit {
                Some(Some(f)) => Some(Some(f)),
                _ => Some(fixed),
            };
        }
    }
    match hit {
        Some(f) => Verdict::Yes(f),
        None if any_decided || (row.ranges.is_empty() && row.versions.is_empty()) => Verdict::No,
        None => Verdict::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vulndb::model::{Range, Status};

    fn row(eco: &str, events: Vec<Event>, versions: &[&str]) -> Affected {
        Affected {
            ecosystem: eco.into(),
            name: "p".into(),
            ranges: vec![Range {
                kind: RangeKind::Ecosystem,
                events,
            }],
            versions: versions.iter().map(|s| s.to_string()).collect(),
            status: Status::Affected,
            rating: None,
        }
    }

    #[test]
    fn ranges_and_lists() {
        let r = row(
            "Debian:12",
            vec![
                Event::Introduced("0".into()),
                Event::Fixed("1.22.1-9+deb12u1".into()),
            ],
            &[],
        );
        assert_eq!(
            affects(&r, "1.22.1-9"),
            Verdict::Yes(Some("1.22.1-9+deb12u1".into()))
        );
        assert_eq!(affects(&r, "1.22.1-9+deb12u1"), Verdict::No);
        assert_eq!(affects(&r, "1.22.1-9+deb12u2"), Verdict::No);
        assert_eq!(affects(&r, "not a version!"), Verdict::Unknown);

        // Two intervals; last_affected; fixed listed out of order.
        let r = row(
            "PyPI",
            vec![
                Event::Fixed("2.0.1".into()),
                Event::Introduced("1.0".into()),
                Event::Introduced("3.0".into()),
                Event::LastAffected("3.2".into()),
            ],
            &[],
        );
        assert_eq!(affects(&r, "0.9"), Verdict::No);
        assert_eq!(affects(&r, "1.5"), Verdict::Yes(Some("2.0.1".into())));
        assert_eq!(affects(&r, "2.5"), Verdict::No);
        assert_eq!(affects(&r, "3.2"), Verdict::Yes(None));
        assert_eq!(affects(&r, "3.2.1"), Verdict::No);

        let r = row("PyPI", vec![], &["1.0", "1.1"]);
        assert_eq!(affects(&r, "1.1.0"), Verdict::Yes(None), "PEP 440 equality");
        assert_eq!(affects(&r, "1.2"), Verdict::No);
    }

    #[test]
    fn queries() {
        let d = Distro {
            id: "debian".into(),
            version_id: "12".into(),
            codename: None,
            detected_from: "x".into(),
        };
        let mut p = Package {
            kind: PackageType::Deb,
            name: "libssl3".into(),
            version: "3.0.11-1~deb12u2+b1".into(),
            source_name: Some("openssl".into()),
            source_version: Some("3.0.11-1~deb12u2".into()),
            arch: None,
            purl: String::new(),
            licenses: vec![],
            locations: vec![],
            owned_by: None,
            supplier: None,
            relations: inventory::Relations::default(),
        };
        let q = query(&p, Some(&d)).unwrap();
        assert_eq!(
            (q.ecosystem.as_str(), q.name.as_str(), q.version.as_str()),
            ("Debian:12", "openssl", "3.0.11-1~deb12u2")
        );
        assert!(query(&p, None).is_none(), "no distro, no OS matching");
        p.kind = PackageType::Python;
        p.name = "PyYAML".into();
        assert_eq!(query(&p, None).unwrap().name, "pyyaml");
        p.owned_by = Some("python3-yaml".into());
        assert!(query(&p, None).is_none(), "owned by an OS package");
    }
}
