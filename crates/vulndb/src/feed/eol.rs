//! End-of-life data: Debian's `distro-info-data` CSVs (`debian.csv`,
//! `ubuntu.csv`: one row per release with its release and end-of-life
//! dates). Read strictly: another header, a date that is not `YYYY-MM-DD`
//! or a row of the wrong width is an error naming the line. A release
//! without an end-of-life date is one still supported with no date set.

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
    /// `debian 12 (bookworm)`.
    pub release: String,
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
        match (&self.end, self.days_left) {
            (Some(e), Some(d)) if d < 0 => format!("{}: EOL since {e}", self.release),
            (Some(e), Some(d)) => format!("{}: EOL in {d} days ({e})", self.release),
            _ => format!("{}: supported, no end of life set", self.release),
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
            eol: days_left.is_some_and(|d| d < 0),
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
            source: format!("distro-info-data {product}.csv"),
        });
    }
    if out.is_empty() {
        return Err(FeedError::Invalid("no release rows".into()));
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
