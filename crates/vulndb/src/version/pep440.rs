//! Python versions (PEP 440: epochs, pre/post/dev releases, local labels,
//! and the normalisations the PEP allows), parsed and ordered by `pep440_rs`.

use std::cmp::Ordering;
use std::str::FromStr;

pub use pep440_rs::Version;

/// Parse a PEP 440 version.
pub fn parse(s: &str) -> Option<Version> {
    Version::from_str(s.trim()).ok()
}

/// Compare two versions; `None` if either is not PEP 440.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(parse(a)?.cmp(&parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The ordering example in PEP 440 ("Summary of permitted suffixes and
    // relative ordering").
    #[test]
    fn pep_example_order() {
        let asc = [
            "1.dev0",
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
            "1!0.1",
        ];
        for w in asc.windows(2) {
            assert_eq!(compare(w[0], w[1]), Some(Ordering::Less), "{w:?}");
        }
        assert_eq!(compare("1.0.0", "1"), Some(Ordering::Equal));
        assert_eq!(compare("1.0-RC1", "1.0rc1"), Some(Ordering::Equal));
    }
}
