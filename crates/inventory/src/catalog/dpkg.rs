//! dpkg: `var/lib/dpkg/status` and distroless `var/lib/dpkg/status.d/*`.
//! Each package keeps its source package (`Source: name (version)`), its
//! licenses from `usr/share/doc/PKG/copyright` (DEP-5 `License:` fields), and
//! the layer it first appeared in. `var/lib/dpkg/info/*.list` says which files
//! each package owns.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use super::{Ctx, Owners, field, paragraphs, purl};
use crate::model::{Distro, Location, Package, PackageType};

/// `a (>= 1), b:any | c` → `[[a], [b, c]]`: names without versions or
/// architecture qualifiers.
fn relation_field(value: Option<&str>) -> Vec<Vec<String>> {
    let Some(v) = value else { return Vec::new() };
    v.split(',')
        .map(|group| {
            group
                .split('|')
                .filter_map(|alt| {
                    let name = alt.trim().split([' ', '(', '[', '<']).next()?;
                    let name = name.split(':').next()?;
                    (!name.is_empty()).then(|| name.to_string())
                })
                .collect::<Vec<String>>()
        })
        .filter(|g| !g.is_empty())
        .collect()
}

fn installed(p: &[(&str, Cow<'_, str>)]) -> bool {
    // distroless status.d records carry no Status field
    field(p, "Status").is_none_or(|s| {
        s.ends_with(" installed") && !s.contains("not-installed") && !s.contains("config-files")
    })
}

fn licenses(ctx: &Ctx<'_>, pkg: &str) -> Vec<String> {
    let Some(b) = ctx
        .analysis
        .tree
        .read(&format!("usr/share/doc/{pkg}/copyright"))
    else {
        return vec![];
    };
    let text = String::from_utf8_lossy(b);
    let mut set = BTreeSet::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("License:") {
            let v = v.trim();
            if !v.is_empty() {
                set.insert(v.to_string());
            }
        }
    }
    set.into_iter().collect()
}

/// Returns the packages and a map path → owning package.
/// `(Package, Version)` of each paragraph of a status file, without
/// parsing the other fields.
fn names_and_versions(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let (mut name, mut version) = (None, None);
    for line in text.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if let (Some(n), Some(v)) = (name.take(), version.take()) {
                out.push((n, v));
            }
            name = None;
            version = None;
        } else if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("Package") {
                name.get_or_insert(v.trim());
            } else if k.eq_ignore_ascii_case("Version") {
                version.get_or_insert(v.trim());
            }
        }
    }
    out
}

pub(super) fn catalog<'a>(ctx: &Ctx<'a>, distro: Option<&Distro>) -> (Vec<Package>, Owners<'a>) {
    let tree = &ctx.analysis.tree;
    // the layer each (name, version) first appears in
    let mut first_layer: HashMap<(String, String), usize> = HashMap::new();
    for (i, rec) in ctx.analysis.layers.iter().enumerate() {
        for e in &rec.entries {
            if (e.path == "var/lib/dpkg/status" || e.path.starts_with("var/lib/dpkg/status.d/"))
                && let Some(c) = &e.content
            {
                for (n, v) in names_and_versions(&String::from_utf8_lossy(c)) {
                    first_layer
                        .entry((n.to_string(), v.to_string()))
                        .or_insert(i);
                }
            }
        }
    }
    let mut sources: Vec<(String, &[u8])> = Vec::new();
    if let Some(b) = tree.read("var/lib/dpkg/status") {
        sources.push(("var/lib/dpkg/status".into(), b));
    }
    for (path, bytes) in ctx.files() {
        if path.starts_with("var/lib/dpkg/status.d/") && !path.ends_with(".md5sums") {
            sources.push((path.to_string(), bytes));
        }
    }
    // no distro: no namespace either (the records did not say whose
    // packages these are, and a guess would pick the wrong advisories)
    let (ns, distro_q) = match distro {
        Some(d) if d.version_id.is_empty() => (Some(d.id.clone()), String::new()),
        Some(d) => (Some(d.id.clone()), format!("{}-{}", d.id, d.version_id)),
        None => (None, String::new()),
    };
    let mut out = Vec::new();
    for (path, bytes) in sources {
        for p in paragraphs(&String::from_utf8_lossy(bytes)) {
            let (Some(name), Some(version)) = (field(&p, "Package"), field(&p, "Version")) else {
                continue;
            };
            if !installed(&p) {
                continue;
            }
            let arch = field(&p, "Architecture").map(str::to_string);
            let (source_name, source_version) = match field(&p, "Source") {
                Some(s) => match s.split_once('(') {
                    Some((n, v)) => (
                        n.trim().to_string(),
                        v.trim_end_matches(')').trim().to_string(),
                    ),
                    None => (s.trim().to_string(), version.to_string()),
                },
                None => (name.to_string(), version.to_string()),
            };
            let layer = first_layer
                .get(&(name.to_string(), version.to_string()))
                .and_then(|&i| ctx.layer_id(i))
                .or_else(|| ctx.location(&path).layer);
            out.push(Package {
                kind: PackageType::Deb,
                name: name.to_string(),
                version: version.to_string(),
                purl: purl(
                    "deb",
                    ns.as_deref(),
                    name,
                    version,
                    &[
                        ("arch", arch.as_deref().unwrap_or("")),
                        ("distro", &distro_q),
                    ],
                ),
                source_name: Some(source_name),
                source_version: Some(source_version),
                arch,
                licenses: licenses(ctx, name),
                locations: vec![Location {
                    path: path.clone(),
                    layer,
                }],
                owned_by: None,
                supplier: field(&p, "Maintainer").map(str::to_string),
                relations: crate::model::Relations {
                    wants: relation_field(field(&p, "Pre-Depends"))
                        .into_iter()
                        .chain(relation_field(field(&p, "Depends")))
                        .collect(),
                    provides: relation_field(field(&p, "Provides"))
                        .into_iter()
                        .flatten()
                        .collect(),
                    depends_on: Vec::new(),
                },
            });
        }
    }
    let mut owners = Owners::default();
    for (path, bytes) in ctx.files() {
        let Some(file) = path
            .strip_prefix("var/lib/dpkg/info/")
            .and_then(|f| f.strip_suffix(".list"))
        else {
            continue;
        };
        let pkg = file.split(':').next().unwrap_or(file);
        let mut add = |line: Cow<'a, str>| {
            let l = match line {
                Cow::Borrowed(l) => Cow::Borrowed(l.trim().trim_start_matches('/')),
                Cow::Owned(l) => Cow::Owned(l.trim().trim_start_matches('/').to_string()),
            };
            if !l.is_empty() && l != "." {
                owners.insert(l, Cow::Borrowed(pkg));
            }
        };
        match std::str::from_utf8(bytes) {
            Ok(text) => text.lines().for_each(|l| add(Cow::Borrowed(l))),
            Err(_) => String::from_utf8_lossy(bytes)
                .lines()
                .for_each(|l| add(Cow::Owned(l.to_string()))),
        }
    }
    (out, owners)
}
