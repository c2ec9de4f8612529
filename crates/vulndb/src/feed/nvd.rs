//! NVD's CVE records (the CVE API 2.0 and the JSON 2.0 feed files
//! `nvdcve-2.0-YEAR.json.gz`: `{"format": "NVD_CVE", "vulnerabilities":
//! [{"cve": {...}}]}`), read for their CVSS scores only: NVD lists no
//! package versions a scanner could match, so each CVE becomes an advisory
//! `NVD-<CVE id>` with no affected packages, which scans join to findings
//! through the CVE id (`Db::enrichment`). Every vector keeps who scored it
//! (`nvd@nist.gov`, or a CNA); NVD's own primary score is also a rating from
//! source `nvd` (v4.0 over v3.1 over v3.0 over v2).

use serde_json::Value;

use super::{FeedError, Record};
use crate::model::{Advisory, AdvisoryId, CvssVector, Rating, Severity};

/// The advisory id NVD's record of `cve` is stored under.
pub fn advisory_id(cve: &str) -> String {
    format!("NVD-{cve}")
}

/// Whether a document is an NVD CVE feed or API response.
pub fn is_nvd(v: &Value) -> bool {
    v.get("format").and_then(Value::as_str) == Some("NVD_CVE")
        || v.get("vulnerabilities")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .is_some_and(|x| x.get("cve").is_some())
}

/// NVD times lack a zone; they are UTC.
fn utc(t: &str) -> String {
    if t.ends_with('Z') || t.is_empty() {
        t.to_string()
    } else {
        format!("{t}Z")
    }
}

fn severity_word(s: &str) -> Severity {
    match s.to_ascii_uppercase().as_str() {
        "CRITICAL" => Severity::Critical,
        "HIGH" => Severity::High,
        "MEDIUM" => Severity::Medium,
        "LOW" => Severity::Low,
        _ => Severity::Unknown,
    }
}

fn one(cve: &Value) -> Result<Option<Record>, FeedError> {
    let Some(id) = cve.get("id").and_then(Value::as_str) else {
        return Err(FeedError::Invalid("an NVD record without `id`".into()));
    };
    if cve.get("vulnStatus").and_then(Value::as_str) == Some("Rejected") {
        return Ok(None);
    }
    let nvd_id: AdvisoryId = advisory_id(id)
        .parse()
        .map_err(|e: crate::model::BadAdvisoryId| FeedError::Invalid(e.to_string()))?;
    let cve_id: AdvisoryId = id
        .parse()
        .map_err(|e: crate::model::BadAdvisoryId| FeedError::Invalid(e.to_string()))?;
    let mut cvss = Vec::new();
    let mut primary: Option<(u8, Rating)> = None;
    let metrics = cve.get("metrics").cloned().unwrap_or(Value::Null);
    for (key, kind, rank) in [
        ("cvssMetricV40", "CVSS_V4", 4u8),
        ("cvssMetricV31", "CVSS_V3", 3),
        ("cvssMetricV30", "CVSS_V3", 2),
        ("cvssMetricV2", "CVSS_V2", 1),
    ] {
        for m in metrics
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let data = &m["cvssData"];
            let Some(vector) = data["vectorString"].as_str() else {
                continue;
            };
            let source = m["source"].as_str().unwrap_or("").to_string();
            cvss.push(CvssVector {
                kind: kind.into(),
                vector: vector.into(),
                source: (!source.is_empty()).then(|| source.clone()),
            });
            let is_nvd = m["type"].as_str() == Some("Primary") && source == "nvd@nist.gov";
            let word = data["baseSeverity"]
                .as_str()
                .or_else(|| m["baseSeverity"].as_str())
                .unwrap_or("");
            if is_nvd && primary.as_ref().is_none_or(|(r, _)| rank > *r) {
                let score = data["baseScore"]
                    .as_f64()
                    .map(|s| format!("{s:.1} "))
                    .unwrap_or_default();
                primary = Some((
                    rank,
                    Rating {
                        source: "nvd".into(),
                        severity: severity_word(word),
                        label: Some(format!("{score}{vector}")),
                    },
                ));
            }
        }
    }
    let details = cve
        .get("descriptions")
        .and_then(Value::as_array)
        .and_then(|d| d.iter().find(|x| x["lang"] == "en"))
        .and_then(|x| x["value"].as_str())
        .unwrap_or("")
        .chars()
        .take(4096)
        .collect::<String>();
    let references = cve
        .get("references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r["url"].as_str().map(str::to_string))
        .collect();
    Ok(Some(Record {
        advisory: Advisory {
            id: nvd_id,
            aliases: vec![cve_id],
            summary: String::new(),
            details,
            published: cve["published"].as_str().map(utc),
            modified: cve["lastModified"].as_str().map(utc),
            cvss,
            ratings: primary.into_iter().map(|(_, r)| r).collect(),
            references,
            ..Advisory::default()
        },
        affected: Vec::new(),
    }))
}

/// Every CVE of a feed file or API response.
pub fn from_value(v: Value) -> Result<Vec<Record>, FeedError> {
    let mut out = Vec::new();
    for x in v["vulnerabilities"].as_array().into_iter().flatten() {
        if let Some(r) = one(&x["cve"])? {
            out.push(r);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_nvd_score_is_the_rating_and_every_vector_is_kept() {
        let v = serde_json::json!({"format": "NVD_CVE", "version": "2.0", "vulnerabilities": [
            {"cve": {"id": "CVE-2022-27449", "lastModified": "2026-06-17T04:37:03.123",
             "descriptions": [{"lang": "es", "value": "no"}, {"lang": "en", "value": "MariaDB segfault"}],
             "metrics": {
                "cvssMetricV31": [{"source": "nvd@nist.gov", "type": "Primary",
                    "cvssData": {"version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "baseScore": 7.5, "baseSeverity": "HIGH"}}],
                "cvssMetricV2": [{"source": "nvd@nist.gov", "type": "Primary",
                    "cvssData": {"version": "2.0", "vectorString": "AV:N/AC:L/Au:N/C:N/I:N/A:P", "baseScore": 5.0}, "baseSeverity": "MEDIUM"}]}}},
            {"cve": {"id": "CVE-2099-0001", "vulnStatus": "Rejected"}}
        ]});
        assert!(is_nvd(&v));
        let recs = from_value(v).unwrap();
        assert_eq!(recs.len(), 1);
        let a = &recs[0].advisory;
        assert_eq!(a.id.as_str(), "NVD-CVE-2022-27449");
        assert_eq!(a.aliases[0].as_str(), "CVE-2022-27449");
        assert_eq!(a.details, "MariaDB segfault");
        assert_eq!(a.modified.as_deref(), Some("2026-06-17T04:37:03.123Z"));
        assert_eq!(a.cvss.len(), 2);
        assert_eq!(a.cvss[1].source.as_deref(), Some("nvd@nist.gov"));
        assert_eq!(a.ratings.len(), 1);
        assert_eq!(a.ratings[0].severity, Severity::High);
        assert!(
            a.ratings[0]
                .label
                .as_deref()
                .unwrap()
                .starts_with("7.5 CVSS:3.1/")
        );
        assert!(recs[0].affected.is_empty());
        assert!(from_value(serde_json::json!({"vulnerabilities": [{"cve": {}}]})).is_err());
    }
}
