//! Python: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO` and single-file
//! `*.egg-info`. Names are normalised for purls as PEP 503 says.

use super::{Ctx, field, paragraphs, purl};
use crate::model::{Package, PackageType};

/// PEP 503 normalisation: lowercase, runs of `-_.` become `-`.
pub fn normalize(name: &str) -> String {
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

pub(super) fn catalog(ctx: &Ctx<'_>) -> Vec<Package> {
    let mut out = Vec::new();
    for (path, bytes) in ctx.files() {
        let meta_dir =
            if path.ends_with(".dist-info/METADATA") || path.ends_with(".egg-info/PKG-INFO") {
                path.rsplit_once('/').map(|(d, _)| d)
            } else if path.ends_with(".egg-info") {
                Some(path)
            } else {
                None
            };
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
}
