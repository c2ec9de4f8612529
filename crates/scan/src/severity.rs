//! Severity: from a vendor rating or a CVSS base score, chosen by a source
//! priority list (`vendor`, a named vendor such as `debian` or `ghsa`,
//! `nvd` (NVD's primary score, when NVD data was imported), `cvss_v4`,
//! `cvss_v3`, `cvss_v2`). Scores are computed from the vectors
//! (v3.x and v4.0 by the `cvss` crate, v2 by its published formula).

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use vulndb::model::{CvssVector, Rating, Severity};

/// A scored CVSS vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// `2.0`, `3.1`, `4.0`.
    pub version: String,
    /// The vector.
    pub vector: String,
    /// Base score.
    pub score: f64,
    /// Who scored it: the feed's scorer when it says (`nvd@nist.gov`, a
    /// CNA), else the advisory the vector came from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// Score a vector; `None` when it does not parse.
pub fn score(v: &CvssVector) -> Option<Score> {
    let vector = v.vector.trim();
    if vector.starts_with("CVSS:3") || vector.starts_with("CVSS:4") {
        let c = cvss::Cvss::from_str(vector).ok()?;
        let version = if vector.starts_with("CVSS:4") {
            "4.0"
        } else if vector.starts_with("CVSS:3.0") {
            "3.0"
        } else {
            "3.1"
        };
        Some(Score {
            version: version.into(),
            vector: vector.into(),
            score: c.score(),
            source: String::new(),
        })
    } else if v.kind == "CVSS_V2" || vector.starts_with("AV:") {
        Some(Score {
            version: "2.0".into(),
            vector: vector.into(),
            score: cvss2(vector)?,
            source: String::new(),
        })
    } else {
        None
    }
}

/// CVSS v2 base score (FIRST, "A Complete Guide to the CVSS v2", 3.2.1).
fn cvss2(vector: &str) -> Option<f64> {
    let mut m = std::collections::HashMap::new();
    for part in vector
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split('/')
    {
        let (k, v) = part.split_once(':')?;
        m.insert(k, v);
    }
    let av = match *m.get("AV")? {
        "L" => 0.395,
        "A" => 0.646,
        "N" => 1.0,
        _ => return None,
    };
    let ac = match *m.get("AC")? {
        "H" => 0.35,
        "M" => 0.61,
        "L" => 0.71,
        _ => return None,
    };
    let au = match *m.get("Au")? {
        "M" => 0.45,
        "S" => 0.56,
        "N" => 0.704,
        _ => return None,
    };
    let imp = |k: &str| -> Option<f64> {
        Some(match *m.get(k)? {
            "N" => 0.0,
            "P" => 0.275,
            "C" => 0.660,
            _ => return None,
        })
    };
    let (c, i, a) = (imp("C")?, imp("I")?, imp("A")?);
    let impact = 10.41 * (1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a));
    let exploit = 20.0 * av * ac * au;
    let f = if impact == 0.0 { 0.0 } else { 1.176 };
    let base = ((0.6 * impact) + (0.4 * exploit) - 1.5) * f;
    Some((base * 10.0).round() / 10.0)
}

/// Severity of a v2 score (v2 has no "critical").
fn v2_severity(s: f64) -> Severity {
    if s >= 7.0 {
        Severity::High
    } else if s >= 4.0 {
        Severity::Medium
    } else if s > 0.0 {
        Severity::Low
    } else {
        Severity::Unknown
    }
}

/// One entry of the priority list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Any vendor rating (the package's own first).
    Vendor,
    /// A named vendor (`debian`, `ghsa`, `alpine`, `pypa`...).
    Named(String),
    /// CVSS v4.0 base score.
    CvssV4,
    /// CVSS v3.x base score.
    CvssV3,
    /// CVSS v2 base score.
    CvssV2,
}

impl FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        Ok(match t.as_str() {
            "vendor" => Source::Vendor,
            "cvss_v4" | "cvss4" | "cvssv4" => Source::CvssV4,
            "cvss_v3" | "cvss3" | "cvssv3" => Source::CvssV3,
            "cvss_v2" | "cvss2" | "cvssv2" => Source::CvssV2,
            "" => return Err("empty severity source".into()),
            n if n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
                Source::Named(n.to_string())
            }
            _ => return Err(format!("unknown severity source `{s}`")),
        })
    }
}

/// The default order: the vendor, then NVD's rating, then CVSS v4, v3, v2.
pub fn default_priority() -> Vec<Source> {
    vec![
        Source::Vendor,
        Source::Named("nvd".into()),
        Source::CvssV4,
        Source::CvssV3,
        Source::CvssV2,
    ]
}

/// Where a finding's severity came from: a vendor's rating (`debian`,
/// `ghsa`...), a CVSS base score, or nothing. Written as that word.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeveritySource {
    /// A named vendor's rating.
    Vendor(String),
    /// The CVSS v4.0 base score.
    CvssV4,
    /// The CVSS v3.x base score.
    CvssV3,
    /// The CVSS v2 base score.
    CvssV2,
    /// No source rated it.
    None,
}

impl std::fmt::Display for SeveritySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            SeveritySource::Vendor(v) => v,
            SeveritySource::CvssV4 => "cvss_v4",
            SeveritySource::CvssV3 => "cvss_v3",
            SeveritySource::CvssV2 => "cvss_v2",
            SeveritySource::None => "none",
        })
    }
}

impl FromStr for SeveritySource {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "cvss_v4" => SeveritySource::CvssV4,
            "cvss_v3" => SeveritySource::CvssV3,
            "cvss_v2" => SeveritySource::CvssV2,
            "none" | "" => SeveritySource::None,
            v => SeveritySource::Vendor(v.to_string()),
        })
    }
}

impl Serialize for SeveritySource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SeveritySource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(s.parse().unwrap_or(SeveritySource::None))
    }
}

/// The chosen severity and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chosen {
    /// Level.
    pub severity: Severity,
    /// `debian`, `ghsa`, `cvss_v3`..., or `none`.
    pub source: SeveritySource,
    /// The source's own words (`urgency high`, `9.8 CVSS:3.1/...`).
    pub detail: String,
}

/// Choose a severity from ratings (the package's own first) and scores.
pub fn choose(ratings: &[Rating], scores: &[Score], priority: &[Source]) -> Chosen {
    let known = |r: &&Rating| r.severity != Severity::Unknown;
    let from_rating = |r: &Rating| Chosen {
        severity: r.severity,
        source: SeveritySource::Vendor(r.source.clone()),
        detail: r
            .label
            .clone()
            .unwrap_or_else(|| r.severity.as_str().to_lowercase()),
    };
    let from_score = |prefix: &str, key: SeveritySource| {
        scores
            .iter()
            .filter(|s| s.version.starts_with(prefix))
            .max_by(|a, b| a.score.total_cmp(&b.score))
            .map(|s| Chosen {
                severity: if prefix == "2" {
                    v2_severity(s.score)
                } else {
                    Severity::from_score(s.score)
                },
                source: key.clone(),
                detail: format!("{:.1} {}", s.score, s.vector),
            })
    };
    for src in priority {
        let c = match src {
            // NVD scores CVEs, it does not ship the packages: not a vendor
            Source::Vendor => ratings
                .iter()
                .filter(known)
                .find(|r| r.source != "nvd")
                .map(from_rating),
            Source::Named(n) => ratings
                .iter()
                .filter(known)
                .find(|r| r.source == *n)
                .map(from_rating),
            Source::CvssV4 => from_score("4", SeveritySource::CvssV4),
            Source::CvssV3 => from_score("3", SeveritySource::CvssV3),
            Source::CvssV2 => from_score("2", SeveritySource::CvssV2),
        };
        if let Some(c) = c {
            return c;
        }
    }
    Chosen {
        severity: Severity::Unknown,
        source: SeveritySource::None,
        detail: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vec3(v: &str) -> CvssVector {
        CvssVector {
            kind: "CVSS_V3".into(),
            vector: v.into(),
            source: None,
        }
    }

    #[test]
    fn scores_from_vectors() {
        // Reference values from the FIRST calculators.
        let s = score(&vec3("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")).unwrap();
        assert_eq!(s.score, 9.8);
        let s = score(&vec3("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N")).unwrap();
        assert_eq!(s.score, 6.1);
        let s = score(&CvssVector {
            kind: "CVSS_V4".into(),
            vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N".into(),
            source: None,
        })
        .unwrap();
        assert_eq!((s.version.as_str(), s.score), ("4.0", 9.3));
        let s = score(&CvssVector {
            kind: "CVSS_V2".into(),
            vector: "AV:N/AC:L/Au:N/C:P/I:P/A:P".into(),
            source: None,
        })
        .unwrap();
        assert_eq!(s.score, 7.5);
        assert!(score(&vec3("CVSS:3.1/AV:Q")).is_none());
    }

    #[test]
    fn priority_order() {
        let ratings = vec![Rating {
            source: "debian".into(),
            severity: Severity::Low,
            label: Some("low".into()),
        }];
        let scores = vec![score(&vec3("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")).unwrap()];
        let c = choose(&ratings, &scores, &default_priority());
        assert_eq!(
            (c.severity, c.source.to_string().as_str()),
            (Severity::Low, "debian")
        );
        let p: Vec<Source> = ["cvss_v3", "vendor"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let c = choose(&ratings, &scores, &p);
        assert_eq!(
            (c.severity, c.source),
            (Severity::Critical, SeveritySource::CvssV3)
        );
        assert!(c.detail.starts_with("9.8 CVSS:3.1"));
        let p: Vec<Source> = ["ghsa"].iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(choose(&ratings, &scores, &p).source, SeveritySource::None);
    }
}
