//! The Debian security tracker's JSON dump
//! (`https://security-tracker.debian.org/tracker/data/json`): source package
//! → CVE → per release status, fixed version, urgency and `no-dsa` notes.
//! Each CVE becomes one advisory `DEBIAN-CVE-…` (alias the CVE), with one
//! affected row per (source package, release).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::osv::debian_urgency;
use super::{FeedError, Record};
use crate::model::{Advisory, AdvisoryId, Affected, Event, Range, RangeKind, Status};

/// Release codenames and their version numbers.
pub const RELEASES: &[(&str, &str)] = &[
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
    ("duke", "15"),
];

#[derive(Deserialize)]
struct Cve {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    releases: BTreeMap<String, Release>,
}

#[derive(Deserialize)]
struct Release {
    #[serde(default)]
    status: String,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    urgency: Option<String>,
    #[serde(default)]
    nodsa: Option<String>,
    #[serde(default)]
    nodsa_reason: Option<String>,
}

/// Parse the whole dump.
pub fn from_value(v: Value) -> Result<Vec<Record>, FeedError> {
    let Value::Object(pkgs) = v else {
        return Err(FeedError::Invalid("tracker dump is not an object".into()));
    };
    let mut by_cve: BTreeMap<String, Record> = BTreeMap::new();
    for (src, cves) in pkgs {
        let cves: BTreeMap<String, Cve> = serde_json::from_value(cves)
            .map_err(|e| FeedError::Invalid(format!("source package `{src}`: {e}")))?;
        for (cve, c) in cves {
            for (codename, rel) in c.releases {
                let Some((_, num)) = RELEASES.iter().find(|(n, _)| *n == codename) else {
                    continue;
                };
                let fixed = rel.fixed_version.filter(|f| !f.is_empty());
                if fixed.as_deref() == Some("0") {
                    continue; // never affected in this release
                }
                let (rating, mut status) = debian_urgency(rel.urgency.as_deref().unwrap_or(""));
                match rel.status.as_str() {
                    "resolved" if fixed.is_some() => {}
                    "resolved" => continue,
                    "open" | "undetermined" => {
                        if status == Status::Affected && rel.nodsa.is_some() {
                            status = match rel.nodsa_reason.as_deref() {
                                Some("ignored") => Status::WillNotFix,
                                Some("postponed") => Status::FixDeferred,
                                _ => Status::Affected,
                            };
                        }
                    }
                    _ => continue,
                }
                let mut events = vec![Event::Introduced("0".into())];
                if rel.status == "resolved"
                    && let Some(f) = &fixed
                {
                    events.push(Event::Fixed(f.clone()));
                }
                let (Ok(own), Ok(alias)) = (
                    format!("DEBIAN-{cve}").parse::<AdvisoryId>(),
                    cve.parse::<AdvisoryId>(),
                ) else {
                    return Err(FeedError::Invalid(format!("`{cve}` is not a CVE id")));
                };
                let rec = by_cve.entry(cve.clone()).or_insert_with(|| Record {
                    advisory: Advisory {
                        id: own,
                        aliases: vec![alias],
                        summary: c.description.clone().unwrap_or_default(),
                        feed: "debian-tracker".into(),
                        references: vec![format!(
                            "https://security-tracker.debian.org/tracker/{cve}"
                        )],
                        ..Advisory::default()
                    },
                    affected: Vec::new(),
                });
                rec.affected.push(Affected {
                    ecosystem: format!("Debian:{num}"),
                    name: src.clone(),
                    ranges: vec![Range {
                        kind: RangeKind::Ecosystem,
                        events,
                    }],
                    versions: Vec::new(),
                    status,
                    rating,
                });
            }
        }
    }
    Ok(by_cve.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use serde_json::json;

    #[test]
    fn statuses() {
        let recs = from_value(json!({
            "openssl": {
                "CVE-2023-0001": {"description": "d", "releases": {
                    "bookworm": {"status": "resolved", "fixed_version": "3.0.9-1", "urgency": "high"},
                    "bullseye": {"status": "resolved", "fixed_version": "0", "urgency": "low"},
                    "sid": {"status": "resolved", "fixed_version": "3.0.9-1", "urgency": "high"}}},
                "CVE-2023-0002": {"releases": {
                    "bookworm": {"status": "open", "urgency": "unimportant"},
                    "bullseye": {"status": "open", "urgency": "low", "nodsa": "Minor", "nodsa_reason": "ignored"},
                    "buster": {"status": "open", "urgency": "end-of-life"}}}
            }
        }))
        .unwrap();
        assert_eq!(recs.len(), 2);
        let a = &recs[0];
        assert_eq!(a.advisory.id, "DEBIAN-CVE-2023-0001");
        assert_eq!(a.affected.len(), 1, "bullseye fixed 0 and sid are skipped");
        assert_eq!(a.affected[0].ecosystem, "Debian:12");
        assert_eq!(
            a.affected[0].rating.as_ref().unwrap().severity,
            Severity::High
        );
        let b = &recs[1];
        let st: Vec<_> = b
            .affected
            .iter()
            .map(|x| (x.ecosystem.as_str(), x.status))
            .collect();
        assert!(st.contains(&("Debian:12", Status::Unimportant)));
        assert!(st.contains(&("Debian:11", Status::WillNotFix)));
        assert!(st.contains(&("Debian:10", Status::EndOfLife)));
        assert!(b.affected.iter().all(|x| x.ranges[0].events.len() == 1));
    }
}
