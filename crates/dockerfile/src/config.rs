//! Lint and base-image policy settings: `[lint]` and `[policy.base_images]` in
//! `safeimage.toml`, plus `.hadolint.yaml` compatibility.
//!
//! Validation is strict and complete: every unknown key and bad value in the
//! file is reported at once, each with its file:line:column. The file is
//! parsed once by [`settings::Document`]; this module reads only the two
//! sections it owns ([`LintConfig::read`]).

use std::collections::HashMap;
use std::path::Path;

use findings::Level;
use settings::{ConfigError, ConfigErrors, Document, Reader, Span, Table, Value};

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
    /// Check RUN scripts at all (built-in shell checks, and ShellCheck when
    /// `shellcheck` is also on and it is installed).
    pub shell_checks: bool,
    /// Run ShellCheck on RUN scripts when it is installed (it then replaces
    /// the built-in checks).
    pub shellcheck: bool,
    /// Build args for expanding ARGs in FROM (`--build-arg`).
    pub build_args: HashMap<String, String>,
    /// Ignore `# hadolint ignore=` / `# safeimage ignore=` pragmas.
    pub disable_ignore_pragma: bool,
    /// The base-image policy; `None` when not configured (no policy checks).
    pub policy: Option<Policy>,
    /// Labels every stage must carry, and their types (`[lint]
    /// label_schema`, `.hadolint.yaml` `label-schema`).
    pub label_schema: std::collections::BTreeMap<String, LabelType>,
    /// Report labels that are not in the schema.
    pub strict_labels: bool,
    /// Where ShellCheck results are cached (`None`: no cache).
    pub cache_dir: Option<std::path::PathBuf>,
    /// End-of-life data for the policy's `current_release` (`None`: not
    /// available; the binary says so).
    pub releases: Option<ReleaseData>,
}

/// End-of-life data shared by the lint run.
#[derive(Clone)]
pub struct ReleaseData(pub std::sync::Arc<dyn crate::release::Releases>);

impl std::fmt::Debug for ReleaseData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReleaseData")
    }
}

impl Default for LintConfig {
    fn default() -> Self {
        LintConfig {
            failure_threshold: Level::Warning,
            ignored: Vec::new(),
            overrides: HashMap::new(),
            shell_checks: true,
            shellcheck: true,
            build_args: HashMap::new(),
            disable_ignore_pragma: false,
            policy: None,
            label_schema: Default::default(),
            strict_labels: false,
            cache_dir: None,
            releases: None,
        }
    }
}

pub use crate::rules::LabelType;

/// Short name inside this file.
type V<'t> = Reader<'t>;

fn table_of<'a, 'de>(v: &'a Value<'de>) -> Option<&'a Table<'de>> {
    v.as_table()
}

fn level(r: &mut V<'_>, v: &Value<'_>, what: &str) -> Option<Level> {
    r.parsed::<Level>(v, what)
}

/// Checks a code exists; returns our codes for it.
fn codes(r: &mut V<'_>, code: &str, span: Span, what: &str) -> Vec<String> {
    if rules::rule(code).is_some() {
        return vec![code.to_string()];
    }
    let mapped = rules::codes_for_hadolint(code);
    if mapped.is_empty() {
        r.err(
            span,
            format!("`{what}`: unknown rule code `{code}` (see docs/rules/README.md)"),
        );
    }
    mapped
}

impl LintConfig {
    /// Reads the sections this crate owns, `[lint]` and `[policy]`, from a
    /// parsed config (other sections belong to their own crates).
    pub fn read(doc: &mut Document<'_>) -> Self {
        let mut cfg = LintConfig::default();
        if let Some(v) = doc.take("lint") {
            cfg.read_lint(&mut doc.reader, &v);
        }
        if let Some(v) = doc.take("policy") {
            cfg.read_policy(&mut doc.reader, &v);
        }
        cfg
    }

    /// A file holding only `[lint]` and `[policy]` (any other top-level
    /// key is reported as unknown).
    pub fn from_toml(path: &str, text: &str) -> Result<Self, ConfigErrors> {
        let mut doc = Document::parse(path, text);
        let cfg = Self::read(&mut doc);
        doc.finish().map(|()| cfg)
    }

    fn read_lint(&mut self, v: &mut V<'_>, val: &Value<'_>) {
        let Some(t) = table_of(val) else {
            v.err(val.span, "`lint` must be a table");
            return;
        };
        for (k, x) in t {
            match k.name.as_ref() {
                "failure_threshold" => {
                    if let Some(l) = level(v, x, "lint.failure_threshold") {
                        self.failure_threshold = l;
                    }
                }
                "ignored" => {
                    for (code, span) in v.strings(x, "lint.ignored") {
                        let found = codes(v, &code, span, "lint.ignored");
                        self.ignored.extend(found);
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
                            for c in codes(v, &code, span, "lint.override") {
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
                "label_schema" => {
                    let Some(t) = table_of(x) else {
                        v.err(x.span, "`lint.label_schema` must be a table of label = \"type\"");
                        continue;
                    };
                    for (lk, lv) in t {
                        let what = format!("lint.label_schema.{}", lk.name);
                        let Some(ty) = v.string(lv, &what) else { continue };
                        match ty.parse::<LabelType>() {
                            Ok(t) => {
                                self.label_schema.insert(lk.name.to_string(), t);
                            }
                            Err(e) => v.err(lv.span, format!("`{what}`: {e}")),
                        }
                    }
                }
                "strict_labels" => {
                    if let Some(b) = v.boolean(x, "lint.strict_labels") {
                        self.strict_labels = b;
                    }
                }
                "shell_checks" => {
                    if let Some(b) = v.boolean(x, "lint.shell_checks") {
                        self.shell_checks = b;
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
                other => v.err(k.span, format!("unknown key `lint.{other}` (expected failure_threshold, ignored, override, shell_checks, shellcheck, label_schema, strict_labels, disable_ignore_pragma, build_args)")),
            }
        }
    }

    fn read_policy(&mut self, v: &mut V<'_>, val: &Value<'_>) {
        self.policy = read_policy(v, val, self.policy.take(), "policy", false);
    }

    /// Reads a file holding only `[lint]` and `[policy]` from disk.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::file(path.display().to_string(), format!("cannot read: {e}"))
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
        if let Some(m) = doc.get("label-schema").and_then(|v| v.as_mapping()) {
            for (k, v) in m {
                let (Some(k), Some(t)) = (k.as_str(), v.as_str()) else {
                    return Err(err("label-schema: expected label: type pairs".into()));
                };
                let t = t
                    .parse::<LabelType>()
                    .map_err(|e| err(format!("label-schema.{k}: {e}")))?;
                self.label_schema.insert(k.to_string(), t);
            }
        }
        if doc.get("strict-labels").and_then(|v| v.as_bool()) == Some(true) {
            self.strict_labels = true;
        }
        // Hadolint reads both names for the DL3026 registry allow-list
        let mut trusted = list(doc.get("trustedRegistries"));
        trusted.extend(list(doc.get("allowedRegistries")));
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

/// Reads a `[policy]` table (`what` names it in messages) over `base`.
/// At image level (`[image.policy]`) the tier patterns are the image's own,
/// deciding before the fleet's, and the other keys replace the fleet's.
pub fn read_policy(
    v: &mut V<'_>,
    val: &Value<'_>,
    base: Option<Policy>,
    what: &str,
    image_level: bool,
) -> Option<Policy> {
    let Some(t) = table_of(val) else {
        v.err(val.span, format!("`{what}` must be a table"));
        return base;
    };
    let mut out = base;
    for (k, x) in t {
        match k.name.as_ref() {
            "base_images" => {
                out = Some(read_base_images(
                    v,
                    x,
                    out.take().unwrap_or_default(),
                    &format!("{what}.base_images"),
                    image_level,
                ));
            }
            other => v.err(
                k.span,
                format!("unknown key `{what}.{other}` (expected base_images)"),
            ),
        }
    }
    out
}

fn read_base_images(
    v: &mut V<'_>,
    val: &Value<'_>,
    mut policy: Policy,
    what: &str,
    image_level: bool,
) -> Policy {
    let Some(t) = table_of(val) else {
        v.err(val.span, format!("`{what}` must be a table"));
        return policy;
    };
    if image_level {
        policy.image_tiers.clear();
    }
    for (k, x) in t {
        let key = k.name.as_ref();
        if let Some(tier) = Tier::parse(key) {
            let mut pats = Vec::new();
            for (s, span) in v.strings(x, &format!("{what}.{key}")) {
                match Pattern::new(&s) {
                    Ok(p) => pats.push(p),
                    Err(e) => v.err(span, e.to_string()),
                }
            }
            if image_level {
                policy.image_tiers.push((tier, pats));
            } else {
                policy.tiers.push((tier, pats));
            }
            continue;
        }
        match key {
            "default_tier" => {
                if let Some(s) = v.string(x, &format!("{what}.default_tier")) {
                    match Tier::parse(&s) {
                        Some(t) => policy.default_tier = t,
                        None => v.err(x.span, format!("`{what}.default_tier`: unknown tier `{s}` (expected preferred, permitted, restricted, prohibited)")),
                    }
                }
            }
            "trusted_registries" => {
                policy.trusted_registries = v
                    .strings(x, &format!("{what}.trusted_registries"))
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect()
            }
            "require_digest" => {
                policy.require_digest = v
                    .boolean(x, &format!("{what}.require_digest"))
                    .unwrap_or(false)
            }
            "docker_official_only" => {
                policy.docker_official_only = v
                    .boolean(x, &format!("{what}.docker_official_only"))
                    .unwrap_or(false)
            }
            "current_release" => {
                policy.current_release = v
                    .boolean(x, &format!("{what}.current_release"))
                    .unwrap_or(false)
            }
            other => v.err(
                k.span,
                format!("unknown key `{what}.{other}` (expected preferred, permitted, restricted, prohibited, default_tier, trusted_registries, require_digest, docker_official_only, current_release)"),
            ),
        }
    }
    policy
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
