//! GitLab's container-scanning report (`scan --format gitlab`): the JSON a
//! GitLab CI job hands over as `artifacts:reports:container_scanning`, which
//! GitLab shows in merge requests, the pipeline's security tab and the
//! vulnerability report. Shaped after GitLab's security-report-schemas
//! `container-scanning-report-format.json`, version [`SCHEMA_VERSION`];
//! the tests validate every report against that schema file.
//!
//! One entry per live finding (suppressed findings are left out: GitLab
//! records its own dismissals). Each entry's `id` is UUID-shaped and stable
//! for the same advisory, package and version, so GitLab tracks it from one
//! pipeline to the next.

use std::sync::LazyLock;

use regex::Regex;
use scan::Finding;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use vulndb::Severity;

use crate::vulns::ScanReport;

/// The schema version the report declares and is validated against.
pub const SCHEMA_VERSION: &str = "15.2.4";

/// The longest `name` the schema allows.
const NAME_MAX: usize = 255;

/// Renders `r` as a GitLab container-scanning report; `started` is when the
/// scan began (RFC 3339, UTC), `r.created` when it ended.
pub fn container_scanning(r: &ScanReport<'_>, started: &str) -> Value {
    let os = r
        .target
        .distro
        .clone()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| "Unknown".to_string());
    let image = if r.target.name.trim().is_empty() {
        "unknown"
    } else {
        r.target.name.as_str()
    };
    let vulnerabilities: Vec<Value> = r
        .findings
        .iter()
        .filter(|f| f.suppressed.is_none())
        .map(|f| vulnerability(f, image, &os))
        .collect();
    let tool = json!({
        "id": "safeimage",
        "name": "safeimage",
        "version": r.tool.version,
        "vendor": {"name": "safeimage"},
    });
    json!({
        "version": SCHEMA_VERSION,
        "scan": {
            "analyzer": tool,
            "scanner": tool,
            "type": "container_scanning",
            "status": "success",
            "start_time": gitlab_time(started),
            "end_time": gitlab_time(&r.created),
        },
        "vulnerabilities": vulnerabilities,
    })
}

fn vulnerability(f: &Finding, image: &str, os: &str) -> Value {
    let name = if f.summary.trim().is_empty() {
        f.id.to_string()
    } else {
        truncate(f.summary.trim(), NAME_MAX)
    };
    let mut description = if f.summary.trim().is_empty() {
        format!("{} in {} {}", f.id, f.package.name, f.package.version)
    } else {
        f.summary.trim().to_string()
    };
    if !f.matched.is_empty() {
        description.push_str(&format!("\n\nMatched: {}", f.matched));
    }
    let solution = match &f.fixed_version {
        Some(v) => format!("Upgrade {} to {v} or later.", f.package.name),
        None => format!("No fixed version yet ({}).", f.state.as_str()),
    };
    let identifiers: Vec<Value> = std::iter::once(f.id.as_str())
        .chain(f.aliases.iter().map(|a| a.as_str()))
        .chain(f.advisories.iter().map(|a| a.as_str()))
        .fold(Vec::<&str>::new(), |mut seen, id| {
            if !id.is_empty() && !seen.contains(&id) {
                seen.push(id);
            }
            seen
        })
        .into_iter()
        .map(identifier)
        .collect();
    let cvss: Vec<Value> = f
        .cvss
        .iter()
        .filter(|s| vector_allowed(&s.version, &s.vector))
        .take(10)
        .map(|s| json!({"vendor": "unknown", "vector": s.vector}))
        .collect();
    let links: Vec<Value> = f
        .references
        .iter()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(|u| json!({"url": u}))
        .collect();
    let mut v = json!({
        "id": stable_id(f),
        "name": name,
        "description": truncate(&description, 1_048_576),
        "severity": severity(f.severity),
        "solution": truncate(&solution, 7000),
        "identifiers": identifiers,
        "location": {
            "dependency": {
                "package": {"name": f.package.name},
                "version": f.package.version,
            },
            "operating_system": os,
            "image": image,
        },
    });
    if !cvss.is_empty() {
        v["cvss_vectors"] = json!(cvss);
    }
    if !links.is_empty() {
        v["links"] = json!(links);
    }
    v
}

/// GitLab's severity words.
fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Unknown => "Unknown",
    }
}

/// An identifier: its type from the id's shape, a page about it.
fn identifier(id: &str) -> Value {
    let (kind, url) = if id.starts_with("CVE-") {
        ("cve", format!("https://nvd.nist.gov/vuln/detail/{id}"))
    } else if id.starts_with("GHSA-") {
        ("ghsa", format!("https://github.com/advisories/{id}"))
    } else {
        let prefix = id.split('-').next().unwrap_or(id).to_ascii_lowercase();
        let kind = if prefix.is_empty() {
            "advisory".to_string()
        } else {
            prefix
        };
        return json!({
            "type": kind,
            "name": id,
            "value": id,
            "url": format!("https://osv.dev/vulnerability/{id}"),
        });
    };
    json!({"type": kind, "name": id, "value": id, "url": url})
}

/// A UUID-shaped id (version 8, RFC 9562's custom layout) from SHA-256 of
/// the advisory, package type, name and version: the same finding keeps the
/// same id across scans.
fn stable_id(f: &Finding) -> String {
    let mut h = Sha256::new();
    for part in [
        f.id.as_str(),
        f.package.kind.as_str(),
        f.package.name.as_str(),
        f.package.version.as_str(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let mut b: [u8; 16] = h.finalize()[..16].try_into().unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `2026-11-30T12:00:00Z` → `2026-11-30T12:00:00` (the schema's form, UTC).
fn gitlab_time(rfc3339: &str) -> String {
    rfc3339.get(..19).unwrap_or(rfc3339).to_string()
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

// The vector shapes GitLab's schema accepts (its `cvss_vectors` patterns);
// anything else is left out rather than making the report invalid.
static V2: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^((AV:[NAL]|AC:[LMH]|Au:[MSN]|[CIA]:[NPC]|E:(U|POC|F|H|ND)|RL:(OF|TF|W|U|ND)|RC:(UC|UR|C|ND)|CDP:(N|L|LM|MH|H|ND)|TD:(N|L|M|H|ND)|[CIA]R:(L|M|H|ND))/)*(AV:[NAL]|AC:[LMH]|Au:[MSN]|[CIA]:[NPC]|E:(U|POC|F|H|ND)|RL:(OF|TF|W|U|ND)|RC:(UC|UR|C|ND)|CDP:(N|L|LM|MH|H|ND)|TD:(N|L|M|H|ND)|[CIA]R:(L|M|H|ND))$")
        .expect("valid pattern")
});
static V3: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^CVSS:3[.][01]/((AV:[NALP]|AC:[LH]|PR:[NLH]|UI:[NR]|S:[UC]|[CIA]:[NLH]|E:[XUPFH]|RL:[XOTWU]|RC:[XURC]|[CIA]R:[XLMH]|MAV:[XNALP]|MAC:[XLH]|MPR:[XNLH]|MUI:[XNR]|MS:[XUC]|M[CIA]:[XNLH])/)*(AV:[NALP]|AC:[LH]|PR:[NLH]|UI:[NR]|S:[UC]|[CIA]:[NLH]|E:[XUPFH]|RL:[XOTWU]|RC:[XURC]|[CIA]R:[XLMH]|MAV:[XNALP]|MAC:[XLH]|MPR:[XNLH]|MUI:[XNR]|MS:[XUC]|M[CIA]:[XNLH])$")
        .expect("valid pattern")
});
static V4: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^CVSS:4[.]0/AV:[NALP]/AC:[LH]/AT:[NP]/PR:[NLH]/UI:[NPA]/VC:[HLN]/VI:[HLN]/VA:[HLN]/SC:[HLN]/SI:[HLN]/SA:[HLN](/E:[XAPU])?(/CR:[XHML])?(/IR:[XHML])?(/AR:[XHML])?(/MAV:[XNALP])?(/MAC:[XLH])?(/MAT:[XNP])?(/MPR:[XNLH])?(/MUI:[XNPA])?(/MVC:[XNLH])?(/MVI:[XNLH])?(/MVA:[XNLH])?(/MSC:[XNLH])?(/MSI:[XNLHS])?(/MSA:[XNLHS])?(/S:[XNP])?(/AU:[XNY])?(/R:[XAUI])?(/V:[XDC])?(/RE:[XLMH])?(/U:(X|Clear|Green|Amber|Red))?$")
        .expect("valid pattern")
});

fn vector_allowed(version: &str, vector: &str) -> bool {
    let len = vector.len();
    match version {
        "2.0" => (16..=128).contains(&len) && V2.is_match(vector),
        "3.0" | "3.1" => (32..=128).contains(&len) && V3.is_match(vector),
        "4.0" => (32..=256).contains(&len) && V4.is_match(vector),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_take_the_schema_form() {
        assert_eq!(gitlab_time("2026-11-30T12:01:02Z"), "2026-11-30T12:01:02");
    }

    #[test]
    fn vectors_outside_the_schema_are_left_out() {
        assert!(vector_allowed(
            "3.1",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
        ));
        assert!(vector_allowed("2.0", "AV:N/AC:L/Au:N/C:P/I:P/A:P"));
        assert!(!vector_allowed(
            "3.1",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:Q"
        ));
        assert!(!vector_allowed(
            "2.0",
            "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P"
        ));
        assert!(vector_allowed(
            "4.0",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
        ));
    }

    #[test]
    fn identifiers_are_typed_by_shape() {
        assert_eq!(identifier("CVE-2024-1")["type"], "cve");
        assert_eq!(identifier("GHSA-aaaa-bbbb-cccc")["type"], "ghsa");
        assert_eq!(identifier("PYSEC-2021-1")["type"], "pysec");
        assert_eq!(
            identifier("DEBIAN-CVE-2026-1")["url"],
            "https://osv.dev/vulnerability/DEBIAN-CVE-2026-1"
        );
    }

    #[test]
    fn long_names_are_cut_to_the_limit() {
        let s = "x".repeat(300);
        assert_eq!(truncate(&s, NAME_MAX).chars().count(), NAME_MAX);
        assert_eq!(truncate("short", NAME_MAX), "short");
    }
}
