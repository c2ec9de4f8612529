//! Which distribution releases a DB keeps (`db update --release
//! debian:12,alpine:3.20`). OSV exports one `all.zip` per main ecosystem
//! (`Debian`), whose records list every release they affect (`Debian:11`,
//! `Debian:12`, ...); a fleet of Debian 12 images needs only the `Debian:12`
//! entries. Entries of an ecosystem that has no release named here (PyPI,
//! npm, or Alpine when only Debian releases are named) are all kept.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::feed::Record;
use crate::model::distro_ecosystem;

/// The releases kept; empty keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Releases(BTreeSet<String>);

/// Not `DISTRO:VERSION` for a distribution we know.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "`{0}` is not a release (expected DISTRO:VERSION, e.g. debian:12, alpine:3.20, ubuntu:22.04)"
)]
pub struct BadRelease(pub String);

impl Releases {
    /// Keep everything.
    pub fn all() -> Releases {
        Releases::default()
    }

    /// Whether nothing is filtered.
    pub fn is_all(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds an OSV ecosystem name (`Debian:12`, `Alpine:v3.20`).
    pub fn insert_ecosystem(&mut self, ecosystem: &str) {
        self.0.insert(ecosystem.to_string());
    }

    /// The OSV ecosystem names kept.
    pub fn ecosystems(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether entries of `ecosystem` are kept.
    pub fn keeps(&self, ecosystem: &str) -> bool {
        if self.0.is_empty() || self.0.contains(ecosystem) {
            return true;
        }
        let main = main_ecosystem(ecosystem);
        !self.0.iter().any(|r| main_ecosystem(r) == main)
    }

    /// The record with only the entries kept; `None` when none is left
    /// (a record that had none to begin with is kept as it was).
    pub fn filter(&self, mut rec: Record) -> Option<Record> {
        if self.0.is_empty() || rec.affected.is_empty() {
            return Some(rec);
        }
        rec.affected.retain(|a| self.keeps(&a.ecosystem));
        (!rec.affected.is_empty()).then_some(rec)
    }
}

/// `Debian:12` → `Debian`, `Ubuntu:Pro:18.04:LTS` → `Ubuntu`.
pub fn main_ecosystem(ecosystem: &str) -> &str {
    ecosystem.split(':').next().unwrap_or(ecosystem)
}

impl FromStr for Releases {
    type Err = BadRelease;
    /// `debian:12,alpine:3.20,ubuntu:22.04` (commas, or repeated flags joined).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = Releases::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, version) = part
                .split_once(':')
                .filter(|(i, v)| !i.is_empty() && !v.is_empty())
                .ok_or_else(|| BadRelease(part.to_string()))?;
            let version = version.trim_start_matches('v');
            let eco = distro_ecosystem(&id.to_ascii_lowercase(), version)
                .ok_or_else(|| BadRelease(part.to_string()))?;
            out.0.insert(eco);
        }
        Ok(out)
    }
}

impl fmt::Display for Releases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v: Vec<&str> = self.ecosystems().collect();
        f.write_str(&v.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_osv_ecosystems() {
        let r: Releases = "debian:12, alpine:3.20,ubuntu:22.04".parse().unwrap();
        assert_eq!(r.to_string(), "Alpine:v3.20,Debian:12,Ubuntu:22.04:LTS");
        assert!(r.keeps("Debian:12"));
        assert!(!r.keeps("Debian:11"));
        assert!(!r.keeps("Ubuntu:Pro:18.04:LTS"));
        assert!(r.keeps("PyPI"));
        assert!(Releases::all().keeps("Debian:11"));
        for bad in ["debian", "12", "plan9:4", ":12", "debian:"] {
            assert!(bad.parse::<Releases>().is_err(), "{bad}");
        }
    }
}
