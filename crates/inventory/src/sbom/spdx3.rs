//! SPDX 3.0.1 JSON-LD: the same content as the SPDX 2.3 document (packages,
//! purls, source packages, suppliers, declared licences, the dependency
//! graph, what could not be read) in the 3.0 model: one `@graph` of
//! elements sharing one `CreationInfo`, an `SpdxDocument` whose root is a
//! `software_Sbom`, whose root is the image.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Subject, content_hash, spdx_declared, spdx_id, supplier_parts, uuid};
use crate::model::Inventory;

/// The JSON-LD context every SPDX 3.0.1 document names.
pub const CONTEXT: &str = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld";

const CREATION: &str = "_:creationinfo";

/// The elements of one document, in the order they are written.
struct Graph {
    base: String,
    elements: Vec<Value>,
    /// spdxIds of everything but the document itself.
    ids: Vec<String>,
}

impl Graph {
    fn id(&self, local: &str) -> String {
        format!("{}#{local}", self.base)
    }

    fn push(&mut self, mut element: Value) -> String {
        element["creationInfo"] = json!(CREATION);
        let id = element["spdxId"].as_str().unwrap_or_default().to_string();
        self.ids.push(id.clone());
        self.elements.push(element);
        id
    }

    fn relationship(&mut self, local: String, from: &str, kind: &str, to: Vec<String>) {
        let id = self.id(&local);
        self.push(json!({
            "type": "Relationship",
            "spdxId": id,
            "from": from,
            "relationshipType": kind,
            "to": to,
        }));
    }
}

/// SPDX 3.0.1 JSON-LD.
pub fn spdx3(inv: &Inventory, subject: &Subject) -> Value {
    let ns = uuid(&content_hash(inv, subject));
    let mut g = Graph {
        base: format!(
            "https://safeimage.invalid/spdx/{}-{ns}",
            spdx_id(&subject.name)
        ),
        elements: Vec::new(),
        ids: Vec::new(),
    };
    let agent = g.id("SPDXRef-Agent-safeimage");
    let tool = g.id("SPDXRef-Tool-safeimage");
    let mut creation = json!({
        "type": "CreationInfo",
        "@id": CREATION,
        "specVersion": "3.0.1",
        "created": subject.created,
        "createdBy": [agent],
        "createdUsing": [tool],
    });
    // what could not be read: the document is incomplete, and says where
    if !inv.notes.is_empty() {
        let lines: Vec<String> = inv
            .notes
            .iter()
            .map(|n| format!("{}: {}", n.path, n.message))
            .collect();
        creation["comment"] = json!(format!("Incomplete: {}", lines.join("; ")));
    }
    g.push(json!({"type": "SoftwareAgent", "spdxId": agent, "name": "safeimage"}));
    g.push(json!({
        "type": "Tool",
        "spdxId": tool,
        "name": format!("safeimage-{}", subject.tool_version),
    }));

    let image = g.id("SPDXRef-Image");
    let mut image_pkg = json!({
        "type": "software_Package",
        "spdxId": image,
        "name": subject.name,
        "software_primaryPurpose": "container",
    });
    if let Some(d) = &subject.digest {
        image_pkg["software_packageVersion"] = json!(d);
        if let Some(hex) = d.strip_prefix("sha256:") {
            image_pkg["verifiedUsing"] =
                json!([{"type": "Hash", "algorithm": "sha256", "hashValue": hex}]);
        }
    }
    g.push(image_pkg);

    let mut contained = Vec::new();
    if let Some(d) = &inv.distro {
        contained.push(g.push(json!({
            "type": "software_Package",
            "spdxId": g.id("SPDXRef-OperatingSystem"),
            "name": d.id,
            "software_packageVersion": d.version_id,
            "software_primaryPurpose": "operatingSystem",
        })));
    }

    let ids: Vec<String> = inv
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            g.id(&format!(
                "SPDXRef-Package-{}-{}-{i}",
                p.kind.as_str(),
                spdx_id(&p.name)
            ))
        })
        .collect();
    let mut suppliers: BTreeMap<String, String> = BTreeMap::new();
    let mut licences: BTreeMap<String, String> = BTreeMap::new();
    let mut texts: BTreeMap<String, String> = BTreeMap::new();
    let mut declared: Vec<(usize, String)> = Vec::new();
    for (i, p) in inv.packages.iter().enumerate() {
        let mut pkg = json!({
            "type": "software_Package",
            "spdxId": ids[i],
            "name": p.name,
            "software_packageVersion": p.version,
            "software_primaryPurpose": if p.purl.is_empty() { "file" } else { "library" },
        });
        if !p.purl.is_empty() {
            pkg["software_packageUrl"] = json!(p.purl);
            pkg["externalIdentifier"] = json!([{
                "type": "ExternalIdentifier",
                "externalIdentifierType": "packageUrl",
                "identifier": p.purl,
            }]);
        }
        if let (Some(n), Some(v)) = (&p.source_name, &p.source_version) {
            pkg["software_sourceInfo"] = json!(format!("built from source package {n} {v}"));
        }
        if !p.licenses.is_empty() {
            pkg["comment"] = json!(format!("licences as recorded: {}", p.licenses.join(", ")));
        }
        if let Some(s) = &p.supplier {
            let (kind, name, mail) = supplier_parts(s);
            let key = format!("{kind}\0{name}\0{mail}");
            let id = match suppliers.get(&key) {
                Some(id) => id.clone(),
                None => {
                    let id = g.id(&format!("SPDXRef-Supplier-{}", suppliers.len()));
                    suppliers.insert(key, id.clone());
                    let mut agent = json!({"type": kind, "spdxId": id, "name": name});
                    if !mail.is_empty() {
                        agent["externalIdentifier"] = json!([{
                            "type": "ExternalIdentifier",
                            "externalIdentifierType": "email",
                            "identifier": mail,
                        }]);
                    }
                    g.push(agent)
                }
            };
            pkg["suppliedBy"] = json!(id);
        }
        contained.push(g.push(pkg));
        // the 2.3 document's licenseDeclared; NOASSERTION is simply no relationship
        let expr = spdx_declared(&p.licenses, &mut texts);
        if expr != "NOASSERTION" {
            declared.push((i, expr));
        }
    }

    // licences: one expression element per distinct expression; texts
    // that are no SPDX identifier are LicenseRefs with their text
    let mut text_ids: BTreeMap<String, String> = BTreeMap::new();
    for (n, (lref, text)) in texts.iter().enumerate() {
        let id = g.push(json!({
            "type": "simplelicensing_SimpleLicensingText",
            "spdxId": g.id(&format!("SPDXRef-LicenseText-{n}")),
            "name": lref,
            "simplelicensing_licenseText": text,
        }));
        text_ids.insert(lref.clone(), id);
    }
    for (i, expr) in &declared {
        let n = licences.len();
        let id = match licences.get(expr) {
            Some(id) => id.clone(),
            None => {
                let mut e = json!({
                    "type": "simplelicensing_LicenseExpression",
                    "spdxId": g.id(&format!("SPDXRef-License-{n}")),
                    "simplelicensing_licenseExpression": expr,
                });
                let refs: Vec<Value> = text_ids
                    .iter()
                    .filter(|(lref, _)| expr.split([' ', '(', ')']).any(|w| w == lref.as_str()))
                    .map(|(lref, id)| json!({"type": "DictionaryEntry", "key": lref, "value": id}))
                    .collect();
                if !refs.is_empty() {
                    e["simplelicensing_customIdToUri"] = Value::Array(refs);
                }
                let id = g.push(e);
                licences.insert(expr.clone(), id.clone());
                id
            }
        };
        let from = ids[*i].clone();
        g.relationship(
            format!("SPDXRef-Relationship-license-{i}"),
            &from,
            "hasDeclaredLicense",
            vec![id],
        );
    }

    if !contained.is_empty() {
        let rel = g.id("SPDXRef-Relationship-contains");
        let mut r = json!({
            "type": "Relationship",
            "spdxId": rel,
            "from": image,
            "relationshipType": "contains",
            "to": contained,
            // everything found is listed; what could not be read makes it incomplete
            "completeness": if inv.notes.is_empty() { "complete" } else { "incomplete" },
        });
        r["creationInfo"] = json!(CREATION);
        g.ids.push(rel);
        g.elements.push(r);
    }
    for (i, p) in inv.packages.iter().enumerate() {
        let on: Vec<String> = p
            .relations
            .depends_on
            .iter()
            .map(|&j| ids[j].clone())
            .collect();
        if !on.is_empty() {
            let from = ids[i].clone();
            g.relationship(
                format!("SPDXRef-Relationship-depends-{i}"),
                &from,
                "dependsOn",
                on,
            );
        }
    }

    let sbom = g.id("SPDXRef-Sbom");
    let members: Vec<String> = g.ids.clone();
    g.push(json!({
        "type": "software_Sbom",
        "spdxId": sbom,
        "software_sbomType": ["analyzed"],
        "rootElement": [image],
        "element": members,
    }));
    let document = json!({
        "type": "SpdxDocument",
        "spdxId": g.id("SPDXRef-DOCUMENT"),
        "creationInfo": CREATION,
        "name": subject.name,
        "profileConformance": ["core", "software", "simpleLicensing"],
        "rootElement": [sbom],
        "element": g.ids,
    });
    let mut graph = vec![creation];
    graph.extend(g.elements);
    graph.push(document);
    json!({ "@context": CONTEXT, "@graph": graph })
}
