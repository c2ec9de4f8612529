//! Findings over time. Each (image, platform, advisory, package) the
//! promoted image carries is tracked: when it was first and last seen, the
//! digest it was last seen in, its severity, whether it is open, ignored (by
//! an ignore rule or VEX, with reason and expiry), open again because its
//! ignore expired, or fixed (it left the promoted image; when). A rebuild
//! that changes nothing keeps first-seen; a finding that comes back after a
//! fix is a new occurrence. Also when a fix first became available, for
//! SLAs counted from then, and when the finding was last notified as
//! overdue. The transition is computed here, once; the SQL stores run it in
//! their decision transaction and the memory store applies it to its rows.

use std::collections::BTreeMap;

use model::Timestamp;

pub use model::tracked::{TrackState, Tracked};

/// A finding as the promoted image has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub advisory: String,
    pub package: String,
    pub severity: String,
    /// Reason and expiry, when ignored.
    pub ignored: Option<(String, Option<String>)>,
    pub has_fix: bool,
    /// CISA's KEV due date.
    pub kev_due: Option<String>,
}

/// What a promotion does to one platform's tracked findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// A new occurrence (first seen now).
    Insert { seen: Seen, state: TrackState },
    /// Still there: last-seen, digest, severity and state move.
    Update {
        occurrence: i64,
        seen: Seen,
        state: TrackState,
    },
    /// Gone from the image: fixed now.
    Fix {
        advisory: String,
        package: String,
        occurrence: i64,
    },
}

/// An open (not fixed) row, as the transition needs it.
#[derive(Debug, Clone)]
pub(crate) struct OpenRow {
    pub advisory: String,
    pub package: String,
    pub occurrence: i64,
    pub state: TrackState,
}

/// The promoted findings of one platform, one per advisory and package
/// (the most severe when a package is there twice).
pub(crate) fn seen(findings: &[scan::Finding]) -> Vec<Seen> {
    let rank = |s: &str| {
        ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
            .iter()
            .position(|x| *x == s)
    };
    let mut by: BTreeMap<(String, String), Seen> = BTreeMap::new();
    for f in findings {
        let s = Seen {
            advisory: f.id.to_string(),
            package: format!("{}/{}", f.package.kind, f.package.name),
            severity: f.severity.as_str().to_string(),
            ignored: f
                .suppressed
                .as_ref()
                .map(|x| (x.reason.clone(), x.expires.clone())),
            has_fix: f.has_fix(),
            kev_due: f.kev.as_ref().map(|k| k.due_date.clone()),
        };
        let k = (s.advisory.clone(), s.package.clone());
        match by.get(&k) {
            Some(old) if rank(&old.severity) >= rank(&s.severity) => {}
            _ => {
                by.insert(k, s);
            }
        }
    }
    by.into_values().collect()
}

/// The changes that take `open` (this platform's rows not yet fixed) to
/// what the image has now.
pub(crate) fn changes(open: &[OpenRow], now: &[Seen]) -> Vec<Change> {
    let mut out = Vec::new();
    for s in now {
        let prev = open
            .iter()
            .find(|o| o.advisory == s.advisory && o.package == s.package);
        let state = match (&s.ignored, prev.map(|p| p.state)) {
            (Some(_), _) => TrackState::Ignored,
            (None, Some(TrackState::Ignored | TrackState::IgnoreExpired)) => {
                TrackState::IgnoreExpired
            }
            (None, _) => TrackState::Open,
        };
        out.push(match prev {
            Some(p) => Change::Update {
                occurrence: p.occurrence,
                seen: s.clone(),
                state,
            },
            None => Change::Insert {
                seen: s.clone(),
                state,
            },
        });
    }
    for o in open {
        if !now
            .iter()
            .any(|s| s.advisory == o.advisory && s.package == o.package)
        {
            out.push(Change::Fix {
                advisory: o.advisory.clone(),
                package: o.package.clone(),
                occurrence: o.occurrence,
            });
        }
    }
    out
}

/// The same transition on rows kept in memory (the memory store's).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn apply(
    rows: &mut Vec<Tracked>,
    image: &str,
    document: &BTreeMap<String, &[scan::Finding]>,
    digest: &str,
    now: Timestamp,
) {
    let mut platforms: Vec<String> = document.keys().cloned().collect();
    for r in rows.iter() {
        if r.image == image && r.fixed_at.is_none() && !platforms.contains(&r.platform) {
            platforms.push(r.platform.clone());
        }
    }
    for platform in platforms {
        let open: Vec<OpenRow> = rows
            .iter()
            .filter(|r| r.image == image && r.platform == platform && r.fixed_at.is_none())
            .map(|r| OpenRow {
                advisory: r.advisory.clone(),
                package: r.package.clone(),
                occurrence: r.occurrence,
                state: r.state,
            })
            .collect();
        let seen = document.get(&platform).map(|f| seen(f)).unwrap_or_default();
        for c in changes(&open, &seen) {
            match c {
                Change::Insert { seen: s, state } => {
                    let occurrence = rows
                        .iter()
                        .filter(|r| {
                            r.key()
                                == (
                                    image,
                                    platform.as_str(),
                                    s.advisory.as_str(),
                                    s.package.as_str(),
                                )
                        })
                        .map(|r| r.occurrence)
                        .max()
                        .unwrap_or(0)
                        + 1;
                    rows.push(Tracked {
                        image: image.to_string(),
                        platform: platform.clone(),
                        advisory: s.advisory,
                        package: s.package,
                        occurrence,
                        severity: s.severity,
                        state,
                        reason: s.ignored.as_ref().map(|i| i.0.clone()),
                        expires: s.ignored.and_then(|i| i.1),
                        first_seen: now,
                        last_seen: now,
                        fixed_at: None,
                        fix_available: s.has_fix.then_some(now),
                        digest: digest.to_string(),
                        kev_due: s.kev_due,
                        notified_at: None,
                    });
                }
                Change::Update {
                    occurrence,
                    seen: s,
                    state,
                } => {
                    if let Some(r) = rows.iter_mut().find(|r| {
                        r.key()
                            == (
                                image,
                                platform.as_str(),
                                s.advisory.as_str(),
                                s.package.as_str(),
                            )
                            && r.occurrence == occurrence
                    }) {
                        r.severity = s.severity;
                        r.state = state;
                        r.reason = s.ignored.as_ref().map(|i| i.0.clone());
                        r.expires = s.ignored.and_then(|i| i.1);
                        r.last_seen = now;
                        if r.fix_available.is_none() && s.has_fix {
                            r.fix_available = Some(now);
                        }
                        r.digest = digest.to_string();
                        r.kev_due = s.kev_due;
                    }
                }
                Change::Fix {
                    advisory,
                    package,
                    occurrence,
                } => {
                    if let Some(r) = rows.iter_mut().find(|r| {
                        r.key()
                            == (
                                image,
                                platform.as_str(),
                                advisory.as_str(),
                                package.as_str(),
                            )
                            && r.occurrence == occurrence
                    }) {
                        r.state = TrackState::Fixed;
                        r.fixed_at = Some(now);
                    }
                }
            }
        }
    }
}

/// The columns stores read a [`Tracked`] from, in order.
pub(crate) const COLUMNS: &str =
    "image, platform, advisory, package, CAST(occurrence AS TEXT), severity, state,
     reason, expires, CAST(first_seen AS TEXT), CAST(last_seen AS TEXT), CAST(fixed_at AS TEXT),
     CAST(fix_available AS TEXT), digest, CAST(notified_at AS TEXT), kev_due";

/// A row of [`COLUMNS`] as text.
pub(crate) fn from_texts(r: &[Option<String>]) -> Tracked {
    let s = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
    let o = |i: usize| r.get(i).cloned().flatten();
    let t = |i: usize| o(i).and_then(|v| v.parse().ok()).map(Timestamp);
    Tracked {
        image: s(0),
        platform: s(1),
        advisory: s(2),
        package: s(3),
        occurrence: s(4).parse().unwrap_or(1),
        severity: s(5),
        state: TrackState::parse(&s(6)).unwrap_or(TrackState::Open),
        reason: o(7),
        expires: o(8),
        first_seen: t(9).unwrap_or(Timestamp(0)),
        last_seen: t(10).unwrap_or(Timestamp(0)),
        fixed_at: t(11),
        fix_available: t(12),
        digest: s(13),
        notified_at: t(14),
        kev_due: o(15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(advisory: &str, ignored: bool) -> Seen {
        Seen {
            advisory: advisory.into(),
            package: "deb/openssl".into(),
            severity: "HIGH".into(),
            ignored: ignored.then(|| ("not reachable".to_string(), None)),
            has_fix: true,
            kev_due: None,
        }
    }

    fn row(advisory: &str, occurrence: i64, state: TrackState) -> OpenRow {
        OpenRow {
            advisory: advisory.into(),
            package: "deb/openssl".into(),
            occurrence,
            state,
        }
    }

    #[test]
    fn new_findings_are_inserted_kept_ones_updated_gone_ones_fixed() {
        let open = [
            row("CVE-1", 1, TrackState::Open),
            row("CVE-2", 3, TrackState::Open),
        ];
        let c = changes(&open, &[s("CVE-1", false), s("CVE-3", false)]);
        assert_eq!(c.len(), 3);
        assert!(matches!(
            &c[0],
            Change::Update {
                occurrence: 1,
                state: TrackState::Open,
                ..
            }
        ));
        assert!(
            matches!(&c[1], Change::Insert { state: TrackState::Open, seen } if seen.advisory == "CVE-3")
        );
        assert!(
            matches!(&c[2], Change::Fix { occurrence: 3, advisory, .. } if advisory == "CVE-2")
        );
    }

    #[test]
    fn an_ignore_that_ends_reopens_as_ignore_expired() {
        let open = [row("CVE-1", 1, TrackState::Ignored)];
        let c = changes(&open, &[s("CVE-1", false)]);
        assert!(matches!(
            &c[0],
            Change::Update {
                state: TrackState::IgnoreExpired,
                ..
            }
        ));
        // and stays so on the next run
        let open = [row("CVE-1", 1, TrackState::IgnoreExpired)];
        let c = changes(&open, &[s("CVE-1", false)]);
        assert!(matches!(
            &c[0],
            Change::Update {
                state: TrackState::IgnoreExpired,
                ..
            }
        ));
        let c = changes(&open, &[s("CVE-1", true)]);
        assert!(matches!(
            &c[0],
            Change::Update {
                state: TrackState::Ignored,
                ..
            }
        ));
    }

    #[test]
    fn a_package_twice_is_one_finding_at_its_worst_severity() {
        let f = |sev: &str| -> scan::Finding {
            serde_json::from_value(serde_json::json!({
                "id": "CVE-1", "aliases": [], "advisories": ["CVE-1"],
                "package": {"type": "python", "name": "requests", "version": "1", "purl": ""},
                "ecosystem": "PyPI", "matched": "", "state": "fixed",
                "fixed_version": "9", "severity": sev,
                "severity_source": "ghsa", "severity_detail": "",
                "summary": "", "references": []
            }))
            .unwrap()
        };
        let v = seen(&[f("MEDIUM"), f("HIGH"), f("LOW")]);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].severity, "HIGH");
        assert_eq!(v[0].package, "python/requests");
        assert!(v[0].has_fix);
    }

    #[test]
    fn the_memory_store_tracks_like_the_sql_stores() {
        use crate::{Decision, MemoryStore, StateStore};
        let f = |id: &str| -> scan::Finding {
            serde_json::from_value(serde_json::json!({
                "id": id, "aliases": [], "advisories": [id],
                "package": {"type": "deb", "name": "openssl", "version": "1", "purl": ""},
                "ecosystem": "Debian:12", "matched": "", "state": "fixed",
                "fixed_version": "9", "severity": "HIGH",
                "severity_source": "debian", "severity_detail": "",
                "summary": "", "references": []
            }))
            .unwrap()
        };
        let mut s = MemoryStore::default();
        let mut promote = |day: i64, findings: Vec<scan::Finding>| {
            let mut o = model::ImageOutcome::new("app", &"r.example/app".parse().unwrap(), None);
            o.outcome = model::Outcome::Promoted;
            o.digest = Some(format!("sha256:{}", "a".repeat(64)).parse().unwrap());
            o.findings = findings;
            s.decide(&Decision {
                run: model::RunId(1),
                time: Timestamp(day),
                outcome: &o,
                version: None,
            })
            .unwrap();
        };
        promote(1, vec![f("CVE-1")]);
        promote(2, vec![f("CVE-1")]);
        promote(3, vec![]);
        promote(4, vec![f("CVE-1")]);
        let all = s.tracked(Some("app"), true).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            (all[0].first_seen, all[0].fixed_at),
            (Timestamp(1), Some(Timestamp(3)))
        );
        assert_eq!((all[1].occurrence, all[1].first_seen), (2, Timestamp(4)));
        assert_eq!(s.tracked(None, false).unwrap().len(), 1);
    }
}
