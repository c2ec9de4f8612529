//! The weekly security summary rendered: Markdown (the notifiers, a forge
//! issue), a self-contained HTML page with the twelve-week trend as inline
//! SVG (no scripts, no external assets; image names escaped), and JSON.

use model::weekly::{WeeklyImage, WeeklySummary};
use serde_json::json;

const HTML: &str = include_str!("../templates/weekly.html");

fn n(i: &WeeklyImage, sev: &str) -> usize {
    i.open.get(sev).copied().unwrap_or(0)
}

fn total(m: &std::collections::BTreeMap<String, usize>) -> usize {
    m.values().sum()
}

fn change(i: &WeeklyImage) -> String {
    let (now, before) = (total(&i.open) as i64, total(&i.previous) as i64);
    match now - before {
        0 => "±0".into(),
        d if d > 0 => format!("+{d}"),
        d => d.to_string(),
    }
}

fn days(i: &WeeklyImage) -> String {
    i.mean_days_to_fix.map_or("–".into(), |d| format!("{d:.1}"))
}

/// Markdown: a table per image and the fleet's trend as a line of numbers.
pub fn markdown(s: &WeeklySummary) -> String {
    let mut o = format!(
        "## Weekly security summary {}\n\n{} → {}\n\n| image | critical | high | medium | low | change | new | fixed | days to fix | overdue | builds | blocked |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        s.week, s.from, s.to
    );
    for i in &s.images {
        let name: String = i
            .image
            .chars()
            .filter(|c| !c.is_control())
            .map(|c| if c == '`' || c == '|' { '\'' } else { c })
            .collect();
        o.push_str(&format!(
            "| `{name}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            n(i, "CRITICAL"),
            n(i, "HIGH"),
            n(i, "MEDIUM"),
            n(i, "LOW"),
            change(i),
            i.new,
            i.fixed,
            days(i),
            i.overdue,
            i.rebuilds,
            i.blocked
        ));
    }
    let trend: Vec<String> = s
        .weeks
        .iter()
        .zip(s.fleet_history())
        .map(|(w, n)| format!("{w}: {n}"))
        .collect();
    o.push_str(&format!("\nOpen findings per week: {}\n", trend.join(", ")));
    o
}

/// JSON.
pub fn json(s: &WeeklySummary) -> String {
    serde_json::to_string_pretty(s).unwrap_or_default() + "\n"
}

/// The HTML page.
pub fn html(s: &WeeklySummary) -> String {
    let hist = s.fleet_history();
    let (width, height) = (720i64, 180i64);
    let max = hist.iter().copied().max().unwrap_or(0).max(1) as i64;
    let step = if hist.len() > 1 {
        (width - 60) / (hist.len() as i64 - 1)
    } else {
        0
    };
    let labels: Vec<serde_json::Value> = hist
        .iter()
        .zip(&s.weeks)
        .enumerate()
        .map(|(k, (v, w))| {
            let x = 30 + step * k as i64;
            let y = 20 + (height - 50) * (max - *v as i64) / max;
            json!({"x": x, "y": y, "n": v, "week": w.get(5..).unwrap_or(w)})
        })
        .collect();
    let points: Vec<String> = labels
        .iter()
        .map(|p| format!("{},{}", p["x"], p["y"]))
        .collect();
    let rows: Vec<serde_json::Value> = s
        .images
        .iter()
        .map(|i| {
            let d = total(&i.open) as i64 - total(&i.previous) as i64;
            json!({"image": i.image, "c": n(i, "CRITICAL"), "h": n(i, "HIGH"), "m": n(i, "MEDIUM"),
                   "l": n(i, "LOW"), "change": change(i), "trend": if d > 0 { "up" } else if d < 0 { "down" } else { "" },
                   "new": i.new, "fixed": i.fixed, "days": days(i), "overdue": i.overdue,
                   "rebuilds": i.rebuilds, "blocked": i.blocked})
        })
        .collect();
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    if env.add_template("weekly.html", HTML).is_err() {
        return String::new();
    }
    let ctx = json!({"s": s, "rows": rows,
        "chart": {"width": width, "height": height, "points": points.join(" "), "labels": labels}});
    env.get_template("weekly.html")
        .and_then(|t| t.render(minijinja::value::Serde(&ctx)))
        .unwrap_or_else(|e| format!("<!doctype html><p>report template error: {e}</p>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> WeeklySummary {
        WeeklySummary {
            week: "2026-W49".into(),
            from: "2026-11-30T00:00:00Z".parse().unwrap(),
            to: "2026-12-07T00:00:00Z".parse().unwrap(),
            weeks: vec!["2026-W48".into(), "2026-W49".into()],
            images: vec![WeeklyImage {
                image: "<script>alert(1)</script>|`x`".into(),
                open: [("HIGH".to_string(), 2)].into(),
                previous: [("CRITICAL".to_string(), 1), ("HIGH".to_string(), 3)].into(),
                new: 1,
                fixed: 3,
                mean_days_to_fix: Some(2.5),
                overdue: 1,
                rebuilds: 4,
                blocked: 1,
                history: vec![4, 2],
            }],
        }
    }

    #[test]
    fn markdown_has_the_counts_and_keeps_the_name_in_a_code_span() {
        let m = markdown(&summary());
        assert!(
            m.contains(
                "| `<script>alert(1)</script>''x'` | 0 | 2 | 0 | 0 | -2 | 1 | 3 | 2.5 | 1 | 4 | 1 |"
            ),
            "{m}"
        );
        assert!(m.contains("2026-W48: 4, 2026-W49: 2"));
    }

    #[test]
    fn html_escapes_names_and_draws_the_trend() {
        let h = html(&summary());
        assert!(!h.contains("<script>"), "{h}");
        assert!(h.contains("&lt;script&gt;"));
        assert!(
            h.contains("<polyline") && h.contains("points=\"30,20 690,85\""),
            "{h}"
        );
        assert!(h.contains(">-2<") && h.contains("class=\"down\""));
    }
}
