//! `.gitleaks.toml`, so users keep the configuration they have: `[[rules]]`
//! (id, description, regex, secretGroup, entropy, path, keywords,
//! allowlists), `[extend] useDefault` (our built-in rules, under Gitleaks'
//! names where they differ, see [`ALIASES`]) and `disabledRules`, global
//! `[[allowlists]]` (and the older `[allowlist]` tables). Every problem is
//! reported at file:line:column. Also the fingerprint ignore file
//! (`.gitleaksignore`).

use settings::{ConfigErrors, Document, Reader, Value};

use crate::builtin;
use crate::rule::{Allowlist, Rule, Severity, Target, compile};

/// Gitleaks rule ids and the built-in rule that covers the same secrets,
/// so `disabledRules` written for Gitleaks disables ours.
pub const ALIASES: &[(&str, &str)] = &[
    ("aws-access-token", "aws-access-key-id"),
    ("generic-api-key", "generic-secret-assignment"),
    ("github-app-token", "github-app-token"),
    ("gitlab-runner-authentication-token", "gitlab-runner-token"),
    ("slack-bot-token", "slack-token"),
    ("slack-user-token", "slack-token"),
    ("slack-app-token", "slack-token"),
    ("slack-legacy-token", "slack-token"),
    ("slack-webhook-url", "slack-webhook-url"),
    ("stripe-access-token", "stripe-secret-key"),
    ("sendgrid-api-token", "sendgrid-api-key"),
    ("gcp-api-key", "gcp-api-key"),
    ("npm-access-token", "npm-access-token"),
    ("pypi-upload-token", "pypi-upload-token"),
    ("private-key", "private-key"),
    ("jwt", "jwt"),
];

fn ours(id: &str) -> &str {
    ALIASES
        .iter()
        .find(|(g, _)| *g == id)
        .map_or(id, |(_, o)| o)
}

/// A config read: the rules to run and the global allowlists.
#[derive(Debug)]
pub struct Config {
    /// Rules.
    pub rules: Vec<Rule>,
    /// Global allowlists.
    pub allowlists: Vec<Allowlist>,
}

fn allowlist(v: &mut Reader<'_>, x: &Value<'_>, what: &str, rule: &str) -> Option<Allowlist> {
    let t = v.table(x, what)?;
    let mut a = Allowlist::default();
    for (k, val) in t {
        let w = format!("{what}.{}", k.name);
        match k.name.as_ref() {
            "description" => a.description = v.string(val, &w).unwrap_or_default(),
            "condition" => match v
                .string(val, &w)
                .as_deref()
                .map(str::to_ascii_uppercase)
                .as_deref()
            {
                Some("AND") => a.all = true,
                Some("OR") => a.all = false,
                Some(o) => v.err(val.span, format!("`{w}`: `{o}` (expected AND or OR)")),
                None => {}
            },
            "regexTarget" => match v.string(val, &w).as_deref() {
                Some("secret") => a.target = Target::Secret,
                Some("match") => a.target = Target::Match,
                Some("line") => a.target = Target::Line,
                Some(o) => v.err(
                    val.span,
                    format!("`{w}`: `{o}` (expected secret, match or line)"),
                ),
                None => {}
            },
            "regexes" | "paths" => {
                for (p, span) in v.strings(val, &w) {
                    match compile(rule, &w, &p) {
                        Ok(r) if k.name == "regexes" => a.regexes.push(r),
                        Ok(r) => a.paths.push(r),
                        Err(e) => v.err(span, e.to_string()),
                    }
                }
            }
            "stopwords" => a.stopwords = v.string_list(val, &w),
            "targetRules" => {
                a.target_rules = v
                    .string_list(val, &w)
                    .iter()
                    .map(|r| ours(r).to_string())
                    .collect()
            }
            // commits only apply to git history; accepted, not used for files
            "commits" => {
                let _ = v.string_list(val, &w);
            }
            other => v.unknown(
                k.span,
                &format!("[{what}]"),
                other,
                &[
                    "description",
                    "condition",
                    "regexTarget",
                    "regexes",
                    "paths",
                    "stopwords",
                    "targetRules",
                    "commits",
                ],
            ),
        }
    }
    Some(a)
}

fn allowlists(v: &mut Reader<'_>, x: &Value<'_>, what: &str, rule: &str) -> Vec<Allowlist> {
    match x.as_array() {
        Some(arr) => arr
            .iter()
            .filter_map(|a| allowlist(v, a, what, rule))
            .collect(),
        None => allowlist(v, x, what, rule).into_iter().collect(),
    }
}

fn rule(v: &mut Reader<'_>, x: &Value<'_>) -> Option<Rule> {
    let t = v.table(x, "rules")?;
    let mut id = None;
    let mut description = String::new();
    let mut regex = None;
    let mut group = None;
    let mut entropy = None;
    let mut path = None;
    let mut keywords = Vec::new();
    let mut lists = Vec::new();
    let mut regex_given = false;
    let id_name = t
        .get("id")
        .and_then(|i| i.as_str())
        .unwrap_or("(no id)")
        .to_string();
    for (k, val) in t {
        let w = format!("rules.{}", k.name);
        match k.name.as_ref() {
            "id" => id = v.string(val, &w),
            "description" => description = v.string(val, &w).unwrap_or_default(),
            "regex" => {
                regex_given = true;
                if let Some(p) = v.string(val, &w) {
                    match compile(&id_name, "regex", &p) {
                        Ok(r) => regex = Some((r, val.span)),
                        Err(e) => v.err(val.span, e.to_string()),
                    }
                }
            }
            "secretGroup" => match v.integer(val, &w) {
                Some(n) if n >= 0 => group = Some((n as usize, val.span)),
                Some(_) => v.err(val.span, "`rules.secretGroup` must be 0 or more"),
                None => {}
            },
            "entropy" => match val
                .as_float()
                .or_else(|| val.as_integer().map(|i| i as f64))
            {
                Some(e) if (0.0..=8.0).contains(&e) => entropy = Some(e),
                _ => v.err(val.span, "`rules.entropy` must be a number from 0 to 8"),
            },
            "path" => {
                if let Some(p) = v.string(val, &w) {
                    match compile(&id_name, "path", &p) {
                        Ok(r) => path = Some(r),
                        Err(e) => v.err(val.span, e.to_string()),
                    }
                }
            }
            "keywords" => {
                keywords = v
                    .string_list(val, &w)
                    .iter()
                    .map(|k| k.to_lowercase())
                    .collect()
            }
            "allowlist" | "allowlists" => {
                lists.extend(allowlists(v, val, &format!("rules.{}", k.name), &id_name))
            }
            "tags" | "severity" => {}
            other => v.unknown(
                k.span,
                "[rules]",
                other,
                &[
                    "id",
                    "description",
                    "regex",
                    "secretGroup",
                    "entropy",
                    "path",
                    "keywords",
                    "allowlists",
                    "tags",
                ],
            ),
        }
    }
    let Some(id) = id else {
        v.err(x.span, "a rule needs an `id`");
        return None;
    };
    let Some((regex, rspan)) = regex else {
        if regex_given {
            // its problem is reported already
        } else if path.is_none() {
            v.err(x.span, format!("rule {id} needs a `regex`"));
        } else {
            v.err(
                x.span,
                format!("rule {id}: path-only rules are not supported; give a `regex`"),
            );
        }
        return None;
    };
    let groups = regex.captures_len() - 1;
    let secret_group = match group {
        Some((g, span)) if g > groups => {
            v.err(
                span,
                format!("rule {id}: secretGroup {g} but the regex has {groups} group(s)"),
            );
            return None;
        }
        Some((g, _)) => g,
        None => usize::from(groups > 0),
    };
    let _ = rspan;
    Some(Rule {
        id,
        description,
        regex,
        secret_group,
        keywords,
        entropy,
        path,
        allowlists: lists,
        severity: Severity::High,
    })
}

/// Reads a `.gitleaks.toml` text (shown as `path`).
pub fn read(path: &str, text: &str) -> Result<Config, ConfigErrors> {
    let mut doc = Document::parse(path, text);
    let mut use_default = false;
    let mut disabled: Vec<String> = Vec::new();
    if let Some(ext) = doc.take("extend")
        && let Some(t) = doc.reader.table(&ext, "extend")
    {
        for (k, val) in t {
            let w = format!("extend.{}", k.name);
            match k.name.as_ref() {
                "useDefault" => use_default = doc.reader.boolean(val, &w).unwrap_or(false),
                "disabledRules" => disabled = doc.reader.string_list(val, &w),
                "path" | "url" => doc.reader.err(
                    val.span,
                    "`extend.path`/`extend.url` are not supported: merge that config into this one",
                ),
                other => {
                    doc.reader
                        .unknown(k.span, "[extend]", other, &["useDefault", "disabledRules"])
                }
            }
        }
    }
    let mut rules = Vec::new();
    if use_default {
        match builtin::rules() {
            Ok(r) => rules = r,
            Err(e) => doc.reader.err_file(e.to_string()),
        }
        let off: Vec<&str> = disabled.iter().map(|d| ours(d)).collect();
        rules.retain(|r| !off.contains(&r.id.as_str()));
    }
    if let Some(rs) = doc.take("rules") {
        match rs.as_array() {
            Some(arr) => {
                for x in arr {
                    if let Some(r) = rule(&mut doc.reader, x) {
                        // a rule with a built-in's id replaces it
                        rules.retain(|b| b.id != r.id);
                        rules.push(r);
                    }
                }
            }
            None => doc
                .reader
                .err(rs.span, "`rules` must be an array of [[rules]] tables"),
        }
    }
    let mut global = Vec::new();
    for name in ["allowlists", "allowlist"] {
        if let Some(a) = doc.take(name) {
            global.extend(allowlists(&mut doc.reader, &a, name, "(global allowlist)"));
        }
    }
    let _ = doc.take("title");
    let _ = doc.take("minVersion");
    doc.finish()?;
    Ok(Config {
        rules,
        allowlists: global,
    })
}

/// Fingerprints from a `.gitleaksignore` file (one per line, `#` comments).
pub fn ignore_file(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Engine;

    #[test]
    fn a_gitleaks_config_extends_disables_adds_and_allows() {
        let text = r#"
title = "ours"
[extend]
useDefault = true
disabledRules = ["generic-api-key"]

[[rules]]
id = "acme-token"
description = "ACME internal token"
regex = '''acme_[a-z0-9]{16}'''
keywords = ["acme_"]
[[rules.allowlists]]
regexes = ['''acme_0{16}''']

[[allowlists]]
paths = ['''(^|/)vendor/''']
"#;
        let c = read(".gitleaks.toml", text).unwrap();
        assert!(c.rules.iter().any(|r| r.id == "github-pat"));
        assert!(!c.rules.iter().any(|r| r.id == "generic-secret-assignment"));
        let e = Engine::new(c.rules, c.allowlists).unwrap();
        let hits = e.scan(
            "app.conf",
            b"t = acme_0123456789abcdef\nu = acme_0000000000000000\n",
        );
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].rule, "acme-token");
        assert!(
            e.scan("vendor/x.conf", b"t = acme_0123456789abcdef\n")
                .is_empty()
        );
    }

    #[test]
    fn without_use_default_only_its_rules_run() {
        let c = read("g.toml", "[[rules]]\nid = \"x\"\nregex = 'x{3}'\n").unwrap();
        assert_eq!(c.rules.len(), 1);
    }

    #[test]
    fn problems_are_named_with_their_place() {
        let text = "[[rules]]\nid = \"bad\"\nregex = '(unclosed'\n\n[[rules]]\ndescription = \"no id\"\nregex = 'a'\nsecretGroup = 3\nwhat = 1\n";
        let e = read("g.toml", text).unwrap_err().to_string();
        assert!(e.contains("g.toml:3:10"), "{e}");
        assert!(!e.contains("rule bad needs a `regex`"), "said once: {e}");
        assert!(e.contains("rule bad: regex does not compile"), "{e}");
        assert!(
            e.contains("unknown key `what`") || e.contains("what"),
            "{e}"
        );
        assert!(e.contains("needs an `id`"), "{e}");
    }

    #[test]
    fn ignore_files_list_fingerprints() {
        assert_eq!(
            ignore_file("# ok\n\nabc:file.txt:github-pat:3\n"),
            ["abc:file.txt:github-pat:3"]
        );
    }
}
