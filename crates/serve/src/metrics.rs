//! `/metrics` in Prometheus' text exposition format (0.0.4): the fleet's
//! images by last decision, open, overdue and KEV findings, runs by status,
//! each job's last duration and success, the advisory DB's age. Label
//! values are escaped as the format requires.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use model::Timestamp;

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, v) in samples {
        let _ = writeln!(out, "{name}{labels} {v}");
    }
}

/// The exposition.
pub fn text(
    o: &crate::view::Overview,
    runs: &[store::RunSummary],
    jobs: &[store::JobRecord],
    db: Option<&Path>,
    now: Timestamp,
) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "safeimage_up",
        "gauge",
        "1 while the service answers.",
        &[(String::new(), 1.0)],
    );
    let mut decisions: BTreeMap<String, usize> = BTreeMap::new();
    let mut open: BTreeMap<String, usize> = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
        .iter()
        .map(|s| (s.to_string(), 0))
        .collect();
    let (mut overdue, mut kev) = (0, 0);
    for i in &o.images {
        let d = i
            .last
            .as_ref()
            .map_or("none".to_string(), |l| l.outcome.clone());
        *decisions.entry(d).or_default() += 1;
        for (s, n) in &i.counts {
            *open.entry(s.clone()).or_default() += n;
        }
        overdue += i.overdue;
        kev += i.kev;
    }
    let s = |m: &BTreeMap<String, usize>, l: &str| -> Vec<(String, f64)> {
        m.iter()
            .map(|(k, v)| (format!("{{{l}=\"{}\"}}", label(k)), *v as f64))
            .collect()
    };
    family(
        &mut out,
        "safeimage_images",
        "gauge",
        "Images of the fleet by their last decision.",
        &s(&decisions, "decision"),
    );
    family(
        &mut out,
        "safeimage_findings_open",
        "gauge",
        "Open findings of the promoted images by severity.",
        &s(&open, "severity"),
    );
    family(
        &mut out,
        "safeimage_findings_overdue",
        "gauge",
        "Open findings past their [sla] deadline.",
        &[(String::new(), overdue as f64)],
    );
    family(
        &mut out,
        "safeimage_findings_kev",
        "gauge",
        "Open findings in CISA's KEV catalog.",
        &[(String::new(), kev as f64)],
    );
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for r in runs {
        *by_status.entry(r.status.clone()).or_default() += 1;
    }
    family(
        &mut out,
        "safeimage_runs",
        "gauge",
        "Runs in the store by status (the last 1000).",
        &s(&by_status, "status"),
    );
    let mut last: BTreeMap<String, &store::JobRecord> = BTreeMap::new();
    for j in jobs.iter().filter(|j| j.finished.is_some()) {
        let kind = j.job.split(':').next().unwrap_or(&j.job).to_string();
        last.entry(kind).or_insert(j);
    }
    let durations: Vec<(String, f64)> = last
        .iter()
        .map(|(k, j)| {
            (
                format!("{{job=\"{}\"}}", label(k)),
                j.finished.map_or(0, |f| f.0 - j.started.0) as f64,
            )
        })
        .collect();
    family(
        &mut out,
        "safeimage_job_last_duration_seconds",
        "gauge",
        "Duration of each job's last finished tick.",
        &durations,
    );
    let success: Vec<(String, f64)> = last
        .iter()
        .map(|(k, j)| {
            (
                format!("{{job=\"{}\"}}", label(k)),
                f64::from(u8::from(j.ok == Some(true))),
            )
        })
        .collect();
    family(
        &mut out,
        "safeimage_job_last_success",
        "gauge",
        "1 when the job's last finished tick succeeded.",
        &success,
    );
    if let Some(built) = db
        .and_then(|p| vulndb::Db::open(p).ok())
        .map(|d| d.status().built_at)
    {
        family(
            &mut out,
            "safeimage_db_age_seconds",
            "gauge",
            "Seconds since the advisory DB was built.",
            &[(String::new(), (now.0 - built.0) as f64)],
        );
    }
    out
}
