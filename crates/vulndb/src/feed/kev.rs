//! CISA's Known Exploited Vulnerabilities catalog
//! (`known_exploited_vulnerabilities.json`, schema in cisagov/kev-data):
//! for each CVE, when it was added, the due date CISA sets for federal
//! agencies, and whether it is known to be used in ransomware campaigns.
//! Read strictly: a file of another shape is an error, not an empty list.

use serde::{Deserialize, Serialize};

use super::FeedError;

/// One catalog entry, as the DB keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevEntry {
    /// `CVE-YYYY-N`.
    pub cve: String,
    /// `YYYY-MM-DD`.
    pub date_added: String,
    /// `YYYY-MM-DD`.
    pub due_date: String,
    /// `knownRansomwareCampaignUse` is `Known`.
    pub ransomware: bool,
    /// Vendor and product.
    pub product: String,
    /// CISA's name for it.
    pub name: String,
}

/// The catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kev {
    /// `catalogVersion`.
    pub version: String,
    /// `dateReleased` (RFC 3339).
    pub released: String,
    /// Entries.
    pub entries: Vec<KevEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Catalog {
    catalog_version: String,
    date_released: String,
    count: Option<usize>,
    vulnerabilities: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(rename = "cveID")]
    cve_id: String,
    #[serde(default)]
    vendor_project: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    vulnerability_name: String,
    date_added: String,
    due_date: String,
    #[serde(default)]
    known_ransomware_campaign_use: String,
}

/// Whether a JSON document looks like the catalog.
pub fn sniff(v: &serde_json::Value) -> bool {
    v.get("catalogVersion").is_some() && v.get("vulnerabilities").is_some_and(|x| x.is_array())
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn is_cve(s: &str) -> bool {
    s.strip_prefix("CVE-")
        .and_then(|r| r.split_once('-'))
        .is_some_and(|(y, n)| {
            y.len() == 4
                && y.bytes().all(|b| b.is_ascii_digit())
                && n.len() >= 4
                && n.bytes().all(|b| b.is_ascii_digit())
        })
}

/// Parses the catalog.
pub fn parse(v: serde_json::Value) -> Result<Kev, FeedError> {
    let c: Catalog = serde_json::from_value(v)
        .map_err(|e| FeedError::Invalid(format!("not CISA's KEV catalog: {e}")))?;
    if let Some(n) = c.count
        && n != c.vulnerabilities.len()
    {
        return Err(FeedError::Invalid(format!(
            "KEV catalog: `count` says {n} entries, the file has {}",
            c.vulnerabilities.len()
        )));
    }
    let mut entries = Vec::with_capacity(c.vulnerabilities.len());
    for (i, e) in c.vulnerabilities.into_iter().enumerate() {
        if !is_cve(&e.cve_id) {
            return Err(FeedError::Invalid(format!(
                "KEV catalog: vulnerabilities[{i}].cveID `{}` is not a CVE id",
                e.cve_id.chars().take(40).collect::<String>()
            )));
        }
        for (what, d) in [("dateAdded", &e.date_added), ("dueDate", &e.due_date)] {
            if !is_date(d) {
                return Err(FeedError::Invalid(format!(
                    "KEV catalog: {}: {what} `{}` is not YYYY-MM-DD",
                    e.cve_id,
                    d.chars().take(40).collect::<String>()
                )));
            }
        }
        entries.push(KevEntry {
            cve: e.cve_id,
            date_added: e.date_added,
            due_date: e.due_date,
            ransomware: e.known_ransomware_campaign_use == "Known",
            product: format!("{} {}", e.vendor_project, e.product)
                .trim()
                .to_string(),
            name: e.vulnerability_name,
        });
    }
    Ok(Kev {
        version: c.catalog_version,
        released: c.date_released,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(cve: &str, due: &str) -> serde_json::Value {
        json!({"cveID": cve, "vendorProject": "nginx", "product": "nginx",
               "vulnerabilityName": "HTTP/2 Rapid Reset", "dateAdded": "2023-10-10",
               "dueDate": due, "knownRansomwareCampaignUse": "Unknown", "notes": "", "cwes": []})
    }

    #[test]
    fn the_catalog_is_read_with_its_dates() {
        let v = json!({"title": "t", "catalogVersion": "2025.08.25", "dateReleased": "2025-08-25T17:04:19Z",
                       "count": 1, "vulnerabilities": [entry("CVE-2023-44487", "2023-10-31")]});
        assert!(sniff(&v));
        let k = parse(v).unwrap();
        assert_eq!(k.entries[0].due_date, "2023-10-31");
        assert_eq!(k.entries[0].product, "nginx nginx");
        assert!(!k.entries[0].ransomware);
    }

    #[test]
    fn a_catalog_of_the_wrong_shape_is_an_error_naming_what() {
        let bad = |v: serde_json::Value| parse(v).unwrap_err().to_string();
        let e = bad(
            json!({"catalogVersion": "1", "dateReleased": "x", "count": 2,
                           "vulnerabilities": [entry("CVE-2023-44487", "2023-10-31")]}),
        );
        assert!(e.contains("count") && e.contains('2'), "{e}");
        let e = bad(json!({"catalogVersion": "1", "dateReleased": "x",
                           "vulnerabilities": [entry("CVE-2023-44487", "31/10/2023")]}));
        assert!(e.contains("dueDate") && e.contains("31/10/2023"), "{e}");
        let e = bad(json!({"catalogVersion": "1", "dateReleased": "x",
                           "vulnerabilities": [entry("GHSA-xxxx", "2023-10-31")]}));
        assert!(e.contains("not a CVE id"), "{e}");
        let e = bad(json!({"catalogVersion": "1", "vulnerabilities": "none"}));
        assert!(e.contains("not CISA's KEV catalog"), "{e}");
    }
}
