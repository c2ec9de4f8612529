//! Version schemes, one module each, each tested against its reference
//! implementation or its specification's examples; [`Scheme`] picks one per
//! OSV ecosystem.

pub mod apk;
pub mod dpkg;
pub mod go;
pub mod maven;
pub mod pep440;
pub mod rpm;
pub mod semver;

use std::cmp::Ordering;

/// How versions of an ecosystem are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Debian, Ubuntu.
    Dpkg,
    /// Alpine, Wolfi, Chainguard.
    Apk,
    /// Red Hat family, SUSE.
    Rpm,
    /// PyPI.
    Pep440,
    /// npm, crates.io, and OSV `SEMVER` ranges.
    Semver,
    /// Go modules.
    Go,
    /// Maven.
    Maven,
    /// Anything else: rpm-style segment comparison.
    Generic,
}

impl Scheme {
    /// The scheme of an OSV ecosystem name (`Debian:12`, `PyPI`...).
    pub fn for_ecosystem(ecosystem: &str) -> Scheme {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem);
        match base {
            "Debian" | "Ubuntu" => Scheme::Dpkg,
            "Alpine" | "Wolfi" | "Chainguard" | "Alpaquita" => Scheme::Apk,
            "Red Hat" | "AlmaLinux" | "Rocky Linux" | "openSUSE" | "SUSE" | "Mageia"
            | "openEuler" | "Azure Linux" => Scheme::Rpm,
            "PyPI" => Scheme::Pep440,
            "npm" | "crates.io" | "NuGet" | "Hex" | "Pub" => Scheme::Semver,
            "Go" => Scheme::Go,
            "Maven" => Scheme::Maven,
            _ => Scheme::Generic,
        }
    }

    /// Compare two versions; `None` when either does not parse in this
    /// scheme (callers treat that as "cannot decide", never as a match).
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        match self {
            Scheme::Dpkg => {
                let x: dpkg::DebVersion = a.parse().ok()?;
                let y: dpkg::DebVersion = b.parse().ok()?;
                Some(x.cmp(&y))
            }
            Scheme::Apk => Some(apk::compare(a, b)),
            Scheme::Rpm | Scheme::Generic => Some(rpm::compare(a, b)),
            Scheme::Pep440 => pep440::compare(a, b),
            Scheme::Semver => semver::compare(a, b),
            Scheme::Go => go::compare(a, b),
            Scheme::Maven => Some(maven::compare(a, b)),
        }
    }

    /// Whether `a` and `b` name the same version in this scheme.
    pub fn equal(self, a: &str, b: &str) -> bool {
        a == b || self.compare(a, b) == Some(Ordering::Equal)
    }
}
