//! FIRST's Exploit Prediction Scoring System daily file
//! (`epss_scores-YYYY-MM-DD.csv[.gz]`): a `#model_version:…,score_date:…`
//! comment, the header `cve,epss,percentile`, then one row per CVE with
//! the probability of exploitation in the next 30 days and its percentile.
//! Read strictly: another header, a score outside 0..=1 or a malformed CVE
//! id is an error naming the line.

use serde::{Deserialize, Serialize};

use super::FeedError;

/// One CVE's score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpssScore {
    /// Probability of exploitation activity in the next 30 days.
    pub score: f64,
    /// Its percentile among all scored CVEs.
    pub percentile: f64,
}

/// A daily file.
#[derive(Debug, Clone, PartialEq)]
pub struct Epss {
    /// `model_version`.
    pub model: String,
    /// `score_date` (as written: a date or RFC 3339 time).
    pub date: String,
    /// (CVE, score) rows.
    pub scores: Vec<(String, EpssScore)>,
}

/// Whether bytes look like the daily file.
pub fn sniff(bytes: &[u8]) -> bool {
    bytes.starts_with(b"#model_version") || bytes.starts_with(b"cve,epss,percentile")
}

/// Parses the file.
pub fn parse(bytes: &[u8]) -> Result<Epss, FeedError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| FeedError::Invalid(format!("EPSS file: not UTF-8: {e}")))?;
    let mut model = String::new();
    let mut date = String::new();
    let mut header = false;
    let mut scores = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        if let Some(meta) = line.strip_prefix('#') {
            for part in meta.split(',') {
                match part.split_once(':') {
                    Some(("model_version", v)) => model = v.trim().to_string(),
                    Some(("score_date", v)) => date = v.trim().to_string(),
                    _ => {}
                }
            }
            continue;
        }
        if !header {
            if line != "cve,epss,percentile" {
                return Err(FeedError::Invalid(format!(
                    "EPSS file: line {n}: expected the header `cve,epss,percentile`"
                )));
            }
            header = true;
            continue;
        }
        let bad = |what: &str| {
            FeedError::Invalid(format!(
                "EPSS file: line {n}: {what}: `{}`",
                line.chars().take(60).collect::<String>()
            ))
        };
        let mut cols = line.split(',');
        let (Some(cve), Some(s), Some(p), None) =
            (cols.next(), cols.next(), cols.next(), cols.next())
        else {
            return Err(bad("expected cve,epss,percentile"));
        };
        if !cve.starts_with("CVE-") {
            return Err(bad("not a CVE id"));
        }
        let num = |x: &str| x.parse::<f64>().ok().filter(|v| (0.0..=1.0).contains(v));
        let (Some(score), Some(percentile)) = (num(s), num(p)) else {
            return Err(bad("a score or percentile outside 0..=1"));
        };
        scores.push((cve.to_string(), EpssScore { score, percentile }));
    }
    if !header {
        return Err(FeedError::Invalid(
            "EPSS file: no `cve,epss,percentile` header".into(),
        ));
    }
    Ok(Epss {
        model,
        date,
        scores,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_file_is_read_with_its_model_and_date() {
        let f = b"#model_version:v2023.03.01,score_date:2025-03-16T00:00:00+0000\ncve,epss,percentile\nCVE-2023-44487,0.85557,0.98843\r\n";
        assert!(sniff(f));
        let e = parse(f).unwrap();
        assert_eq!(
            (e.model.as_str(), e.date.as_str()),
            ("v2023.03.01", "2025-03-16T00:00:00+0000")
        );
        assert_eq!(e.scores[0].0, "CVE-2023-44487");
        assert_eq!(e.scores[0].1.score, 0.85557);
    }

    #[test]
    fn a_file_of_the_wrong_shape_is_an_error_naming_the_line() {
        let e = parse(b"cve,epss,percentile\nCVE-1,1.5,0.2\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("outside 0..=1"), "{e}");
        let e = parse(b"#model_version:x\ncve,score\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("header"), "{e}");
        let e = parse(b"cve,epss,percentile\nGHSA-1,0.1,0.2\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a CVE id"), "{e}");
        let e = parse(b"#model_version:x\n").unwrap_err().to_string();
        assert!(e.contains("no `cve,epss,percentile` header"), "{e}");
    }
}
