//! Vulnerability scan reports: a table grouped by package (coloured by
//! severity on a terminal), our JSON (`safeimage-scan/1`, also the baseline
//! format), SARIF 2.1.0 for GitHub code scanning, a self-contained HTML page
//! and JUnit XML. All render the same [`ScanReport`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use findings::text::clean;

use scan::baseline::Diff;
use scan::gate::Decision;
use scan::{Attribution, Finding, Origin, Part, REPORT_SCHEMA};
use serde::Serialize;
use serde_json::{Value, json};
use vulndb::Severity;

use crate::ToolInfo;

/// Everything a scan report shows.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport<'a> {
    /// Always [`REPORT_SCHEMA`].
    pub schema: &'static str,
    /// Tool.
    pub tool: ToolInfo,
    /// When (RFC 3339).
    pub created: String,
    /// What was scanned.
    pub target: Target,
    /// The DB used.
    pub db: DbInfo,
    /// Counts.
    pub summary: Summary,
    /// Findings (suppressed ones carry `suppressed`).
    pub findings: &'a [Finding],
    /// Baseline comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<&'a Diff>,
    /// Gate decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<&'a Decision>,
    /// Notes (expired ignore rules, unreadable versions).
    pub notes: &'a [String],
    /// Where the image's distribution release and its language runtimes
    /// stand (end of life), for those the DB has end-of-life data for.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub eol: &'a [vulndb::feed::eol::EolStatus],
    /// Which layers are the base's and which instructions made the others
    /// (findings carry their own `origin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<&'a Attribution>,
    /// The findings are in risk order (`--sort risk`): packages are listed
    /// in the order of their riskiest finding.
    #[serde(skip)]
    pub by_risk: bool,
}

/// The scanned thing.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// Image reference, source or SBOM path.
    pub name: String,
    /// Digest when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// `debian 12`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distro: Option<String>,
}

/// DB metadata.
#[derive(Debug, Clone, Serialize)]
pub struct DbInfo {
    /// Build time.
    pub built_at: String,
    /// Schema.
    pub schema_version: u32,
}

/// Counts over findings that are not suppressed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// By severity (all levels present).
    pub by_severity: BTreeMap<String, usize>,
    /// Total counted.
    pub total: usize,
    /// With a fixed version.
    pub fixable: usize,
    /// Without one.
    pub not_fixable: usize,
    /// Suppressed by ignore rules or VEX.
    pub suppressed: usize,
    /// Packages looked up.
    pub packages_checked: usize,
    /// Debian `unimportant` findings hidden.
    pub hidden_unimportant: usize,
    /// Past their patch deadline (`scan --tracked`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub overdue: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    /// Count findings.
    pub fn of(findings: &[Finding], packages_checked: usize, hidden_unimportant: usize) -> Summary {
        let live: Vec<&Finding> = findings.iter().filter(|f| f.suppressed.is_none()).collect();
        let mut by = BTreeMap::new();
        for s in Severity::ALL {
            by.insert(
                s.as_str().to_string(),
                live.iter().filter(|f| f.severity == s).count(),
            );
        }
        Summary {
            by_severity: by,
            total: live.len(),
            fixable: live.iter().filter(|f| f.has_fix()).count(),
            not_fixable: live.iter().filter(|f| !f.has_fix()).count(),
            suppressed: findings.len() - live.len(),
            packages_checked,
            hidden_unimportant,
            overdue: live
                .iter()
                .filter(|f| f.due.as_ref().is_some_and(|d| d.overdue))
                .count(),
        }
    }
}

impl<'a> ScanReport<'a> {
    /// Assemble a report.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tool: ToolInfo,
        created: String,
        target: Target,
        db: DbInfo,
        findings: &'a [Finding],
        packages_checked: usize,
        hidden_unimportant: usize,
        notes: &'a [String],
    ) -> Self {
        ScanReport {
            schema: REPORT_SCHEMA,
            tool,
            created,
            target,
            db,
            summary: Summary::of(findings, packages_checked, hidden_unimportant),
            findings,
            baseline: None,
            gate: None,
            notes,
            eol: &[],
            attribution: None,
            by_risk: false,
        }
    }
}

/// Our JSON.
pub fn json(r: &ScanReport<'_>) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
    s.push('\n');
    s
}

fn paint(sev: Severity, text: &str, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let code = match sev {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "34",
        Severity::Unknown => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// (name, version, type) of a package.
type PackageKey = (String, String, String);

/// Findings grouped by package, most severe package first (or, in risk
/// order, in the order the findings come).
fn by_package(findings: &[Finding], by_risk: bool) -> Vec<(PackageKey, Vec<&Finding>)> {
    if by_risk {
        let mut v: Vec<(PackageKey, Vec<&Finding>)> = Vec::new();
        for f in findings {
            let k = (
                f.package.name.clone(),
                f.package.version.clone(),
                f.package.kind.clone(),
            );
            match v.iter_mut().find(|(x, _)| *x == k) {
                Some((_, list)) => list.push(f),
                None => v.push((k, vec![f])),
            }
        }
        return v;
    }
    let mut groups: BTreeMap<PackageKey, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        groups
            .entry((
                f.package.name.clone(),
                f.package.version.clone(),
                f.package.kind.clone(),
            ))
            .or_default()
            .push(f);
    }
    let mut v: Vec<_> = groups.into_iter().collect();
    v.sort_by(|a, b| {
        let top = |g: &Vec<&Finding>| g.iter().map(|f| f.severity).max();
        top(&b.1).cmp(&top(&a.1)).then_with(|| a.0.cmp(&b.0))
    });
    v
}

/// The terminal table.
pub fn table(r: &ScanReport<'_>, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}{}{}",
        clean(&r.target.name),
        r.target
            .distro
            .as_ref()
            .map(|d| format!(" ({})", clean(d)))
            .unwrap_or_default(),
        r.target
            .digest
            .as_ref()
            .map(|d| format!(" {d}"))
            .unwrap_or_default()
    );
    for e in r.eol {
        let _ = writeln!(out, "{}", clean(&e.text()));
    }
    let live: Vec<Finding> = r
        .findings
        .iter()
        .filter(|f| f.suppressed.is_none())
        .cloned()
        .collect();
    for ((name, version, kind), list) in by_package(&live, r.by_risk) {
        let src = list[0]
            .package
            .source_name
            .as_ref()
            .filter(|s| **s != name)
            .map(|s| format!(", source {}", clean(s)))
            .unwrap_or_default();
        let origin = list[0]
            .origin
            .as_ref()
            .map(|o| format!("  [{}]", origin_text(o)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\n{} {} ({}{src}){origin}",
            clean(&name),
            clean(&version),
            clean(&kind)
        );
        for f in list {
            let fix = match &f.fixed_version {
                Some(v) => format!("fixed in {}", clean(v)),
                None => f.state.as_str().to_string(),
            };
            let sev = format!("{:<8}", f.severity.as_str());
            let mut summary: String = clean(&f.summary).chars().take(70).collect();
            if f.summary.chars().count() > 70 {
                summary.push('…');
            }
            let mut marks = String::new();
            if let Some(k) = &f.kev {
                marks.push_str(&format!(
                    "[KEV{} due {}] ",
                    if k.ransomware { ", ransomware" } else { "" },
                    clean(&k.due_date)
                ));
            }
            if let Some(e) = &f.epss {
                marks.push_str(&format!("[EPSS {:.2}] ", e.score));
            }
            if let Some(d) = f.due.as_ref().filter(|d| d.overdue) {
                marks.push_str(&format!(
                    "[OVERDUE since {}] ",
                    d.deadline
                        .as_deref()
                        .map_or("", |x| x.get(..10).unwrap_or(x))
                ));
            }
            let summary = format!("{marks}{summary}");
            let _ = writeln!(
                out,
                "  {} {:<20} {:<28} {}",
                paint(f.severity, &sev, color),
                f.id,
                fix,
                summary
            );
        }
    }
    let s = &r.summary;
    let counts: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .map(|sev| {
            paint(
                *sev,
                &format!("{} {}", s.by_severity[sev.as_str()], sev.as_str()),
                color,
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "\n{} vulnerabilities in {} packages checked: {} ({} fixable, {} without a fix)",
        s.total,
        s.packages_checked,
        counts.join(", "),
        s.fixable,
        s.not_fixable
    );
    if let Some(a) = r.attribution.filter(|a| a.knows_base()) {
        let (base, app) = by_part(&live);
        let _ = writeln!(
            out,
            "{base} in the base image's layers (fix by bumping the base{}), {app} in this image's own layers (fix in its Dockerfile)",
            a.base
                .as_deref()
                .map(|b| format!(": {}", clean(b)))
                .unwrap_or_default()
        );
    }
    if let Some(a) = r.attribution {
        for n in &a.notes {
            let _ = writeln!(out, "note: {}", clean(n));
        }
    }
    if s.overdue > 0 {
        let _ = writeln!(out, "{} past their patch deadline ([sla])", s.overdue);
    }
    if s.suppressed > 0 {
        let _ = writeln!(out, "{} suppressed by ignore rules or VEX", s.suppressed);
    }
    if s.hidden_unimportant > 0 {
        let _ = writeln!(
            out,
            "{} rated unimportant by the vendor, hidden (--show-unimportant shows them)",
            s.hidden_unimportant
        );
    }
    if let Some(d) = r.baseline {
        let _ = writeln!(
            out,
            "baseline: {} new, {} fixed, {} unchanged ({} → {})",
            d.new.len(),
            d.fixed.len(),
            d.unchanged,
            d.before_total,
            d.after_total
        );
    }
    for n in r.notes {
        let _ = writeln!(out, "note: {n}");
    }
    if let Some(g) = r.gate {
        for reason in &g.reasons {
            let _ = writeln!(out, "gate failed: {reason}");
        }
    }
    out
}

/// `layer 3, app: Dockerfile:7 RUN apt-get install …`
pub fn origin_text(o: &Origin) -> String {
    let mut t = format!("layer {}, {}", o.layer, o.part.as_str());
    if let Some(st) = &o.step {
        let mut text: String = clean(&st.text).chars().take(60).collect();
        if st.text.chars().count() > 60 {
            text.push('…');
        }
        t.push_str(&format!(": {}:{} {text}", clean(&st.file), st.line));
    }
    t
}

/// Counted findings in base layers and in the image's own layers.
fn by_part(findings: &[Finding]) -> (usize, usize) {
    let part = |p: Part| {
        findings
            .iter()
            .filter(|f| f.suppressed.is_none() && f.origin.as_ref().is_some_and(|o| o.part == p))
            .count()
    };
    (part(Part::Base), part(Part::App))
}

/// Where code scanning shows a finding: the Dockerfile line that
/// installed its package when that is known (an app-layer finding), else
/// the package's path in the image.
fn sarif_location(f: &Finding, path: &str, target: &str) -> Value {
    if let Some(o) = f.origin.as_ref().filter(|o| o.part == Part::App)
        && let Some(st) = &o.step
    {
        return json!({
            "physicalLocation": {
                "artifactLocation": {"uri": sarif_uri(&st.file)},
                "region": {"startLine": st.line}
            },
            "message": {"text": format!(
                "{} {} installed by this {} (layer {} of {target})",
                f.package.name, f.package.version, st.keyword, o.layer
            )}
        });
    }
    json!({
        "physicalLocation": {
            "artifactLocation": {"uri": sarif_uri(path)},
            "region": {"startLine": 1}
        },
        "message": {"text": format!("{} in {target}", f.package.purl)}
    })
}

fn security_severity(s: Severity) -> &'static str {
    // GitHub maps security-severity to critical/high/medium/low.
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Unknown => "0.0",
    }
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        _ => "note",
    }
}

fn sarif_uri(path: &str) -> String {
    let mut out = String::new();
    for b in path.trim_start_matches('/').bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// SARIF 2.1.0: a rule per vulnerability, a result per (vulnerability,
/// package) located at the package's file in the image.
pub fn sarif(r: &ScanReport<'_>) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut results = Vec::new();
    for f in r.findings {
        let ri = *index.entry(f.id.as_str()).or_insert_with(|| {
            let refs: Vec<String> = f.references.iter().take(10).cloned().collect();
            let help_text = format!(
                "{}\nPackage: {} {}\nFixed version: {}\nAliases: {}\nSeverity: {} (from {})\nReferences:\n{}",
                if f.summary.is_empty() { f.id.as_str() } else { f.summary.as_str() },
                f.package.name,
                f.package.version,
                f.fixed_version.as_deref().unwrap_or("none"),
                if f.aliases.is_empty() { "none".to_string() } else { f.aliases.join(", ") },
                f.severity,
                f.severity_source,
                refs.join("\n")
            );
            let help_md = format!(
                "**{}** {}\n\n| Package | Installed | Fixed | Severity |\n|---|---|---|---|\n| {} | {} | {} | {} ({}) |\n\n{}",
                f.id,
                f.summary,
                f.package.name,
                f.package.version,
                f.fixed_version.as_deref().unwrap_or("none"),
                f.severity,
                f.severity_source,
                refs.iter().map(|u| format!("- <{u}>")).collect::<Vec<_>>().join("\n")
            );
            let mut rule = json!({
                "id": f.id,
                "name": f.id.replace('-', ""),
                "shortDescription": {"text": if f.summary.is_empty() { f.id.to_string() } else { f.summary.clone() }},
                "fullDescription": {"text": if f.summary.is_empty() { f.id.to_string() } else { f.summary.clone() }},
                "help": {"text": help_text, "markdown": help_md},
                "defaultConfiguration": {"level": sarif_level(f.severity)},
                "properties": {
                    "tags": ["vulnerability", "security", f.severity.as_str()],
                    "security-severity": security_severity(f.severity),
                    "precision": "very-high",
                },
            });
            if let Some(u) = f.references.first() {
                rule["helpUri"] = json!(u);
            }
            rules.push(rule);
            rules.len() - 1
        });
        let path = f
            .package
            .locations
            .first()
            .map(|l| l.path.clone())
            .unwrap_or_else(|| r.target.name.clone());
        let mut res = json!({
            "ruleId": f.id,
            "ruleIndex": ri,
            "level": sarif_level(f.severity),
            "message": {"text": format!(
                "{} {} in {} {}{}; {}",
                f.severity,
                f.id,
                f.package.name,
                f.package.version,
                f.fixed_version.as_ref().map(|v| format!(", fixed in {v}")).unwrap_or_default(),
                if f.summary.is_empty() { "no summary" } else { &f.summary }
            )},
            "locations": [sarif_location(f, &path, &r.target.name)],
            "partialFingerprints": {
                "safeimageFinding/v1": format!("{}:{}:{}", f.id, f.package.kind, f.package.name)
            },
            "properties": {
                "package": f.package.name,
                "installedVersion": f.package.version,
                "fixedVersion": f.fixed_version,
                "purl": f.package.purl,
                "state": f.state.as_str(),
                "severitySource": f.severity_source,
            }
        });
        if let Some(o) = &f.origin {
            res["properties"]["layer"] = json!(o.layer);
            res["properties"]["layerDiffId"] = json!(o.diff_id);
            res["properties"]["layerPart"] = json!(o.part.as_str());
            res["properties"]["remedy"] = json!(o.remedy());
        }
        if let Some(k) = &f.kev {
            res["properties"]["kev"] = json!({"dueDate": k.due_date, "dateAdded": k.date_added, "ransomware": k.ransomware});
        }
        if let Some(e) = &f.epss {
            res["properties"]["epss"] =
                json!({"score": e.score, "percentile": e.percentile, "date": e.date});
        }
        if let Some(d) = &f.due {
            res["properties"]["patchDeadline"] = json!({"firstSeen": d.first_seen, "deadline": d.deadline, "overdue": d.overdue, "tracked": d.tracked});
        }
        if let Some(s) = &f.suppressed {
            res["suppressions"] = json!([{
                "kind": "external",
                "status": "accepted",
                "justification": format!("{} ({}): {}", s.kind, s.file, s.reason),
            }]);
        }
        results.push(res);
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": r.tool.name,
                "version": r.tool.version,
                "informationUri": "https://example.invalid/safeimage",
                "rules": rules,
            }},
            "results": results,
            "properties": {"target": r.target.name, "digest": r.target.digest},
        }]
    })
}

fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => {}
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML: a test suite per package, a failing test case per finding
/// (skipped when suppressed); a clean scan is one passing case.
pub fn junit(r: &ScanReport<'_>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let groups = by_package(r.findings, r.by_risk);
    let failures = r.findings.iter().filter(|f| f.suppressed.is_none()).count();
    let tests = r.findings.len().max(1);
    let _ = writeln!(
        out,
        "<testsuites name=\"safeimage scan {}\" tests=\"{tests}\" failures=\"{failures}\">",
        xml(&r.target.name)
    );
    if groups.is_empty() {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"1\" failures=\"0\" skipped=\"0\">\n    <testcase classname=\"{}\" name=\"no known vulnerabilities\"/>\n  </testsuite>",
            xml(&r.target.name),
            xml(&r.target.name)
        );
    }
    for ((name, version, kind), list) in groups {
        let fails = list.iter().filter(|f| f.suppressed.is_none()).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{} {} ({kind})\" tests=\"{}\" failures=\"{fails}\" skipped=\"{}\">",
            xml(&name),
            xml(&version),
            list.len(),
            list.len() - fails
        );
        for f in list {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"[{}] {}\">",
                xml(&name),
                f.severity,
                xml(&f.id)
            );
            match &f.suppressed {
                Some(s) => {
                    let _ = write!(
                        out,
                        "<skipped message=\"{}\"/>",
                        xml(&format!("{}: {}", s.kind, s.reason))
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        "<failure type=\"{}\" message=\"{}\">{}</failure>",
                        f.severity,
                        xml(&format!(
                            "{} in {} {}{}",
                            f.id,
                            name,
                            version,
                            f.fixed_version
                                .as_ref()
                                .map(|v| format!(", fixed in {v}"))
                                .unwrap_or_default()
                        )),
                        xml(&format!("{}\n{}", f.summary, f.references.join("\n")))
                    );
                }
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

const HTML: &str = include_str!("../../templates/scan.html");

/// The first reference that is a plain `http`/`https` URL (advisory text
/// is untrusted: no `javascript:` or `data:` links in our pages).
pub fn http_link(refs: Vec<String>) -> Option<String> {
    refs.into_iter().find(|r| {
        let lower = r.to_ascii_lowercase();
        (lower.starts_with("https://") || lower.starts_with("http://"))
            && !r.chars().any(|c| c.is_control() || c.is_whitespace())
    })
}

/// A self-contained HTML page (inline CSS, no scripts, no external assets;
/// a Content-Security-Policy forbids scripts, remote loads and forms).
pub fn html(r: &ScanReport<'_>) -> String {
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_filter("http_link", http_link);
    if env.add_template("scan.html", HTML).is_err() {
        return String::new();
    }
    let groups: Vec<Value> = by_package(r.findings, r.by_risk)
        .into_iter()
        .map(|((name, version, kind), list)| {
            json!({
                "name": name, "version": version, "kind": kind,
                "source": list[0].package.source_name,
                "path": list[0].package.locations.first().map(|l| l.path.clone()),
                "top": list.iter().map(|f| f.severity).max().map(|s| s.as_str()),
                "origin": list[0].origin.as_ref().map(|o| format!("{} — {}", origin_text(o), o.remedy())),
                "findings": list,
            })
        })
        .collect();
    let ctx = json!({
        "r": r,
        "groups": groups,
        "levels": Severity::ALL.iter().rev().map(|s| s.as_str()).collect::<Vec<_>>(),
    });
    env.get_template("scan.html")
        .and_then(|t| t.render(minijinja::value::Serde(&ctx)))
        .unwrap_or_else(|e| format!("<!doctype html><p>report template error: {e}</p>"))
}

#[cfg(test)]
mod tests;
