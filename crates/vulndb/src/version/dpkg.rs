//! Debian package versions (`[epoch:]upstream[-revision]`), ordered exactly as
//! `dpkg --compare-versions` orders them (deb-version(7)): epochs numerically;
//! upstream and revision by alternating non-digit runs (`~` sorts before
//! everything, even the end; letters before other characters) and digit runs
//! compared as numbers of any length.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A parsed Debian version.
#[derive(Debug, Clone)]
pub struct DebVersion {
    epoch: u64,
    upstream: String,
    revision: String,
    original: String,
}

/// Why a string is not a Debian version.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DebVersionError {
    /// Empty.
    #[error("empty Debian version")]
    Empty,
    /// Epoch is not a number.
    #[error("Debian version `{0}`: epoch is not a number")]
    BadEpoch(String),
    /// Upstream part empty or not starting with a digit.
    #[error("Debian version `{0}`: the upstream version must start with a digit")]
    BadUpstream(String),
    /// Characters outside the allowed set.
    #[error("Debian version `{0}`: invalid character `{1}`")]
    BadChar(String, char),
}

impl FromStr for DebVersion {
    type Err = DebVersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() {
            return Err(DebVersionError::Empty);
        }
        let (epoch, rest) = match t.split_once(':') {
            Some((e, r)) => (
                e.parse::<u64>()
                    .map_err(|_| DebVersionError::BadEpoch(s.to_string()))?,
                r,
            ),
            None => (0, t),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(DebVersionError::BadUpstream(s.to_string()));
        }
        for c in upstream.chars().chain(revision.chars()) {
            if !(c.is_ascii_alphanumeric() || ".+~-:".contains(c)) {
                return Err(DebVersionError::BadChar(s.to_string(), c));
            }
        }
        Ok(DebVersion {
            epoch,
            upstream: upstream.to_string(),
            revision: revision.to_string(),
            original: s.to_string(),
        })
    }
}

fn order(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`.
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // non-digit run
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let bc = order(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        // digit run, compared as a number of any length
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let si = i;
        let sj = j;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (da, db) = (&a[si..i], &b[sj..j]);
        let c = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
        if c != Ordering::Equal {
            return c;
        }
    }
    Ordering::Equal
}

impl Ord for DebVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(&self.upstream, &other.upstream))
            .then_with(|| verrevcmp(&self.revision, &other.revision))
    }
}

impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DebVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DebVersion {}

impl fmt::Display for DebVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> DebVersion {
        s.parse().unwrap()
    }

    #[test]
    fn documented_orderings() {
        // deb-version(7): `~` sorts before everything, even the end of a part
        assert!(v("1.0~rc1") < v("1.0"));
        assert!(v("1.0~~") < v("1.0~"));
        assert!(v("1.0~") < v("1.0"));
        assert!(v("1.0") < v("1.0a"));
        assert!(v("1.0a") < v("1.0+"));
        assert!(v("1:0.1") > v("9.9"));
        assert!(v("1.0-1") < v("1.0-1+b1"));
        assert!(v("3.0.15-1~deb12u1") < v("3.0.15-1"));
        assert!(v("3.0.11-1~deb12u2") < v("3.0.15-1~deb12u1"));
        assert!(v("2.36-9+deb12u7") < v("2.36-9+deb12u10"));
        assert!(v("1.10") > v("1.9"));
        assert_eq!(v("1.0"), v("1.00"));
        assert_eq!(v("0:1.0"), v("1.0"));
        assert_eq!(v("1.0-0"), v("1.0"), "dpkg: a revision of 0 equals none");
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(
            "".parse::<DebVersion>().unwrap_err(),
            DebVersionError::Empty
        );
        assert!(matches!(
            "a:1".parse::<DebVersion>(),
            Err(DebVersionError::BadEpoch(_))
        ));
        assert!(matches!(
            "x1.0".parse::<DebVersion>(),
            Err(DebVersionError::BadUpstream(_))
        ));
        assert!(matches!(
            "1.0 beta".parse::<DebVersion>(),
            Err(DebVersionError::BadChar(..))
        ));
    }
}
