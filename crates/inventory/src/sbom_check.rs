//! `sbom --check tr-03183`: which of the fields BSI TR-03183-2 (v2.1.0)
//! requires a CycloneDX or SPDX JSON document lacks — ours or any tool's.
//! Document level: the format and version (CycloneDX ≥ 1.6, SPDX ≥ 3.0.1),
//! the SBOM's creator as an email address or URL, its timestamp, and a
//! statement of dependency completeness. Component level: creator (email or
//! URL), name, version, filename, its dependencies listed, distribution
//! licences as SPDX identifiers or expressions, a SHA-512 hash, and the
//! executable, archive and structured properties (CycloneDX: BSI's
//! `bsi:component:*` property taxonomy). Every gap is named, with the
//! components it applies to counted; nothing is inferred.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

/// One required field a document or some of its components lack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// Stable name of the requirement (`sbom-creator`, `component-hash`).
    pub field: &'static str,
    /// What TR-03183-2 asks for.
    pub requirement: &'static str,
    /// Components lacking it (0 for a document-level gap).
    pub components: usize,
    /// Up to five of them, by name and version.
    pub examples: Vec<String>,
}

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checked {
    /// `TR-03183-2 v2.1.0`.
    pub standard: &'static str,
    /// `CycloneDX 1.6`, `SPDX-2.3`, `SPDX-3.0.1`.
    pub format: String,
    /// Components checked.
    pub components: usize,
    /// Everything missing (empty: it conforms as far as fields go).
    pub gaps: Vec<Gap>,
}

impl Checked {
    /// No gap.
    pub fn passed(&self) -> bool {
        self.gaps.is_empty()
    }
}

/// Why a document cannot be checked.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Neither CycloneDX nor SPDX JSON.
    #[error(
        "neither a CycloneDX (bomFormat) nor an SPDX (spdxVersion, or an SPDX 3 @context) JSON document"
    )]
    Unknown,
}

const REQ: &[(&str, &str)] = &[
    (
        "format",
        "CycloneDX 1.6 or later, or SPDX 3.0.1 or later (§4)",
    ),
    (
        "sbom-creator",
        "the SBOM's creator as an email address or URL (§5.2.1)",
    ),
    (
        "sbom-timestamp",
        "the date and time the SBOM was compiled (§5.2.1)",
    ),
    (
        "dependency-completeness",
        "whether each component's dependencies are complete (§5.2.2)",
    ),
    (
        "component-creator",
        "the component's creator as an email address or URL (§5.2.2)",
    ),
    ("component-name", "the component's name (§5.2.2)"),
    ("component-version", "the component's version (§5.2.2)"),
    (
        "component-filename",
        "the component's actual filename (§5.2.2)",
    ),
    (
        "component-dependencies",
        "the component's dependencies enumerated (§5.2.2)",
    ),
    (
        "component-licence",
        "the distribution licences as SPDX identifiers or expressions (§5.2.2)",
    ),
    (
        "component-hash",
        "a SHA-512 hash of the deployable component (§5.2.2)",
    ),
    (
        "component-executable",
        "whether the component is executable (§5.2.2)",
    ),
    (
        "component-archive",
        "whether the component is an archive (§5.2.2)",
    ),
    (
        "component-structured",
        "whether the component is structured (§5.2.2)",
    ),
];

fn requirement(field: &str) -> &'static str {
    REQ.iter().find(|(f, _)| *f == field).map_or("", |(_, r)| r)
}

fn is_email(s: &str) -> bool {
    let s = s.trim().trim_start_matches("mailto:");
    s.split_once('@')
        .is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !b.contains(' '))
}

fn is_url(s: &str) -> bool {
    let s = s.trim();
    s.starts_with("https://") || s.starts_with("http://")
}

/// An email address or URL anywhere in a CycloneDX organizational entity
/// or contact list (`url`, `email`, `contact[].email`).
fn cdx_contact(v: &Value) -> bool {
    let strings = |x: &Value| -> Vec<String> {
        match x {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
            _ => vec![],
        }
    };
    let one = |e: &Value| {
        strings(&e["url"]).iter().any(|u| is_url(u))
            || e["email"].as_str().is_some_and(is_email)
            || e["contact"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["email"].as_str().is_some_and(is_email))
    };
    match v {
        Value::Array(list) => list.iter().any(one),
        Value::Object(_) => one(v),
        _ => false,
    }
}

#[derive(Default)]
struct Tally {
    gaps: BTreeMap<&'static str, (usize, Vec<String>)>,
}

impl Tally {
    fn missing(&mut self, field: &'static str, who: Option<String>) {
        let e = self.gaps.entry(field).or_default();
        if let Some(w) = who {
            e.0 += 1;
            if e.1.len() < 5 {
                e.1.push(w);
            }
        }
    }
    fn into_gaps(self) -> Vec<Gap> {
        REQ.iter()
            .filter_map(|(f, _)| {
                self.gaps.get(f).map(|(n, ex)| Gap {
                    field: f,
                    requirement: requirement(f),
                    components: *n,
                    examples: ex.clone(),
                })
            })
            .collect()
    }
}

fn version_at_least(v: &str, want: (u32, u32, u32)) -> bool {
    let n: Vec<u32> = v
        .trim_start_matches("SPDX-")
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    let got = (
        n.first().copied().unwrap_or(0),
        n.get(1).copied().unwrap_or(0),
        n.get(2).copied().unwrap_or(0),
    );
    got >= want
}

/// Checks a CycloneDX or SPDX JSON document.
pub fn tr03183(doc: &Value) -> Result<Checked, CheckError> {
    if doc["bomFormat"] == "CycloneDX" {
        Ok(cyclonedx(doc))
    } else if doc.get("spdxVersion").is_some() {
        Ok(spdx2(doc))
    } else if doc["@graph"].is_array() {
        Ok(spdx3(doc))
    } else {
        Err(CheckError::Unknown)
    }
}

fn cdx_components(list: &Value, out: &mut Vec<Value>) {
    for c in list.as_array().into_iter().flatten() {
        out.push(c.clone());
        cdx_components(&c["components"], out);
    }
}

fn cyclonedx(doc: &Value) -> Checked {
    let spec = doc["specVersion"].as_str().unwrap_or("?").to_string();
    let mut t = Tally::default();
    if !version_at_least(&spec, (1, 6, 0)) {
        t.missing("format", None);
    }
    let meta = &doc["metadata"];
    if !(cdx_contact(&meta["manufacturer"])
        || cdx_contact(&meta["supplier"])
        || cdx_contact(&meta["authors"])
        || cdx_contact(&meta["manufacture"]))
    {
        t.missing("sbom-creator", None);
    }
    if meta["timestamp"].as_str().is_none_or(str::is_empty) {
        t.missing("sbom-timestamp", None);
    }
    let complete = doc["compositions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| {
            c["aggregate"]
                .as_str()
                .is_some_and(|a| a.starts_with("complete"))
        });
    if !complete {
        t.missing("dependency-completeness", None);
    }
    let deps: BTreeSet<&str> = doc["dependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["ref"].as_str())
        .collect();
    let mut comps = Vec::new();
    cdx_components(&doc["components"], &mut comps);
    for c in &comps {
        let who = format!(
            "{} {}",
            c["name"].as_str().unwrap_or("?"),
            c["version"].as_str().unwrap_or("")
        )
        .trim()
        .to_string();
        let prop =
            |name: &str| {
                c["properties"].as_array().into_iter().flatten().any(|p| {
                    p["name"] == name && p["value"].as_str().is_some_and(|v| !v.is_empty())
                })
            };
        if !(cdx_contact(&c["manufacturer"])
            || cdx_contact(&c["supplier"])
            || cdx_contact(&c["authors"]))
        {
            t.missing("component-creator", Some(who.clone()));
        }
        if c["name"].as_str().is_none_or(str::is_empty) {
            t.missing("component-name", Some(who.clone()));
        }
        if c["version"].as_str().is_none_or(str::is_empty) {
            t.missing("component-version", Some(who.clone()));
        }
        if !prop("bsi:component:filename") {
            t.missing("component-filename", Some(who.clone()));
        }
        if !c["bom-ref"].as_str().is_some_and(|r| deps.contains(r)) {
            t.missing("component-dependencies", Some(who.clone()));
        }
        let spdx_licence =
            c["licenses"].as_array().into_iter().flatten().any(|l| {
                l["expression"].as_str().is_some() || l["license"]["id"].as_str().is_some()
            });
        if !spdx_licence {
            t.missing("component-licence", Some(who.clone()));
        }
        let sha512 = c["hashes"].as_array().into_iter().flatten().any(|h| {
            h["alg"] == "SHA-512" && h["content"].as_str().is_some_and(|x| x.len() == 128)
        });
        if !sha512 {
            t.missing("component-hash", Some(who.clone()));
        }
        for (p, f) in [
            ("bsi:component:executable", "component-executable"),
            ("bsi:component:archive", "component-archive"),
            ("bsi:component:structured", "component-structured"),
        ] {
            if !prop(p) {
                t.missing(f, Some(who.clone()));
            }
        }
    }
    Checked {
        standard: "TR-03183-2 v2.1.0",
        format: format!("CycloneDX {spec}"),
        components: comps.len(),
        gaps: t.into_gaps(),
    }
}

/// `Organization: Name (mail)` / `Person: ...` / `Tool: ...`: an email in
/// the parentheses.
fn spdx2_contact(s: &str) -> bool {
    s.rsplit_once('(')
        .and_then(|(_, m)| m.strip_suffix(')'))
        .is_some_and(is_email)
}

fn spdx2(doc: &Value) -> Checked {
    let spec = doc["spdxVersion"].as_str().unwrap_or("?").to_string();
    let mut t = Tally::default();
    if !version_at_least(&spec, (3, 0, 1)) {
        t.missing("format", None);
    }
    let creators = doc["creationInfo"]["creators"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !creators
        .iter()
        .filter_map(Value::as_str)
        .any(|c| !c.starts_with("Tool:") && spdx2_contact(c))
    {
        t.missing("sbom-creator", None);
    }
    if doc["creationInfo"]["created"]
        .as_str()
        .is_none_or(str::is_empty)
    {
        t.missing("sbom-timestamp", None);
    }
    // SPDX 2 has no way to say dependencies are complete
    t.missing("dependency-completeness", None);
    let related: BTreeSet<&str> = doc["relationships"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["relationshipType"] == "DEPENDS_ON")
        .filter_map(|r| r["spdxElementId"].as_str())
        .collect();
    let packages = doc["packages"].as_array().cloned().unwrap_or_default();
    for p in &packages {
        let who = format!(
            "{} {}",
            p["name"].as_str().unwrap_or("?"),
            p["versionInfo"].as_str().unwrap_or("")
        )
        .trim()
        .to_string();
        let contact = ["supplier", "originator"]
            .iter()
            .any(|k| p[*k].as_str().is_some_and(spdx2_contact));
        if !contact {
            t.missing("component-creator", Some(who.clone()));
        }
        if p["name"].as_str().is_none_or(str::is_empty) {
            t.missing("component-name", Some(who.clone()));
        }
        if p["versionInfo"].as_str().is_none_or(str::is_empty) {
            t.missing("component-version", Some(who.clone()));
        }
        if p["packageFileName"].as_str().is_none_or(str::is_empty) {
            t.missing("component-filename", Some(who.clone()));
        }
        if !p["SPDXID"].as_str().is_some_and(|i| related.contains(i)) {
            t.missing("component-dependencies", Some(who.clone()));
        }
        let lic = ["licenseConcluded", "licenseDeclared"].iter().any(|k| {
            p[*k]
                .as_str()
                .is_some_and(|l| l != "NOASSERTION" && l != "NONE" && !l.is_empty())
        });
        if !lic {
            t.missing("component-licence", Some(who.clone()));
        }
        let sha512 = p["checksums"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["algorithm"] == "SHA512");
        if !sha512 {
            t.missing("component-hash", Some(who.clone()));
        }
        for f in [
            "component-executable",
            "component-archive",
            "component-structured",
        ] {
            t.missing(f, Some(who.clone()));
        }
    }
    Checked {
        standard: "TR-03183-2 v2.1.0",
        format: spec,
        components: packages.len(),
        gaps: t.into_gaps(),
    }
}

fn spdx3(doc: &Value) -> Checked {
    let graph = doc["@graph"].as_array().cloned().unwrap_or_default();
    let ty = |e: &Value| e["type"].as_str().unwrap_or("").to_string();
    let by_id: BTreeMap<String, &Value> = graph
        .iter()
        .filter_map(|e| e["spdxId"].as_str().map(|i| (i.to_string(), e)))
        .collect();
    let agent_contact = |id: &str| {
        by_id.get(id).is_some_and(|a| {
            a["externalIdentifier"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|x| {
                    (x["externalIdentifierType"] == "email"
                        && x["identifier"].as_str().is_some_and(is_email))
                        || x["identifier"].as_str().is_some_and(is_url)
                })
        })
    };
    let creation = graph.iter().find(|e| ty(e) == "CreationInfo");
    let spec = creation
        .and_then(|c| c["specVersion"].as_str())
        .unwrap_or("?")
        .to_string();
    let mut t = Tally::default();
    if !version_at_least(&spec, (3, 0, 1)) {
        t.missing("format", None);
    }
    let creators: Vec<String> = creation
        .map(|c| {
            c["createdBy"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if !creators.iter().any(|c| agent_contact(c)) {
        t.missing("sbom-creator", None);
    }
    if creation
        .and_then(|c| c["created"].as_str())
        .is_none_or(str::is_empty)
    {
        t.missing("sbom-timestamp", None);
    }
    let rels: Vec<&Value> = graph.iter().filter(|e| ty(e) == "Relationship").collect();
    if !rels
        .iter()
        .any(|r| r["relationshipType"] == "dependsOn" && r["completeness"].is_string())
    {
        t.missing("dependency-completeness", None);
    }
    let licensed: BTreeSet<&str> = rels
        .iter()
        .filter(|r| {
            r["relationshipType"] == "hasDeclaredLicense"
                || r["relationshipType"] == "hasConcludedLicense"
        })
        .filter_map(|r| r["from"].as_str())
        .collect();
    let depends: BTreeSet<&str> = rels
        .iter()
        .filter(|r| r["relationshipType"] == "dependsOn")
        .filter_map(|r| r["from"].as_str())
        .collect();
    let packages: Vec<&Value> = graph
        .iter()
        .filter(|e| ty(e) == "software_Package")
        .filter(|e| {
            e["software_primaryPurpose"] != "container"
                && e["software_primaryPurpose"] != "operatingSystem"
        })
        .collect();
    for p in &packages {
        let id = p["spdxId"].as_str().unwrap_or("");
        let who = format!(
            "{} {}",
            p["name"].as_str().unwrap_or("?"),
            p["software_packageVersion"].as_str().unwrap_or("")
        )
        .trim()
        .to_string();
        let creator = ["suppliedBy", "originatedBy"].iter().any(|k| match &p[*k] {
            Value::String(s) => agent_contact(s),
            Value::Array(a) => a.iter().filter_map(Value::as_str).any(agent_contact),
            _ => false,
        });
        if !creator {
            t.missing("component-creator", Some(who.clone()));
        }
        if p["name"].as_str().is_none_or(str::is_empty) {
            t.missing("component-name", Some(who.clone()));
        }
        if p["software_packageVersion"]
            .as_str()
            .is_none_or(str::is_empty)
        {
            t.missing("component-version", Some(who.clone()));
        }
        t.missing("component-filename", Some(who.clone()));
        if !depends.contains(id) {
            t.missing("component-dependencies", Some(who.clone()));
        }
        if !licensed.contains(id) {
            t.missing("component-licence", Some(who.clone()));
        }
        let sha512 = p["verifiedUsing"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|h| h["algorithm"] == "sha512");
        if !sha512 {
            t.missing("component-hash", Some(who.clone()));
        }
        for f in [
            "component-executable",
            "component-archive",
            "component-structured",
        ] {
            t.missing(f, Some(who.clone()));
        }
    }
    Checked {
        standard: "TR-03183-2 v2.1.0",
        format: format!("SPDX-{spec}"),
        components: packages.len(),
        gaps: t.into_gaps(),
    }
}

/// The check as text: one line per gap.
pub fn table(c: &Checked) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{}: {} ({} components) — {}\n",
        c.standard,
        findings::text::clean(&c.format),
        c.components,
        if c.passed() {
            "all required fields present"
        } else {
            "required fields missing"
        }
    );
    for g in &c.gaps {
        if g.components == 0 {
            let _ = writeln!(out, "  missing {}: {}", g.field, g.requirement);
        } else {
            let _ = writeln!(
                out,
                "  missing {} in {} of {} components: {} (e.g. {})",
                g.field,
                g.components,
                c.components,
                g.requirement,
                findings::text::clean(&g.examples.join(", "))
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full_component() -> Value {
        json!({"type": "library", "bom-ref": "a", "name": "a", "version": "1",
            "supplier": {"name": "A", "contact": [{"email": "a@example.org"}]},
            "licenses": [{"license": {"id": "MIT"}}],
            "hashes": [{"alg": "SHA-512", "content": "0".repeat(128)}],
            "properties": [
                {"name": "bsi:component:filename", "value": "a-1.tar.gz"},
                {"name": "bsi:component:executable", "value": "non-executable"},
                {"name": "bsi:component:archive", "value": "archive"},
                {"name": "bsi:component:structured", "value": "structured"}]})
    }

    fn doc(component: Value) -> Value {
        json!({"bomFormat": "CycloneDX", "specVersion": "1.6",
            "metadata": {"timestamp": "2026-12-07T00:00:00Z", "manufacturer": {"name": "Us", "url": ["https://example.org"]}},
            "components": [component],
            "dependencies": [{"ref": "a", "dependsOn": []}],
            "compositions": [{"aggregate": "complete", "dependencies": ["a"]}]})
    }

    #[test]
    fn a_document_with_every_field_passes_and_each_missing_one_is_named() {
        let c = tr03183(&doc(full_component())).unwrap();
        assert!(c.passed(), "{c:#?}");
        let mut bare = full_component();
        bare.as_object_mut().unwrap().remove("hashes");
        bare["licenses"] = json!([{"license": {"name": "Custom licence"}}]);
        let mut d = doc(bare);
        d["specVersion"] = json!("1.5");
        d["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("manufacturer");
        let c = tr03183(&d).unwrap();
        let fields: Vec<&str> = c.gaps.iter().map(|g| g.field).collect();
        assert_eq!(
            fields,
            [
                "format",
                "sbom-creator",
                "component-licence",
                "component-hash"
            ]
        );
        assert_eq!(c.gaps[3].examples, ["a 1"]);
        assert!(table(&c).contains("missing component-hash in 1 of 1 components"));
    }

    #[test]
    fn spdx_2_fails_the_format_and_names_what_its_packages_lack() {
        let d = json!({"spdxVersion": "SPDX-2.3", "creationInfo": {"created": "2026-12-07T00:00:00Z",
            "creators": ["Tool: x", "Organization: Us (sbom@example.org)"]},
            "packages": [{"SPDXID": "SPDXRef-a", "name": "a", "versionInfo": "1", "supplier": "Organization: A (a@example.org)",
                "licenseDeclared": "MIT", "packageFileName": "a.deb",
                "checksums": [{"algorithm": "SHA512", "checksumValue": "00"}]}],
            "relationships": [{"spdxElementId": "SPDXRef-a", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "SPDXRef-b"}]});
        let c = tr03183(&d).unwrap();
        let fields: Vec<&str> = c.gaps.iter().map(|g| g.field).collect();
        assert_eq!(
            fields,
            [
                "format",
                "dependency-completeness",
                "component-executable",
                "component-archive",
                "component-structured"
            ]
        );
        assert!(matches!(
            tr03183(&json!({"a": 1})),
            Err(CheckError::Unknown)
        ));
    }
}
