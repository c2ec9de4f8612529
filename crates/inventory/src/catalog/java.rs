//! Java archives (`.jar`, `.war`, `.ear`): Maven coordinates from
//! `META-INF/maven/**/pom.properties`, else `MANIFEST.MF`
//! (`Implementation-Title`/`-Version`, `Bundle-SymbolicName`), else the file
//! name; nested archives (`BOOT-INF/lib/*.jar`, `WEB-INF/lib/*.jar`...) up to
//! three levels deep. Only a summary of each archive is kept.

use std::io::{Cursor, Read};

use serde::{Deserialize, Serialize};

use super::{Ctx, purl};
use crate::model::{Location, Package, PackageType};

const MAX_NESTED: u64 = 256 << 20;

/// Archives worth opening.
pub fn is_archive(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    p.ends_with(".jar") || p.ends_with(".war") || p.ends_with(".ear")
}

/// One artifact found in an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Maven groupId, when known.
    pub group: Option<String>,
    /// artifactId or name.
    pub artifact: String,
    /// Version.
    pub version: String,
    /// Path inside the outer archive (`BOOT-INF/lib/x.jar`), empty for the archive itself.
    pub inner: String,
}

fn manifest(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(' ') {
            if let Some(last) = out.last_mut() {
                last.1.push_str(rest.trim_end());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

fn from_file_name(name: &str) -> Option<(String, String)> {
    let stem = name.rsplit('/').next()?.rsplit_once('.')?.0;
    // name-1.2.3 → (name, 1.2.3): the version starts at the first `-` followed by a digit
    let i = stem
        .char_indices()
        .find(|(i, c)| *c == '-' && stem[i + 1..].starts_with(|d: char| d.is_ascii_digit()))?
        .0;
    Some((stem[..i].to_string(), stem[i + 1..].to_string()))
}

fn scan(bytes: &[u8], name: &str, inner: &str, depth: usize, out: &mut Vec<Artifact>) {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return;
    };
    let mut poms = Vec::new();
    let mut manifest_text = None;
    let mut nested: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..zip.len() {
        let Ok(mut f) = zip.by_index(i) else { continue };
        let Ok(n) = f.name().map(|n| n.to_string()) else {
            continue;
        };
        if n.starts_with("META-INF/maven/") && n.ends_with("/pom.properties") {
            let mut s = String::new();
            if f.by_ref().take(1 << 20).read_to_string(&mut s).is_ok() {
                poms.push(s);
            }
        } else if n == "META-INF/MANIFEST.MF" {
            let mut s = String::new();
            if f.by_ref().take(1 << 20).read_to_string(&mut s).is_ok() {
                manifest_text = Some(s);
            }
        } else if depth < 3 && is_archive(&n) && f.size() <= MAX_NESTED {
            let mut v = Vec::with_capacity(f.size() as usize);
            if f.by_ref().take(MAX_NESTED).read_to_end(&mut v).is_ok() {
                nested.push((n, v));
            }
        }
    }
    let before = out.len();
    for pom in &poms {
        let get = |k: &str| {
            pom.lines()
                .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
                .map(|v| v.trim().to_string())
        };
        if let (Some(a), Some(v)) = (get("artifactId"), get("version")) {
            out.push(Artifact {
                group: get("groupId"),
                artifact: a,
                version: v,
                inner: inner.to_string(),
            });
        }
    }
    if out.len() == before {
        let m = manifest_text.as_deref().map(manifest).unwrap_or_default();
        let get = |k: &str| {
            m.iter()
                .find(|(x, _)| x.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        let title = get("Implementation-Title").or_else(|| {
            get("Bundle-SymbolicName").map(|s| s.split(';').next().unwrap_or("").to_string())
        });
        let version = get("Implementation-Version").or_else(|| get("Bundle-Version"));
        match (title, version) {
            (Some(t), Some(v)) if !t.is_empty() => out.push(Artifact {
                group: get("Implementation-Vendor-Id"),
                artifact: t,
                version: v,
                inner: inner.to_string(),
            }),
            _ => {
                if let Some((a, v)) = from_file_name(name) {
                    out.push(Artifact {
                        group: None,
                        artifact: a,
                        version: v,
                        inner: inner.to_string(),
                    });
                }
            }
        }
    }
    for (n, v) in nested {
        let path = if inner.is_empty() {
            n.clone()
        } else {
            format!("{inner}!/{n}")
        };
        scan(&v, &n, &path, depth + 1, out);
    }
}

/// Summarises a Java archive as `java\n<json>`.
pub fn extract(path: &str, bytes: &[u8]) -> Option<String> {
    let mut out = Vec::new();
    scan(bytes, path, "", 0, &mut out);
    (!out.is_empty()).then(|| format!("java\n{}", serde_json::to_string(&out).unwrap_or_default()))
}

pub(super) fn packages(ctx: &Ctx<'_>, path: &str, json: &str) -> Vec<Package> {
    let Ok(arts) = serde_json::from_str::<Vec<Artifact>>(json) else {
        return vec![];
    };
    let base = ctx.location(path);
    arts.into_iter()
        .map(|a| {
            let name = match &a.group {
                Some(g) => format!("{g}:{}", a.artifact),
                None => a.artifact.clone(),
            };
            let loc = if a.inner.is_empty() {
                base.clone()
            } else {
                Location {
                    path: format!("{path}!/{}", a.inner),
                    layer: base.layer.clone(),
                }
            };
            Package {
                kind: PackageType::Java,
                purl: purl("maven", a.group.as_deref(), &a.artifact, &a.version, &[]),
                name,
                version: a.version,
                source_name: None,
                source_version: None,
                arch: None,
                licenses: vec![],
                locations: vec![loc],
                owned_by: ctx.owner(path),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn jar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (n, d) in files {
            w.start_file(
                *n,
                zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated),
            )
            .unwrap();
            w.write_all(d).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn pom_manifest_file_name_and_nesting() {
        let inner = jar(&[(
            "META-INF/maven/org.yaml/snakeyaml/pom.properties",
            b"groupId=org.yaml\nartifactId=snakeyaml\nversion=1.33\n",
        )]);
        let manifest_only = jar(&[("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\nImplementation-Title: acme-util\nImplementation-Version: 2.1\n")]);
        let bare = jar(&[("x.class", b"\xca\xfe")]);
        let outer = jar(&[
            (
                "META-INF/maven/com.example/app/pom.properties",
                b"version=1.0.0\ngroupId=com.example\nartifactId=app\n",
            ),
            ("BOOT-INF/lib/snakeyaml-1.33.jar", &inner),
            ("BOOT-INF/lib/acme-util.jar", &manifest_only),
            ("BOOT-INF/lib/commons-lang3-3.12.0.jar", &bare),
        ]);
        let s = extract("app/app.jar", &outer).unwrap();
        let arts: Vec<Artifact> = serde_json::from_str(s.strip_prefix("java\n").unwrap()).unwrap();
        let got: Vec<(Option<&str>, &str, &str, &str)> = arts
            .iter()
            .map(|a| {
                (
                    a.group.as_deref(),
                    a.artifact.as_str(),
                    a.version.as_str(),
                    a.inner.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (Some("com.example"), "app", "1.0.0", ""),
                (
                    Some("org.yaml"),
                    "snakeyaml",
                    "1.33",
                    "BOOT-INF/lib/snakeyaml-1.33.jar"
                ),
                (None, "acme-util", "2.1", "BOOT-INF/lib/acme-util.jar"),
                (
                    None,
                    "commons-lang3",
                    "3.12.0",
                    "BOOT-INF/lib/commons-lang3-3.12.0.jar"
                ),
            ]
        );
        assert!(extract("broken.jar", b"not a zip").is_none());
    }
}
