//! SBOM documents from an [`Inventory`]: CycloneDX 1.6 (or 1.7) JSON, SPDX 2.3
//! JSON, SPDX 3.0.1 JSON-LD,
//! our own JSON, and a table. Output is deterministic for the same image
//! content (serial numbers and SPDX namespaces derive from the contents); the
//! only varying field is the creation time the caller passes in.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use findings::text::clean;

use crate::license::{self, Licence};
use crate::model::{Inventory, Package, PackageType};

mod spdx3;
pub use spdx3::{CONTEXT as SPDX3_CONTEXT, spdx3};

/// What the document describes.
#[derive(Debug, Clone)]
pub struct Subject {
    /// Image name (reference or source).
    pub name: String,
    /// Manifest digest, if known.
    pub digest: Option<String>,
    /// Tool version.
    pub tool_version: String,
    /// RFC 3339 UTC creation time.
    pub created: String,
}

fn content_hash(inv: &Inventory, subject: &Subject) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(subject.name.as_bytes());
    h.update(subject.digest.as_deref().unwrap_or("").as_bytes());
    for p in &inv.packages {
        h.update(p.purl.as_bytes());
        h.update(b"\0");
    }
    h.finalize().into()
}

/// A name-based UUID (`8-4-4-4-12` hex) for `data`: documents made from
/// the same content get the same id.
pub fn uuid_of(data: &[u8]) -> String {
    uuid(&Sha256::digest(data).into())
}

fn uuid(bytes: &[u8; 32]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&bytes[..16]);
    b[6] = (b[6] & 0x0f) | 0x50; // version 5-style (name-based)
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn bom_ref(p: &Package, i: usize) -> String {
    if p.purl.is_empty() {
        format!("{}:{}@{}#{i}", p.kind.as_str(), p.name, p.version)
    } else {
        format!("{}#{}", p.purl, i)
    }
}

/// The image's purl: `pkg:oci/NAME@sha256%3A...?repository_url=REGISTRY/REPO`
/// (the package-url spec's OCI type) from a registry reference; other
/// sources by their last path component. The SBOM's root component and
/// our VEX documents' product carry the same one, so a consumer matching
/// VEX products against the SBOM's root (Trivy) finds them.
pub fn image_purl(name: &str, digest: Option<&str>) -> String {
    let (short, repo) = match name.parse::<oci::ImageRef>() {
        Ok(r) => (
            r.repository()
                .rsplit('/')
                .next()
                .unwrap_or(r.repository())
                .to_string(),
            Some(r.full_name()),
        ),
        Err(_) => {
            let base = name
                .trim_end_matches('/')
                .rsplit(['/', ':'])
                .find(|s| !s.is_empty())
                .unwrap_or("image");
            (base.to_ascii_lowercase(), None)
        }
    };
    let mut p = format!("pkg:oci/{}", purl_enc(&short));
    if let Some(d) = digest {
        p.push('@');
        p.push_str(&purl_enc(d));
    }
    if let Some(r) = repo {
        p.push_str("?repository_url=");
        p.push_str(&purl_enc(&r));
    }
    p
}

fn purl_enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The CycloneDX specification versions written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CycloneDxSpec {
    /// 1.6 (ECMA-424 1st edition), the default while consumers catch up.
    #[default]
    V1_6,
    /// 1.7 (ECMA-424 2nd edition): the same content; nothing 1.6 has
    /// changed meaning.
    V1_7,
}

impl CycloneDxSpec {
    /// `1.6`, `1.7`.
    pub fn as_str(self) -> &'static str {
        match self {
            CycloneDxSpec::V1_6 => "1.6",
            CycloneDxSpec::V1_7 => "1.7",
        }
    }
}

/// CycloneDX 1.6 JSON.
pub fn cyclonedx(inv: &Inventory, subject: &Subject) -> Value {
    cyclonedx_spec(inv, subject, CycloneDxSpec::V1_6)
}

/// CycloneDX JSON of the given specification version.
pub fn cyclonedx_spec(inv: &Inventory, subject: &Subject, spec: CycloneDxSpec) -> Value {
    let serial = format!("urn:uuid:{}", uuid(&content_hash(inv, subject)));
    let mut components: Vec<Value> = Vec::new();
    if let Some(d) = &inv.distro {
        components.push(json!({
            "type": "operating-system",
            "bom-ref": format!("os:{}@{}", d.id, d.version_id),
            "name": d.id,
            "version": d.version_id,
        }));
    }
    for (i, p) in inv.packages.iter().enumerate() {
        let licenses = cyclonedx_licenses(&p.licenses);
        let mut props = vec![json!({"name": "safeimage:package:type", "value": p.kind.as_str()})];
        for loc in &p.locations {
            props.push(json!({"name": "safeimage:location:path", "value": loc.path}));
            if let Some(l) = &loc.layer {
                props.push(json!({"name": "safeimage:location:layer", "value": l}));
            }
        }
        if let Some(s) = &p.source_name {
            props.push(json!({"name": "safeimage:source:name", "value": s}));
        }
        if let Some(s) = &p.source_version {
            props.push(json!({"name": "safeimage:source:version", "value": s}));
        }
        if let Some(o) = &p.owned_by {
            props.push(json!({"name": "safeimage:owned-by", "value": o}));
        }
        // the source package in the names Trivy's CycloneDX reader takes
        // (its registered property taxonomy), so Trivy matches distro
        // advisories, which are by source package, when it scans this SBOM
        if matches!(
            p.kind,
            PackageType::Deb | PackageType::Apk | PackageType::Rpm
        ) {
            if let Some(s) = &p.source_name {
                props.push(json!({"name": "aquasecurity:trivy:SrcName", "value": s}));
            }
            if let Some(s) = &p.source_version {
                props.push(json!({"name": "aquasecurity:trivy:SrcVersion", "value": s}));
            }
        }
        let mut c = json!({
            "type": "library",
            "bom-ref": bom_ref(p, i),
            "name": p.name,
            "version": p.version,
            "purl": p.purl,
            "properties": props,
        });
        // no coordinates (a Java archive without a groupId): a file
        if p.purl.is_empty() {
            c["type"] = json!("file");
            if let Some(o) = c.as_object_mut() {
                o.remove("purl");
            }
        }
        if !licenses.is_empty() {
            c["licenses"] = Value::Array(licenses);
        }
        if let Some(s) = &p.supplier {
            // `Name <mail>` as recorded: the name, and the mail as its contact
            let (_, name, mail) = supplier_parts(s);
            c["supplier"] = if mail.is_empty() {
                json!({ "name": s })
            } else {
                json!({ "name": name, "contact": [{ "email": mail }] })
            };
        }
        components.push(c);
    }
    // every component's direct dependencies, as its package manager records
    // them (an empty list says "none", which consumers need to know too)
    let dependencies: Vec<Value> = inv
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let on: Vec<String> = p
                .relations
                .depends_on
                .iter()
                .map(|&j| bom_ref(&inv.packages[j], j))
                .collect();
            json!({ "ref": bom_ref(p, i), "dependsOn": on })
        })
        .collect();
    let mut meta_component = json!({
        "type": "container",
        "bom-ref": "image",
        "name": subject.name,
        "purl": image_purl(&subject.name, subject.digest.as_deref()),
    });
    if let Some(d) = &subject.digest {
        meta_component["version"] = json!(d);
    }
    // the image holds the operating system and every package
    let mut held: Vec<String> = Vec::new();
    if let Some(d) = &inv.distro {
        held.push(format!("os:{}@{}", d.id, d.version_id));
    }
    held.extend(inv.packages.iter().enumerate().map(|(i, p)| bom_ref(p, i)));
    let mut dependencies = dependencies;
    dependencies.insert(0, json!({ "ref": "image", "dependsOn": held }));
    let mut bom = json!({
        "$schema": format!("http://cyclonedx.org/schema/bom-{}.schema.json", spec.as_str()),
        "bomFormat": "CycloneDX",
        "specVersion": spec.as_str(),
        "serialNumber": serial,
        "version": 1,
        "metadata": {
            "timestamp": subject.created,
            "tools": { "components": [{ "type": "application", "name": "safeimage", "version": subject.tool_version }] },
            "component": meta_component,
        },
        "components": components,
        "dependencies": dependencies,
    });
    // what could not be read: the document is incomplete, and says where
    if !inv.notes.is_empty() {
        bom["metadata"]["properties"] = inv
            .notes
            .iter()
            .map(|n| json!({ "name": "safeimage:incomplete", "value": format!("{}: {}", n.path, n.message) }))
            .collect();
    }
    bom
}

fn spdx_id(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// SPDX 2.3 JSON.
pub fn spdx(inv: &Inventory, subject: &Subject) -> Value {
    let ns = uuid(&content_hash(inv, subject));
    let mut packages = vec![json!({
        "name": subject.name,
        "SPDXID": "SPDXRef-Image",
        "versionInfo": subject.digest.clone().unwrap_or_else(|| "NOASSERTION".into()),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
    })];
    let mut relationships = vec![
        json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-Image"}),
    ];
    let mut extracted: std::collections::BTreeMap<String, String> = Default::default();
    let ids: Vec<String> = inv
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "SPDXRef-Package-{}-{}-{i}",
                p.kind.as_str(),
                spdx_id(&p.name)
            )
        })
        .collect();
    for (i, p) in inv.packages.iter().enumerate() {
        let id = ids[i].clone();
        let declared = spdx_declared(&p.licenses, &mut extracted);
        let mut pkg = json!({
            "name": p.name,
            "SPDXID": id,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": declared,
            "copyrightText": "NOASSERTION",
            "externalRefs": [{ "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": p.purl }],
        });
        if p.purl.is_empty()
            && let Some(o) = pkg.as_object_mut()
        {
            o.remove("externalRefs");
        }
        if let (Some(n), Some(v)) = (&p.source_name, &p.source_version) {
            pkg["sourceInfo"] = json!(format!("built from source package {n} {v}"));
        }
        if !p.licenses.is_empty() {
            pkg["licenseComments"] = json!(format!("as recorded: {}", p.licenses.join(", ")));
        }
        if let Some(s) = &p.supplier {
            pkg["supplier"] = json!(spdx_supplier(s));
        }
        packages.push(pkg);
        relationships.push(json!({"spdxElementId": "SPDXRef-Image", "relationshipType": "CONTAINS", "relatedSpdxElement": id}));
        for &j in &p.relations.depends_on {
            relationships.push(json!({"spdxElementId": id, "relationshipType": "DEPENDS_ON", "relatedSpdxElement": ids[j]}));
        }
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": subject.name,
        "documentNamespace": format!("https://safeimage.invalid/spdx/{}-{ns}", spdx_id(&subject.name)),
        "creationInfo": creation_info(inv, subject),
        "packages": packages,
        "relationships": relationships,
        "hasExtractedLicensingInfos": extracted
            .into_iter()
            .map(|(id, text)| json!({ "licenseId": id, "name": text, "extractedText": text }))
            .collect::<Vec<_>>(),
    })
}

/// CycloneDX licences: an SPDX identifier as `id`, a compound SPDX
/// expression as `expression` (then alone, as the schema wants), anything
/// else by `name` as written.
fn cyclonedx_licenses(recorded: &[String]) -> Vec<Value> {
    let all = license::classify(recorded);
    let is_id = |e: &str| !e.contains(' ');
    let compound: Vec<&str> = all
        .iter()
        .filter_map(|l| match l {
            Licence::Spdx(e) if !is_id(e) => Some(e.as_str()),
            _ => None,
        })
        .collect();
    if !compound.is_empty() && all.iter().all(|l| matches!(l, Licence::Spdx(_))) {
        // one expression for everything recorded
        let n = all.len();
        let parts: Vec<String> = all
            .iter()
            .map(|l| match l {
                Licence::Spdx(e) if n > 1 && !is_id(e) => format!("({e})"),
                Licence::Spdx(e) | Licence::Raw(e) => e.clone(),
            })
            .collect();
        return vec![json!({ "expression": parts.join(" AND ") })];
    }
    all.iter()
        .map(|l| match l {
            Licence::Spdx(e) if is_id(e) => json!({"license": {"id": e}}),
            Licence::Spdx(e) | Licence::Raw(e) => json!({"license": {"name": e}}),
        })
        .collect()
}

/// SPDX `licenseDeclared`: the recorded licences ANDed, each as its SPDX
/// expression or, when not certain, a `LicenseRef-` whose text goes to
/// `extracted`; `NOASSERTION` when nothing is recorded.
fn spdx_declared(
    recorded: &[String],
    extracted: &mut std::collections::BTreeMap<String, String>,
) -> String {
    let all = license::classify(recorded);
    if all.is_empty() {
        return "NOASSERTION".to_string();
    }
    let n = all.len();
    all.into_iter()
        .map(|l| match l {
            Licence::Spdx(e) if n > 1 && e.contains(' ') => format!("({e})"),
            Licence::Spdx(e) => e,
            Licence::Raw(r) => {
                let id = license::license_ref(&r);
                extracted.entry(id.clone()).or_insert(r);
                id
            }
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// An SPDX supplier: `Name <mail>` becomes `Organization: Name (mail)` for
/// teams and companies, `Person: Name (mail)` for people.
fn spdx_supplier(s: &str) -> String {
    let (kind, name, mail) = supplier_parts(s);
    if mail.is_empty() {
        format!("{kind}: {name}")
    } else {
        format!("{kind}: {name} ({mail})")
    }
}

/// A supplier as SPDX agent kind (`Organization` or `Person`), name
/// (without parentheses, which SPDX 2 forbids there) and mail.
fn supplier_parts(s: &str) -> (&'static str, String, String) {
    let (name, mail) = match s.split_once('<') {
        Some((n, m)) => (n.trim(), m.split('>').next().unwrap_or("").trim()),
        None => (s.trim(), ""),
    };
    const GROUPS: &[&str] = &[
        "team",
        "maintainers",
        "developers",
        "project",
        "inc",
        "llc",
        "ltd",
        "corporation",
        "foundation",
        "community",
        "contributors",
        "group",
        "gmbh",
        "microsoft",
        "red hat",
        "suse",
        "alpine",
        "debian",
        "ubuntu",
        "packagers",
    ];
    let lower = name.to_ascii_lowercase();
    let kind = if GROUPS.iter().any(|g| lower.contains(g)) {
        "Organization"
    } else {
        "Person"
    };
    // SPDX forbids parentheses in the name part
    (kind, name.replace(['(', ')'], ""), mail.to_string())
}

/// SPDX creation info; what could not be read goes in its comment.
fn creation_info(inv: &Inventory, subject: &Subject) -> Value {
    let mut info = json!({ "created": subject.created, "creators": [format!("Tool: safeimage-{}", subject.tool_version)] });
    if !inv.notes.is_empty() {
        let lines: Vec<String> = inv
            .notes
            .iter()
            .map(|n| format!("{}: {}", n.path, n.message))
            .collect();
        info["comment"] = json!(format!("Incomplete: {}", lines.join("; ")));
    }
    info
}

/// Our JSON: the inventory plus the subject.
pub fn native(inv: &Inventory, subject: &Subject) -> Value {
    let mut doc = json!({
        "schema": "safeimage-inventory/1",
        "image": { "name": subject.name, "digest": subject.digest },
        "created": subject.created,
        "distro": inv.distro,
        "packages": inv.packages,
    });
    // each package's dependencies, named by purl (or name@version)
    for (i, p) in inv.packages.iter().enumerate() {
        if p.relations.depends_on.is_empty() {
            continue;
        }
        let on: Vec<String> = p
            .relations
            .depends_on
            .iter()
            .map(|&j| {
                let q = &inv.packages[j];
                if q.purl.is_empty() {
                    format!("{}@{}", q.name, q.version)
                } else {
                    q.purl.clone()
                }
            })
            .collect();
        doc["packages"][i]["depends_on"] = json!(on);
    }
    if !inv.notes.is_empty() {
        doc["notes"] = json!(inv.notes);
    }
    doc
}

/// Our JSON with the image's layers: `layers` lists them in order (index,
/// diffID, the instruction that made it), and each package location that
/// names a layer also gets that layer's `layer_index`.
pub fn native_with_layers(
    inv: &Inventory,
    subject: &Subject,
    layers: &[oci::image::Layer],
) -> Value {
    let mut doc = native(inv, subject);
    let index: std::collections::HashMap<String, usize> = layers
        .iter()
        .enumerate()
        .map(|(i, l)| (l.diff_id.to_string(), i))
        .collect();
    doc["layers"] = layers
        .iter()
        .enumerate()
        .map(|(i, l)| json!({"index": i, "diff_id": l.diff_id.to_string(), "created_by": l.created_by}))
        .collect();
    for p in doc["packages"].as_array_mut().into_iter().flatten() {
        for loc in p["locations"].as_array_mut().into_iter().flatten() {
            if let Some(i) = loc["layer"].as_str().and_then(|d| index.get(d)) {
                loc["layer_index"] = json!(i);
            }
        }
    }
    doc
}

/// A readable table.
pub fn table(inv: &Inventory) -> String {
    let rows: Vec<[String; 4]> = inv
        .packages
        .iter()
        .map(|p| {
            [
                clean(&p.name).into_owned(),
                clean(&p.version).into_owned(),
                p.kind.as_str().to_string(),
                p.source_name
                    .as_deref()
                    .filter(|s| *s != p.name)
                    .map(|s| clean(s).into_owned())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let head = ["NAME", "VERSION", "TYPE", "SOURCE"];
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |r: [&str; 4]| {
        format!(
            "{:<a$}  {:<b$}  {:<c$}  {}\n",
            r[0],
            r[1],
            r[2],
            r[3],
            a = w[0],
            b = w[1],
            c = w[2]
        )
        .trim_end()
        .to_string()
            + "\n"
    };
    let mut s = String::new();
    if let Some(d) = &inv.distro {
        s.push_str(&format!(
            "distro: {} {}{}\n",
            clean(&d.id),
            clean(&d.version_id),
            d.codename
                .as_ref()
                .map(|c| format!(" ({})", clean(c)))
                .unwrap_or_default()
        ));
    }
    s.push_str(&line(head));
    for r in &rows {
        s.push_str(&line([&r[0], &r[1], &r[2], &r[3]]));
    }
    s.push_str(&format!("{} packages\n", rows.len()));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Distro, Location, PackageType};

    fn inv() -> Inventory {
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
                version: "3.0.15-1~deb12u1".into(),
                source_name: Some("openssl".into()),
                source_version: Some("3.0.15-1~deb12u1".into()),
                arch: Some("amd64".into()),
                purl: "pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12".into(),
                licenses: vec!["Apache-2.0".into(), "Artistic".into()],
                locations: vec![Location {
                    path: "var/lib/dpkg/status".into(),
                    layer: Some(format!("sha256:{}", "a".repeat(64))),
                }],
                owned_by: None,
                supplier: None,
                relations: crate::model::Relations::default(),
            }],
        }
    }

    /// libssl3 depending on libc6, both with their maintainers.
    fn graph() -> Inventory {
        let mut ssl = inv().packages.remove(0);
        ssl.supplier =
            Some("Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>".into());
        ssl.relations.wants = vec![vec!["libc6".into()], vec!["missing-dep".into()]];
        let mut libc = ssl.clone();
        libc.name = "libc6".into();
        libc.version = "2.36-9+deb12u9".into();
        libc.source_name = Some("glibc".into());
        libc.source_version = Some("2.36-9+deb12u9".into());
        libc.purl = "pkg:deb/debian/libc6@2.36-9%2Bdeb12u9?arch=amd64&distro=debian-12".into();
        libc.licenses = vec!["LGPL-2.1".into()];
        libc.supplier = Some("GNU Libc Maintainers <debian-glibc@lists.debian.org>".into());
        libc.relations.wants = Vec::new();
        let mut i = Inventory::new(inv().distro, vec![ssl, libc]);
        i.notes = Vec::new();
        i
    }

    #[test]
    fn dependencies_and_suppliers_snapshot() {
        let g = graph();
        assert_eq!(g.packages[1].name, "libssl3");
        assert_eq!(
            g.packages[1].relations.depends_on,
            [0],
            "unresolved names are left out"
        );
        insta::assert_json_snapshot!("cyclonedx_graph", cyclonedx(&g, &subject()));
        insta::assert_json_snapshot!("spdx_graph", spdx(&g, &subject()));
        let native = native(&g, &subject());
        assert_eq!(
            native["packages"][1]["depends_on"],
            json!(["pkg:deb/debian/libc6@2.36-9%2Bdeb12u9?arch=amd64&distro=debian-12"])
        );
        assert_eq!(
            spdx_supplier("GNU Libc Maintainers <debian-glibc@lists.debian.org>"),
            "Organization: GNU Libc Maintainers (debian-glibc@lists.debian.org)"
        );
        assert_eq!(
            spdx_supplier("Jane Doe <jane@example.org>"),
            "Person: Jane Doe (jane@example.org)"
        );
    }

    fn subject() -> Subject {
        Subject {
            name: "localhost:5000/app:1".into(),
            digest: None,
            tool_version: "0.1.0".into(),
            created: "2026-11-23T00:00:00Z".into(),
        }
    }

    #[test]
    fn table_escapes_hostile_names_and_versions() {
        let mut i = inv();
        i.packages[0].name = "evil\x1b]8;;http://x\x07link".into();
        i.packages[0].version = "1.0\n\x1b[2J".into();
        let t = table(&i);
        assert!(!t.contains('\x1b') && !t.contains('\x07'), "{t:?}");
        assert_eq!(t.lines().count(), 4, "one line per package: {t}");
    }

    #[test]
    fn documents_snapshot() {
        insta::assert_json_snapshot!("cyclonedx", cyclonedx(&inv(), &subject()));
        insta::assert_json_snapshot!("spdx", spdx(&inv(), &subject()));
        insta::assert_snapshot!("table", table(&inv()));
    }

    #[test]
    fn serial_is_stable_and_content_addressed() {
        let a = cyclonedx(&inv(), &subject());
        let b = cyclonedx(
            &inv(),
            &Subject {
                created: "2030-01-01T00:00:00Z".into(),
                ..subject()
            },
        );
        assert_eq!(a["serialNumber"], b["serialNumber"]);
        let mut other = inv();
        other.packages[0].version = "3.0.16-1~deb12u1".into();
        other.packages[0].purl = "pkg:deb/debian/libssl3@3.0.16-1~deb12u1".into();
        assert_ne!(
            a["serialNumber"],
            cyclonedx(&other, &subject())["serialNumber"]
        );
    }
}
