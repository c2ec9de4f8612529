//! Suppression: our ignore file (`.safeimage-ignore.yaml`: id, optional
//! package, reason, optional expiry), `.trivyignore` lines (`ID` and
//! optional `exp:YYYY-MM-DD`), and OpenVEX documents (`not_affected` and
//! `fixed` statements suppress; the justification travels with the finding).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use crate::{Finding, Suppression};

/// Errors reading suppression files.
#[derive(Debug, thiserror::Error)]
pub enum SuppressError {
    /// Unreadable.
    #[error("{}: {source}", path.display())]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Bad content, with position when known.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: Option<usize>,
        /// What.
        message: String,
    },
}

/// One ignore rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Vulnerability id (any alias matches).
    pub id: String,
    /// Package name, source name or purl prefix; `None` = any package.
    pub package: Option<String>,
    /// Why.
    pub reason: String,
    /// `YYYY-MM-DD`; the rule stops applying after this day.
    pub expires: Option<String>,
    /// An OpenVEX justification (`vulnerable_code_not_present`...), when
    /// the rule gives one: `scan --vex-out` states it.
    pub justification: Option<String>,
    /// `ignore-file` or `trivyignore`.
    pub kind: &'static str,
    /// Where it came from (`file:line`).
    pub origin: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IgnoreFile {
    #[serde(default)]
    ignore: Vec<IgnoreEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IgnoreEntry {
    id: String,
    #[serde(default)]
    package: Option<String>,
    reason: String,
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    justification: Option<String>,
}

/// OpenVEX's justifications for `not_affected` (VEX status justifications
/// of CISA's minimum requirements).
pub const JUSTIFICATIONS: &[&str] = &[
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && s[..4].parse::<u32>().is_ok()
        && s[5..7].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
        && s[8..].parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
}

/// Read `.safeimage-ignore.yaml`.
pub fn read_ignore_file(path: &Path) -> Result<Vec<Rule>, SuppressError> {
    let text = std::fs::read_to_string(path).map_err(|source| SuppressError::Io {
        path: path.into(),
        source,
    })?;
    let f: IgnoreFile = serde_yaml_ng::from_str(&text).map_err(|e| SuppressError::Invalid {
        path: path.into(),
        line: e.location().map(|l| l.line()),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (i, e) in f.ignore.into_iter().enumerate() {
        if let Some(x) = &e.expires
            && !valid_date(x)
        {
            return Err(SuppressError::Invalid {
                path: path.into(),
                line: None,
                message: format!("ignore[{i}] ({}): expires `{x}` is not YYYY-MM-DD", e.id),
            });
        }
        if let Some(j) = &e.justification
            && !JUSTIFICATIONS.contains(&j.as_str())
        {
            return Err(SuppressError::Invalid {
                path: path.into(),
                line: None,
                message: format!(
                    "ignore[{i}] ({}): justification `{j}` is not one of {}",
                    e.id,
                    JUSTIFICATIONS.join(", ")
                ),
            });
        }
        if e.reason.trim().is_empty() {
            return Err(SuppressError::Invalid {
                path: path.into(),
                line: None,
                message: format!("ignore[{i}] ({}): a reason is required", e.id),
            });
        }
        out.push(Rule {
            id: e.id,
            package: e.package,
            reason: e.reason,
            expires: e.expires,
            justification: e.justification,
            kind: "ignore-file",
            origin: format!("{} ignore[{i}]", path.display()),
        });
    }
    Ok(out)
}

/// Read an ignore file of either kind: `.yaml`/`.yml` is our format,
/// anything else is read as `.trivyignore` lines.
pub fn read_rules(path: &Path) -> Result<Vec<Rule>, SuppressError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(".yaml") || name.ends_with(".yml") {
        read_ignore_file(path)
    } else {
        read_trivyignore(path)
    }
}

/// Read a `.trivyignore` file.
pub fn read_trivyignore(path: &Path) -> Result<Vec<Rule>, SuppressError> {
    let text = std::fs::read_to_string(path).map_err(|source| SuppressError::Io {
        path: path.into(),
        source,
    })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        let id = parts.next().unwrap_or_default().to_string();
        let mut expires = None;
        for p in parts {
            if let Some(d) = p.strip_prefix("exp:") {
                if !valid_date(d) {
                    return Err(SuppressError::Invalid {
                        path: path.into(),
                        line: Some(n + 1),
                        message: format!("`{p}` is not exp:YYYY-MM-DD"),
                    });
                }
                expires = Some(d.to_string());
            }
        }
        out.push(Rule {
            id,
            package: None,
            reason: "listed in .trivyignore".into(),
            expires,
            justification: None,
            kind: "trivyignore",
            origin: format!("{}:{}", path.display(), n + 1),
        });
    }
    Ok(out)
}

fn rule_matches(r: &Rule, f: &Finding) -> bool {
    if !f.ids().any(|i| i.eq_ignore_ascii_case(&r.id)) {
        return false;
    }
    match &r.package {
        None => true,
        Some(p) => {
            f.package.name == *p
                || f.package.source_name.as_deref() == Some(p.as_str())
                || (p.starts_with("pkg:") && f.package.purl.starts_with(p.as_str()))
        }
    }
}

/// Apply ignore rules; `today` is `YYYY-MM-DD`. Returns the expired rules
/// that would have matched (reported, not applied).
pub fn apply_rules(findings: &mut [Finding], rules: &[Rule], today: &str) -> Vec<String> {
    let mut expired = Vec::new();
    for f in findings.iter_mut().filter(|f| f.suppressed.is_none()) {
        for r in rules {
            if !rule_matches(r, f) {
                continue;
            }
            if let Some(e) = &r.expires
                && e.as_str() < today
            {
                expired.push(format!(
                    "{}: the rule for {} expired on {e}; {} in {} is reported again",
                    r.origin, r.id, f.id, f.package.name
                ));
                continue;
            }
            f.suppressed = Some(Suppression {
                kind: r.kind.into(),
                file: r.origin.clone(),
                reason: r.reason.clone(),
                status: r.justification.as_ref().map(|_| "not_affected".to_string()),
                justification: r.justification.clone(),
                expires: r.expires.clone(),
            });
            break;
        }
    }
    expired.sort();
    expired.dedup();
    expired
}

/// One OpenVEX statement, reduced to what matching needs.
#[derive(Debug, Clone)]
pub struct VexStatement {
    /// Vulnerability name (and aliases).
    pub ids: Vec<String>,
    /// Product ids (purls or names).
    pub products: Vec<String>,
    /// Subcomponent purls (empty = the whole product).
    pub subcomponents: Vec<String>,
    /// `not_affected`, `affected`, `fixed`, `under_investigation`.
    pub status: String,
    /// Justification and impact statement.
    pub reason: String,
    /// The justification alone, when the statement gives one.
    pub justification: Option<String>,
    /// The document.
    pub origin: String,
}

fn str_or_id(v: &serde_json::Value) -> Option<String> {
    v.as_str()
        .map(str::to_string)
        .or_else(|| v.get("@id").and_then(|x| x.as_str()).map(str::to_string))
}

/// Read an OpenVEX document (v0.0.1 and v0.2.0 shapes).
pub fn read_openvex(path: &Path) -> Result<Vec<VexStatement>, SuppressError> {
    let text = std::fs::read_to_string(path).map_err(|source| SuppressError::Io {
        path: path.into(),
        source,
    })?;
    let invalid = |line: Option<usize>, message: String| SuppressError::Invalid {
        path: path.into(),
        line,
        message,
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| invalid(Some(e.line()), e.to_string()))?;
    let ctx = v["@context"].as_str().unwrap_or("");
    if !ctx.starts_with("https://openvex.dev/ns") {
        return Err(invalid(
            None,
            format!("not an OpenVEX document (@context `{ctx}`)"),
        ));
    }
    let mut out = Vec::new();
    for (i, s) in v["statements"].as_array().into_iter().flatten().enumerate() {
        let vuln = &s["vulnerability"];
        let mut ids: Vec<String> = Vec::new();
        if let Some(n) = vuln.as_str().or(vuln["name"].as_str()) {
            ids.push(n.to_string());
        }
        for a in vuln["aliases"].as_array().into_iter().flatten() {
            ids.extend(a.as_str().map(str::to_string));
        }
        if ids.is_empty() {
            return Err(invalid(
                None,
                format!("statements[{i}]: no vulnerability name"),
            ));
        }
        let status = s["status"].as_str().unwrap_or("").to_string();
        if !["not_affected", "affected", "fixed", "under_investigation"].contains(&status.as_str())
        {
            return Err(invalid(
                None,
                format!("statements[{i}]: unknown status `{status}`"),
            ));
        }
        let mut products = Vec::new();
        let mut subs = Vec::new();
        for p in s["products"].as_array().into_iter().flatten() {
            products.extend(str_or_id(p));
            for sc in p["subcomponents"].as_array().into_iter().flatten() {
                subs.extend(str_or_id(sc));
            }
        }
        let reason = [
            s["justification"].as_str(),
            s["impact_statement"].as_str(),
            s["status_notes"].as_str(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(": ");
        out.push(VexStatement {
            ids,
            products,
            subcomponents: subs,
            status,
            reason,
            justification: s["justification"].as_str().map(str::to_string),
            origin: format!("{} statements[{i}]", path.display()),
        });
    }
    Ok(out)
}

/// Compare purls by type, namespace, name and (when the pattern has one)
/// version; qualifiers are ignored.
fn purl_matches(pattern: &str, purl: &str) -> bool {
    let (Ok(p), Ok(q)) = (
        packageurl::PackageUrl::from_str(pattern),
        packageurl::PackageUrl::from_str(purl),
    ) else {
        return false;
    };
    p.ty() == q.ty()
        && p.namespace() == q.namespace()
        && p.name() == q.name()
        && p.version().is_none_or(|v| Some(v) == q.version())
}

/// Whether a product id names the scanned image (an `oci` purl whose digest,
/// if given, is the image's; or the image's name).
fn product_is_image(product: &str, image_name: &str, image_digest: Option<&str>) -> bool {
    if let Ok(p) = packageurl::PackageUrl::from_str(product) {
        if p.ty() != "oci" {
            return false;
        }
        return match (p.version(), image_digest) {
            (Some(v), Some(d)) => v == d || v.replace("%3A", ":") == d,
            (Some(_), None) => false,
            (None, _) => true,
        };
    }
    let base = |s: &str| s.split(['@']).next().unwrap_or(s).to_string();
    base(product) == base(image_name) || image_digest.is_some_and(|d| product.ends_with(d))
}

/// Apply VEX statements; the last applicable statement for a finding wins.
pub fn apply_vex(
    findings: &mut [Finding],
    statements: &[VexStatement],
    image_name: &str,
    image_digest: Option<&str>,
) {
    for f in findings.iter_mut().filter(|f| f.suppressed.is_none()) {
        let mut last: Option<&VexStatement> = None;
        for s in statements {
            if !s
                .ids
                .iter()
                .any(|i| f.ids().any(|x| x.eq_ignore_ascii_case(i)))
            {
                continue;
            }
            let applies = if s.subcomponents.is_empty() {
                s.products.iter().any(|p| {
                    purl_matches(p, &f.package.purl)
                        || product_is_image(p, image_name, image_digest)
                })
            } else {
                s.products
                    .iter()
                    .any(|p| product_is_image(p, image_name, image_digest))
                    && s.subcomponents
                        .iter()
                        .any(|c| purl_matches(c, &f.package.purl))
            };
            if applies {
                last = Some(s);
            }
        }
        if let Some(s) = last
            && (s.status == "not_affected" || s.status == "fixed")
        {
            f.suppressed = Some(Suppression {
                kind: "vex".into(),
                file: s.origin.clone(),
                reason: s.reason.clone(),
                status: Some(s.status.clone()),
                justification: s.justification.clone(),
                expires: None,
            });
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{FixState, PackageRef};
    use vulndb::Severity;

    pub(crate) fn finding(id: &str, aliases: &[&str], pkg: &str, purl: &str) -> Finding {
        Finding {
            id: id.parse().unwrap(),
            aliases: aliases.iter().map(|s| s.parse().unwrap()).collect(),
            advisories: vec![],
            package: PackageRef {
                kind: "deb".into(),
                name: pkg.into(),
                version: "1".into(),
                purl: purl.into(),
                source_name: Some("openssl".into()),
                source_version: None,
                locations: vec![],
            },
            ecosystem: "Debian:12".into(),
            matched: String::new(),
            fixed_version: None,
            state: FixState::NotFixed,
            severity: Severity::High,
            severity_source: "debian".parse().unwrap(),
            severity_detail: String::new(),
            ratings: vec![],
            cvss: vec![],
            summary: String::new(),
            references: vec![],
            kev: None,
            epss: None,
            due: None,
            suppressed: None,
            origin: None,
        }
    }

    #[test]
    fn ignore_file_rules_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".safeimage-ignore.yaml");
        std::fs::write(
            &p,
            "ignore:\n  - id: CVE-1\n    package: openssl\n    reason: not reachable\n    expires: 2026-12-31\n  - id: GHSA-2\n    reason: old\n    expires: 2020-01-01\n",
        )
        .unwrap();
        let rules = read_ignore_file(&p).unwrap();
        let mut f = vec![
            finding("CVE-1", &[], "libssl3", "pkg:deb/debian/libssl3@1"),
            finding("CVE-2", &["GHSA-2"], "libssl3", "pkg:deb/debian/libssl3@1"),
        ];
        let expired = apply_rules(&mut f, &rules, "2026-11-23");
        assert_eq!(f[0].suppressed.as_ref().unwrap().reason, "not reachable");
        assert!(f[1].suppressed.is_none());
        assert_eq!(expired.len(), 1);
        assert!(expired[0].contains("expired on 2020-01-01"));

        std::fs::write(&p, "ignore:\n  - id: CVE-1\n    reson: typo\n").unwrap();
        let e = read_ignore_file(&p).unwrap_err().to_string();
        assert!(e.contains(":3") || e.contains("reson"), "{e}");

        let t = dir.path().join(".trivyignore");
        std::fs::write(&t, "# comment\nCVE-2\nCVE-3 exp:2020-13-01\n").unwrap();
        let e = read_trivyignore(&t).unwrap_err().to_string();
        assert!(e.contains(".trivyignore:3"), "{e}");
        std::fs::write(&t, "# comment\nCVE-2 exp:2027-01-01\n").unwrap();
        let rules = read_trivyignore(&t).unwrap();
        apply_rules(&mut f, &rules, "2026-11-23");
        assert_eq!(f[1].suppressed.as_ref().unwrap().kind, "trivyignore");
    }

    #[test]
    fn openvex_statements() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vex.json");
        std::fs::write(&p, serde_json::json!({
            "@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a", "timestamp": "2026-01-01T00:00:00Z", "version": 1,
            "statements": [
                {"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:oci/app", "subcomponents": [{"@id": "pkg:deb/debian/libssl3"}]}],
                 "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
                {"vulnerability": {"name": "CVE-2"}, "products": [{"@id": "pkg:deb/debian/libssl3@1"}], "status": "under_investigation"},
                {"vulnerability": {"name": "CVE-3"}, "products": [{"@id": "pkg:oci/app@sha256:00"}], "status": "fixed"}
            ]}).to_string()).unwrap();
        let st = read_openvex(&p).unwrap();
        let mut f = vec![
            finding(
                "CVE-1",
                &[],
                "libssl3",
                "pkg:deb/debian/libssl3@1?arch=amd64",
            ),
            finding("CVE-2", &[], "libssl3", "pkg:deb/debian/libssl3@1"),
            finding("CVE-3", &[], "libssl3", "pkg:deb/debian/libssl3@1"),
            finding("CVE-1", &[], "openssl", "pkg:deb/debian/openssl@1"),
        ];
        apply_vex(&mut f, &st, "app", Some("sha256:11"));
        let s = f[0].suppressed.as_ref().unwrap();
        assert_eq!(s.status.as_deref(), Some("not_affected"));
        assert_eq!(s.reason, "vulnerable_code_not_in_execute_path");
        assert!(
            f[1].suppressed.is_none(),
            "under_investigation does not suppress"
        );
        assert!(f[2].suppressed.is_none(), "another image digest");
        assert!(f[3].suppressed.is_none(), "another subcomponent");
        std::fs::write(&p, r#"{"@context": "https://example.com"}"#).unwrap();
        assert!(
            read_openvex(&p)
                .unwrap_err()
                .to_string()
                .contains("not an OpenVEX")
        );
    }
}
