//! npm: installed packages (`node_modules/NAME/package.json`,
//! `node_modules/@scope/NAME/package.json`) and, for projects whose
//! `node_modules` is absent from the image, `package-lock.json` entries (v2/v3
//! `packages`, v1's nested `dependencies`). An alias (`"x": "npm:y@1"`) is
//! reported as the package it installs: the entry's `name` (v2/v3) or the
//! `npm:NAME@VERSION` version (v1).

use std::collections::HashSet;

use super::{Ctx, purl};
use crate::model::{Package, PackageType};

/// Whether a path is an installed package's manifest.
pub fn is_manifest(path: &str) -> bool {
    let Some(i) = path.rfind("node_modules/") else {
        return false;
    };
    let rest = &path[i + "node_modules/".len()..];
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [name, "package.json"] => !name.starts_with('.'),
        [scope, _, "package.json"] => scope.starts_with('@'),
        _ => false,
    }
}

fn license(v: &serde_json::Value) -> Vec<String> {
    match v.get("license") {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(o @ serde_json::Value::Object(_)) => o
            .get("type")
            .and_then(|t| t.as_str())
            .map(|s| vec![s.to_string()])
            .unwrap_or_default(),
        _ => v
            .get("licenses")
            .and_then(|l| l.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.get("type").and_then(|t| t.as_str()).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// `author` as a string (`Name <mail> (url)`) or an object's `name`.
fn author(v: &serde_json::Value) -> Option<String> {
    match v.get("author")? {
        serde_json::Value::String(s) => Some(s.clone()),
        o => o.get("name")?.as_str().map(str::to_string),
    }
    .filter(|s| !s.trim().is_empty())
}

/// The names in `dependencies` (and `optionalDependencies`, which are
/// installed when they can be).
fn dependencies(v: &serde_json::Value) -> Vec<Vec<String>> {
    ["dependencies", "optionalDependencies"]
        .iter()
        .filter_map(|k| v.get(*k)?.as_object())
        .flat_map(|o| o.keys().map(|k| vec![k.clone()]))
        .collect()
}

fn package(ctx: &Ctx<'_>, name: &str, version: &str, licenses: Vec<String>, path: &str) -> Package {
    let (ns, short) = match name.split_once('/') {
        Some((scope, n)) if scope.starts_with('@') => (Some(scope), n),
        _ => (None, name),
    };
    Package {
        kind: PackageType::Npm,
        name: name.to_string(),
        version: version.to_string(),
        source_name: None,
        source_version: None,
        arch: None,
        purl: purl("npm", ns, short, version, &[]),
        licenses,
        locations: vec![ctx.location(path)],
        owned_by: ctx.owner(path),
        supplier: None,
        relations: crate::model::Relations::default(),
    }
}

pub(super) fn catalog(ctx: &Ctx<'_>) -> Vec<Package> {
    let mut out = Vec::new();
    let mut project_dirs_with_modules: HashSet<String> = HashSet::new();
    for (path, bytes) in ctx.files() {
        if !is_manifest(path) {
            continue;
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            continue;
        };
        let (Some(name), Some(version)) = (
            v.get("name").and_then(|x| x.as_str()),
            v.get("version").and_then(|x| x.as_str()),
        ) else {
            continue;
        };
        if let Some(i) = path.find("node_modules/") {
            project_dirs_with_modules.insert(path[..i].trim_end_matches('/').to_string());
        }
        let mut p = package(ctx, name, version, license(&v), path);
        p.supplier = author(&v);
        p.relations.wants = dependencies(&v);
        out.push(p);
    }
    for (path, bytes) in ctx.files() {
        if !path.ends_with("package-lock.json") || path.contains("node_modules/") {
            continue;
        }
        let dir = path
            .strip_suffix("package-lock.json")
            .unwrap_or("")
            .trim_end_matches('/');
        if project_dirs_with_modules.contains(dir) {
            continue;
        }
        let v = match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(v) => v,
            Err(e) => {
                ctx.note(
                    path,
                    format!("the npm lockfile cannot be read ({e}); its packages are missing"),
                );
                continue;
            }
        };
        if let Some(pkgs) = v.get("packages").and_then(|p| p.as_object()) {
            for (key, entry) in pkgs {
                let Some(i) = key.rfind("node_modules/") else {
                    continue;
                };
                // an alias's entry names the package it installs
                let name = entry
                    .get("name")
                    .and_then(|x| x.as_str())
                    .unwrap_or(&key[i + "node_modules/".len()..]);
                let Some(version) = entry.get("version").and_then(|x| x.as_str()) else {
                    continue;
                };
                let mut p = package(ctx, name, version, license(entry), path);
                p.relations.wants = dependencies(entry);
                out.push(p);
            }
        } else if let Some(deps) = v.get("dependencies").and_then(|d| d.as_object()) {
            lockfile_v1(ctx, deps, path, 0, &mut out);
        } else {
            ctx.note(
                path,
                "the npm lockfile has neither `packages` nor `dependencies`; its packages are missing",
            );
        }
    }
    out
}

/// Lockfile v1: `dependencies` maps names to `{version, dependencies}`,
/// nested where npm nested them.
fn lockfile_v1(
    ctx: &Ctx<'_>,
    deps: &serde_json::Map<String, serde_json::Value>,
    path: &str,
    depth: usize,
    out: &mut Vec<Package>,
) {
    if depth > 64 {
        return;
    }
    for (key, entry) in deps {
        let Some(version) = entry.get("version").and_then(|x| x.as_str()) else {
            continue;
        };
        // `npm:real-name@1.2.3` (an alias) or `npm:@scope/name@1.2.3`
        let (name, version) = match version.strip_prefix("npm:") {
            Some(spec) => match spec.rsplit_once('@') {
                Some((n, v)) if !n.is_empty() => (n, v),
                _ => (key.as_str(), version),
            },
            None => (key.as_str(), version),
        };
        // git and file dependencies have no registry version
        if !version.contains(':') && !version.contains('/') {
            let mut p = package(ctx, name, version, Vec::new(), path);
            p.relations.wants = entry
                .get("requires")
                .and_then(|r| r.as_object())
                .map(|r| r.keys().map(|k| vec![k.clone()]).collect())
                .unwrap_or_default();
            out.push(p);
        }
        if let Some(nested) = entry.get("dependencies").and_then(|d| d.as_object()) {
            lockfile_v1(ctx, nested, path, depth + 1, out);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn manifests() {
        assert!(super::is_manifest("app/node_modules/express/package.json"));
        assert!(super::is_manifest("node_modules/@types/node/package.json"));
        assert!(super::is_manifest(
            "a/node_modules/x/node_modules/y/package.json"
        ));
        assert!(!super::is_manifest(
            "app/node_modules/express/lib/package.json"
        ));
        assert!(!super::is_manifest("app/package.json"));
    }
}
