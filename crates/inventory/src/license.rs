//! Licences as package managers record them, turned into SPDX expressions
//! where the meaning is certain, so CycloneDX and SPDX documents say the
//! same thing about each package.
//!
//! Recognised: valid, current SPDX identifiers (`MIT`, `Apache-2.0`);
//! Debian's DEP-5 short names (`GPL-2+` is GPL 2 or later, `LGPL-2.1` is
//! exactly 2.1, `Expat` is MIT, `BSD-3-clause`); the unambiguous Fedora
//! short names of rpm headers (`GPLv2+`, `ASL 2.0`, `MPLv2.0`); the Python
//! classifiers that name one licence and version; and `and`/`or`
//! combinations of these (`GPLv2+ and LGPLv3+`). Anything else
//! (`Artistic`, `BSD`, `LGPLv2+`, which Fedora used for both 2.0 and 2.1,
//! `public-domain`) is kept as written, never guessed.

/// Short names whose SPDX meaning is certain.
const NAMES: &[(&str, &str)] = &[
    // Debian DEP-5
    ("GPL-1", "GPL-1.0-only"),
    ("GPL-1+", "GPL-1.0-or-later"),
    ("GPL-2", "GPL-2.0-only"),
    ("GPL-2+", "GPL-2.0-or-later"),
    ("GPL-3", "GPL-3.0-only"),
    ("GPL-3+", "GPL-3.0-or-later"),
    ("LGPL-2", "LGPL-2.0-only"),
    ("LGPL-2+", "LGPL-2.0-or-later"),
    ("LGPL-2.1", "LGPL-2.1-only"),
    ("LGPL-2.1+", "LGPL-2.1-or-later"),
    ("LGPL-3", "LGPL-3.0-only"),
    ("LGPL-3+", "LGPL-3.0-or-later"),
    ("AGPL-3", "AGPL-3.0-only"),
    ("AGPL-3+", "AGPL-3.0-or-later"),
    ("GFDL-1.2", "GFDL-1.2-only"),
    ("GFDL-1.2+", "GFDL-1.2-or-later"),
    ("GFDL-1.3", "GFDL-1.3-only"),
    ("GFDL-1.3+", "GFDL-1.3-or-later"),
    ("Expat", "MIT"),
    ("BSD-2-clause", "BSD-2-Clause"),
    ("BSD-3-clause", "BSD-3-Clause"),
    ("BSD-4-clause", "BSD-4-Clause"),
    ("Apache-2", "Apache-2.0"),
    ("MPL-1.1", "MPL-1.1"),
    ("MPL-2", "MPL-2.0"),
    ("PSF-2", "PSF-2.0"),
    ("zlib", "Zlib"),
    // Fedora's older short names, where they name one licence
    ("GPLv1", "GPL-1.0-only"),
    ("GPLv2", "GPL-2.0-only"),
    ("GPLv2+", "GPL-2.0-or-later"),
    ("GPLv3", "GPL-3.0-only"),
    ("GPLv3+", "GPL-3.0-or-later"),
    ("LGPLv3", "LGPL-3.0-only"),
    ("LGPLv3+", "LGPL-3.0-or-later"),
    ("AGPLv3", "AGPL-3.0-only"),
    ("AGPLv3+", "AGPL-3.0-or-later"),
    ("ASL 2.0", "Apache-2.0"),
    ("MPLv1.1", "MPL-1.1"),
    ("MPLv2.0", "MPL-2.0"),
    ("Boost", "BSL-1.0"),
    // Python trove classifiers that name one licence and version
    ("MIT License", "MIT"),
    ("ISC License (ISCL)", "ISC"),
    ("Mozilla Public License 2.0 (MPL 2.0)", "MPL-2.0"),
    ("Apache License 2.0", "Apache-2.0"),
    ("The Unlicense (Unlicense)", "Unlicense"),
    ("Zope Public License", "ZPL-2.1"),
];

/// One licence name as an SPDX identifier, when certain.
fn one(name: &str) -> Option<String> {
    let name = name.trim();
    if let Some((_, id)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Some((*id).to_string());
    }
    // `GPL-2.0+` (deprecated form) means or-later
    if let Some(base) = name.strip_suffix('+')
        && let Some(id) = spdx::license_id(base)
        && id.name.ends_with(".0")
        && (id.name.starts_with("GPL-")
            || id.name.starts_with("LGPL-")
            || id.name.starts_with("AGPL-"))
    {
        return Some(format!("{}-or-later", id.name));
    }
    let Some(id) = spdx::license_id(name) else {
        // `LGPL-2.1-or-later WITH GCC-exception-2.0`: already SPDX
        return (name.contains(" WITH ") && spdx::Expression::parse(name).is_ok())
            .then(|| name.to_string());
    };
    if !id.is_deprecated() {
        return Some(id.name.to_string());
    }
    // SPDX defines the deprecated `GPL-2.0` as `GPL-2.0-only`
    let family = ["GPL-", "LGPL-", "AGPL-", "GFDL-"];
    (family.iter().any(|f| id.name.starts_with(f)) && !id.name.contains('+'))
        .then(|| format!("{}-only", id.name))
        .filter(|only| spdx::license_id(only).is_some_and(|l| !l.is_deprecated()))
}

/// A recorded licence (possibly `A and B`, `A or B`, `A AND B`) as an SPDX
/// expression, or `None` when any part of it is not certain.
pub fn to_spdx(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if let Some(id) = one(raw) {
        return Some(id);
    }
    // grouping is not read: parentheses make it uncertain
    if raw.is_empty() || raw.contains(['(', ')']) {
        return None;
    }
    // `A and B or C` with one kind of operator only: mixing them needs
    // parentheses to be read one way
    let words: Vec<&str> = raw.split_whitespace().collect();
    let ops: Vec<String> = words
        .iter()
        .filter(|w| w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or"))
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let op = ops.first()?;
    if ops.iter().any(|o| o != op) {
        return None;
    }
    let mut parts = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for w in words.iter().chain(std::iter::once(&"and")) {
        if w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or") {
            parts.push(one(&current.join(" "))?);
            current.clear();
        } else {
            current.push(w);
        }
    }
    let expr = parts.join(&format!(" {op} "));
    spdx::Expression::parse(&expr).ok()?;
    Some(expr)
}

/// A package's licences for the documents: each recorded licence as an
/// SPDX expression where certain, else as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Licence {
    /// An SPDX expression (one identifier or a compound).
    Spdx(String),
    /// Text as recorded.
    Raw(String),
}

/// Classifies each recorded licence (duplicates once).
pub fn classify(recorded: &[String]) -> Vec<Licence> {
    let mut out: Vec<Licence> = Vec::new();
    for r in recorded {
        let l = match to_spdx(r) {
            Some(e) => Licence::Spdx(e),
            None => Licence::Raw(r.clone()),
        };
        if !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

/// `LicenseRef-` identifier for a licence that is not SPDX's: its text,
/// reduced to the characters SPDX allows in a reference.
pub fn license_ref(raw: &str) -> String {
    let mut id: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    id.truncate(64);
    format!("LicenseRef-{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certain_names_become_spdx_others_stay() {
        assert_eq!(to_spdx("GPL-2+").as_deref(), Some("GPL-2.0-or-later"));
        assert_eq!(to_spdx("LGPL-2.1").as_deref(), Some("LGPL-2.1-only"));
        assert_eq!(to_spdx("Expat").as_deref(), Some("MIT"));
        assert_eq!(to_spdx("Apache-2.0").as_deref(), Some("Apache-2.0"));
        assert_eq!(to_spdx("ASL 2.0").as_deref(), Some("Apache-2.0"));
        assert_eq!(to_spdx("GPL-2.0+").as_deref(), Some("GPL-2.0-or-later"));
        assert_eq!(to_spdx("GPL-2.0").as_deref(), Some("GPL-2.0-only"));
        assert_eq!(
            to_spdx("GPLv2+ and LGPLv3+").as_deref(),
            Some("GPL-2.0-or-later AND LGPL-3.0-or-later")
        );
        assert_eq!(
            to_spdx("MIT OR Apache-2.0").as_deref(),
            Some("MIT OR Apache-2.0")
        );
        assert_eq!(to_spdx("MIT License").as_deref(), Some("MIT"));
        // SUSE's glibc, as its rpm header records it
        assert_eq!(
            to_spdx("LGPL-2.1-or-later AND LGPL-2.1-or-later WITH GCC-exception-2.0 AND GPL-2.0-or-later")
                .as_deref(),
            Some("LGPL-2.1-or-later AND LGPL-2.1-or-later WITH GCC-exception-2.0 AND GPL-2.0-or-later")
        );
        // not certain: kept as written
        for raw in [
            "Artistic",
            "BSD",
            "LGPLv2+",
            "public-domain",
            "GPLv2 and LGPLv2+ or MIT",
            "Apache Software License",
            "",
        ] {
            assert_eq!(to_spdx(raw), None, "{raw}");
        }
    }

    #[test]
    fn classify_and_refs() {
        let c = classify(&["GPL-2+".into(), "Artistic".into(), "GPL-2+".into()]);
        assert_eq!(
            c,
            [
                Licence::Spdx("GPL-2.0-or-later".into()),
                Licence::Raw("Artistic".into())
            ]
        );
        assert_eq!(license_ref("Public Domain"), "LicenseRef-Public-Domain");
    }
}
