//! Run reports for `safeimage run`: the terminal table (one line per image:
//! decision, digest, counts, why) and a self-contained HTML page (fleet
//! overview, per-image decision, base digest changes, vulnerabilities).
//! JSON is the [`model::RunReport`] itself.

use std::fmt::Write as _;

use findings::text::clean;

use model::{Outcome, RunReport};
use serde_json::json;
use vulndb::Severity;

fn short(d: &str) -> String {
    d.strip_prefix("sha256:").map_or(d.to_string(), |h| {
        format!("sha256:{}", &h[..12.min(h.len())])
    })
}

/// The terminal table.
pub fn table(r: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<14} {:<9} {:<20} {:>4} {:>4} {:>4} {:>4}  TAGS / WHY",
        "IMAGE", "DECISION", "DIGEST", "CRIT", "HIGH", "MED", "LOW"
    );
    for i in &r.images {
        let c = |s: Severity| i.counts.get(&s).copied().unwrap_or(0);
        let why = if i.tags.is_empty() {
            i.reasons.first().cloned().unwrap_or_default()
        } else {
            i.tags.join(", ")
        };
        let why = clean(why.lines().next().unwrap_or(""));
        let _ = writeln!(
            out,
            "{:<14} {:<9} {:<20} {:>4} {:>4} {:>4} {:>4}  {}",
            i.name,
            i.outcome.as_str(),
            i.digest
                .as_ref()
                .map(|d| short(&d.to_string()))
                .unwrap_or_else(|| "-".into()),
            c(Severity::Critical),
            c(Severity::High),
            c(Severity::Medium),
            c(Severity::Low),
            why
        );
        for extra in i.reasons.iter().skip(if i.tags.is_empty() { 1 } else { 0 }) {
            let _ = writeln!(
                out,
                "{:<14} {}",
                "",
                clean(extra.lines().next().unwrap_or(""))
            );
        }
        for p in &i.platforms {
            if let Some(h) = &p.hardened {
                let _ = writeln!(
                    out,
                    "{:<14} hardened ({}): {:.1} MB → {:.1} MB compressed, {} files, {} packages{}",
                    "",
                    p.platform,
                    h.before_compressed as f64 / 1e6,
                    h.after_compressed as f64 / 1e6,
                    h.files,
                    h.packages,
                    if h.debug_digest.is_some() {
                        ", -debug sibling"
                    } else {
                        ""
                    }
                );
            }
        }
        if i.bases_verified > 0 {
            let _ = writeln!(
                out,
                "{:<14} base signatures verified: {}",
                "", i.bases_verified
            );
        }
        if !i.signed.is_empty() {
            let _ = writeln!(out, "{:<14} signed: {}", "", clean(&i.signed.join(", ")));
        }
        let live: Vec<&scan::Finding> = i
            .findings
            .iter()
            .filter(|f| f.suppressed.is_none())
            .collect();
        let (base, app) = (
            by_part(&live, scan::Part::Base),
            by_part(&live, scan::Part::App),
        );
        if base + app > 0 {
            let _ = writeln!(
                out,
                "{:<14} who fixes it: {base} by bumping the base, {app} in its Dockerfile",
                ""
            );
        }
        for e in &i.eol {
            let _ = writeln!(out, "{:<14} end of life: {}", "", clean(&e.text()));
        }
        if let Some(b) = &i.baseline {
            let _ = writeln!(
                out,
                "{:<14} vs last promoted: {} new, {} fixed ({} → {})",
                "",
                b.new.len(),
                b.fixed.len(),
                b.before_total,
                b.after_total
            );
        }
    }
    let s = r.summary();
    let _ = writeln!(
        out,
        "\nrun {}: {} promoted, {} blocked, {} failed in {:.1} s",
        r.run,
        s[&Outcome::Promoted],
        s[&Outcome::Blocked],
        s[&Outcome::Failed],
        r.wall_seconds
    );
    for n in r.notes.iter().chain(&r.errors) {
        let _ = writeln!(out, "note: {}", clean(n));
    }
    out
}

/// How many of these findings sit in layers of this part.
fn by_part(findings: &[&scan::Finding], part: scan::Part) -> usize {
    findings
        .iter()
        .filter(|f| f.origin.as_ref().is_some_and(|o| o.part == part))
        .count()
}

const HTML: &str = include_str!("../templates/run.html");

/// The HTML page.
pub fn html(r: &RunReport) -> String {
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    if let Err(e) = env.add_template("run.html", HTML) {
        return format!("<!doctype html><p>report template error: {e}</p>");
    }
    let images: Vec<serde_json::Value> = r
        .images
        .iter()
        .map(|i| {
            let mut live: Vec<&scan::Finding> = i.findings.iter().filter(|f| f.suppressed.is_none()).collect();
            live.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.package.name.cmp(&b.package.name)));
            json!({
                "i": i,
                "counts": Severity::ALL.iter().rev().map(|s| (s.as_str(), i.counts.get(s).copied().unwrap_or(0))).collect::<Vec<_>>(),
                "total": live.len(),
                "base_fix": by_part(&live, scan::Part::Base),
                "app_fix": by_part(&live, scan::Part::App),
                "eol": i.eol.iter().map(|e| json!({"text": e.text(), "ended": e.eol, "source": e.source})).collect::<Vec<_>>(),
                "findings": live.iter().take(200).collect::<Vec<_>>(),
                "more": live.len().saturating_sub(200),
            })
        })
        .collect();
    let ctx = json!({"r": r, "summary": r.summary(), "images": images});
    env.get_template("run.html")
        .and_then(|t| t.render(minijinja::value::Serde(&ctx)))
        .unwrap_or_else(|e| format!("<!doctype html><p>report template error: {e}</p>"))
}
