//! Python: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO` and single-file
//! `*.egg-info` (the directory suffixes in any case: some tools write
//! `DIST-INFO`). Names are normalised for purls as PEP 503 says. The
//! interpreter's own `Python-X.Y.egg-info` (CPython installs one for itself)
//! is not a PyPI package and is left out.

use super::{Ctx, field, paragraphs, purl};
use crate::model::{Package, PackageType};

pub use crate::model::normalize_python as normalize;

/// Whether `path` ends with `suffix`, ASCII case ignored.
fn ends_with_ci(path: &str, suffix: &str) -> bool {
    path.len() >= suffix.len()
        && path.is_char_boundary(path.len() - suffix.len())
        && path[path.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// The metadata directory (or single-file egg-info) a path is, if any:
/// `NAME-VERSION.dist-info/METADATA`, `NAME.egg-info/PKG-INFO`, an unpacked
/// egg's `EGG-INFO/PKG-INFO`, a single-file `NAME.egg-info`, in any case.
pub fn metadata_dir(path: &str) -> Option<&str> {
    if path.ends_with("/METADATA") && ends_with_ci(path, "dist-info/METADATA")
        || path.ends_with("/PKG-INFO") && ends_with_ci(path, "egg-info/PKG-INFO")
    {
        path.rsplit_once('/').map(|(d, _)| d)
    } else if ends_with_ci(path, ".egg-info") {
        Some(path)
    } else {
        None
    }
}

/// `Requires-Dist: name[extra] (>=1) ; marker`: the names, without those
/// that only an extra pulls in.
fn requires_dist(p: &super::Paragraph<'_>) -> Vec<Vec<String>> {
    p.iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Requires-Dist"))
        .filter(|(_, v)| !v.split_once(';').is_some_and(|(_, m)| m.contains("extra")))
        .filter_map(|(_, v)| {
            let name: String = v
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            (!name.is_empty()).then(|| vec![name])
        })
        .collect()
}

pub(super) fn catalog(ctx: &Ctx<'_>) -> Vec<Package> {
    let mut out = Vec::new();
    for (path, bytes) in ctx.files() {
        let meta_dir = metadata_dir(path);
        let Some(meta_dir) = meta_dir else { continue };
        let text = String::from_utf8_lossy(bytes);
        // headers end at the first blank line (the body is the description)
        let head = text.split("\n\n").next().unwrap_or("");
        let Some(p) = paragraphs(head).into_iter().next() else {
            continue;
        };
        let (Some(name), Some(version)) = (field(&p, "Name"), field(&p, "Version")) else {
            continue;
        };
        // CPython's record of itself (`lib-dynload/Python-2.7.egg-info`)
        if normalize(name) == "python" {
            continue;
        }
        let mut licenses: Vec<String> = Vec::new();
        if let Some(e) = field(&p, "License-Expression") {
            licenses.push(e.to_string());
        } else if let Some(l) = field(&p, "License")
            .filter(|l| !l.is_empty() && *l != "UNKNOWN" && l.len() < 100 && !l.contains('\n'))
        {
            licenses.push(l.to_string());
        }
        for (k, v) in &p {
            if k.eq_ignore_ascii_case("Classifier")
                && let Some(l) = v
                    .strip_prefix("License :: OSI Approved :: ")
                    .or_else(|| v.strip_prefix("License :: "))
                && !licenses.iter().any(|x| x == l)
            {
                licenses.push(l.to_string());
            }
        }
        out.push(Package {
            kind: PackageType::Python,
            name: name.to_string(),
            version: version.to_string(),
            source_name: None,
            source_version: None,
            arch: None,
            purl: purl("pypi", None, &normalize(name), version, &[]),
            licenses,
            locations: vec![ctx.location(path)],
            owned_by: ctx.owner(meta_dir),
            supplier: field(&p, "Author")
                .or_else(|| field(&p, "Maintainer"))
                .or_else(|| field(&p, "Author-email"))
                .filter(|a| !a.is_empty() && *a != "UNKNOWN")
                .map(str::to_string),
            relations: crate::model::Relations {
                wants: requires_dist(&p),
                provides: Vec::new(),
                depends_on: Vec::new(),
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn pep503() {
        assert_eq!(super::normalize("Jinja2"), "jinja2");
        assert_eq!(super::normalize("zope.interface"), "zope-interface");
        assert_eq!(super::normalize("A__b-.C"), "a-b-c");
    }

    #[test]
    fn metadata_paths_in_any_case() {
        let d = super::metadata_dir;
        assert_eq!(
            d("site-packages/Foo-1.0.DIST-INFO/METADATA"),
            Some("site-packages/Foo-1.0.DIST-INFO")
        );
        assert_eq!(
            d("site-packages/Foo-1.0.EGG-INFO/PKG-INFO"),
            Some("site-packages/Foo-1.0.EGG-INFO")
        );
        assert_eq!(d("x/Bar.EGG-INFO"), Some("x/Bar.EGG-INFO"));
        assert_eq!(
            d("foo-1.0-py3.8.egg/EGG-INFO/PKG-INFO"),
            Some("foo-1.0-py3.8.egg/EGG-INFO")
        );
        assert_eq!(d("x/foo.dist-info/RECORD"), None);
        assert_eq!(d("x/metadata"), None);
    }
}
