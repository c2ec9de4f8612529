//! Lint and base-image policy settings: `[lint]` and `[policy.base_images]` in
//! `safeimage.toml`, plus `.hadolint.yaml` compatibility.
//!
//! Validation is strict and complete: every unknown key and bad value in the
//! file is reported at once, each with its file:line:column.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use findings::Level;
use toml_span::value::Table;
use toml_span::{Span, Value};

use crate::policy::{Pattern, Policy, Tier};
use crate::rules;

/// Settings for `safeimage lint`.
#[derive(Debug, Clone)]
pub struct LintConfig {
    /// Exit non-zero when a finding is at or above this level.
    pub failure_threshold: Level,
    /// Codes never reported (our codes; Hadolint codes are mapped on load).
    pub ignored: Vec<String>,
    /// Level overrides per code.
    pub overrides: HashMap<String, Level>,
    /// Run ShellCheck on RUN scripts when it is installed.
    pub shellcheck: bool,
    /// Build args for expanding ARGs in FROM (`--build-arg`).
    pub build_args: HashMap<String, String>,
    /// Ignore `# hadolint ignore=` / `# safeimage ignore=` pragmas.
    pub disable_ignore_pragma: bool,
    /// The base-image policy; `None` when not configured (no policy checks).
    pub policy: Option<Policy>,
    /// Where ShellCheck results are cached (`None`: no cache).
    pub cache_dir: Option<std::path::PathBuf>,
}

impl Default for LintConfig {
    fn default() -> Self {
        LintConfig {
            failure_threshold: Level::Warning,
            ignored: Vec::new(),
            overrides: HashMap::new(),
            shellcheck: true,
            build_args: HashMap::new(),
            disable_ignore_pragma: false,
            policy: None,
            cache_dir: None,
        }
    }
}

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// File.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path, self.line, self.column, self.message
        )
    }
}

/// Every problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} problem{} in the configuration:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

/// Top-level sections of `safeimage.toml` that other commands own; the lint
/// config leaves them to those commands.
pub const OTHER_SECTIONS: &[&str] = &[
    "image", "registry", "engine", "gate", "notify", "store", "schedule", "scan", "secrets",
    "harden", "sign", "report", "db", "server",
];

/// Collects every problem of a TOML config with its file:line:column;
/// shared by the sections other crates own (`safeimage run`'s fleet config).
pub struct Reader<'t> {
    /// File, as shown.
    pub path: &'t str,
    /// Its text (spans index it).
    pub text: &'t str,
    /// Problems so far.
    pub errors: Vec<ConfigError>,
}

/// Short name inside this file.
type V<'t> = Reader<'t>;

impl<'t> Reader<'t> {
    /// A reader for `text` shown as `path`.
    pub fn new(path: &'t str, text: &'t str) -> Self {
        Reader {
            path,
            text,
            errors: Vec::new(),
        }
    }

    /// An integer, or a problem.
    pub fn integer(&mut self, v: &Value<'_>, what: &str) -> Option<i64> {
        let i = v.as_integer();
        if i.is_none() {
            self.err(v.span, format!("`{what}` must be an integer"));
        }
        i
    }

    /// An array of strings without their spans.
    pub fn string_list(&mut self, v: &Value<'_>, what: &str) -> Vec<String> {
        self.strings(v, what).into_iter().map(|(s, _)| s).collect()
    }

    /// Report an unknown key of `[section]`.
    pub fn unknown(&mut self, span: Span, section: &str, key: &str, known: &[&str]) {
        self.err(
            span,
            format!(
                "unknown key `{key}` in [{section}] (expected one of: {})",
                known.join(", ")
            ),
        );
    }

    /// Record a problem at a span.
    pub fn err(&mut self, span: Span, message: impl Into<String>) {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        self.errors.push(ConfigError {
            path: self.path.to_string(),
            line,
            column,
            message: message.into(),
        });
    }

    /// Read a value, or record why not.
    pub fn string(&mut self, v: &Value<'_>, what: &str) -> Option<String> {
        match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.err(v.span, format!("`{what}` must be a string"));
                None
            }
        }
    }

    /// Read a value, or record why not.
    pub fn boolean(&mut self, v: &Value<'_>, what: &str) -> Option<bool> {
        match v.as_bool() {
            Some(b) => Some(b),
            None => {
                self.err(v.span, format!("`{what}` must be true or false"));
                None
            }
        }
    }

    /// Read a value, or record why not.
    pub fn strings(&mut self, v: &Value<'_>, what: &str) -> Vec<(String, Span)> {
        match v.as_array() {
            Some(a) => a
                .iter()
                .filter_map(|x| match x.as_str() {
                    Some(s) => Some((s.to_string(), x.span)),
                    None => {
                        self.err(x.span, format!("`{what}` must contain only strings"));
                        None
                    }
                })
                .collect(),
            None => {
                self.err(v.span, format!("`{what}` must be an array of strings"));
                vec![]
            }
        }
    }

    fn level(&mut self, v: &Value<'_>, what: &str) -> Option<Level> {
        let s = self.string(v, what)?;
        match s.parse::<Level>() {
            Ok(l) => Some(l),
            Err(e) => {
                self.err(v.span, format!("`{what}`: {e}"));
                None
            }
        }
    }

    /// Checks a code exists; returns our codes for it.
    fn codes(&mut self, code: &str, span: Span, what: &str) -> Vec<String> {
        if rules::rule(code).is_some() {
            return vec![code.to_string()];
        }
        let mapped = rules::codes_for_hadolint(code);
        if mapped.is_empty() {
            self.err(
                span,
                format!("`{what}`: unknown rule code `{code}` (see docs/rules/README.md)"),
            );
        }
        mapped
    }
}

fn table_of<'a, 'de>(v: &'a Value<'de>) -> Option<&'a Table<'de>> {
    v.as_table()
}

impl LintConfig {
    /// Reads `[lint]` and `[policy.base_images]` from a `safeimage.toml` text.
    pub fn from_toml(path: &str, text: &str) -> Result<Self, ConfigErrors> {
        let mut v = Reader::new(path, text);
        let root = match toml_span::parse(text) {
            Ok(r) => r,
            Err(e) => {
                v.err(e.span, format!("invalid TOML: {}", e.kind));
                return Err(ConfigErrors(v.errors));
            }
        };
        let mut cfg = LintConfig::default();
        let Some(top) = table_of(&root) else {
            return Ok(cfg);
        };
        for (k, val) in top {
            match k.name.as_ref() {
                "lint" => cfg.read_lint(&mut v, val),
                "policy" => cfg.read_policy(&mut v, val),
                other if OTHER_SECTIONS.contains(&other) => {}
                other => v.err(
                    k.span,
                    format!(
                        "unknown top-level key `{other}` (expected one of: lint, policy, {})",
                        OTHER_SECTIONS.join(", ")
                    ),
                ),
            }
        }
        if v.errors.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigErrors(v.errors))
        }
    }

    fn read_lint(&mut self, v: &mut V<'_>, val: &Value<'_>) {
        let Some(t) = table_of(val) else {
            v.err(val.span, "`lint` must be a table");
            return;
        };
        for (k, x) in t {
            match k.name.as_ref() {
                "failure_threshold" => {
                    if let Some(l) = v.level(x, "lint.failure_threshold") {
                        self.failure_threshold = l;
                    }
                }
                "ignored" => {
                    for (code, span) in v.strings(x, "lint.ignored") {
                        let codes = v.codes(&code, span, "lint.ignored");
                        self.ignored.extend(codes);
                    }
                }
                "override" => {
                    let Some(ot) = table_of(x) else {
                        v.err(x.span, "`lint.override` must be a table of level = [codes]");
                        continue;
                    };
                    for (lk, lv) in ot {
                        let Ok(level) = lk.name.parse::<Level>() else {
                            v.err(lk.span, format!("`lint.override.{}`: unknown level (expected error, warning, info, style)", lk.name));
                            continue;
                        };
                        for (code, span) in v.strings(lv, "lint.override") {
                            if code.to_ascii_uppercase().starts_with("SC") {
                                self.overrides.insert(code.to_ascii_uppercase(), level);
                                continue;
                            }
                            for c in v.codes(&code, span, "lint.override") {
                                self.overrides.insert(c, level);
                            }
                        }
                    }
                }
                "shellcheck" => {
                    if let Some(b) = v.boolean(x, "lint.shellcheck") {
                        self.shellcheck = b;
                    }
                }
                "disable_ignore_pragma" => {
                    if let Some(b) = v.boolean(x, "lint.disable_ignore_pragma") {
                        self.disable_ignore_pragma = b;
                    }
                }
                "build_args" => {
                    let Some(bt) = table_of(x) else {
                        v.err(x.span, "`lint.build_args` must be a table of NAME = \"value\"");
                        continue;
                    };
                    for (bk, bv) in bt {
                        if let Some(s) = v.string(bv, &format!("lint.build_args.{}", bk.name)) {
                            self.build_args.insert(bk.name.to_string(), s);
                        }
                    }
                }
                other => v.err(k.span, format!("unknown key `lint.{other}` (expected failure_threshold, ignored, override, shellcheck, disable_ignore_pragma, build_args)")),
            }
        }
    }

    fn read_policy(&mut self, v: &mut V<'_>, val: &Value<'_>) {
        let Some(t) = table_of(val) else {
            v.err(val.span, "`policy` must be a table");
            return;
        };
        for (k, x) in t {
            match k.name.as_ref() {
                "base_images" => self.read_base_images(v, x),
                other => v.err(
                    k.span,
                    format!("unknown key `policy.{other}` (expected base_images)"),
                ),
            }
        }
    }

    fn read_base_images(&mut self, v: &mut V<'_>, val: &Value<'_>) {
        let Some(t) = table_of(val) else {
            v.err(val.span, "`policy.base_images` must be a table");
            return;
        };
        let mut policy = self.policy.take().unwrap_or_default();
        for (k, x) in t {
            let key = k.name.as_ref();
            if let Some(tier) = Tier::parse(key) {
                let mut pats = Vec::new();
                for (s, span) in v.strings(x, &format!("policy.base_images.{key}")) {
                    match Pattern::new(&s) {
                        Ok(p) => pats.push(p),
                        Err(e) => v.err(span, e.to_string()),
                    }
                }
                policy.tiers.push((tier, pats));
                continue;
            }
            match key {
                "default_tier" => {
                    if let Some(s) = v.string(x, "policy.base_images.default_tier") {
                        match Tier::parse(&s) {
                            Some(t) => policy.default_tier = t,
                            None => v.err(x.span, format!("`policy.base_images.default_tier`: unknown tier `{s}` (expected preferred, permitted, restricted, prohibited)")),
                        }
                    }
                }
                "trusted_registries" => policy.trusted_registries = v.strings(x, "policy.base_images.trusted_registries").into_iter().map(|(s, _)| s).collect(),
                "require_digest" => policy.require_digest = v.boolean(x, "policy.base_images.require_digest").unwrap_or(false),
                "docker_official_only" => policy.docker_official_only = v.boolean(x, "policy.base_images.docker_official_only").unwrap_or(false),
                other => v.err(
                    k.span,
                    format!("unknown key `policy.base_images.{other}` (expected preferred, permitted, restricted, prohibited, default_tier, trusted_registries, require_digest, docker_official_only)"),
                ),
            }
        }
        self.policy = Some(policy);
    }

    /// Reads a file from disk.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                path: path.display().to_string(),
                line: 0,
                column: 0,
                message: format!("cannot read: {e}"),
            }])
        })?;
        Self::from_toml(&path.display().to_string(), &text)
    }

    /// Merges a `.hadolint.yaml`: `ignored`, `failure-threshold`,
    /// `override`, `trustedRegistries`, `disable-ignore-pragma`.
    pub fn merge_hadolint_yaml(&mut self, path: &str, text: &str) -> Result<(), ConfigErrors> {
        let err = |message: String| {
            ConfigErrors(vec![ConfigError {
                path: path.to_string(),
                line: 0,
                column: 0,
                message,
            }])
        };
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            ConfigErrors(vec![ConfigError {
                path: path.to_string(),
                line,
                column,
                message: format!("invalid YAML: {e}"),
            }])
        })?;
        let list = |v: Option<&serde_yaml_ng::Value>| -> Vec<String> {
            v.and_then(|v| v.as_sequence())
                .map(|s| {
                    s.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        for code in list(doc.get("ignored")) {
            self.ignored.extend(rules::codes_for_hadolint(&code));
        }
        if let Some(t) = doc.get("failure-threshold").and_then(|v| v.as_str()) {
            self.failure_threshold = match t {
                "none" => Level::Error,
                other => other
                    .parse()
                    .map_err(|e: findings::UnknownLevel| err(format!("failure-threshold: {e}")))?,
            };
        }
        if let Some(o) = doc.get("override").and_then(|v| v.as_mapping()) {
            for (k, v) in o {
                let Some(level) = k.as_str().and_then(|s| s.parse::<Level>().ok()) else {
                    continue;
                };
                for code in list(Some(v)) {
                    for c in rules::codes_for_hadolint(&code) {
                        self.overrides.insert(c, level);
                    }
                }
            }
        }
        let trusted = list(doc.get("trustedRegistries"));
        if !trusted.is_empty() {
            let p = self.policy.get_or_insert_with(|| Policy {
                default_tier: Tier::Permitted,
                ..Policy::default()
            });
            p.trusted_registries.extend(trusted);
        }
        if doc.get("disable-ignore-pragma").and_then(|v| v.as_bool()) == Some(true) {
            self.disable_ignore_pragma = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_full_config() {
        let text = r#"
[lint]
failure_threshold = "error"
ignored = ["missing-healthcheck", "DL3008"]
shellcheck = false
build_args = { BASE = "debian:12" }
[lint.override]
info = ["base-latest"]

[policy.base_images]
preferred = ["alpine", "gcr.io/distroless/*"]
prohibited = ["docker.io/**"]
default_tier = "restricted"
trusted_registries = ["docker.io", "gcr.io"]
require_digest = true

[[image]]
name = "ignored-by-lint"
"#;
        let c = LintConfig::from_toml("safeimage.toml", text).unwrap();
        assert_eq!(c.failure_threshold, Level::Error);
        assert_eq!(c.ignored, ["missing-healthcheck", "apt-unpinned"]);
        assert_eq!(c.overrides.get("base-latest"), Some(&Level::Info));
        assert!(!c.shellcheck);
        assert_eq!(
            c.build_args.get("BASE").map(String::as_str),
            Some("debian:12")
        );
        let p = c.policy.unwrap();
        assert_eq!(p.default_tier, Tier::Restricted);
        assert!(p.require_digest);
        assert_eq!(p.tiers.len(), 2);
    }

    #[test]
    fn reports_every_problem_with_lines() {
        let text = "[lint]\nfailure_threshold = \"fatal\"\nignored = [\"no-such-rule\", 3]\ncolour = true\n\n[policy.base_images]\ndefault_tier = \"banned\"\nrequire_digest = \"yes\"\nextra = 1\n\n[bogus]\n";
        let e = LintConfig::from_toml("safeimage.toml", text).unwrap_err();
        let lines: Vec<(usize, &str)> = e.0.iter().map(|e| (e.line, e.message.as_str())).collect();
        assert_eq!(e.0.len(), 8, "{e}");
        assert!(
            lines
                .iter()
                .any(|(l, m)| *l == 2 && m.contains("unknown level"))
        );
        assert!(
            lines
                .iter()
                .any(|(l, m)| *l == 3 && m.contains("no-such-rule"))
        );
        assert!(
            lines
                .iter()
                .any(|(l, m)| *l == 3 && m.contains("only strings"))
        );
        assert!(
            lines
                .iter()
                .any(|(l, m)| *l == 4 && m.contains("lint.colour"))
        );
        assert!(lines.iter().any(|(l, m)| *l == 7 && m.contains("banned")));
        assert!(
            lines
                .iter()
                .any(|(l, m)| *l == 8 && m.contains("true or false"))
        );
        assert!(lines.iter().any(|(l, m)| *l == 9 && m.contains("extra")));
        assert!(lines.iter().any(|(l, m)| *l == 11 && m.contains("bogus")));
        assert!(e.to_string().starts_with("8 problems"));
    }

    #[test]
    fn invalid_toml_names_line() {
        let e = LintConfig::from_toml("x.toml", "[lint]\nfailure_threshold = \n").unwrap_err();
        assert_eq!(e.0[0].line, 2);
    }

    #[test]
    fn hadolint_yaml() {
        let mut c = LintConfig::default();
        c.merge_hadolint_yaml(".hadolint.yaml", "ignored:\n  - DL3008\n  - SC2086\nfailure-threshold: error\ntrustedRegistries:\n  - docker.io\n").unwrap();
        assert_eq!(c.ignored, ["apt-unpinned", "SC2086"]);
        assert_eq!(c.failure_threshold, Level::Error);
        assert_eq!(c.policy.unwrap().trusted_registries, ["docker.io"]);
    }
}
