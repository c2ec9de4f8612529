//! VEX out: what a scan decided about an image, as an OpenVEX v0.2.0
//! document (or CycloneDX VEX), from evidence only: an ignore rule or VEX
//! statement that suppressed a finding says `not_affected` (its
//! justification when it gives one, its reason as the impact statement),
//! a finding the baseline had and this image does not is `fixed`, and every
//! finding still counted is `under_investigation`. Statements name the
//! image by its `pkg:oci` purl and the packages as subcomponents, so
//! `scan --vex` (ours) and other tools honouring OpenVEX suppress exactly
//! the findings said not to apply.

use std::collections::BTreeMap;

use std::str::FromStr;

use serde_json::{Value, json};

use crate::Finding;

/// The image a VEX document speaks of.
#[derive(Debug, Clone)]
pub struct Product {
    /// How reports name it (`registry/repo:tag`, `oci:DIR:TAG`).
    pub name: String,
    /// Its manifest digest, when known.
    pub digest: Option<String>,
}

impl Product {
    /// `pkg:oci/NAME@sha256%3A...?repository_url=REGISTRY/REPO` (the
    /// package-url spec's OCI type), from a registry reference; other
    /// sources by their last path component.
    pub fn purl(&self) -> String {
        inventory::sbom::image_purl(&self.name, self.digest.as_deref())
    }
}

/// One statement before grouping: vulnerability, status, justification,
/// impact statement.
type Key = (String, Vec<String>, String, Option<String>, Option<String>);

fn key_of(f: &Finding) -> Key {
    let aliases: Vec<String> = f.aliases.iter().map(ToString::to_string).collect();
    match &f.suppressed {
        Some(s) => {
            let status = match s.status.as_deref() {
                Some("fixed") => "fixed",
                _ => "not_affected",
            };
            let statement = (status == "not_affected").then(|| s.reason.clone());
            (
                f.id.to_string(),
                aliases,
                status.to_string(),
                s.justification.clone(),
                statement,
            )
        }
        None => (
            f.id.to_string(),
            aliases,
            "under_investigation".into(),
            None,
            None,
        ),
    }
}

/// The evidence hardening gives: the source image's findings, each one in a
/// package the hardened image no longer has (no file of it kept, so no
/// record either) marked `not_affected` / `vulnerable_code_not_present`;
/// those in packages it kept stay as they are (`under_investigation` in the
/// document, unless a rule says otherwise).
pub fn hardened(before: &[Finding], after: &inventory::Inventory) -> Vec<Finding> {
    let kept: std::collections::BTreeSet<(&str, &str, &str)> = after
        .packages
        .iter()
        .map(|p| (p.kind.as_str(), p.name.as_str(), p.version.as_str()))
        .collect();
    before
        .iter()
        .map(|f| {
            let mut f = f.clone();
            let key = (
                f.package.kind.as_str(),
                f.package.name.as_str(),
                f.package.version.as_str(),
            );
            if f.suppressed.is_none() && !kept.contains(&key) {
                f.suppressed = Some(crate::Suppression {
                    kind: "harden".into(),
                    file: String::new(),
                    reason: format!(
                        "no file of {} {} is in the hardened image: safeimage harden left the package out",
                        f.package.name, f.package.version
                    ),
                    status: Some("not_affected".into()),
                    justification: Some("vulnerable_code_not_present".into()),
                    expires: None,
                });
            }
            f
        })
        .collect()
}

/// The OpenVEX v0.2.0 document.
pub fn openvex(
    findings: &[Finding],
    fixed: &[&Finding],
    product: &Product,
    created: &str,
    tooling: &str,
) -> Value {
    let mut groups: BTreeMap<Key, Vec<String>> = BTreeMap::new();
    for f in findings {
        groups
            .entry(key_of(f))
            .or_default()
            .push(f.package.purl.clone());
    }
    for f in fixed {
        let aliases = f.aliases.iter().map(ToString::to_string).collect();
        groups
            .entry((f.id.to_string(), aliases, "fixed".into(), None, None))
            .or_default()
            .push(f.package.purl.clone());
    }
    let image = product.purl();
    let statements: Vec<Value> = groups
        .into_iter()
        .map(
            |((id, aliases, status, justification, impact), mut purls)| {
                purls.retain(|p| !p.is_empty());
                purls.sort();
                purls.dedup();
                let mut vuln = json!({ "name": id });
                if !aliases.is_empty() {
                    vuln["aliases"] = json!(aliases);
                }
                let mut prod = json!({ "@id": image });
                if !purls.is_empty() {
                    prod["subcomponents"] =
                        json!(purls.iter().map(|p| json!({"@id": p})).collect::<Vec<_>>());
                }
                let mut s = json!({
                    "vulnerability": vuln,
                    "products": [prod],
                    "status": status,
                });
                if let Some(j) = justification {
                    s["justification"] = json!(j);
                }
                if let Some(i) = impact.filter(|i| !i.trim().is_empty()) {
                    s["impact_statement"] = json!(i);
                } else if status == "not_affected" && s.get("justification").is_none() {
                    s["impact_statement"] = json!("suppressed by an ignore rule without a reason");
                }
                s
            },
        )
        .collect();
    let body = serde_json::to_vec(&statements).unwrap_or_default();
    json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": format!("urn:uuid:{}", inventory::sbom::uuid_of(&[image.as_bytes(), &body].concat())),
        "author": "safeimage",
        "timestamp": created,
        "version": 1,
        "tooling": tooling,
        "statements": statements,
    })
}

/// CycloneDX's analysis justification for an OpenVEX one (CycloneDX has no
/// "component not present": the code is not present either).
fn cdx_justification(openvex: &str) -> &'static str {
    match openvex {
        "vulnerable_code_not_in_execute_path" => "code_not_reachable",
        "vulnerable_code_cannot_be_controlled_by_adversary" => "requires_environment",
        "inline_mitigations_already_exist" => "protected_by_mitigating_control",
        _ => "code_not_present",
    }
}

/// The same statements as a CycloneDX 1.6 VEX document: the image and the
/// packages concerned as components, one vulnerability per advisory with
/// its analysis (`not_affected`, `resolved`, `in_triage`) and the packages
/// it affects by bom-ref.
pub fn cyclonedx(
    findings: &[Finding],
    fixed: &[&Finding],
    product: &Product,
    created: &str,
    tool_version: &str,
) -> Value {
    let open = openvex(findings, fixed, product, created, "safeimage");
    let mut purls: Vec<String> = Vec::new();
    let mut vulns = Vec::new();
    for s in open["statements"].as_array().into_iter().flatten() {
        let refs: Vec<String> = s["products"][0]["subcomponents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["@id"].as_str().map(str::to_string))
            .collect();
        for r in &refs {
            if !purls.contains(r) {
                purls.push(r.clone());
            }
        }
        let status = s["status"].as_str().unwrap_or_default();
        let mut analysis = json!({
            "state": match status {
                "not_affected" => "not_affected",
                "fixed" => "resolved",
                _ => "in_triage",
            }
        });
        if status == "not_affected" {
            analysis["justification"] = json!(cdx_justification(
                s["justification"].as_str().unwrap_or_default()
            ));
        }
        if let Some(d) = s["impact_statement"].as_str() {
            analysis["detail"] = json!(d);
        }
        let mut v = json!({
            "bom-ref": format!("vex-{}", vulns.len()),
            "id": s["vulnerability"]["name"],
            "analysis": analysis,
            "affects": refs.iter().map(|r| json!({"ref": r})).collect::<Vec<_>>(),
        });
        if let Some(a) = s["vulnerability"]["aliases"].as_array() {
            v["references"] = json!(
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|id| json!({"id": id, "source": {"name": source_of(id)}}))
                    .collect::<Vec<_>>()
            );
        }
        vulns.push(v);
    }
    purls.sort();
    let components: Vec<Value> = purls
        .iter()
        .map(|p| {
            let name = packageurl::PackageUrl::from_str(p)
                .map(|u| u.name().to_string())
                .unwrap_or_else(|_| p.clone());
            json!({"type": "library", "bom-ref": p, "name": name, "purl": p})
        })
        .collect();
    let mut image = json!({"type": "container", "bom-ref": product.purl(), "name": product.name});
    if let Some(d) = &product.digest {
        image["version"] = json!(d);
    }
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": open["@id"],
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {"components": [{"type": "application", "name": "safeimage", "version": tool_version}]},
            "component": image,
        },
        "components": components,
        "vulnerabilities": vulns,
    })
}

fn source_of(id: &str) -> &'static str {
    if id.starts_with("CVE-") {
        "NVD"
    } else if id.starts_with("GHSA-") {
        "GitHub"
    } else if id.starts_with("DSA-") || id.starts_with("DLA-") {
        "Debian"
    } else {
        "OSV"
    }
}

#[cfg(test)]
mod tests;
