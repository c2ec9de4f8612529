//! SARIF 2.1.0 output: one run, a rule object per code (with the equivalent
//! Hadolint/Docker/Trivy codes in `properties`), and results with regions.

use std::collections::BTreeMap;

use findings::{Finding, Level, RuleInfo};
use serde::Serialize;
use serde_json::{Value, json};

/// Name and version of the tool in reports.
#[derive(Debug, Clone, Serialize)]
pub struct ToolInfo {
    /// `safeimage`.
    pub name: String,
    /// Semver.
    pub version: String,
}

fn uri(path: &str) -> String {
    let p = path.strip_prefix("./").unwrap_or(path).replace('\\', "/");
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn rule_object(r: &RuleInfo) -> Value {
    let mut tags = vec!["dockerfile".to_string()];
    if r.code.starts_with("base-") {
        tags.push("policy".into());
    }
    if r.code.contains("secret") {
        tags.push("security".into());
    }
    let mut help = format!(
        "{}\n\nDocumentation: {}",
        r.summary,
        r.help_uri.clone().unwrap_or_default()
    );
    let eq = &r.equivalents;
    for (name, list) in [
        ("Hadolint", &eq.hadolint),
        ("Docker build check", &eq.docker),
        ("Trivy", &eq.trivy),
    ] {
        if !list.is_empty() {
            help.push_str(&format!("\n{name}: {}", list.join(", ")));
        }
    }
    json!({
        "id": r.code,
        "name": r.code,
        "shortDescription": { "text": r.summary },
        "fullDescription": { "text": r.summary },
        "help": { "text": help },
        "defaultConfiguration": { "level": r.default_level.sarif() },
        "properties": {
            "tags": tags,
            "hadolint": eq.hadolint,
            "docker": eq.docker,
            "trivy": eq.trivy,
            "documentation": r.help_uri,
        }
    })
}

/// Renders a SARIF 2.1.0 log. `rules` describes known codes; codes without a
/// description (ShellCheck's) get a minimal rule object.
pub fn sarif(findings: &[Finding], rules: &[RuleInfo], tool: &ToolInfo) -> Value {
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rule_objs = Vec::new();
    for r in rules {
        index.insert(&r.code, rule_objs.len());
        rule_objs.push(rule_object(r));
    }
    for f in findings {
        if !index.contains_key(f.code.as_str()) {
            index.insert(&f.code, rule_objs.len());
            let url = if f.code.starts_with("SC") {
                format!("https://www.shellcheck.net/wiki/{}", f.code)
            } else {
                String::new()
            };
            let mut obj = json!({
                "id": f.code,
                "shortDescription": { "text": format!("ShellCheck {}", f.code) },
                "defaultConfiguration": { "level": f.level.sarif() },
                "properties": { "tags": ["dockerfile", "shellcheck"] }
            });
            if !url.is_empty() {
                obj["helpUri"] = json!(url);
            }
            rule_objs.push(obj);
        }
    }
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let l = &f.location;
            let mut props = serde_json::Map::new();
            for (k, v) in &f.properties {
                props.insert(k.clone(), json!(v));
            }
            let mut res = json!({
                "ruleId": f.code,
                "ruleIndex": index[f.code.as_str()],
                "level": f.level.sarif(),
                "message": { "text": f.message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&l.path), "uriBaseId": "%SRCROOT%" },
                        "region": { "startLine": l.line.max(1), "startColumn": l.column.max(1), "endLine": l.end_line.max(l.line).max(1), "endColumn": l.end_column.max(1) }
                    }
                }],
                "partialFingerprints": { "safeimage/v1": format!("{}:{}:{}", f.code, uri(&l.path), l.line) },
            });
            if f.level == Level::Style {
                res["properties"] = json!({ "safeimage-level": "style" });
            }
            if !props.is_empty() {
                res["properties"] = Value::Object(props);
            }
            res
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": tool.name, "version": tool.version, "semanticVersion": tool.version, "rules": rule_objs } },
            "originalUriBaseIds": { "%SRCROOT%": { "description": { "text": "The directory safeimage was run from" } } },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_escaping() {
        assert_eq!(uri("./a b/Dockerfile"), "a%20b/Dockerfile");
        assert_eq!(uri("x/Dockerfile.dev"), "x/Dockerfile.dev");
    }
}
