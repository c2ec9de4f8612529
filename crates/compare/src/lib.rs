//! What changed between two images: packages added, removed and changed
//! (with versions), vulnerabilities fixed, new and unchanged by severity,
//! sizes, layers and base images. Each side is a [`Side`] the caller has
//! already inventoried and judged (an image, an SBOM or one of our scan
//! reports, which knows no packages); [`compare`] only compares. The
//! `diff` command's exit conditions ([`FailOn`]) and the hard rules an
//! update is merged by ([`security`]) are decided here, so the command,
//! the update proposals and the PR check decide the same way.

use std::collections::{BTreeMap, BTreeSet};

use scan::Finding;
use serde::{Deserialize, Serialize};
use vulndb::Severity;

/// The schema of the JSON comparison.
pub const SCHEMA: &str = "safeimage-diff/1";

/// A package as the comparison sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Package {
    /// Ecosystem (`deb`, `apk`, `python`...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
}

/// A layer as the comparison sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    /// Blob digest (compressed).
    pub digest: String,
    /// Uncompressed digest.
    pub diff_id: String,
    /// Blob size.
    pub size: u64,
    /// The instruction that made it, when the history says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// The base image an image names (OCI annotations).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Base {
    /// `org.opencontainers.image.base.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `org.opencontainers.image.base.digest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// One side of a comparison, inventoried and judged by the caller.
#[derive(Debug, Clone, Default)]
pub struct Side {
    /// How it was named.
    pub name: String,
    /// Manifest digest, when known.
    pub digest: Option<String>,
    /// `debian 12`, when recognised.
    pub distro: Option<String>,
    /// Packages; `None` when the side cannot say (a scan report).
    pub packages: Option<Vec<Package>>,
    /// Findings (suppressed ones are marked and not counted).
    pub findings: Vec<Finding>,
    /// Layers, base first; `None` for an SBOM or a scan report.
    pub layers: Option<Vec<Layer>>,
    /// Bytes of the layers' files, when known.
    pub unpacked_bytes: Option<u64>,
    /// The base image it names, when it does.
    pub base: Option<Base>,
}

/// What one side is, in the comparison's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// How it was named.
    pub name: String,
    /// Manifest digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Distribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distro: Option<String>,
    /// Base image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Base>,
    /// Number of packages, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<usize>,
    /// Number of layers, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<usize>,
    /// Sum of the layer blobs (what a pull downloads), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_bytes: Option<u64>,
    /// Sum of the layers' files, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpacked_bytes: Option<u64>,
    /// Counted findings by severity.
    pub vulnerabilities: BTreeMap<Severity, usize>,
    /// Counted findings in all.
    pub total: usize,
}

/// A package in both images at different versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    /// Ecosystem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Name.
    pub name: String,
    /// Version in A.
    pub from: String,
    /// Version in B.
    pub to: String,
}

/// Package changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Packages {
    /// In B only.
    pub added: Vec<Package>,
    /// In A only.
    pub removed: Vec<Package>,
    /// In both, at another version.
    pub changed: Vec<Changed>,
    /// In both at the same version.
    pub unchanged: usize,
}

/// A vulnerability on one side only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// Advisory id as reported.
    pub id: String,
    /// Severity.
    pub severity: Severity,
    /// Package ecosystem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Package name.
    pub package: String,
    /// The package's version on the side that has the finding.
    pub version: String,
    /// The version that fixes it, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
}

impl From<&Finding> for Vulnerability {
    fn from(f: &Finding) -> Self {
        Vulnerability {
            id: f.id.to_string(),
            severity: f.severity,
            kind: f.package.kind.clone(),
            package: f.package.name.clone(),
            version: f.package.version.clone(),
            fixed_version: f.fixed_version.clone(),
        }
    }
}

/// Vulnerability changes (suppressed findings left out on both sides).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Vulnerabilities {
    /// In A, gone in B.
    pub fixed: Vec<Vulnerability>,
    /// In B, not in A.
    pub new: Vec<Vulnerability>,
    /// In both (same package, overlapping ids).
    pub unchanged: usize,
}

/// Layer changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Layers {
    /// Layers both have (by diffID), counted.
    pub shared: usize,
    /// In A only.
    pub removed: Vec<Layer>,
    /// In B only.
    pub added: Vec<Layer>,
}

/// The comparison of A (before) with B (after).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Before.
    pub a: Summary,
    /// After.
    pub b: Summary,
    /// Package changes; absent when a side cannot list its packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<Packages>,
    /// Vulnerability changes.
    pub vulnerabilities: Vulnerabilities,
    /// Layer changes; absent when a side has no layers (SBOM, report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<Layers>,
}

fn summary(s: &Side) -> Summary {
    let (vulnerabilities, _) = scan::session::counts(&s.findings);
    Summary {
        name: s.name.clone(),
        digest: s.digest.clone(),
        distro: s.distro.clone(),
        base: s.base.clone(),
        packages: s.packages.as_ref().map(Vec::len),
        layers: s.layers.as_ref().map(Vec::len),
        compressed_bytes: s.layers.as_ref().map(|l| l.iter().map(|l| l.size).sum()),
        unpacked_bytes: s.unpacked_bytes,
        total: vulnerabilities.values().sum(),
        vulnerabilities,
    }
}

type Versions<'a> = BTreeMap<(&'a str, &'a str), BTreeSet<&'a str>>;

fn group(ps: &[Package]) -> Versions<'_> {
    let mut m: Versions<'_> = BTreeMap::new();
    for p in ps {
        m.entry((p.kind.as_str(), p.name.as_str()))
            .or_default()
            .insert(p.version.as_str());
    }
    m
}

fn packages(a: &[Package], b: &[Package]) -> Packages {
    let (ga, gb) = (group(a), group(b));
    let mut out = Packages::default();
    let pkg = |(k, n): (&str, &str), v: &str| Package {
        kind: k.into(),
        name: n.into(),
        version: v.into(),
    };
    for key in ga.keys().chain(gb.keys()).collect::<BTreeSet<_>>() {
        let empty = BTreeSet::new();
        let va = ga.get(key).unwrap_or(&empty);
        let vb = gb.get(key).unwrap_or(&empty);
        out.unchanged += va.intersection(vb).count();
        let only_a: Vec<&str> = va.difference(vb).copied().collect();
        let only_b: Vec<&str> = vb.difference(va).copied().collect();
        // One version on each side that differs is an upgrade (or a
        // downgrade); anything else is listed as removed and added.
        if let ([from], [to]) = (only_a.as_slice(), only_b.as_slice()) {
            out.changed.push(Changed {
                kind: key.0.into(),
                name: key.1.into(),
                from: (*from).into(),
                to: (*to).into(),
            });
            continue;
        }
        out.removed.extend(only_a.iter().map(|v| pkg(*key, v)));
        out.added.extend(only_b.iter().map(|v| pkg(*key, v)));
    }
    out
}

fn same(a: &Finding, b: &Finding) -> bool {
    a.package.kind == b.package.kind
        && a.package.name == b.package.name
        && a.ids().any(|x| b.ids().any(|y| x == y))
}

fn by_severity(v: &mut [Vulnerability]) {
    v.sort_by(|x, y| {
        y.severity
            .cmp(&x.severity)
            .then_with(|| (&x.id, &x.package, &x.version).cmp(&(&y.id, &y.package, &y.version)))
    });
}

fn vulnerabilities(a: &[Finding], b: &[Finding]) -> Vulnerabilities {
    let a: Vec<&Finding> = a.iter().filter(|f| f.suppressed.is_none()).collect();
    let b: Vec<&Finding> = b.iter().filter(|f| f.suppressed.is_none()).collect();
    let mut fixed: Vec<Vulnerability> = a
        .iter()
        .filter(|x| !b.iter().any(|y| same(x, y)))
        .map(|f| Vulnerability::from(*f))
        .collect();
    let mut new: Vec<Vulnerability> = b
        .iter()
        .filter(|y| !a.iter().any(|x| same(x, y)))
        .map(|f| Vulnerability::from(*f))
        .collect();
    by_severity(&mut fixed);
    by_severity(&mut new);
    Vulnerabilities {
        unchanged: b.len() - new.len(),
        fixed,
        new,
    }
}

fn layers(a: &[Layer], b: &[Layer]) -> Layers {
    let ids_a: BTreeSet<&str> = a.iter().map(|l| l.diff_id.as_str()).collect();
    let ids_b: BTreeSet<&str> = b.iter().map(|l| l.diff_id.as_str()).collect();
    Layers {
        shared: ids_a.intersection(&ids_b).count(),
        removed: a
            .iter()
            .filter(|l| !ids_b.contains(l.diff_id.as_str()))
            .cloned()
            .collect(),
        added: b
            .iter()
            .filter(|l| !ids_a.contains(l.diff_id.as_str()))
            .cloned()
            .collect(),
    }
}

/// Compares A (before) with B (after).
pub fn compare(a: &Side, b: &Side) -> Comparison {
    Comparison {
        schema: SCHEMA.into(),
        a: summary(a),
        b: summary(b),
        packages: match (&a.packages, &b.packages) {
            (Some(pa), Some(pb)) => Some(packages(pa, pb)),
            _ => None,
        },
        vulnerabilities: vulnerabilities(&a.findings, &b.findings),
        layers: match (&a.layers, &b.layers) {
            (Some(la), Some(lb)) => Some(layers(la, lb)),
            _ => None,
        },
    }
}

/// When `diff` exits with failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// B has a CRITICAL finding A did not have.
    NewCritical,
    /// B has more counted findings than A.
    CountUp,
    /// B has any finding A did not have.
    AnyNew,
}

impl std::str::FromStr for FailOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "new-critical" => Ok(FailOn::NewCritical),
            "count-up" => Ok(FailOn::CountUp),
            "any-new" => Ok(FailOn::AnyNew),
            _ => Err(format!("`{s}`: expected new-critical, count-up or any-new")),
        }
    }
}

/// The conditions in `on` that `c` meets, each with its reason.
pub fn failures(c: &Comparison, on: &[FailOn]) -> Vec<String> {
    let new = &c.vulnerabilities.new;
    let mut out = Vec::new();
    for f in on {
        match f {
            FailOn::NewCritical => {
                let n = new
                    .iter()
                    .filter(|v| v.severity == Severity::Critical)
                    .count();
                if n > 0 {
                    out.push(format!("{n} new CRITICAL finding(s) (new-critical)"));
                }
            }
            FailOn::CountUp if c.b.total > c.a.total => out.push(format!(
                "findings went from {} to {} (count-up)",
                c.a.total, c.b.total
            )),
            FailOn::AnyNew if !new.is_empty() => {
                out.push(format!("{} new finding(s) (any-new)", new.len()));
            }
            _ => {}
        }
    }
    out
}

/// What the hard rules say of B replacing A.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "verdict", content = "reason")]
pub enum Security {
    /// Fewer counted findings and no CRITICAL: merge.
    Improved(String),
    /// As many findings, none CRITICAL: no better, no worse.
    Unchanged(String),
    /// A CRITICAL finding is present, or the count went up: never merged.
    Blocked(String),
}

impl Security {
    /// Whether the rules allow the update to be merged on security grounds.
    pub fn improved(&self) -> bool {
        matches!(self, Security::Improved(_))
    }

    /// The reason, for people.
    pub fn reason(&self) -> &str {
        match self {
            Security::Improved(r) | Security::Unchanged(r) | Security::Blocked(r) => r,
        }
    }
}

/// The hard rules, in order: a CRITICAL present in B blocks; a higher
/// count blocks; a lower count is an improvement; the same count is not.
pub fn security(c: &Comparison) -> Security {
    let critical =
        c.b.vulnerabilities
            .get(&Severity::Critical)
            .copied()
            .unwrap_or(0);
    if critical > 0 {
        return Security::Blocked(format!("{critical} CRITICAL finding(s) present"));
    }
    let (before, after) = (c.a.total, c.b.total);
    if after > before {
        Security::Blocked(format!("findings went up from {before} to {after}"))
    } else if after < before {
        Security::Improved(format!(
            "findings went down from {before} to {after} ({} fixed, {} new)",
            c.vulnerabilities.fixed.len(),
            c.vulnerabilities.new.len()
        ))
    } else {
        Security::Unchanged(format!("findings stay at {after}"))
    }
}

#[cfg(test)]
mod tests;

pub mod side;
