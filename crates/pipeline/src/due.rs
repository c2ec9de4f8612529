//! Patch deadlines in a scan's own report (`scan --tracked NAME`): each
//! finding of the scan is marked with what the fleet's store knows of it
//! in the promoted image `NAME` — first seen, its `[sla]` deadline, overdue
//! — and a finding the store does not track yet with the deadline it would
//! get if it were promoted now. Reads only.

use model::Timestamp;
use model::tracked::{TrackState, Tracked};

/// Marks `findings` (see the module); returns how many are overdue.
pub fn annotate(
    findings: &mut [scan::Finding],
    image: &str,
    store: &dyn store::StateStore,
    sla: &store::sla::Sla,
    now: Timestamp,
) -> Result<usize, store::StoreError> {
    let rows = store.tracked(Some(image), false)?;
    let mut overdue = 0;
    for f in findings.iter_mut().filter(|f| f.suppressed.is_none()) {
        let package = format!("{}/{}", f.package.kind, f.package.name);
        // several platforms may track it: the earliest counts
        let known = rows
            .iter()
            .filter(|t| t.state.counts())
            .filter(|t| t.package == package && f.ids().any(|id| id == t.advisory))
            .min_by_key(|t| t.first_seen);
        let (t, tracked) = match known {
            Some(t) => (t.clone(), true),
            None => (
                Tracked {
                    image: image.to_string(),
                    platform: "*".into(),
                    advisory: f.id.to_string(),
                    package,
                    occurrence: 1,
                    severity: f.severity.as_str().to_string(),
                    state: TrackState::Open,
                    reason: None,
                    expires: None,
                    first_seen: now,
                    last_seen: now,
                    fixed_at: None,
                    fix_available: f.has_fix().then_some(now),
                    digest: String::new(),
                    kev_due: f.kev.as_ref().map(|k| k.due_date.clone()),
                    notified_at: None,
                },
                false,
            ),
        };
        let deadline = sla.deadline(&t);
        let late = deadline.is_some_and(|d| d <= now);
        overdue += usize::from(late);
        f.due = Some(scan::DueMark {
            tracked,
            first_seen: t.first_seen.to_string(),
            deadline: deadline.map(|d| d.to_string()),
            overdue: late,
        });
    }
    Ok(overdue)
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::StateStore as _;

    fn finding(id: &str, sev: &str) -> scan::Finding {
        serde_json::from_value(serde_json::json!({
            "id": id, "aliases": [], "advisories": [id],
            "package": {"type": "deb", "name": "openssl", "version": "1", "purl": ""},
            "ecosystem": "Debian:12", "matched": "", "state": "fixed",
            "fixed_version": "9", "severity": sev,
            "severity_source": "debian", "severity_detail": "",
            "summary": "", "references": []
        }))
        .unwrap()
    }

    #[test]
    fn a_tracked_finding_keeps_its_first_seen_and_an_untracked_one_starts_now() {
        let mut s = store::MemoryStore::new();
        let t0 = Timestamp(1_795_478_400);
        let run = s.begin_run(t0, "f", &"".into()).unwrap();
        let mut o = model::ImageOutcome::new("app", &"r.example/app".parse().unwrap(), None);
        o.outcome = model::Outcome::Promoted;
        o.digest = Some(format!("sha256:{}", "a".repeat(64)).parse().unwrap());
        o.findings = vec![finding("CVE-1", "HIGH")];
        s.decide(&store::Decision {
            run,
            time: t0,
            outcome: &o,
            version: None,
        })
        .unwrap();
        let now = Timestamp(t0.0 + 8 * 86_400);
        let mut scanned = vec![finding("CVE-1", "HIGH"), finding("CVE-2", "CRITICAL")];
        let n = annotate(&mut scanned, "app", &s, &store::sla::Sla::default(), now).unwrap();
        assert_eq!(n, 1);
        let a = scanned[0].due.as_ref().unwrap();
        assert!(a.tracked && a.overdue);
        assert_eq!(a.first_seen, t0.to_string());
        assert_eq!(a.deadline, Some(Timestamp(t0.0 + 7 * 86_400).to_string()));
        let b = scanned[1].due.as_ref().unwrap();
        assert!(!b.tracked && !b.overdue);
        assert_eq!(b.deadline, Some(Timestamp(now.0 + 2 * 86_400).to_string()));
    }
}
