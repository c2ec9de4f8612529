//! "Current version: latest LTS or stable" for base images: which product
//! and release cycle a base's tag names (`python:3.9-slim` is Python 3.9,
//! `debian:bullseye-slim` Debian 11, `node:18-alpine` Node.js 18), and
//! whether that cycle has ended or is not the newest LTS (or, for products
//! without LTS cycles, the newest stable) release. The dates come from the
//! caller ([`Releases`]: the advisory DB's end-of-life data); a base whose
//! product or cycle is not known gets no finding, never a guess.

use oci::ImageRef;

/// One release cycle, as end-of-life data states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// `debian`, `python`, `nodejs` (endoflife.date's names).
    pub product: String,
    /// `12`, `3.9`, `18`.
    pub cycle: String,
    /// `bookworm`.
    pub codename: Option<String>,
    /// Released (`YYYY-MM-DD`).
    pub release: Option<String>,
    /// Last day of free security support (`YYYY-MM-DD`).
    pub end: Option<String>,
    /// Marked ended without a date.
    pub ended: bool,
    /// A long-term-support cycle.
    pub lts: bool,
}

/// What the data says of one base's cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// `python 3.9`.
    pub release: String,
    /// Past its end (with the end date when known).
    pub ended: Option<Option<String>>,
    /// The cycle to be on instead (newest LTS, or newest stable), when this
    /// is not it.
    pub current: Option<String>,
    /// `current` is the newest LTS (not only the newest release).
    pub lts: bool,
}

/// End-of-life data, as lint sees it.
pub trait Releases: Send + Sync {
    /// The cycles of `product`.
    fn cycles(&self, product: &str) -> Vec<Cycle>;
    /// Today (`YYYY-MM-DD`).
    fn today(&self) -> String;
}

/// End-of-life data held in memory (read once from the DB).
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Every cycle of every product.
    pub cycles: Vec<Cycle>,
    /// Today (`YYYY-MM-DD`).
    pub today: String,
}

impl Releases for Table {
    fn cycles(&self, product: &str) -> Vec<Cycle> {
        self.cycles
            .iter()
            .filter(|c| c.product == product)
            .cloned()
            .collect()
    }
    fn today(&self) -> String {
        self.today.clone()
    }
}

/// The end-of-life product a repository's last path component names.
fn product(repo_name: &str) -> Option<&'static str> {
    Some(match repo_name {
        "debian" => "debian",
        "ubuntu" => "ubuntu",
        "alpine" => "alpine-linux",
        "python" | "pypy" => "python",
        "node" => "nodejs",
        "golang" => "go",
        "eclipse-temurin" | "openjdk" | "amazoncorretto" => "eclipse-temurin",
        "ruby" => "ruby",
        "php" => "php",
        "runtime" | "aspnet" | "sdk" | "runtime-deps" => "dotnet",
        "rockylinux" => "rocky-linux",
        "almalinux" => "almalinux",
        "amazonlinux" => "amazon-linux",
        "fedora" => "fedora",
        "oraclelinux" => "oracle-linux",
        _ => return None,
    })
}

/// The product and the cycle (or codename) a reference's tag names:
/// `python:3.9-slim-bookworm` → (`python`, `3.9`); no tag, `latest`,
/// `stable` or a tag that starts with neither a digit nor a letter-only
/// codename → `None`.
pub fn named(r: &ImageRef) -> Option<(&'static str, String)> {
    let last = r.repository().rsplit('/').next()?;
    // .NET images live under mcr.microsoft.com/dotnet/*
    if matches!(last, "runtime" | "aspnet" | "sdk" | "runtime-deps")
        && !r.repository().contains("dotnet")
    {
        return None;
    }
    let p = product(last)?;
    let tag = r.tag()?;
    let head = tag.split(['-', '_']).next()?.to_ascii_lowercase();
    if head.is_empty()
        || matches!(
            head.as_str(),
            "latest" | "stable" | "lts" | "current" | "slim" | "alpine"
        )
    {
        return None;
    }
    let ok = head.chars().all(|c| c.is_ascii_digit() || c == '.')
        && head.starts_with(|c: char| c.is_ascii_digit())
        || head.chars().all(|c| c.is_ascii_lowercase());
    ok.then_some((p, head))
}

fn days(date: &str) -> Option<i64> {
    format!("{date}T00:00:00Z")
        .parse::<findings::time::Timestamp>()
        .ok()
        .map(|t| t.0.div_euclid(86_400))
}

/// Where the cycle `key` (a cycle, a point release of one, or a codename)
/// of `product` stands in `cycles` on `today`; `None` when the data does not
/// know it.
pub fn standing(product: &str, key: &str, cycles: &[Cycle], today: &str) -> Option<Standing> {
    let parts: Vec<&str> = key.split('.').collect();
    let candidates: Vec<String> = (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("."))
        .collect();
    let c = cycles
        .iter()
        .find(|c| {
            c.codename
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(key))
        })
        .or_else(|| {
            candidates
                .iter()
                .find_map(|k| cycles.iter().find(|c| c.cycle == *k))
        })?;
    let t = days(today)?;
    let over = |c: &Cycle| match &c.end {
        Some(e) => days(e).is_some_and(|d| d < t),
        None => c.ended,
    };
    let released = |c: &Cycle| c.release.as_deref().and_then(days).is_some_and(|d| d <= t);
    let live: Vec<&Cycle> = cycles.iter().filter(|c| released(c) && !over(c)).collect();
    let lts = live.iter().any(|c| c.lts);
    let newest = live
        .iter()
        .filter(|c| !lts || c.lts)
        .max_by_key(|c| c.release.as_deref().and_then(days))
        .map(|c| c.cycle.clone());
    Some(Standing {
        release: format!("{product} {}", c.cycle),
        ended: over(c).then(|| c.end.clone()),
        current: newest.filter(|n| *n != c.cycle),
        lts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cy(
        product: &str,
        cycle: &str,
        codename: Option<&str>,
        release: &str,
        end: &str,
        lts: bool,
    ) -> Cycle {
        Cycle {
            product: product.into(),
            cycle: cycle.into(),
            codename: codename.map(Into::into),
            release: Some(release.into()),
            end: Some(end.into()),
            ended: false,
            lts,
        }
    }

    #[test]
    fn tags_name_their_product_and_cycle() {
        let n = |s: &str| named(&s.parse().unwrap()).map(|(p, c)| format!("{p} {c}"));
        assert_eq!(n("python:3.9-slim-bookworm").as_deref(), Some("python 3.9"));
        assert_eq!(
            n("debian:bullseye-slim").as_deref(),
            Some("debian bullseye")
        );
        assert_eq!(n("node:18-alpine").as_deref(), Some("nodejs 18"));
        assert_eq!(
            n("mcr.microsoft.com/dotnet/runtime:8.0").as_deref(),
            Some("dotnet 8.0")
        );
        assert_eq!(n("registry.example/team/runtime:8.0"), None);
        assert_eq!(n("debian:latest"), None);
        assert_eq!(n("debian"), None);
        assert_eq!(n("nginx:1.27"), None, "not a product we date");
    }

    #[test]
    fn ended_and_not_current_cycles_are_told_apart() {
        let debian = vec![
            cy(
                "debian",
                "11",
                Some("bullseye"),
                "2021-08-14",
                "2026-08-31",
                false,
            ),
            cy(
                "debian",
                "12",
                Some("bookworm"),
                "2023-06-10",
                "2028-06-30",
                false,
            ),
            cy(
                "debian",
                "13",
                Some("trixie"),
                "2025-08-09",
                "2030-06-30",
                false,
            ),
            cy(
                "debian",
                "14",
                Some("forky"),
                "2027-06-01",
                "2032-06-30",
                false,
            ),
        ];
        let s = standing("debian", "bullseye", &debian, "2026-12-07").unwrap();
        assert_eq!(s.ended, Some(Some("2026-08-31".into())));
        let s = standing("debian", "12.5", &debian, "2026-12-07").unwrap();
        assert_eq!(
            (s.ended.clone(), s.current.as_deref()),
            (None, Some("13")),
            "forky is not released"
        );
        assert!(
            standing("debian", "13", &debian, "2026-12-07")
                .unwrap()
                .current
                .is_none()
        );
        assert!(
            standing("debian", "9", &debian, "2026-12-07").is_none(),
            "unknown: no claim"
        );
        let node = vec![
            cy("nodejs", "22", None, "2024-04-24", "2027-04-30", true),
            cy("nodejs", "24", None, "2025-05-06", "2028-04-30", true),
            cy("nodejs", "25", None, "2025-10-15", "2026-06-01", false),
            cy("nodejs", "26", None, "2026-05-05", "2029-04-30", false),
        ];
        let s = standing("nodejs", "26", &node, "2026-12-07").unwrap();
        assert_eq!(
            (s.current.as_deref(), s.lts),
            (Some("24"), true),
            "newest LTS, not newest"
        );
        assert!(
            standing("nodejs", "24", &node, "2026-12-07")
                .unwrap()
                .current
                .is_none()
        );
    }
}
