//! End-of-life data: Debian's `distro-info-data` CSVs (`debian.csv`,
//! `ubuntu.csv`: one row per release with its release and end-of-life
//! dates), and endoflife.date's: its API v1 JSON (`/api/v1/products/full`,
//! or one product) or a product file of its repository (`products/NAME.md`,
//! whose YAML front matter lists the release cycles). Read strictly:
//! another header, a date that is not `YYYY-MM-DD` or a row of the wrong
//! width is an error naming the line or the release. A release without an
//! end-of-life date is one still supported with no date set; one marked
//! ended without a date is ended.

use serde::{Deserialize, Serialize};

use super::FeedError;

/// One release cycle of a product and its end of life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cycle {
    /// `debian`, `ubuntu` (as `/etc/os-release` `ID` names them).
    pub product: String,
    /// `12`, `22.04` (as `VERSION_ID` names them).
    pub cycle: String,
    /// `bookworm`, `jammy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    /// Released (`YYYY-MM-DD`); none for one not released yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// End of the regular security support (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eol: Option<String>,
    /// End of the free extended support that still ships security updates
    /// to the same archive (Debian LTS; Ubuntu's server support).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended: Option<String>,
    /// A long-term-support release (Ubuntu's `LTS`).
    #[serde(default)]
    pub lts: bool,
    /// Marked ended with no date given (endoflife.date's `eol: true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ended: bool,
    /// Where the dates come from.
    pub source: String,
}

impl Cycle {
    /// The last day security updates come without a paid subscription.
    pub fn end(&self) -> Option<&str> {
        match (&self.eol, &self.extended) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.as_deref().or(b.as_deref()),
        }
    }
}

/// Where a release stands on a given day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EolStatus {
    /// `debian 12 (bookworm)`, `python 3.9`.
    pub release: String,
    /// What in the image the release was told from, for a runtime
    /// (`deb python3.11 3.11.2-6`, `usr/local/lib/python3.9/site-packages`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// The last day of free security updates, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Days from the day asked about to `end` (negative: past it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
    /// Past its end.
    pub eol: bool,
    /// Where the dates come from.
    pub source: String,
}

impl EolStatus {
    /// `EOL since 2024-08-14` / `EOL in 203 days (2026-06-10)` /
    /// `supported, no end of life set`.
    pub fn text(&self) -> String {
        let seen = self
            .evidence
            .as_deref()
            .map(|e| format!(" [{e}]"))
            .unwrap_or_default();
        match (&self.end, self.days_left) {
            (Some(e), Some(d)) if d < 0 => format!("{}: EOL since {e}{seen}", self.release),
            (Some(e), Some(d)) => format!("{}: EOL in {d} days ({e}){seen}", self.release),
            _ if self.eol => format!("{}: EOL (no date given){seen}", self.release),
            _ => format!("{}: supported, no end of life set{seen}", self.release),
        }
    }
}

fn days(date: &str) -> Option<i64> {
    format!("{date}T00:00:00Z")
        .parse::<findings::time::Timestamp>()
        .ok()
        .map(|t| t.0.div_euclid(86_400))
}

impl Cycle {
    /// Where the release stands on `today` (`YYYY-MM-DD`).
    pub fn status(&self, today: &str) -> EolStatus {
        let end = self.end().map(str::to_string);
        let days_left = end
            .as_deref()
            .and_then(days)
            .zip(days(today))
            .map(|(e, t)| e - t);
        EolStatus {
            release: format!(
                "{} {}{}{}",
                self.product,
                self.cycle,
                if self.lts { " LTS" } else { "" },
                self.codename
                    .as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ),
            evidence: None,
            eol: days_left.is_some_and(|d| d < 0) || (end.is_none() && self.ended),
            end,
            days_left,
            source: self.source.clone(),
        }
    }
}

const DEBIAN_HEAD: &str = "version,codename,series,created,release,eol";

/// Whether bytes look like a distro-info-data CSV.
pub fn sniff(bytes: &[u8]) -> bool {
    bytes.starts_with(DEBIAN_HEAD.as_bytes())
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

/// Parses `debian.csv` or `ubuntu.csv` (`product`: `debian`, `ubuntu`).
pub fn parse_distro_info(bytes: &[u8], product: &str) -> Result<Vec<Cycle>, FeedError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| FeedError::Invalid(format!("distro-info CSV: not UTF-8: {e}")))?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    if head.len() < 6 || head[..6].join(",") != DEBIAN_HEAD {
        return Err(FeedError::Invalid(format!(
            "line 1: not a distro-info-data header (`{DEBIAN_HEAD},...`)"
        )));
    }
    // the extended-support column: Debian LTS, Ubuntu's server support
    let extended = head
        .iter()
        .position(|h| *h == "eol-lts" || *h == "eol-server");
    let mut out = Vec::new();
    for (n, line) in lines.enumerate() {
        let line_no = n + 2;
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').collect();
        if cols.len() < 4 || cols.len() > head.len() {
            return Err(FeedError::Invalid(format!(
                "line {line_no}: {} fields, the header has {}",
                cols.len(),
                head.len()
            )));
        }
        let date = |i: usize| -> Result<Option<String>, FeedError> {
            match cols.get(i).map(|s| s.trim()).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(d) if is_date(d) => Ok(Some(d.to_string())),
                Some(d) => Err(FeedError::Invalid(format!(
                    "line {line_no}: `{d}` ({}) is not YYYY-MM-DD",
                    head[i]
                ))),
            }
        };
        let version = cols[0].trim();
        let (cycle, lts) = match version.strip_suffix(" LTS") {
            Some(v) => (v.to_string(), true),
            None => (version.to_string(), false),
        };
        if cycle.is_empty() {
            // Debian's testing and unstable rows have no version
            continue;
        }
        out.push(Cycle {
            product: product.to_string(),
            cycle,
            codename: Some(cols[2].trim().to_string()).filter(|s| !s.is_empty()),
            release: date(4)?,
            eol: date(5)?,
            extended: extended.map(date).transpose()?.flatten(),
            lts,
            ended: false,
            source: format!("distro-info-data {product}.csv"),
        });
    }
    if out.is_empty() {
        return Err(FeedError::Invalid("no release rows".into()));
    }
    Ok(out)
}

/// Whether bytes look like endoflife.date data: API v1 JSON (a
/// `schema_version` and a `result`) or a product file's front matter.
pub fn sniff_endoflife(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    (head.trim_start().starts_with('{')
        && head.contains("\"schema_version\"")
        && head.contains("\"result\""))
        || (head.starts_with("---\n") && String::from_utf8_lossy(bytes).contains("releaseCycle:"))
}

/// A date field: `YYYY-MM-DD`, or a boolean (`true`: it happened, no date
/// given), or absent.
#[derive(Debug, Default, PartialEq)]
struct When {
    date: Option<String>,
    flag: bool,
}

fn when(v: Option<&serde_json::Value>, what: &str, release: &str) -> Result<When, FeedError> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(When::default()),
        Some(serde_json::Value::Bool(b)) => Ok(When {
            date: None,
            flag: *b,
        }),
        Some(serde_json::Value::String(s)) if is_date(s) => Ok(When {
            date: Some(s.clone()),
            flag: true,
        }),
        Some(other) => Err(FeedError::Invalid(format!(
            "release {release}: `{other}` ({what}) is neither YYYY-MM-DD nor true/false"
        ))),
    }
}

fn cycle_name(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses endoflife.date's API v1 JSON: `/api/v1/products/full` (every
/// product) or `/api/v1/products/NAME` (one).
pub fn parse_endoflife_api(bytes: &[u8]) -> Result<Vec<Cycle>, FeedError> {
    let v: serde_json::Value = serde_json::from_slice(bytes)?;
    let products: Vec<&serde_json::Value> = match &v["result"] {
        serde_json::Value::Array(list) => list.iter().collect(),
        o @ serde_json::Value::Object(_) => vec![o],
        _ => {
            return Err(FeedError::Invalid(
                "endoflife.date API: no `result` product list or product".into(),
            ));
        }
    };
    let mut out = Vec::new();
    for p in products {
        let Some(product) = p["name"].as_str().filter(|s| !s.is_empty()) else {
            return Err(FeedError::Invalid(
                "endoflife.date API: a product without a name".into(),
            ));
        };
        for r in p["releases"].as_array().into_iter().flatten() {
            let Some(cycle) = cycle_name(r.get("name")) else {
                return Err(FeedError::Invalid(format!(
                    "endoflife.date API: {product}: a release without a name"
                )));
            };
            let tag = format!("{product} {cycle}");
            let eol = when(r.get("eolFrom"), "eolFrom", &tag)?;
            let release = when(r.get("releaseDate"), "releaseDate", &tag)?;
            out.push(Cycle {
                product: product.to_string(),
                codename: r["codename"].as_str().map(str::to_string),
                release: release.date,
                ended: eol.date.is_none() && r["isEol"].as_bool().unwrap_or(false),
                eol: eol.date,
                extended: None,
                lts: r["isLts"].as_bool().unwrap_or(false),
                source: "endoflife.date".into(),
                cycle,
            });
        }
    }
    if out.is_empty() {
        return Err(FeedError::Invalid(
            "endoflife.date API: no release cycles".into(),
        ));
    }
    Ok(out)
}

/// Parses a product file of endoflife.date's repository
/// (`products/NAME.md`, `product` is NAME): the `releases` of its YAML
/// front matter.
pub fn parse_endoflife_md(bytes: &[u8], product: &str) -> Result<Vec<Cycle>, FeedError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| FeedError::Invalid(format!("endoflife.date product file: not UTF-8: {e}")))?;
    let front = text
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---").map(|(f, _)| f))
        .ok_or_else(|| {
            FeedError::Invalid("endoflife.date product file: no `---` front matter".into())
        })?;
    // YAML dates are read as strings, `eol: true` as a boolean
    let doc: serde_json::Value = serde_yaml_ng::from_str(front).map_err(|e| {
        FeedError::Invalid(format!(
            "endoflife.date product file: front matter{}: {e}",
            e.location()
                .map(|l| format!(" line {}", l.line() + 1))
                .unwrap_or_default()
        ))
    })?;
    let mut out = Vec::new();
    for r in doc["releases"].as_array().into_iter().flatten() {
        let Some(cycle) = cycle_name(r.get("releaseCycle")) else {
            return Err(FeedError::Invalid(format!(
                "endoflife.date product file {product}: a release without releaseCycle"
            )));
        };
        let tag = format!("{product} {cycle}");
        let eol = when(r.get("eol"), "eol", &tag)?;
        let lts = when(r.get("lts"), "lts", &tag)?;
        let release = when(r.get("releaseDate"), "releaseDate", &tag)?;
        out.push(Cycle {
            product: product.to_string(),
            codename: r["codename"].as_str().map(str::to_string),
            release: release.date,
            ended: eol.date.is_none() && eol.flag,
            eol: eol.date,
            extended: None,
            lts: lts.flag,
            source: "endoflife.date".into(),
            cycle,
        });
    }
    if out.is_empty() {
        return Err(FeedError::Invalid(format!(
            "endoflife.date product file {product}: no releases"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_rows_keep_lts_as_the_extended_end() {
        let csv = "version,codename,series,created,release,eol,eol-lts,eol-elts\n11,Bullseye,bullseye,2019-07-06,2021-08-14,2024-08-14,2026-08-31,2029-06-30\n12,Bookworm,bookworm,2021-08-14,2023-06-10,2026-06-10,2028-06-30,2033-06-30\n,Sid,sid,1993-08-16\n";
        let c = parse_distro_info(csv.as_bytes(), "debian").unwrap();
        assert_eq!(c.len(), 2, "sid has no version");
        assert_eq!(c[0].cycle, "11");
        assert_eq!(c[0].eol.as_deref(), Some("2024-08-14"));
        assert_eq!(c[0].end(), Some("2026-08-31"));
        assert_eq!(c[1].codename.as_deref(), Some("bookworm"));
    }

    #[test]
    fn ubuntu_lts_is_marked_and_server_support_extends() {
        let csv = "version,codename,series,created,release,eol,eol-server,eol-esm,eol-legacy\n18.04 LTS,Bionic Beaver,bionic,2017-10-19,2018-04-26,2023-05-31,2023-05-31,2028-04-26,2030-04-26\n23.10,Mantic Minotaur,mantic,2023-04-20,2023-10-12,2024-07-11\n";
        let c = parse_distro_info(csv.as_bytes(), "ubuntu").unwrap();
        assert_eq!((c[0].cycle.as_str(), c[0].lts), ("18.04", true));
        assert_eq!(c[0].end(), Some("2023-05-31"), "ESM is paid: not counted");
        assert!(!c[1].lts);
        assert_eq!(c[1].end(), Some("2024-07-11"));
    }

    #[test]
    fn status_on_a_given_day_counts_days_to_the_end_of_free_updates() {
        let c = parse_distro_info(
            b"version,codename,series,created,release,eol,eol-lts\n11,Bullseye,bullseye,2019-07-06,2021-08-14,2024-08-14,2026-08-31\n",
            "debian",
        )
        .unwrap();
        let s = c[0].status("2026-08-21");
        assert_eq!((s.days_left, s.eol), (Some(10), false));
        assert_eq!(
            s.text(),
            "debian 11 (bullseye): EOL in 10 days (2026-08-31)"
        );
        let s = c[0].status("2026-09-01");
        assert!(s.eol);
        assert_eq!(s.text(), "debian 11 (bullseye): EOL since 2026-08-31");
    }

    #[test]
    fn endoflife_product_files_and_api_say_the_same() {
        let md = "---\ntitle: Python\nreleases:\n  - releaseCycle: \"3.13\"\n    releaseDate: 2024-10-07\n    eol: 2029-10-31\n    latest: \"3.13.1\"\n\n  - releaseCycle: \"2.7\"\n    releaseDate: 2010-07-03\n    eol: true\n---\n\nSome text.\n";
        assert!(sniff_endoflife(md.as_bytes()));
        let c = parse_endoflife_md(md.as_bytes(), "python").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[0].cycle.as_str(), c[0].eol.as_deref()),
            ("3.13", Some("2029-10-31"))
        );
        assert_eq!(c[0].release.as_deref(), Some("2024-10-07"));
        assert!(c[1].ended && c[1].eol.is_none());
        let s = c[1].status("2026-12-07");
        assert!(s.eol);
        assert_eq!(s.text(), "python 2.7: EOL (no date given)");
        let api = r#"{"schema_version":"1.2.0","total":1,"result":[{"name":"python","releases":[
            {"name":"3.13","codename":null,"releaseDate":"2024-10-07","isLts":false,"isEol":false,"eolFrom":"2029-10-31"},
            {"name":"2.7","codename":null,"releaseDate":"2010-07-03","isLts":false,"isEol":true,"eolFrom":null}]}]}"#;
        assert!(sniff_endoflife(api.as_bytes()));
        assert_eq!(parse_endoflife_api(api.as_bytes()).unwrap(), c);
        // one product's page has the product as its result
        let one = r#"{"schema_version":"1.2.0","result":{"name":"python","releases":[{"name":"3.13","releaseDate":"2024-10-07","isEol":false,"eolFrom":"2029-10-31"}]}}"#;
        assert_eq!(parse_endoflife_api(one.as_bytes()).unwrap()[0], c[0]);
    }

    #[test]
    fn endoflife_data_with_a_bad_date_names_the_release() {
        let md = "---\nreleases:\n  - releaseCycle: \"3.9\"\n    eol: soon\n---\n";
        let e = parse_endoflife_md(md.as_bytes(), "python").unwrap_err();
        assert!(
            e.to_string()
                .contains("release python 3.9: `\"soon\"` (eol)"),
            "{e}"
        );
        assert!(parse_endoflife_md(b"no front matter", "python").is_err());
        let e = parse_endoflife_api(br#"{"schema_version":"1","result":[{"releases":[]}]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("without a name"), "{e}");
    }

    #[test]
    fn a_bad_date_or_header_is_an_error_naming_the_line() {
        let e = parse_distro_info(
            b"version,codename,series,created,release,eol\n12,B,b,2021-08-14,2023-06-10,June\n",
            "debian",
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 2: `June` (eol)"), "{e}");
        assert!(parse_distro_info(b"a,b,c\n", "debian").is_err());
    }
}
