//! The inventory model.

use serde::{Deserialize, Serialize};

/// Package ecosystems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageType {
    /// Debian/Ubuntu package.
    Deb,
    /// Alpine package.
    Apk,
    /// RPM package.
    Rpm,
    /// Python distribution.
    Python,
    /// npm package.
    Npm,
    /// Go module (from a binary's build info).
    Go,
    /// Rust crate (from cargo-auditable data in a binary).
    Rust,
    /// Java archive.
    Java,
}

impl PackageType {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            PackageType::Deb => "deb",
            PackageType::Apk => "apk",
            PackageType::Rpm => "rpm",
            PackageType::Python => "python",
            PackageType::Npm => "npm",
            PackageType::Go => "go",
            PackageType::Rust => "rust",
            PackageType::Java => "java",
        }
    }
    /// Whether this is an OS package type.
    pub fn is_os(self) -> bool {
        matches!(self, PackageType::Deb | PackageType::Apk | PackageType::Rpm)
    }
}

/// The distribution of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distro {
    /// `debian`, `ubuntu`, `alpine`.
    pub id: String,
    /// `12`, `22.04`, `3.20.3`.
    pub version_id: String,
    /// `bookworm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    /// How it was recognised (`etc/os-release`, `dpkg records`...).
    pub detected_from: String,
}

/// Where a package was found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    /// Path inside the image.
    pub path: String,
    /// DiffID of the layer that added it (None for `dir:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

/// One package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Ecosystem.
    #[serde(rename = "type")]
    pub kind: PackageType,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Source package name (deb `Source:`, apk origin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Source package version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Architecture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Package URL; empty when the package has no coordinates a purl
    /// could carry (a Java archive whose groupId is unknown).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub purl: String,
    /// Licenses as recorded.
    pub licenses: Vec<String>,
    /// Where it was found.
    pub locations: Vec<Location>,
    /// The OS package whose files include this language package (scanners
    /// must not report it twice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    /// Who distributes it, as recorded (dpkg `Maintainer`, apk `m:`, rpm
    /// `Vendor`, package metadata authors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    /// What it needs and offers, and what that resolves to.
    #[serde(skip)]
    pub relations: Relations,
}

/// A package's dependencies as its package manager records them, and the
/// packages of the inventory they resolve to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relations {
    /// Dependencies: each a list of alternatives (`a | b` in dpkg), each a
    /// name or capability as recorded (`libc6`, `so:libc.musl-x86_64.so.1`).
    pub wants: Vec<Vec<String>>,
    /// Names it can be depended on by besides its own (dpkg `Provides`, apk
    /// `p:`, rpm provides).
    pub provides: Vec<String>,
    /// Indexes into [`Inventory::packages`] of what `wants` resolved to,
    /// filled by [`Inventory::new`].
    pub depends_on: Vec<usize>,
}

/// Something the catalogers could not read or decide: a package database
/// present but unreadable or of a format not supported, a distro that
/// cannot be known. An inventory with notes is incomplete, and says so.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Note {
    /// The file concerned.
    pub path: String,
    /// What is wrong, in a sentence.
    pub message: String,
}

/// Everything found in an image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inventory {
    /// The distro, if recognised.
    pub distro: Option<Distro>,
    /// Packages, sorted by type, name, version, path.
    pub packages: Vec<Package>,
    /// What could not be read (sorted); empty when everything was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

impl Inventory {
    /// An inventory with its packages in the documented order.
    pub fn new(distro: Option<Distro>, mut packages: Vec<Package>) -> Inventory {
        packages.sort_by(|a, b| {
            (a.kind, &a.name, &a.version, &a.locations).cmp(&(
                b.kind,
                &b.name,
                &b.version,
                &b.locations,
            ))
        });
        resolve(&mut packages);
        Inventory {
            distro,
            packages,
            notes: Vec::new(),
        }
    }
}

/// A name as its package manager compares them (PEP 503 for Python).
fn dep_key(kind: PackageType, name: &str) -> String {
    match kind {
        PackageType::Python => normalize_python(name),
        _ => name.to_string(),
    }
}

/// Length of the common leading part of two paths.
fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

/// Fills `relations.depends_on`: each dependency group resolves to the
/// first alternative some package of the same manager is or provides; of
/// several candidates, the one installed nearest (longest common path: the
/// same `site-packages`, the closest `node_modules`).
fn resolve(packages: &mut [Package]) {
    use std::collections::HashMap;
    // only the same package manager satisfies a dependency (deb with deb)
    let mut index: HashMap<(PackageType, String), Vec<usize>> = HashMap::new();
    for (i, p) in packages.iter().enumerate() {
        let names = std::iter::once(&p.name).chain(&p.relations.provides);
        for name in names {
            index
                .entry((p.kind, dep_key(p.kind, name)))
                .or_default()
                .push(i);
        }
    }
    let resolved: Vec<Vec<usize>> = packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let here = p.locations.first().map_or("", |l| l.path.as_str());
            let mut out: Vec<usize> = Vec::new();
            for group in &p.relations.wants {
                let hit = group.iter().find_map(|alt| {
                    let cands = index.get(&(p.kind, dep_key(p.kind, alt)))?;
                    cands.iter().copied().filter(|&j| j != i).max_by_key(|&j| {
                        let there = packages[j]
                            .locations
                            .first()
                            .map_or("", |l| l.path.as_str());
                        (common_prefix(here, there), std::cmp::Reverse(j))
                    })
                });
                if let Some(j) = hit
                    && !out.contains(&j)
                {
                    out.push(j);
                }
            }
            out.sort_unstable();
            out
        })
        .collect();
    for (p, deps) in packages.iter_mut().zip(resolved) {
        p.relations.depends_on = deps;
    }
}

/// PEP 503 normalisation: lowercase, runs of `-_.` become `-`.
pub fn normalize_python(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}
