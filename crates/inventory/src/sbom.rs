//! SBOM documents from an [`Inventory`]: CycloneDX 1.6 JSON, SPDX 2.3 JSON,
//! our own JSON, and a table. Output is deterministic for the same image
//! content (serial numbers and SPDX namespaces derive from the contents); the
//! only varying field is the creation time the caller passes in.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use findings::text::clean;

use crate::model::{Inventory, Package};

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

/// SPDX license IDs we emit as IDs; anything else is kept as a name.
const SPDX_IDS: &[&str] = &[
    "MIT",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "MPL-2.0",
    "Zlib",
    "Unlicense",
    "0BSD",
    "CC0-1.0",
    "PSF-2.0",
    "Python-2.0",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "Artistic-2.0",
    "BSL-1.0",
    "OpenSSL",
    "curl",
    "X11",
    "public-domain",
];

fn is_spdx_id(l: &str) -> bool {
    SPDX_IDS.contains(&l) && l != "public-domain"
}

fn bom_ref(p: &Package, i: usize) -> String {
    if p.purl.is_empty() {
        format!("{}:{}@{}#{i}", p.kind.as_str(), p.name, p.version)
    } else {
        format!("{}#{}", p.purl, i)
    }
}

/// CycloneDX 1.6 JSON.
pub fn cyclonedx(inv: &Inventory, subject: &Subject) -> Value {
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
        let licenses: Vec<Value> = p
            .licenses
            .iter()
            .map(|l| {
                if is_spdx_id(l) {
                    json!({"license": {"id": l}})
                } else {
                    json!({"license": {"name": l}})
                }
            })
            .collect();
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
        components.push(c);
    }
    let mut meta_component = json!({"type": "container", "bom-ref": "image", "name": subject.name});
    if let Some(d) = &subject.digest {
        meta_component["version"] = json!(d);
    }
    let mut bom = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial,
        "version": 1,
        "metadata": {
            "timestamp": subject.created,
            "tools": { "components": [{ "type": "application", "name": "safeimage", "version": subject.tool_version }] },
            "component": meta_component,
        },
        "components": components,
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
    for (i, p) in inv.packages.iter().enumerate() {
        let id = format!(
            "SPDXRef-Package-{}-{}-{i}",
            p.kind.as_str(),
            spdx_id(&p.name)
        );
        let declared = if !p.licenses.is_empty() && p.licenses.iter().all(|l| is_spdx_id(l)) {
            p.licenses.join(" AND ")
        } else {
            "NOASSERTION".to_string()
        };
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
        if !p.licenses.is_empty() && declared == "NOASSERTION" {
            pkg["licenseComments"] = json!(format!("as recorded: {}", p.licenses.join(", ")));
        }
        packages.push(pkg);
        relationships.push(json!({"spdxElementId": "SPDXRef-Image", "relationshipType": "CONTAINS", "relatedSpdxElement": id}));
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
    })
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
    if !inv.notes.is_empty() {
        doc["notes"] = json!(inv.notes);
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
            }],
        }
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
