//! Times as safeimage records them: Unix seconds, written as RFC 3339 UTC
//! (`2026-11-24T00:00:00Z`), with the compact date forms tags and expiry
//! checks use. No time-zone database is needed: everything is UTC.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A point in time, in Unix seconds (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The system clock now.
    pub fn now() -> Self {
        Timestamp(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        )
    }

    /// `YYYY-MM-DD`.
    pub fn date(self) -> String {
        self.to_string()[..10].to_string()
    }

    /// Its ISO 8601 week: (week-numbering year, week 1..=53).
    pub fn iso_week(self) -> (i32, u32) {
        let days = self.0.div_euclid(86_400);
        // 1970-01-01 was a Thursday: Monday = 0
        let weekday = (days + 3).rem_euclid(7);
        // the week's Thursday decides its year
        let thursday = Timestamp((days - weekday + 3) * 86_400);
        let year: i32 = thursday.to_string()[..4].parse().unwrap_or(1970);
        let start = Timestamp::iso_week_start(year, 1).unwrap_or(Timestamp(0));
        let week = (thursday.0 - start.0).div_euclid(7 * 86_400) as u32 + 1;
        (year, week)
    }

    /// `YYYY-Www`.
    pub fn iso_week_label(self) -> String {
        let (y, w) = self.iso_week();
        format!("{y}-W{w:02}")
    }

    /// Monday 00:00 UTC of ISO week `week` of `year` (no check of 53).
    pub fn iso_week_start(year: i32, week: u32) -> Option<Timestamp> {
        if !(1..=53).contains(&week) {
            return None;
        }
        let jan4: Timestamp = format!("{year:04}-01-04T00:00:00Z").parse().ok()?;
        let days = jan4.0.div_euclid(86_400);
        let weekday = (days + 3).rem_euclid(7);
        Some(Timestamp(
            (days - weekday + 7 * (i64::from(week) - 1)) * 86_400,
        ))
    }

    /// `YYYYMMDD` (for `{date}` tags).
    pub fn date_compact(self) -> String {
        self.date().replace('-', "")
    }

    /// Seconds from `earlier` to `self`.
    pub fn since(self, earlier: Timestamp) -> i64 {
        self.0 - earlier.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // civil-from-days (Howard Hinnant's algorithm)
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

/// Not `YYYY-MM-DDTHH:MM:SS[.fff]Z`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ)")]
pub struct BadTimestamp(pub String);

impl FromStr for Timestamp {
    type Err = BadTimestamp;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadTimestamp(s.to_string());
        let b = s.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || !s.ends_with('Z')
        {
            return Err(bad());
        }
        let n = |r: std::ops::Range<usize>| -> Result<i64, BadTimestamp> {
            let t = s.get(r).ok_or_else(bad)?;
            if !t.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            t.parse::<i64>().map_err(|_| bad())
        };
        let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
        let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
        let frac = &s[19..s.len() - 1];
        if !(frac.is_empty()
            || frac.starts_with('.')
                && frac.len() > 1
                && frac[1..].bytes().all(|c| c.is_ascii_digit()))
            || !(1..=12).contains(&m)
            || !(1..=31).contains(&d)
            || hh > 23
            || mm > 59
            || ss > 60
        {
            return Err(bad());
        }
        // days-from-civil (Howard Hinnant's algorithm)
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Ok(Timestamp(days * 86_400 + hh * 3600 + mm * 60 + ss))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_known_dates() {
        for t in [0, 951_782_400, 1_795_478_400, 1_700_000_123] {
            let s = Timestamp(t).to_string();
            assert_eq!(s.parse::<Timestamp>(), Ok(Timestamp(t)));
        }
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(951_782_400).to_string(), "2000-02-29T00:00:00Z");
        assert_eq!(Timestamp(1_795_478_400).date_compact(), "20261124");
        assert_eq!(Timestamp(1_795_478_400).date(), "2026-11-24");
        assert_eq!(
            "2026-11-24T00:00:00.123Z".parse::<Timestamp>(),
            Ok(Timestamp(1_795_478_400))
        );
    }

    #[test]
    fn rejects_other_forms() {
        for s in [
            "2026-11-24",
            "2026-11-24T00:00:00+01:00",
            "2026-13-01T00:00:00Z",
            "20x6-11-24T00:00:00Z",
        ] {
            assert!(s.parse::<Timestamp>().is_err(), "{s}");
        }
    }

    #[test]
    fn iso_weeks_follow_the_thursday_rule() {
        let w = |s: &str| s.parse::<Timestamp>().unwrap().iso_week();
        assert_eq!(w("2026-12-07T10:00:00Z"), (2026, 50));
        assert_eq!(w("2021-01-03T00:00:00Z"), (2020, 53));
        assert_eq!(w("2024-12-30T00:00:00Z"), (2025, 1));
        assert_eq!(
            Timestamp::iso_week_start(2026, 50).unwrap().to_string(),
            "2026-12-07T00:00:00Z"
        );
        assert_eq!(
            Timestamp::iso_week_start(2020, 53).unwrap().to_string(),
            "2020-12-28T00:00:00Z"
        );
        assert_eq!(
            "2026-12-07T10:00:00Z"
                .parse::<Timestamp>()
                .unwrap()
                .iso_week_label(),
            "2026-W50"
        );
    }
}
