//! Renders a [`compare::Comparison`]: the terminal table, the Markdown a
//! pull request's body shows, and JSON. Everything a side reports about
//! itself (package names, versions, advisory ids, layer history) comes from
//! an image and is escaped before it reaches Markdown, so an image cannot
//! write links, mentions or HTML into a pull request; long lists are cut to
//! keep the body under the forges' size limits.

use std::fmt::Write as _;

use compare::{Comparison, Security, Summary, Vulnerability};
use serde::Serialize;
use vulndb::Severity;

/// Most rows of one list in the Markdown (GitHub caps a body at 65,536
/// characters).
pub const MAX_ROWS: usize = 150;

/// What `diff` reports: the comparison, the hard rules' verdict and the
/// exit conditions met.
#[derive(Debug, Serialize)]
pub struct DiffReport<'a> {
    /// The comparison.
    #[serde(flatten)]
    pub comparison: &'a Comparison,
    /// The hard rules' verdict on B replacing A.
    pub security: &'a Security,
    /// The `--fail-on` conditions met, with reasons.
    pub failures: &'a [String],
}

/// Pretty JSON.
pub fn json(r: &DiffReport<'_>) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
    s.push('\n');
    s
}

/// Text from an image as a Markdown code span, the one construct in which
/// GitHub and GitLab render neither markup, HTML, links nor @mentions: a
/// fence one backtick longer than any run inside, `|` escaped (a table
/// cell ends at it even in code), control characters and line breaks
/// dropped or made spaces. Empty text stays empty.
pub fn md(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    if clean.is_empty() {
        return clean;
    }
    let longest = clean.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if clean.starts_with('`') || clean.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{}{pad}{fence}", clean.replace('|', "\\|"))
}

/// Sizes as people read them (1000-based, like registries show them).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn opt_bytes(n: Option<u64>) -> String {
    n.map_or_else(|| "?".into(), bytes)
}

fn delta(a: Option<u64>, b: Option<u64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b >= a => format!("+{}", bytes(b - a)),
        (Some(a), Some(b)) => format!("−{}", bytes(a - b)),
        _ => String::new(),
    }
}

fn count(s: &Summary, sev: Severity) -> usize {
    s.vulnerabilities.get(&sev).copied().unwrap_or(0)
}

fn short(d: &Option<String>) -> String {
    d.as_deref().map_or_else(
        || "?".into(),
        |d| d.chars().take("sha256:".len() + 12).collect(),
    )
}

fn base(s: &Summary) -> String {
    match &s.base {
        Some(b) => format!(
            "{}{}",
            b.name.as_deref().unwrap_or("?"),
            b.digest
                .as_deref()
                .map(|d| format!(" ({})", short(&Some(d.to_string()))))
                .unwrap_or_default()
        ),
        None => "?".into(),
    }
}

fn verdict_word(s: &Security) -> &'static str {
    match s {
        Security::Improved(_) => "improved",
        Security::Unchanged(_) => "unchanged",
        Security::Blocked(_) => "blocked",
    }
}

/// The terminal table.
pub fn table(r: &DiffReport<'_>) -> String {
    let c = r.comparison;
    let (a, b) = (&c.a, &c.b);
    let mut o = String::new();
    let _ = writeln!(o, "A: {}  {}", a.name, short(&a.digest));
    let _ = writeln!(o, "B: {}  {}", b.name, short(&b.digest));
    let _ = writeln!(o);
    let mut rows: Vec<(String, String, String)> = vec![
        ("base".into(), base(a), base(b)),
        (
            "packages".into(),
            a.packages.map_or("?".into(), |n| n.to_string()),
            b.packages.map_or("?".into(), |n| n.to_string()),
        ),
        (
            "layers".into(),
            a.layers.map_or("?".into(), |n| n.to_string()),
            b.layers.map_or("?".into(), |n| n.to_string()),
        ),
        (
            "compressed".into(),
            opt_bytes(a.compressed_bytes),
            format!(
                "{} {}",
                opt_bytes(b.compressed_bytes),
                delta(a.compressed_bytes, b.compressed_bytes)
            ),
        ),
        (
            "unpacked".into(),
            opt_bytes(a.unpacked_bytes),
            format!(
                "{} {}",
                opt_bytes(b.unpacked_bytes),
                delta(a.unpacked_bytes, b.unpacked_bytes)
            ),
        ),
    ];
    for sev in Severity::ALL.iter().rev() {
        rows.push((
            sev.to_string(),
            count(a, *sev).to_string(),
            count(b, *sev).to_string(),
        ));
    }
    rows.push(("total".into(), a.total.to_string(), b.total.to_string()));
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let w1 = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0)
        .max(1);
    let _ = writeln!(o, "{:w0$}  {:w1$}  B", "", "A");
    for (k, x, y) in &rows {
        let _ = writeln!(o, "{k:w0$}  {x:w1$}  {}", y.trim_end());
    }
    let v = &c.vulnerabilities;
    let list = |o: &mut String, title: &str, items: &[Vulnerability]| {
        if items.is_empty() {
            return;
        }
        let _ = writeln!(o, "\n{title} ({}):", items.len());
        for x in items {
            let _ = writeln!(
                o,
                "  {:8} {:20} {} {}{}",
                x.severity.to_string(),
                x.id,
                x.package,
                x.version,
                x.fixed_version
                    .as_deref()
                    .map(|f| format!(" (fixed in {f})"))
                    .unwrap_or_default()
            );
        }
    };
    list(&mut o, "fixed", &v.fixed);
    list(&mut o, "new", &v.new);
    let _ = writeln!(o, "\nunchanged vulnerabilities: {}", v.unchanged);
    if let Some(p) = &c.packages {
        if !p.changed.is_empty() {
            let _ = writeln!(o, "\npackages changed ({}):", p.changed.len());
            for x in &p.changed {
                let _ = writeln!(o, "  {} ({}) {} -> {}", x.name, x.kind, x.from, x.to);
            }
        }
        for (title, items) in [("added", &p.added), ("removed", &p.removed)] {
            if !items.is_empty() {
                let _ = writeln!(o, "\npackages {title} ({}):", items.len());
                for x in items {
                    let _ = writeln!(o, "  {} ({}) {}", x.name, x.kind, x.version);
                }
            }
        }
    } else {
        let _ = writeln!(o, "\npackages: not compared (a side lists no packages)");
    }
    if let Some(l) = &c.layers {
        let _ = writeln!(
            o,
            "\nlayers: {} shared, {} removed, {} added",
            l.shared,
            l.removed.len(),
            l.added.len()
        );
    }
    let _ = writeln!(
        o,
        "\nsecurity: {} ({})",
        verdict_word(r.security),
        r.security.reason()
    );
    for f in r.failures {
        let _ = writeln!(o, "fail: {f}");
    }
    o
}

fn rows_cut<T>(items: &[T]) -> (&[T], usize) {
    let n = items.len().min(MAX_ROWS);
    (&items[..n], items.len() - n)
}

/// The Markdown a pull request shows.
pub fn markdown(r: &DiffReport<'_>) -> String {
    let c = r.comparison;
    let (a, b) = (&c.a, &c.b);
    let mut o = String::new();
    let _ = writeln!(o, "### Image diff\n");
    let _ = writeln!(
        o,
        "**Security: {}** — {}\n",
        verdict_word(r.security),
        r.security.reason()
    );
    for f in r.failures {
        let _ = writeln!(o, "- :x: {f}");
    }
    if !r.failures.is_empty() {
        o.push('\n');
    }
    let _ = writeln!(o, "| | A (before) | B (after) |\n|---|---|---|");
    let _ = writeln!(o, "| Image | {} | {} |", md(&a.name), md(&b.name));
    let _ = writeln!(
        o,
        "| Digest | {} | {} |",
        md(&short(&a.digest)),
        md(&short(&b.digest))
    );
    let _ = writeln!(o, "| Base | {} | {} |", md(&base(a)), md(&base(b)));
    let n = |x: Option<usize>| x.map_or("?".into(), |n| n.to_string());
    let _ = writeln!(o, "| Packages | {} | {} |", n(a.packages), n(b.packages));
    let _ = writeln!(o, "| Layers | {} | {} |", n(a.layers), n(b.layers));
    let _ = writeln!(
        o,
        "| Compressed | {} | {} {} |",
        opt_bytes(a.compressed_bytes),
        opt_bytes(b.compressed_bytes),
        delta(a.compressed_bytes, b.compressed_bytes)
    );
    let _ = writeln!(
        o,
        "| Unpacked | {} | {} {} |",
        opt_bytes(a.unpacked_bytes),
        opt_bytes(b.unpacked_bytes),
        delta(a.unpacked_bytes, b.unpacked_bytes)
    );
    for sev in Severity::ALL.iter().rev() {
        let _ = writeln!(o, "| {sev} | {} | {} |", count(a, *sev), count(b, *sev));
    }
    let _ = writeln!(o, "| **Total** | **{}** | **{}** |\n", a.total, b.total);
    let v = &c.vulnerabilities;
    for (title, items) in [
        ("Vulnerabilities fixed", &v.fixed),
        ("New vulnerabilities", &v.new),
    ] {
        if items.is_empty() {
            continue;
        }
        let (shown, more) = rows_cut(items);
        let _ = writeln!(
            o,
            "<details><summary>{title} ({})</summary>\n\n| Severity | ID | Package | Version | Fixed in |\n|---|---|---|---|---|",
            items.len()
        );
        for x in shown {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                x.severity,
                md(&x.id),
                md(&x.package),
                md(&x.version),
                md(x.fixed_version.as_deref().unwrap_or(""))
            );
        }
        if more > 0 {
            let _ = writeln!(o, "\n… and {more} more (see the JSON report)");
        }
        let _ = writeln!(o, "\n</details>\n");
    }
    let _ = writeln!(o, "Unchanged vulnerabilities: {}\n", v.unchanged);
    match &c.packages {
        Some(p) if !(p.changed.is_empty() && p.added.is_empty() && p.removed.is_empty()) => {
            let _ = writeln!(
                o,
                "<details><summary>Packages: {} changed, {} added, {} removed</summary>\n\n| Package | Type | A | B |\n|---|---|---|---|",
                p.changed.len(),
                p.added.len(),
                p.removed.len()
            );
            let mut rows: Vec<[String; 4]> = p
                .changed
                .iter()
                .map(|x| [x.name.clone(), x.kind.clone(), x.from.clone(), x.to.clone()])
                .collect();
            rows.extend(p.added.iter().map(|x| {
                [
                    x.name.clone(),
                    x.kind.clone(),
                    String::new(),
                    x.version.clone(),
                ]
            }));
            rows.extend(p.removed.iter().map(|x| {
                [
                    x.name.clone(),
                    x.kind.clone(),
                    x.version.clone(),
                    String::new(),
                ]
            }));
            let (shown, more) = rows_cut(&rows);
            for [name, kind, from, to] in shown {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} |",
                    md(name),
                    md(kind),
                    md(from),
                    md(to)
                );
            }
            if more > 0 {
                let _ = writeln!(o, "\n… and {more} more (see the JSON report)");
            }
            let _ = writeln!(o, "\n</details>\n");
        }
        Some(_) => {
            let _ = writeln!(o, "Packages: no changes\n");
        }
        None => {
            let _ = writeln!(o, "Packages: not compared (a side lists no packages)\n");
        }
    }
    if let Some(l) = &c.layers {
        let _ = writeln!(
            o,
            "Layers: {} shared, {} removed, {} added",
            l.shared,
            l.removed.len(),
            l.added.len()
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md_puts_image_text_in_a_code_span_no_backtick_or_pipe_can_leave() {
        let hostile = "x](https://evil.example) <img src=x> @admin | ``a`\n# h";
        let e = md(hostile);
        assert!(e.starts_with("```") && e.ends_with("```"), "{e}");
        assert!(
            !e[3..e.len() - 3].contains("```"),
            "the fence is longer than any run: {e}"
        );
        assert!(!e.contains('\n'));
        assert!(e.contains("\\|") && !e.contains(" | "), "{e}");
        assert_eq!(md("1.2-3"), "`1.2-3`");
        assert_eq!(md(""), "");
    }

    #[test]
    fn bytes_are_shown_in_registry_units() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(31_400_000), "31.4 MB");
    }
}
