//! Catalogers: distro detection, dpkg (status and distroless `status.d`), apk,
//! Python (`*.dist-info/METADATA`, `*.egg-info`), npm (`node_modules` and
//! `package-lock.json`). Each reads the squashed tree and the per-layer
//! records (to name the layer a package came from).

mod apk;
pub mod binary;
mod distro;
mod dpkg;
pub mod java;
mod npm;
pub(crate) mod python;
pub mod rpm;
pub mod rpmdb;

use std::borrow::Cow;

use oci::Analysis;
use oci::layer::EntryKind;

use crate::model::{Inventory, Location, Note};

/// Bumped whenever what catalogers read or produce changes: part of the
/// per-layer cache key.
pub const CATALOGER_VERSION: &str = "inventory-v6";

/// What catalogers need from each layer: whole files ([`wanted`]) and
/// summaries of executables ([`binary::extract`]).
pub fn select() -> oci::Select<'static> {
    oci::Select {
        capture: &wanted,
        probe: &binary::probe,
        extract: &binary::extract,
    }
}

/// The files whose contents catalogers need.
pub fn wanted(path: &str, size: u64) -> bool {
    const EXACT: &[&str] = &[
        "etc/os-release",
        "usr/lib/os-release",
        "etc/debian_version",
        "etc/alpine-release",
        "var/lib/dpkg/status",
        "lib/apk/db/installed",
        "var/lib/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
        "var/lib/rpm/Packages",
        "usr/lib/sysimage/rpm/Packages",
        "var/lib/rpm/Packages.db",
        "usr/lib/sysimage/rpm/Packages.db",
        "var/lib/rpmmanifest/container-manifest-2",
        "etc/lsb-release",
    ];
    if EXACT.contains(&path) {
        return true;
    }
    if size > 64 << 20 {
        return false;
    }
    (path.starts_with("var/lib/dpkg/status.d/") && !path.ends_with(".md5sums"))
        || (path.starts_with("var/lib/dpkg/info/") && path.ends_with(".list"))
        || (path.starts_with("usr/share/doc/")
            && path.ends_with("/copyright")
            && path.matches('/').count() == 4)
        || (python::metadata_dir(path).is_some()
            && (!path.ends_with(".egg-info") || size < 1 << 20))
        || npm::is_manifest(path)
        || (path.ends_with("/package-lock.json") && !path.contains("/node_modules/"))
        || path == "package-lock.json"
}

/// Paths installed by OS packages → the package, mostly borrowed from the
/// package databases' file lists (tens of thousands of entries).
pub(crate) type Owners<'a> = foldhash::HashMap<Cow<'a, str>, Cow<'a, str>>;

/// Context shared by catalogers.
pub(crate) struct Ctx<'a> {
    pub analysis: &'a Analysis,
    /// path → OS package that installed it
    pub owners: Owners<'a>,
    /// What could not be read.
    pub notes: std::cell::RefCell<Vec<Note>>,
}

impl<'a> Ctx<'a> {
    /// Records that `path` could not be read (or decided), and why.
    pub fn note(&self, path: &str, message: impl Into<String>) {
        self.notes.borrow_mut().push(Note {
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// The location of a path: the layer that last wrote it.
    pub fn location(&self, path: &str) -> Location {
        let layer = self
            .analysis
            .tree
            .get(path)
            .and_then(|n| self.analysis.image.layers.get(n.layer))
            .map(|l| l.diff_id.to_string());
        Location {
            path: path.to_string(),
            layer,
        }
    }

    /// The diffID of layer `i`.
    pub fn layer_id(&self, i: usize) -> Option<String> {
        self.analysis
            .image
            .layers
            .get(i)
            .map(|l| l.diff_id.to_string())
    }

    /// Captured regular files under the tree, as `(path, bytes)`.
    pub fn files(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.analysis
            .tree
            .iter()
            .filter(|(_, n)| n.kind == EntryKind::File)
            .filter_map(|(p, n)| n.content.as_deref().map(|c| (p, c.as_slice())))
    }

    /// The OS package owning `path` or one of its parent directories.
    pub fn owner(&self, path: &str) -> Option<String> {
        let mut p = path;
        loop {
            if let Some(o) = self.owners.get(p) {
                return Some(o.to_string());
            }
            p = p.rsplit_once('/')?.0;
        }
    }
}

/// One RFC 822-style paragraph: fields in order, borrowed from the text
/// (a value is owned only when it has continuation lines).
pub(crate) type Paragraph<'t> = Vec<(&'t str, Cow<'t, str>)>;

/// Parses RFC 822-style paragraphs (`Field: value`, continuation lines start
/// with whitespace) as used by dpkg and Python metadata.
pub(crate) fn paragraphs(text: &str) -> Vec<Paragraph<'_>> {
    let mut out = Vec::new();
    let mut cur: Paragraph<'_> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = cur.last_mut() {
                let v = last.1.to_mut();
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim(), Cow::Borrowed(v.trim())));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// First value of a field.
pub(crate) fn field<'a>(p: &'a [(&str, Cow<'_, str>)], name: &str) -> Option<&'a str> {
    p.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

/// Catalogs an analysed image.
pub fn catalog(analysis: &Analysis) -> Inventory {
    let mut ctx = Ctx {
        analysis,
        owners: Owners::default(),
        notes: Default::default(),
    };
    let distro = distro::detect(&ctx);
    let mut packages = Vec::new();
    let (debs, deb_owners) = dpkg::catalog(&ctx, distro.as_ref());
    let (apks, apk_owners) = apk::catalog(&ctx, distro.as_ref());
    let (rpms, _) = rpm::catalog(&ctx, distro.as_ref());
    packages.extend(rpms);
    ctx.owners = deb_owners;
    ctx.owners.extend(apk_owners);
    packages.extend(debs);
    packages.extend(apks);
    packages.extend(python::catalog(&ctx));
    packages.extend(npm::catalog(&ctx));
    packages.extend(binary::catalog(&ctx));
    let mut inventory = Inventory::new(distro, packages);
    let mut notes = ctx.notes.into_inner();
    notes.sort();
    notes.dedup();
    inventory.notes = notes;
    inventory
}

/// Builds a purl; fields that the purl library rejects leave the purl as `pkg:TYPE/NAME`.
pub(crate) fn purl(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let build = || -> Result<String, packageurl::Error> {
        let mut p = packageurl::PackageUrl::new(ty, name)?;
        if let Some(ns) = namespace {
            p.with_namespace(ns)?;
        }
        p.with_version(version)?;
        for (k, v) in qualifiers {
            if !v.is_empty() {
                p.add_qualifier(*k, *v)?;
            }
        }
        Ok(p.to_string())
    };
    build().unwrap_or_else(|_| format!("pkg:{ty}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc822_paragraphs() {
        let p = paragraphs("Package: a\nDescription: x\n more\n\nPackage: b\nVersion: 1\n");
        assert_eq!(p.len(), 2);
        assert_eq!(field(&p[0], "description"), Some("x\nmore"));
        assert_eq!(field(&p[1], "Version"), Some("1"));
    }

    #[test]
    fn wanted_paths() {
        assert!(wanted("var/lib/dpkg/status", 1 << 30));
        assert!(wanted("var/lib/dpkg/status.d/libc6", 100));
        assert!(!wanted("var/lib/dpkg/status.d/libc6.md5sums", 100));
        assert!(wanted(
            "usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA",
            100
        ));
        assert!(wanted("app/node_modules/@scope/pkg/package.json", 100));
        assert!(!wanted("app/node_modules/pkg/lib/package.json", 100));
        assert!(wanted("usr/share/doc/libc6/copyright", 100));
        assert!(!wanted("usr/share/doc/libc6/examples/copyright", 100));
        assert!(!wanted("usr/bin/bash", 100));
    }
}
