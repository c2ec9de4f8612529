//! One security issue per image (seed 003), kept in the store and, with
//! `[issues] mirror = true`, on the forge `[update]` names: opened when the
//! image's promoted findings at or above `[issues] threshold` (default
//! MEDIUM) exist, appended with a dated block when they change (new, fixed,
//! newly overdue), closed when none remain. The forge's issue is found
//! again by a marker in its text, so reruns, shards and replicas never open
//! a second one. Advisory and package text goes into code spans only.
//!
//! ```toml
//! [issues]
//! threshold = "medium"
//! mirror = true            # GitHub (the forge, project and token of [update])
//! labels = ["security"]
//! ```

use model::Timestamp;
use model::tracked::{IssueAction, IssueChange, SecurityIssue, Tracked};
use settings::{Reader, Value};
use update::forge::{Issue, IssueTracker};
use vulndb::Severity;

/// `[issues]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueSettings {
    /// Findings at or above this open an issue.
    pub threshold: Severity,
    /// Mirror to the forge.
    pub mirror: bool,
    /// Labels on the forge's issue (the first finds it again).
    pub labels: Vec<String>,
}

impl Default for IssueSettings {
    fn default() -> Self {
        IssueSettings {
            threshold: Severity::Medium,
            mirror: false,
            labels: vec!["security".into()],
        }
    }
}

impl IssueSettings {
    /// Reads `[issues]` (absent: the defaults).
    pub fn read(v: &mut Reader<'_>, val: Option<&Value<'_>>) -> IssueSettings {
        const KEYS: &[&str] = &["threshold", "mirror", "labels"];
        let mut s = IssueSettings::default();
        let Some(val) = val else { return s };
        let Some(t) = v.table(val, "issues") else {
            return s;
        };
        for (k, x) in t {
            let what = format!("issues.{}", k.name);
            match k.name.as_ref() {
                "threshold" => {
                    if let Some(text) = v.string(x, &what) {
                        match text.parse::<Severity>() {
                            Ok(sev) => s.threshold = sev,
                            Err(e) => v.err(x.span, format!("`{what}`: {e}")),
                        }
                    }
                }
                "mirror" => s.mirror = v.boolean(x, &what).unwrap_or(s.mirror),
                "labels" => {
                    let l = v.string_list(x, &what);
                    if l.is_empty() {
                        v.err(
                            x.span,
                            format!("`{what}`: at least one label (it finds the issue again)"),
                        );
                    } else {
                        s.labels = l;
                    }
                }
                other => v.unknown(k.span, "issues", other, KEYS),
            }
        }
        s
    }
}

/// The marker that finds an image's issue again on the forge.
pub fn marker(image: &str) -> String {
    format!("<!-- safeimage-security-issue: {image} -->")
}

fn code(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '`' || c == '|' { '\'' } else { c })
        .collect();
    format!("`{clean}`")
}

fn line(t: &Tracked, overdue: bool) -> String {
    format!(
        "{} {} {} {}{}",
        t.severity,
        t.advisory,
        t.package,
        t.platform,
        if overdue { " overdue" } else { "" }
    )
}

/// Who fixes a tracked finding, from the promoted image's findings (their
/// layer's origin): "bump the base", "Dockerfile line N", or unknown.
fn who_fixes(t: &Tracked, promoted: Option<&model::Promoted>) -> String {
    let origin = promoted.and_then(|p| {
        p.findings
            .get(&t.platform)
            .or_else(|| p.findings.values().next())?
            .iter()
            .find(|f| {
                f.id.as_str() == t.advisory
                    && format!("{}/{}", f.package.kind, f.package.name) == t.package
            })?
            .origin
            .clone()
    });
    match origin {
        Some(o) => match (o.part, &o.step) {
            (scan::Part::Base, _) => "bump the base".to_string(),
            (scan::Part::App, Some(st)) => format!("Dockerfile line {}", st.line),
            (scan::Part::App, None) => "Dockerfile".to_string(),
            (scan::Part::Unknown, _) => format!("layer {}", o.layer),
        },
        None => "—".to_string(),
    }
}

fn block(
    now: Timestamp,
    rows: &[(Tracked, Option<Timestamp>, bool)],
    new: &[String],
    fixed: &[String],
    promoted: Option<&model::Promoted>,
) -> String {
    let mut b = format!("### {}\n\n", now.date());
    let overdue = rows.iter().filter(|r| r.2).count();
    b.push_str(&format!(
        "{} finding(s) at or above the threshold, {overdue} past the patch deadline",
        rows.len()
    ));
    if !new.is_empty() || !fixed.is_empty() {
        b.push_str(&format!(
            "; {} new, {} fixed since the last block",
            new.len(),
            fixed.len()
        ));
    }
    b.push_str(".\n\n| severity | advisory | package | platform | first seen | deadline | who fixes it |\n|---|---|---|---|---|---|---|\n");
    for (t, deadline, od) in rows {
        b.push_str(&format!(
            "| {} | {} | {} | {} | {} | {}{} | {} |\n",
            t.severity,
            code(&t.advisory),
            code(&t.package),
            code(&t.platform),
            t.first_seen.date(),
            deadline.map_or("none".to_string(), |d| d.date()),
            if *od { " **overdue**" } else { "" },
            who_fixes(t, promoted)
        ));
    }
    for f in fixed {
        b.push_str(&format!("\nFixed: {}", code(f)));
    }
    b
}

fn severity_rank(s: &str) -> Option<Severity> {
    s.parse().ok()
}

/// Moves each image's issue to what the store now tracks for it.
pub fn update_issues(
    images: &[String],
    store: &mut dyn store::StateStore,
    sla: &store::sla::Sla,
    settings: &IssueSettings,
    tracker: Option<&dyn IssueTracker>,
    now: Timestamp,
) -> Result<Vec<IssueChange>, store::StoreError> {
    let mut out = Vec::new();
    for image in images {
        let mut rows: Vec<(Tracked, Option<Timestamp>, bool)> = store
            .tracked(Some(image), false)?
            .into_iter()
            .filter(|t| t.state.counts())
            .filter(|t| severity_rank(&t.severity).is_some_and(|s| s >= settings.threshold))
            .map(|t| {
                let d = sla.deadline(&t);
                let od = d.is_some_and(|d| d <= now);
                (t, d, od)
            })
            .collect();
        rows.sort_by(|a, b| {
            severity_rank(&b.0.severity)
                .cmp(&severity_rank(&a.0.severity))
                .then_with(|| a.0.key().cmp(&b.0.key()))
        });
        let keys: Vec<String> = rows.iter().map(|(t, _, od)| line(t, *od)).collect();
        let promoted = if rows.is_empty() {
            None
        } else {
            store
                .history(&model::ImageName::from(image.clone()), None)?
                .promoted
        };
        let existing = store.security_issue(image)?;
        let open = existing.as_ref().filter(|i| i.open);
        let (issue, action, text) = match (open, rows.is_empty()) {
            (None, true) => continue,
            (Some(i), true) => {
                let mut i = i.clone();
                let text = format!(
                    "### {}\n\nNo finding at or above {} remains: closed.",
                    now.date(),
                    settings.threshold.as_str()
                );
                i.open = false;
                i.closed_at = Some(now);
                i.keys.clear();
                i.blocks.push(text.clone());
                (i, IssueAction::Closed, text)
            }
            (None, false) => {
                let text = block(now, &rows, &[], &[], promoted.as_ref());
                let i = SecurityIssue {
                    image: image.clone(),
                    open: true,
                    opened_at: now,
                    closed_at: None,
                    keys: keys.clone(),
                    blocks: vec![text.clone()],
                    forge_url: None,
                    forge_number: None,
                };
                (i, IssueAction::Opened, text)
            }
            (Some(i), false) => {
                if i.keys == keys {
                    continue;
                }
                let new: Vec<String> = keys
                    .iter()
                    .filter(|k| !i.keys.contains(k))
                    .cloned()
                    .collect();
                let fixed: Vec<String> = i
                    .keys
                    .iter()
                    .filter(|k| !keys.contains(k))
                    .cloned()
                    .collect();
                let text = block(now, &rows, &new, &fixed, promoted.as_ref());
                let mut i = i.clone();
                i.keys = keys.clone();
                i.blocks.push(text.clone());
                (i, IssueAction::Appended, text)
            }
        };
        let mut issue = issue;
        let mut error = None;
        if let Some(t) = tracker {
            match mirror(t, &mut issue, &action, &text, settings) {
                Ok(()) => {}
                Err(e) => error = Some(e.to_string()),
            }
        }
        store.save_security_issue(&issue)?;
        out.push(IssueChange {
            image: image.clone(),
            action,
            url: issue.forge_url.clone(),
            error,
        });
    }
    Ok(out)
}

fn mirror(
    t: &dyn IssueTracker,
    issue: &mut SecurityIssue,
    action: &IssueAction,
    text: &str,
    settings: &IssueSettings,
) -> Result<(), update::forge::ForgeError> {
    let mark = marker(&issue.image);
    let label = settings
        .labels
        .first()
        .map(String::as_str)
        .unwrap_or("security");
    let found = t.find_issue(&mark, label)?;
    let on_forge = match (found, action) {
        (Some(f), IssueAction::Opened) => {
            // another replica opened it: add this block there
            t.comment(&f, text)?;
            f
        }
        (Some(f), _) => {
            t.comment(&f, text)?;
            if *action == IssueAction::Closed {
                t.close_issue(&f)?;
            }
            f
        }
        (None, IssueAction::Closed) => return Ok(()),
        (None, _) => t.open_issue(
            &format!("Security: {}", issue.image),
            &format!(
                "{mark}\nFindings at or above {} in the promoted image `{}`, kept by safeimage.\n\n{}",
                settings.threshold.as_str(),
                issue.image.replace('`', "'"),
                issue.blocks.join("\n\n")
            ),
            &settings.labels,
        )?,
    };
    issue.forge_url = Some(on_forge.url.clone());
    issue.forge_number = Some(on_forge.number);
    let _: &Issue = &on_forge;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked(advisory: &str, package: &str) -> Tracked {
        serde_json::from_value(serde_json::json!({
            "image": "app", "platform": "linux/amd64", "advisory": advisory,
            "package": package, "occurrence": 1, "severity": "HIGH", "state": "open",
            "first_seen": "2026-12-01T00:00:00Z", "last_seen": "2026-12-07T00:00:00Z",
            "digest": "sha256:aa"
        }))
        .unwrap()
    }

    fn finding(id: &str, name: &str, origin: serde_json::Value) -> scan::Finding {
        serde_json::from_value(serde_json::json!({
            "id": id, "aliases": [], "advisories": [id],
            "package": {"type": "deb", "name": name, "version": "1", "purl": ""},
            "ecosystem": "Debian:12", "matched": "x 1", "state": "fixed",
            "severity": "HIGH", "severity_source": "debian", "origin": origin
        }))
        .unwrap()
    }

    #[test]
    fn the_issue_says_who_fixes_each_finding_from_the_promoted_image_s_layers() {
        let base = serde_json::json!({"layer": 0, "diff_id": "sha256:0", "part": "base"});
        let app = serde_json::json!({"layer": 2, "diff_id": "sha256:2", "part": "app",
            "step": {"file": "Dockerfile", "line": 7, "keyword": "RUN", "text": "RUN apt-get install -y curl"}});
        let promoted = model::Promoted {
            run: model::RunId(1),
            digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111"
                .parse()
                .unwrap(),
            findings: [(
                "linux/amd64".to_string(),
                vec![
                    finding("CVE-2024-1", "perl-base", base),
                    finding("CVE-2024-2", "curl", app),
                ],
            )]
            .into(),
            platforms: vec![],
            bases: vec![],
            version: None,
            inputs: None,
        };
        let p = Some(&promoted);
        assert_eq!(
            who_fixes(&tracked("CVE-2024-1", "deb/perl-base"), p),
            "bump the base"
        );
        assert_eq!(
            who_fixes(&tracked("CVE-2024-2", "deb/curl"), p),
            "Dockerfile line 7"
        );
        assert_eq!(who_fixes(&tracked("CVE-2024-3", "deb/zlib1g"), p), "—");
        assert_eq!(
            who_fixes(&tracked("CVE-2024-1", "deb/perl-base"), None),
            "—"
        );
    }
}
