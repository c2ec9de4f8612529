//! Reading SBOMs back into an [`Inventory`], so `scan` accepts a CycloneDX
//! (1.4–1.7 JSON), SPDX 2.x JSON or SPDX 3 JSON-LD document from any tool. Packages come from
//! purls; source packages from our properties, Syft's `upstream` qualifier
//! or Trivy's `SrcName`/`SrcVersion` properties; the distro from an
//! `operating-system` component or a purl's `distro` qualifier.

use std::str::FromStr;

use packageurl::PackageUrl;
use serde_json::Value;

use crate::model::{Distro, Inventory, Location, Package, PackageType};

/// Why a document is not a usable SBOM.
#[derive(Debug, thiserror::Error)]
pub enum SbomReadError {
    /// Not JSON.
    #[error("not JSON (line {line}, column {column}): {message}")]
    Json {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// What.
        message: String,
    },
    /// JSON, but neither CycloneDX nor SPDX.
    #[error(
        "neither a CycloneDX (bomFormat) nor an SPDX (spdxVersion, or an SPDX 3 @context) JSON document"
    )]
    Unknown,
}

/// What was read.
#[derive(Debug, Clone)]
pub struct ReadSbom {
    /// The inventory.
    pub inventory: Inventory,
    /// The subject's name, if the document names one.
    pub subject: Option<String>,
    /// The subject's digest, if known.
    pub digest: Option<String>,
    /// `CycloneDX 1.6`, `SPDX-2.3`.
    pub format: String,
}

/// Whether bytes look like a JSON SBOM (cheap sniff of the first KB).
pub fn looks_like_sbom(head: &[u8]) -> bool {
    let s = String::from_utf8_lossy(&head[..head.len().min(4096)]);
    s.trim_start().starts_with('{')
        && (s.contains("\"bomFormat\"")
            || s.contains("\"spdxVersion\"")
            || s.contains("spdx.org/rdf/3."))
}

/// Parse a CycloneDX or SPDX JSON document.
pub fn read(bytes: &[u8]) -> Result<ReadSbom, SbomReadError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| SbomReadError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    if v.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        Ok(cyclonedx(&v))
    } else if v.get("spdxVersion").is_some() {
        Ok(spdx(&v))
    } else if is_spdx3(&v) {
        Ok(spdx3(&v))
    } else {
        Err(SbomReadError::Unknown)
    }
}

fn kind_of(ty: &str) -> Option<PackageType> {
    Some(match ty {
        "deb" => PackageType::Deb,
        "apk" => PackageType::Apk,
        "rpm" => PackageType::Rpm,
        "pypi" => PackageType::Python,
        "npm" => PackageType::Npm,
        "golang" => PackageType::Go,
        "cargo" => PackageType::Rust,
        "maven" => PackageType::Java,
        _ => return None,
    })
}

fn distro_from_qualifier(q: &str) -> Option<Distro> {
    // `debian-12`, `debian-12.4`, `alpine-3.20.3`, `ubuntu-22.04`.
    let (id, ver) = q.rsplit_once('-')?;
    Some(Distro {
        id: id.to_string(),
        version_id: ver.to_string(),
        codename: None,
        detected_from: "purl distro qualifier".into(),
    })
}

struct Props {
    source_name: Option<String>,
    source_version: Option<String>,
    paths: Vec<String>,
    layers: Vec<String>,
    owned_by: Option<String>,
}

fn package_from(
    purl_s: &str,
    version_hint: Option<&str>,
    props: Props,
    distro: &mut Option<Distro>,
) -> Option<Package> {
    let p = PackageUrl::from_str(purl_s).ok()?;
    let kind = kind_of(p.ty())?;
    let name = match (kind, p.namespace()) {
        (PackageType::Java, Some(ns)) => format!("{ns}:{}", p.name()),
        (PackageType::Go, Some(ns)) => format!("{ns}/{}", p.name()),
        (PackageType::Npm, Some(ns)) => format!("{ns}/{}", p.name()),
        _ => p.name().to_string(),
    };
    let version = p
        .version()
        .map(str::to_string)
        .or(version_hint.map(str::to_string))?;
    let q = p.qualifiers();
    if distro.is_none()
        && let Some(d) = q.get("distro")
    {
        *distro = distro_from_qualifier(d);
    }
    let (mut source_name, mut source_version) = (props.source_name, props.source_version);
    if source_name.is_none()
        && let Some(up) = q.get("upstream")
    {
        match up.split_once('@') {
            Some((n, v)) => {
                source_name = Some(n.to_string());
                source_version = Some(v.to_string());
            }
            None => source_name = Some(up.to_string()),
        }
    }
    let mut locations: Vec<Location> = props
        .paths
        .iter()
        .enumerate()
        .map(|(i, path)| Location {
            path: path.clone(),
            layer: props.layers.get(i).cloned(),
        })
        .collect();
    locations.sort();
    Some(Package {
        kind,
        name,
        version,
        source_name,
        source_version,
        arch: q.get("arch").map(|s| s.to_string()),
        purl: purl_s.to_string(),
        licenses: Vec::new(),
        locations,
        owned_by: props.owned_by,
        supplier: None,
        relations: crate::model::Relations::default(),
    })
}

fn cdx_props(c: &Value) -> Props {
    let mut p = Props {
        source_name: None,
        source_version: None,
        paths: Vec::new(),
        layers: Vec::new(),
        owned_by: None,
    };
    for prop in c["properties"].as_array().into_iter().flatten() {
        let (Some(n), Some(v)) = (prop["name"].as_str(), prop["value"].as_str()) else {
            continue;
        };
        match n {
            "safeimage:source:name" | "aquasecurity:trivy:SrcName" => {
                p.source_name = Some(v.into())
            }
            "safeimage:source:version" | "aquasecurity:trivy:SrcVersion" => {
                p.source_version = Some(v.into())
            }
            "safeimage:location:path" | "syft:location:0:path" | "aquasecurity:trivy:FilePath" => {
                p.paths.push(v.into())
            }
            "safeimage:location:layer" | "aquasecurity:trivy:LayerDiffID" => {
                p.layers.push(v.into())
            }
            "safeimage:owned-by" => p.owned_by = Some(v.into()),
            _ => {}
        }
    }
    p
}

fn cdx_walk(list: &Value, out: &mut Vec<Package>, distro: &mut Option<Distro>) {
    for c in list.as_array().into_iter().flatten() {
        if c["type"] == "operating-system" {
            if let (Some(n), Some(v)) = (c["name"].as_str(), c["version"].as_str()) {
                *distro = Some(Distro {
                    id: n.to_ascii_lowercase(),
                    version_id: v.to_string(),
                    codename: None,
                    detected_from: "SBOM operating-system component".into(),
                });
            }
        } else if let Some(purl) = c["purl"].as_str()
            && let Some(p) = package_from(purl, c["version"].as_str(), cdx_props(c), distro)
        {
            out.push(p);
        }
        cdx_walk(&c["components"], out, distro);
    }
}

fn cyclonedx(v: &Value) -> ReadSbom {
    let mut distro = None;
    let mut packages = Vec::new();
    // The OS component first, so purl qualifiers do not override it.
    cdx_walk(&v["components"], &mut packages, &mut distro);
    let meta = &v["metadata"]["component"];
    ReadSbom {
        inventory: Inventory::new(distro, packages),
        subject: meta["name"].as_str().map(str::to_string),
        digest: meta["version"]
            .as_str()
            .filter(|s| s.starts_with("sha256:"))
            .map(str::to_string),
        format: format!("CycloneDX {}", v["specVersion"].as_str().unwrap_or("?")),
    }
}

/// Props from SPDX's source-info text as we write it (`built from source
/// package NAME VERSION`, in 2.3 and 3.0.1 alike).
fn source_props(info: Option<&str>) -> Props {
    let mut props = Props {
        source_name: None,
        source_version: None,
        paths: Vec::new(),
        layers: Vec::new(),
        owned_by: None,
    };
    if let Some((n, ver)) = info
        .and_then(|s| s.strip_prefix("built from source package "))
        .and_then(|rest| rest.split_once(' '))
    {
        props.source_name = Some(n.to_string());
        props.source_version = Some(ver.to_string());
    }
    props
}

fn spdx(v: &Value) -> ReadSbom {
    let mut distro = None;
    let mut packages = Vec::new();
    let mut subject = None;
    let mut digest = None;
    for p in v["packages"].as_array().into_iter().flatten() {
        if p["primaryPackagePurpose"] == "CONTAINER" || p["SPDXID"] == "SPDXRef-Image" {
            subject = p["name"].as_str().map(str::to_string);
            digest = p["versionInfo"]
                .as_str()
                .filter(|s| s.starts_with("sha256:"))
                .map(str::to_string);
            continue;
        }
        if p["primaryPackagePurpose"] == "OPERATING-SYSTEM" {
            if let (Some(n), Some(ver)) = (p["name"].as_str(), p["versionInfo"].as_str()) {
                distro = Some(Distro {
                    id: n.to_ascii_lowercase(),
                    version_id: ver.to_string(),
                    codename: None,
                    detected_from: "SBOM operating-system package".into(),
                });
            }
            continue;
        }
        let purl = p["externalRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["referenceType"] == "purl")
            .and_then(|r| r["referenceLocator"].as_str());
        let Some(purl) = purl else { continue };
        let props = source_props(p["sourceInfo"].as_str());
        if let Some(pk) = package_from(purl, p["versionInfo"].as_str(), props, &mut distro) {
            packages.push(pk);
        }
    }
    ReadSbom {
        inventory: Inventory::new(distro, packages),
        subject: subject.or_else(|| v["name"].as_str().map(str::to_string)),
        digest,
        format: v["spdxVersion"].as_str().unwrap_or("SPDX").to_string(),
    }
}

/// An SPDX 3 JSON-LD document: its `@context` (a string or a list) names
/// an SPDX 3 context.
fn is_spdx3(v: &Value) -> bool {
    let ctx = |c: &Value| {
        c.as_str()
            .is_some_and(|s| s.starts_with("https://spdx.org/rdf/3."))
    };
    match &v["@context"] {
        Value::Array(list) => list.iter().any(ctx),
        c => ctx(c),
    }
}

/// SPDX 3: the `software_Package` elements of the graph. The container
/// names the subject, the operating system the distro; the others are
/// packages by their purl (`software_packageUrl` or a `packageUrl`
/// external identifier). Element types may be written compact
/// (`software_Package`) or as IRIs.
fn spdx3(v: &Value) -> ReadSbom {
    let mut distro = None;
    let mut packages = Vec::new();
    let mut subject = None;
    let mut digest = None;
    let short = |s: &str| -> String { s.rsplit('/').next().unwrap_or(s).to_string() };
    let ty = |e: &Value| -> String {
        let t = e["type"].as_str().or(e["@type"].as_str()).unwrap_or("");
        if let Some(rest) = t.strip_prefix("https://spdx.org/rdf/3.0.1/terms/") {
            // Software/Package -> software_Package
            match rest.split_once('/') {
                Some(("Core", c)) => c.to_string(),
                Some((ns, c)) => format!("{}_{c}", ns.to_ascii_lowercase()),
                None => rest.to_string(),
            }
        } else {
            t.to_string()
        }
    };
    for e in v["@graph"].as_array().into_iter().flatten() {
        if ty(e) != "software_Package" {
            continue;
        }
        let purpose = short(e["software_primaryPurpose"].as_str().unwrap_or(""));
        let version = e["software_packageVersion"].as_str();
        if purpose == "container" {
            subject = e["name"].as_str().map(str::to_string);
            digest = version
                .filter(|s| s.starts_with("sha256:"))
                .map(str::to_string);
            continue;
        }
        if purpose == "operatingSystem" {
            if let (Some(n), Some(ver)) = (e["name"].as_str(), version) {
                distro = Some(Distro {
                    id: n.to_ascii_lowercase(),
                    version_id: ver.to_string(),
                    codename: None,
                    detected_from: "SBOM operating-system package".into(),
                });
            }
            continue;
        }
        let purl = e["software_packageUrl"].as_str().or_else(|| {
            e["externalIdentifier"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|x| short(x["externalIdentifierType"].as_str().unwrap_or("")) == "packageUrl")
                .and_then(|x| x["identifier"].as_str())
        });
        let Some(purl) = purl else { continue };
        let props = source_props(e["software_sourceInfo"].as_str());
        if let Some(pk) = package_from(purl, version, props, &mut distro) {
            packages.push(pk);
        }
    }
    let document = v["@graph"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| ty(e) == "SpdxDocument");
    let spec = v["@graph"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| ty(e) == "CreationInfo")
        .and_then(|c| c["specVersion"].as_str())
        .unwrap_or("3");
    ReadSbom {
        inventory: Inventory::new(distro, packages),
        subject: subject.or_else(|| document.and_then(|d| d["name"].as_str().map(str::to_string))),
        digest,
        format: format!("SPDX-{spec}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::{Subject, cyclonedx as write_cdx, spdx as write_spdx};

    fn sample() -> Inventory {
        Inventory {
            notes: Vec::new(),
            distro: Some(Distro {
                id: "debian".into(),
                version_id: "12".into(),
                codename: Some("bookworm".into()),
                detected_from: "etc/os-release".into(),
            }),
            packages: vec![Package {
                kind: PackageType::Deb,
                name: "libssl3".into(),
                version: "3.0.11-1~deb12u2".into(),
                source_name: Some("openssl".into()),
                source_version: Some("3.0.11-1~deb12u2".into()),
                arch: Some("amd64".into()),
                purl: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12".into(),
                licenses: vec![],
                locations: vec![Location {
                    path: "var/lib/dpkg/status".into(),
                    layer: Some("sha256:aa".into()),
                }],
                owned_by: None,
                supplier: None,
                relations: crate::model::Relations::default(),
            }],
        }
    }

    #[test]
    fn round_trips_our_documents() {
        let inv = sample();
        let s = Subject {
            name: "img".into(),
            digest: Some("sha256:bb".into()),
            tool_version: "0".into(),
            created: "2026-01-01T00:00:00Z".into(),
        };
        for doc in [
            write_cdx(&inv, &s),
            write_spdx(&inv, &s),
            crate::sbom::spdx3(&inv, &s),
        ] {
            let r = read(doc.to_string().as_bytes()).unwrap();
            let p = &r.inventory.packages[0];
            assert_eq!(p.source_name.as_deref(), Some("openssl"));
            assert_eq!(p.version, "3.0.11-1~deb12u2");
            assert_eq!(r.inventory.distro.as_ref().unwrap().version_id, "12");
            assert_eq!(r.subject.as_deref(), Some("img"));
            assert_eq!(r.digest.as_deref(), Some("sha256:bb"));
        }
    }

    #[test]
    fn cyclonedx_1_7_and_spdx_3_read_back_to_the_same_packages_as_1_6_and_spdx_2() {
        let inv = sample();
        let s = Subject {
            name: "img".into(),
            digest: Some("sha256:bb".into()),
            tool_version: "0".into(),
            created: "2026-01-01T00:00:00Z".into(),
        };
        let names = |doc: &serde_json::Value| {
            let mut v: Vec<(String, String, String)> = read(doc.to_string().as_bytes())
                .unwrap()
                .inventory
                .packages
                .into_iter()
                .map(|p| (p.kind.as_str().to_string(), p.name, p.version))
                .collect();
            v.sort();
            v
        };
        let v17 = names(&crate::sbom::cyclonedx_spec(
            &inv,
            &s,
            crate::sbom::CycloneDxSpec::V1_7,
        ));
        assert!(!v17.is_empty());
        assert_eq!(v17, names(&write_cdx(&inv, &s)));
        assert_eq!(v17, names(&write_spdx(&inv, &s)));
        assert_eq!(v17, names(&crate::sbom::spdx3(&inv, &s)));
    }

    #[test]
    fn syft_style_upstream_and_errors() {
        let doc = serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [
            {"type": "library", "name": "libssl3", "version": "3.0.11-1",
             "purl": "pkg:deb/debian/libssl3@3.0.11-1?arch=amd64&upstream=openssl&distro=debian-12"},
            {"type": "library", "name": "x", "purl": "pkg:generic/x@1"}]});
        let r = read(doc.to_string().as_bytes()).unwrap();
        assert_eq!(r.inventory.packages.len(), 1);
        assert_eq!(
            r.inventory.packages[0].source_name.as_deref(),
            Some("openssl")
        );
        assert_eq!(r.inventory.distro.unwrap().id, "debian");
        assert!(matches!(read(b"{\"a\":1}"), Err(SbomReadError::Unknown)));
        assert!(read(b"{").unwrap_err().to_string().contains("line 1"));
    }
}
