//! Which tags are newer versions of a tag: loose versions (`1.27`,
//! `3.12.4`, `v2.1`) with their suffix kept (`-slim`, `-alpine3.20`,
//! `-bookworm`), and Debian/Ubuntu codenames (`bookworm` → `trixie`). A
//! candidate has the same shape as the current tag (same prefix and suffix,
//! as many version components), so `3.12-slim` moves to `3.13-slim`, never
//! to `3.13` or `3.13.1-slim`; a new major (or a new codename) only when
//! allowed. Tags that are not versions (`latest`, `stable`) have no newer
//! tag: their new digests are the updates.

use std::cmp::Ordering;

/// Debian then Ubuntu codenames, oldest first within each.
const DEBIAN: &[&str] = &[
    "jessie", "stretch", "buster", "bullseye", "bookworm", "trixie", "forky", "duke",
];
const UBUNTU: &[&str] = &[
    "xenial", "bionic", "focal", "jammy", "kinetic", "lunar", "mantic", "noble", "oracular",
    "plucky", "questing", "resolute",
];

/// A tag read as a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagVersion {
    /// Text before the version (`v`, or empty).
    pub prefix: String,
    /// Numeric components, or a codename's position.
    pub numbers: Vec<u64>,
    /// Text after the version (`-slim`, `-alpine3.20`), kept by candidates.
    pub suffix: String,
    /// Which codename list, when it is a codename (`debian`, `ubuntu`).
    pub codename: Option<&'static str>,
}

fn codename(word: &str) -> Option<(&'static str, u64)> {
    for (family, list) in [("debian", DEBIAN), ("ubuntu", UBUNTU)] {
        if let Some(i) = list.iter().position(|c| *c == word) {
            return Some((family, i as u64));
        }
    }
    None
}

/// Reads a tag as a version; `None` for tags that are not (`latest`).
pub fn parse(tag: &str) -> Option<TagVersion> {
    let (head, suffix) = match tag.find('-') {
        Some(i) => (&tag[..i], &tag[i..]),
        None => (tag, ""),
    };
    if let Some((family, pos)) = codename(head) {
        return Some(TagVersion {
            prefix: String::new(),
            numbers: vec![pos],
            suffix: suffix.to_string(),
            codename: Some(family),
        });
    }
    let (prefix, digits) = match head.strip_prefix('v') {
        Some(rest) => ("v", rest),
        None => ("", head),
    };
    if digits.is_empty() {
        return None;
    }
    let numbers: Option<Vec<u64>> = digits
        .split('.')
        .map(|p| {
            (!p.is_empty() && p.len() <= 12 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        })
        .collect();
    Some(TagVersion {
        prefix: prefix.to_string(),
        numbers: numbers?,
        suffix: suffix.to_string(),
        codename: None,
    })
}

impl TagVersion {
    fn same_shape(&self, o: &TagVersion) -> bool {
        self.prefix == o.prefix
            && self.suffix == o.suffix
            && self.codename == o.codename
            && self.numbers.len() == o.numbers.len()
    }

    /// Whether `o` is a newer major than this (the first component, or any
    /// codename change).
    pub fn major_differs(&self, o: &TagVersion) -> bool {
        self.numbers.first() != o.numbers.first()
    }
}

/// The newest tag among `tags` that is newer than `current` and of its
/// shape; across a major only with `allow_major`.
pub fn newest<'a>(
    current: &str,
    tags: impl IntoIterator<Item = &'a str>,
    allow_major: bool,
) -> Option<&'a str> {
    let cur = parse(current)?;
    let mut best: Option<(&str, TagVersion)> = None;
    for t in tags {
        let Some(v) = parse(t) else { continue };
        if !cur.same_shape(&v) || v.numbers.cmp(&cur.numbers) != Ordering::Greater {
            continue;
        }
        if !allow_major && cur.major_differs(&v) {
            continue;
        }
        if best.as_ref().is_none_or(|(_, b)| v.numbers > b.numbers) {
            best = Some((t, v));
        }
    }
    best.map(|(t, _)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAGS: &[&str] = &[
        "latest",
        "1.26",
        "1.27",
        "1.27.1",
        "1.28",
        "2.0",
        "1.28-alpine",
        "1.29-alpine3.20",
        "1.28-alpine3.20",
        "v1.28",
        "1.28rc1",
        "1.100",
    ];

    #[test]
    fn a_minor_moves_within_its_major_and_shape() {
        assert_eq!(newest("1.26", TAGS.iter().copied(), false), Some("1.100"));
        assert_eq!(
            newest("1.27.0", TAGS.iter().copied(), false),
            Some("1.27.1")
        );
        assert_eq!(newest("1.26", TAGS.iter().copied(), true), Some("2.0"));
    }

    #[test]
    fn the_suffix_is_kept_and_must_match_exactly() {
        assert_eq!(
            newest("1.28-alpine3.20", TAGS.iter().copied(), false),
            Some("1.29-alpine3.20")
        );
        assert_eq!(
            newest("1.27-alpine", TAGS.iter().copied(), false),
            Some("1.28-alpine")
        );
        assert_eq!(newest("v1.27", TAGS.iter().copied(), false), Some("v1.28"));
    }

    #[test]
    fn tags_that_are_not_versions_have_no_newer_tag() {
        assert_eq!(newest("latest", TAGS.iter().copied(), true), None);
        assert_eq!(parse("1.28rc1"), None);
        assert_eq!(parse("stable-slim"), None);
    }

    #[test]
    fn codenames_move_only_as_a_major() {
        let tags = [
            "bookworm",
            "trixie",
            "trixie-slim",
            "bookworm-slim",
            "noble",
            "jammy",
        ];
        assert_eq!(newest("bookworm-slim", tags, false), None);
        assert_eq!(newest("bookworm-slim", tags, true), Some("trixie-slim"));
        assert_eq!(
            newest("jammy", tags, true),
            Some("noble"),
            "Ubuntu after Ubuntu"
        );
        assert_eq!(
            newest("bullseye", tags, true),
            Some("trixie"),
            "never to Ubuntu"
        );
    }
}
