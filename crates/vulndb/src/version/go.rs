//! Go module versions: semantic versions with a `v` prefix. Pseudo-versions
//! (`v0.0.0-20191109021931-daa7c04131f5`) are pre-releases and order by
//! their timestamp; `+incompatible` is build metadata and ignored.

use std::cmp::Ordering;

use super::semver::Version;

/// Compare two Go module versions; `None` if either is not a valid one.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(parse(a)?.cmp(&parse(b)?))
}

fn parse(s: &str) -> Option<Version> {
    let s = s.trim();
    // OSV's Go records write versions without the `v`; accept both.
    let s = s.strip_prefix('v').unwrap_or(s);
    Version::parse(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Examples from the Go modules reference ("Versions", "Pseudo-versions").
    #[test]
    fn reference_examples() {
        let asc = [
            "v0.0.0-20191109021931-daa7c04131f5",
            "v0.0.0-20200101000000-aaaaaaaaaaaa",
            "v0.1.0",
            "v1.2.3-pre",
            "v1.2.3",
            "v1.2.4-0.20191109021931-daa7c04131f5",
            "v1.2.4",
            "v1.10.0",
            "v2.0.0+incompatible",
            "v2.1.0",
        ];
        for w in asc.windows(2) {
            assert_eq!(compare(w[0], w[1]), Some(Ordering::Less), "{w:?}");
        }
        assert_eq!(
            compare("v2.0.0+incompatible", "v2.0.0"),
            Some(Ordering::Equal)
        );
        assert_eq!(compare("1.2.3", "v1.2.3"), Some(Ordering::Equal));
        assert_eq!(compare("v1.2", "v1.2.0"), None);
    }
}
