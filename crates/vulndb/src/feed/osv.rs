//! OSV records (schema 1.x): the fields matching needs, read tolerantly
//! (unknown fields ignored), with vendor ratings taken from where each
//! producer puts them: GHSA `database_specific.severity`, Debian `urgency`
//! (top-level `database_specific` or per package `ecosystem_specific`).

use serde::Deserialize;
use serde_json::Value;

use super::{FeedError, Record};
use crate::model::{
    Advisory, AdvisoryId, Affected, CvssVector, Event, Range, RangeKind, Rating, Severity, Status,
};

/// Longest `details` text kept.
const MAX_DETAILS: usize = 4096;

#[derive(Deserialize)]
struct Osv {
    id: String,
    #[serde(default)]
    modified: Option<String>,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    upstream: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
    #[serde(default)]
    affected: Vec<OsvAffected>,
    #[serde(default)]
    references: Vec<OsvReference>,
    #[serde(default)]
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct OsvReference {
    #[serde(default)]
    url: String,
}

#[derive(Deserialize)]
struct OsvPackage {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct OsvAffected {
    package: Option<OsvPackage>,
    #[serde(default)]
    ranges: Vec<OsvRange>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
    #[serde(default)]
    ecosystem_specific: Option<Value>,
    #[serde(default)]
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<Value>,
}

/// The rating source implied by an advisory id prefix.
pub fn source_of(id: &str) -> String {
    let prefix = id.split('-').next().unwrap_or(id).to_ascii_lowercase();
    match prefix.as_str() {
        "debian" | "dsa" | "dla" | "dtsa" => "debian".into(),
        "ghsa" => "ghsa".into(),
        "pysec" => "pypa".into(),
        "alpine" => "alpine".into(),
        "ubuntu" | "usn" => "ubuntu".into(),
        "rustsec" => "rustsec".into(),
        "go" => "go".into(),
        other => other.into(),
    }
}

/// A Debian urgency word as a rating and status.
pub fn debian_urgency(word: &str) -> (Option<Rating>, Status) {
    let w = word
        .trim()
        .trim_end_matches('*')
        .trim()
        .to_ascii_lowercase();
    let (sev, status) = match w.as_str() {
        "unimportant" => (Some(Severity::Low), Status::Unimportant),
        "low" => (Some(Severity::Low), Status::Affected),
        "medium" => (Some(Severity::Medium), Status::Affected),
        "high" => (Some(Severity::High), Status::Affected),
        "end-of-life" => (None, Status::EndOfLife),
        _ => (None, Status::Affected),
    };
    (
        sev.map(|severity| Rating {
            source: "debian".into(),
            severity,
            label: Some(w.clone()),
        }),
        status,
    )
}

fn urgency(v: &Option<Value>) -> Option<&str> {
    v.as_ref()?.get("urgency")?.as_str()
}

fn event(v: &Value) -> Option<Event> {
    let m = v.as_object()?;
    let (k, x) = m.iter().next()?;
    let x = x.as_str()?.to_string();
    Some(match k.as_str() {
        "introduced" => Event::Introduced(x),
        "fixed" => Event::Fixed(x),
        "last_affected" => Event::LastAffected(x),
        "limit" => Event::Limit(x),
        _ => return None,
    })
}

fn cvss(list: &[OsvSeverity]) -> Vec<CvssVector> {
    list.iter()
        .filter(|s| s.kind.starts_with("CVSS_"))
        .map(|s| CvssVector {
            kind: s.kind.clone(),
            vector: s.score.clone(),
            source: None,
        })
        .collect()
}

/// Parse one OSV record. Withdrawn records give an advisory with no
/// affected packages (so they never match).
pub fn from_value(v: Value) -> Result<Record, FeedError> {
    let o: Osv = serde_json::from_value(v)?;
    if o.id.trim().is_empty() {
        return Err(FeedError::Invalid("OSV record with an empty id".into()));
    }
    let mut aliases: Vec<String> = o.upstream.into_iter().chain(o.aliases).collect();
    aliases.retain(|a| *a != o.id);
    aliases.sort();
    aliases.dedup();
    let mut ratings = Vec::new();
    let top_urgency = urgency(&o.database_specific);
    if let Some(level) = o
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(Value::as_str)
        && let Ok(severity) = level.parse::<Severity>()
    {
        ratings.push(Rating {
            source: source_of(&o.id),
            severity,
            label: Some(level.to_ascii_lowercase()),
        });
    }
    let mut top_status = Status::Affected;
    if let Some(u) = top_urgency {
        let (r, s) = debian_urgency(u);
        ratings.extend(r);
        top_status = s;
    }
    let mut cv = cvss(&o.severity);
    let mut affected = Vec::new();
    if o.withdrawn.is_none() {
        for a in o.affected {
            let Some(pkg) = a.package else { continue };
            cv.extend(cvss(&a.severity));
            let mut status = top_status;
            let mut rating = None;
            if let Some(u) = urgency(&a.ecosystem_specific).or(urgency(&a.database_specific)) {
                let (r, s) = debian_urgency(u);
                rating = r;
                status = s;
            }
            let ranges = a
                .ranges
                .iter()
                .filter_map(|r| {
                    let kind = match r.kind.as_str() {
                        "ECOSYSTEM" => RangeKind::Ecosystem,
                        "SEMVER" => RangeKind::Semver,
                        _ => return None,
                    };
                    Some(Range {
                        kind,
                        events: r.events.iter().filter_map(event).collect(),
                    })
                })
                .collect();
            affected.push(Affected {
                ecosystem: pkg.ecosystem,
                name: pkg.name,
                ranges,
                versions: a.versions,
                status,
                rating,
            });
        }
    }
    cv.sort_by(|a, b| (&a.kind, &a.vector).cmp(&(&b.kind, &b.vector)));
    cv.dedup();
    let mut details = o.details.unwrap_or_default();
    if details.len() > MAX_DETAILS {
        let mut cut = MAX_DETAILS;
        while !details.is_char_boundary(cut) {
            cut -= 1;
        }
        details.truncate(cut);
        details.push('…');
    }
    Ok(Record {
        advisory: Advisory {
            feed: "osv".into(),
            summary: o.summary.unwrap_or_default(),
            details,
            published: o.published,
            modified: o.modified,
            cvss: cv,
            ratings,
            references: o.references.into_iter().map(|r| r.url).collect(),
            aliases: aliases
                .iter()
                .filter_map(|a| a.parse::<AdvisoryId>().ok())
                .collect(),
            id: o
                .id
                .parse::<AdvisoryId>()
                .map_err(|e| FeedError::Invalid(e.to_string()))?,
        },
        affected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debian_record_with_urgency() {
        let r = from_value(json!({
            "id": "DEBIAN-CVE-2023-44487", "upstream": ["CVE-2023-44487"],
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "nginx"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.22.1-9+deb12u11"}]},
                           {"type": "GIT", "repo": "x", "events": [{"introduced": "0"}]}]}],
            "database_specific": {"urgency": "high"}
        }))
        .unwrap();
        assert_eq!(r.advisory.aliases, vec!["CVE-2023-44487"]);
        assert_eq!(r.advisory.ratings[0].severity, Severity::High);
        assert_eq!(r.affected[0].ranges.len(), 1, "GIT ranges dropped");
        assert_eq!(
            r.affected[0].ranges[0].events[1],
            Event::Fixed("1.22.1-9+deb12u11".into())
        );
    }

    #[test]
    fn ghsa_rating_unimportant_and_withdrawn() {
        let r = from_value(json!({"id": "GHSA-xxxx", "modified": "x",
            "database_specific": {"severity": "MODERATE"},
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "p"},
                "ecosystem_specific": {"urgency": "unimportant"}}]}))
        .unwrap();
        assert_eq!(r.advisory.ratings[0].source, "ghsa");
        assert_eq!(r.advisory.ratings[0].severity, Severity::Medium);
        assert_eq!(r.affected[0].status, Status::Unimportant);
        let w = from_value(json!({"id": "X-1", "withdrawn": "2024-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "p"}}]}))
        .unwrap();
        assert!(w.affected.is_empty());
    }

    #[test]
    fn bad_shape_names_position() {
        let e = super::super::parse_bytes(br#"{"id": 5, "affected": []}"#).unwrap_err();
        assert!(e.to_string().contains("invalid type"), "{e}");
        let e = super::super::parse_bytes(b"{\n  \"id\": \"x\",\n  \"affected\": [\n").unwrap_err();
        assert!(e.to_string().starts_with("line 4"), "{e}");
    }
}
