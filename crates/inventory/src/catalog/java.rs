//! Java archives (`.jar`, `.war`, `.ear`, Jenkins `.hpi`/`.jpi`, `.par`):
//! Maven coordinates from every `pom.properties` in the archive, then its
//! `pom.xml` files (the project's own groupId/artifactId/version, the parent's
//! groupId/version when the project inherits them), else `MANIFEST.MF`
//! (Jenkins plugins' `Group-Id`/`Short-Name`/`Plugin-Version`;
//! `Implementation-Vendor-Id`, `Bundle-SymbolicName`), else the file name;
//! nested archives (`BOOT-INF/lib/*.jar`, `WEB-INF/lib/*.jar`...) up to
//! three levels deep. Only a summary of each archive is kept.
//!
//! A Maven purl needs a groupId: an archive whose group cannot be found
//! (a display name like "Apache Tomcat" in the MANIFEST, a bare file name)
//! is reported without a purl (a file component in CycloneDX), never as
//! `pkg:maven/Apache%20Tomcat`.

use std::io::{Cursor, Read};

use serde::{Deserialize, Serialize};

use super::{Ctx, purl};
use crate::model::{Location, Package, PackageType};

const MAX_NESTED: u64 = 256 << 20;

/// Archives worth opening.
pub fn is_archive(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    [".jar", ".war", ".ear", ".hpi", ".jpi", ".par"]
        .iter()
        .any(|e| p.ends_with(e))
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

/// The text of the first `<tag>` directly in `xml` (not nested deeper than
/// the level the text is at).
fn xml_tag<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(xml[start..end].trim())
}

/// `xml` without every `<tag>...</tag>` section.
fn without(xml: &str, tag: &str) -> String {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        out.push_str(&rest[..i]);
        match rest[i..].find(&close) {
            Some(j) => rest = &rest[i + j + close.len()..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// (groupId, artifactId, version) of a pom.xml's own project; the parent
/// supplies groupId and version when the project inherits them. Values with
/// unresolved `${...}` properties are not used.
fn pom_xml(xml: &str) -> Option<(String, String, String)> {
    let parent = xml_tag(xml, "parent");
    let mut own = xml.to_string();
    for section in [
        "parent",
        "dependencies",
        "dependencyManagement",
        "build",
        "profiles",
        "reporting",
        "plugins",
        "modules",
        "exclusions",
        "distributionManagement",
        "licenses",
        "developers",
        "organization",
        "scm",
    ] {
        own = without(&own, section);
    }
    let get = |tag: &str| {
        xml_tag(&own, tag)
            .or_else(|| {
                parent.and_then(|p| (tag != "artifactId").then(|| xml_tag(p, tag)).flatten())
            })
            .filter(|v| !v.is_empty() && !v.contains("${"))
            .map(str::to_string)
    };
    Some((get("groupId")?, get("artifactId")?, get("version")?))
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
    let mut pom_xmls = Vec::new();
    let mut manifest_text = None;
    let mut nested: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..zip.len() {
        let Ok(mut f) = zip.by_index(i) else { continue };
        let Ok(n) = f.name().map(|n| n.to_string()) else {
            continue;
        };
        if n.ends_with("pom.properties") {
            let mut s = String::new();
            if f.by_ref().take(1 << 20).read_to_string(&mut s).is_ok() {
                poms.push(s);
            }
        } else if n == "pom.xml" || n.ends_with("/pom.xml") {
            let mut s = String::new();
            if f.by_ref().take(4 << 20).read_to_string(&mut s).is_ok() {
                pom_xmls.push(s);
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
    for xml in &pom_xmls {
        if let Some((g, a, v)) = pom_xml(xml)
            && !out[before..]
                .iter()
                .any(|x| x.group.as_deref() == Some(g.as_str()) && x.artifact == a)
        {
            out.push(Artifact {
                group: Some(g),
                artifact: a,
                version: v,
                inner: inner.to_string(),
            });
        }
    }
    if out.len() == before {
        out.push(from_manifest(manifest_text.as_deref(), name, inner));
        if out.last().is_some_and(|a| a.artifact.is_empty()) {
            out.pop();
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

/// What the MANIFEST (or else the file name) says; an empty artifact when
/// neither says anything.
fn from_manifest(text: Option<&str>, name: &str, inner: &str) -> Artifact {
    let m = text.map(manifest).unwrap_or_default();
    let get = |k: &str| {
        m.iter()
            .find(|(x, _)| x.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let file = from_file_name(name);
    let artifact = |group: Option<String>, artifact: String, version: String| Artifact {
        group,
        artifact,
        version,
        inner: inner.to_string(),
    };
    // Jenkins plugins (.hpi/.jpi)
    if let (Some(g), Some(a), Some(v)) = (get("Group-Id"), get("Short-Name"), get("Plugin-Version"))
    {
        return artifact(Some(g), a, v);
    }
    let version = get("Implementation-Version")
        .or_else(|| get("Bundle-Version"))
        .or_else(|| file.as_ref().map(|f| f.1.clone()));
    let Some(version) = version else {
        return artifact(None, String::new(), String::new());
    };
    // `com.fasterxml.jackson.core.jackson-databind`: group, then artifact
    let symbolic =
        get("Bundle-SymbolicName").map(|s| s.split(';').next().unwrap_or("").trim().to_string());
    if let Some(g) = get("Implementation-Vendor-Id") {
        let a = file
            .as_ref()
            .map(|f| f.0.clone())
            .or_else(|| {
                symbolic
                    .as_ref()
                    .and_then(|s| s.rsplit('.').next())
                    .map(str::to_string)
            })
            .or_else(|| get("Implementation-Title"));
        if let Some(a) = a {
            return artifact(Some(g), a, version);
        }
    }
    if let Some(s) = &symbolic
        && let Some((g, a)) = s.rsplit_once('.')
        && !g.is_empty()
        && !a.is_empty()
    {
        return artifact(Some(g.to_string()), a.to_string(), version);
    }
    // no group: a name to show, no Maven coordinates; the MANIFEST's title
    // and version together, else the file name's
    match (
        get("Implementation-Title"),
        get("Implementation-Version"),
        file,
    ) {
        (Some(t), Some(v), _) => artifact(None, t, v),
        (_, _, Some((a, v))) => artifact(None, a, v),
        _ => artifact(None, String::new(), String::new()),
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
                // no groupId, no Maven purl
                purl: match &a.group {
                    Some(g) => purl("maven", Some(g), &a.artifact, &a.version, &[]),
                    None => String::new(),
                },
                name,
                version: a.version,
                source_name: None,
                source_version: None,
                arch: None,
                licenses: vec![],
                locations: vec![loc],
                owned_by: ctx.owner(path),
                supplier: None,
                relations: crate::model::Relations::default(),
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
