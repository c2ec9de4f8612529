//! The lint rules: a static registry (codes, levels, equivalents in other
//! tools) and the checks, which turn a [`Parsed`] file into [`Hit`]s.
//! Checks never print; they only push hits.

pub mod docs;
mod instructions;
mod labels;
pub use labels::LabelType;
mod run;
mod stages;

use std::ops::Range;

use findings::{Equivalents, Level, RuleInfo};

use crate::model::Parsed;
use crate::source::SourceFile;

/// A rule's static definition.
#[derive(Debug, Clone, Copy)]
pub struct RuleDef {
    /// Stable code.
    pub code: &'static str,
    /// Default level.
    pub level: Level,
    /// One-line summary.
    pub summary: &'static str,
    /// Hadolint codes covered.
    pub hadolint: &'static [&'static str],
    /// Docker build-check names covered.
    pub docker: &'static [&'static str],
    /// Trivy IDs covered.
    pub trivy: &'static [&'static str],
}

impl RuleDef {
    /// The shared description of this rule.
    pub fn info(&self) -> RuleInfo {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        RuleInfo {
            code: self.code.to_string(),
            default_level: self.level,
            summary: self.summary.to_string(),
            help_uri: Some(format!("docs/rules/{}.md", self.code)),
            equivalents: Equivalents {
                hadolint: v(self.hadolint),
                docker: v(self.docker),
                trivy: v(self.trivy),
            },
        }
    }
}

macro_rules! rules {
    ($( $code:literal, $level:ident, $summary:literal, [$($h:literal),*], [$($d:literal),*], [$($t:literal),*]; )*) => {
        /// Every rule safeimage's Dockerfile linter knows, in documentation order.
        pub static RULES: &[RuleDef] = &[
            $( RuleDef { code: $code, level: Level::$level, summary: $summary, hadolint: &[$($h),*], docker: &[$($d),*], trivy: &[$($t),*] }, )*
        ];
    };
}

rules! {
    "syntax-error", Error, "The Dockerfile cannot be parsed", [], [], [];
    "missing-from", Error, "An instruction other than ARG comes before the first FROM (or there is no FROM)", ["DL3061"], [], [];
    "onbuild-forbidden", Error, "ONBUILD wraps FROM, MAINTAINER or another ONBUILD, which builders reject", ["DL3043"], [], [];
    "reserved-stage-name", Error, "A stage is named scratch or context, names the builder reserves", ["DL3063"], ["ReservedStageName"], [];
    "last-user-root", Warning, "The final stage runs as root (last USER is root/0, or there is no USER)", ["DL3002"], [], ["DS-0002"];
    "sudo", Error, "sudo is used in RUN", ["DL3004"], [], ["DS-0010"];
    "base-untagged", Warning, "Base image has neither tag nor digest", ["DL3006"], [], [];
    "base-latest", Warning, "Base image uses the :latest tag", ["DL3007"], [], ["DS-0001"];
    "base-invalid-reference", Error, "Base image reference is not a valid image reference", [], ["InvalidBaseImagePlatform"], [];
    "undefined-arg-in-from", Warning, "FROM uses a variable that no global ARG declares", [], ["UndefinedArgInFrom"], [];
    "arg-in-from-no-default", Warning, "FROM uses a global ARG that has no default value", [], ["InvalidDefaultArgInFrom"], [];
    "from-platform-constant", Warning, "FROM --platform is set to a constant", ["DL3029"], ["FromPlatformFlagConstDisallowed"], [];
    "duplicate-stage-name", Error, "Two stages share a name", ["DL3024"], ["DuplicateStageName"], ["DS-0012"];
    "stage-name-casing", Style, "Stage name is not lowercase", [], ["StageNameCasing"], [];
    "copy-from-unknown-stage", Warning, "COPY --from names no earlier stage and does not look like an image", ["DL3022"], [], [];
    "copy-from-self", Error, "COPY --from refers to the stage it is in", ["DL3023"], [], ["DS-0006"];
    "copy-whole-filesystem", Warning, "COPY --from copies a whole filesystem (/) from another stage or image", ["DL3067"], [], [];
    "user-not-numeric", Info, "USER is a name, not a numeric UID: Kubernetes runAsNonRoot cannot verify it", ["DL3066"], [], [];
    "copy-dest-not-dir", Error, "COPY/ADD with several sources needs a destination ending in /", ["DL3021"], [], ["DS-0011"];
    "copy-relative-without-workdir", Warning, "COPY to a relative destination before any WORKDIR", ["DL3045"], [], [];
    "add-instead-of-copy", Error, "ADD used for local files or folders where COPY fits", ["DL3020"], [], ["DS-0005"];
    "maintainer", Warning, "MAINTAINER is deprecated", ["DL4000"], ["MaintainerDeprecated"], ["DS-0022"];
    "workdir-relative", Warning, "WORKDIR is a relative path", ["DL3000"], ["WorkdirRelativePath"], ["DS-0009"];
    "multiple-cmd", Warning, "More than one CMD in a stage; only the last takes effect", ["DL4003"], ["MultipleInstructionsDisallowed"], ["DS-0016"];
    "multiple-entrypoint", Warning, "More than one ENTRYPOINT in a stage; only the last takes effect", ["DL4004"], ["MultipleInstructionsDisallowed"], ["DS-0007"];
    "multiple-healthcheck", Warning, "More than one HEALTHCHECK in a stage; only the last takes effect", ["DL3012"], ["MultipleInstructionsDisallowed"], ["DS-0023"];
    "shell-form-cmd", Warning, "CMD or ENTRYPOINT in shell form: signals do not reach the process", ["DL3025"], ["JSONArgsRecommended"], [];
    "expose-ssh", Warning, "Port 22 (SSH) is exposed", [], [], ["DS-0004"];
    "expose-invalid-port", Error, "EXPOSE names a port outside 1-65535 or a malformed port", ["DL3011"], ["ExposeInvalidFormat"], ["DS-0008"];
    "secret-name-in-arg-env", Warning, "ARG/ENV name suggests a secret; build args and env are stored in the image", ["DL3064"], ["SecretsUsedInArgOrEnv"], ["DS-0031"];
    "secret-value-in-arg-env", Error, "ARG/ENV holds a literal credential", ["DL3064"], [], ["DS-0031"];
    "missing-healthcheck", Info, "The final stage has no HEALTHCHECK", ["DL3057"], [], ["DS-0026"];
    "final-stage-not-minimal", Info, "The final stage is based on a full OS image, not a minimal one", [], [], [];
    "consecutive-run", Info, "Consecutive single-command RUN instructions could be one layer", ["DL3059"], [], [];
    "apt-unpinned", Warning, "apt-get install without version pins", ["DL3008"], [], [];
    "apt-missing-yes", Warning, "apt-get install without -y", ["DL3014"], [], ["DS-0021"];
    "apt-no-install-recommends", Info, "apt-get install without --no-install-recommends", ["DL3015"], [], ["DS-0029"];
    "apt-lists-not-cleaned", Info, "apt lists are left in the final image (no rm -rf /var/lib/apt/lists/*)", ["DL3009"], [], ["DS-0015"];
    "apt-update-alone", Warning, "apt-get update in a RUN that installs nothing: later installs may use stale lists", [], [], ["DS-0017"];
    "apt-use-apt-get", Warning, "apt is for interactive use; use apt-get or apt-cache in scripts", ["DL3027"], [], [];
    "apk-unpinned", Warning, "apk add without version pins", ["DL3018"], [], [];
    "apk-no-cache", Info, "apk add without --no-cache", ["DL3019"], [], ["DS-0025"];
    "rpm-unpinned", Warning, "yum/dnf/microdnf/zypper install without version pins", ["DL3033", "DL3041", "DL3037"], [], [];
    "rpm-missing-yes", Warning, "yum/dnf/zypper install without the non-interactive switch", ["DL3030", "DL3038", "DL3034"], [], [];
    "rpm-cache-not-cleaned", Info, "yum/dnf/zypper caches are left in the final image", ["DL3032", "DL3040", "DL3036"], [], ["DS-0019", "DS-0020", "DS-0027"];
    "pip-unpinned", Warning, "pip install without version pins", ["DL3013"], [], [];
    "pip-no-cache-dir", Info, "pip install without --no-cache-dir in the final image", ["DL3042"], [], [];
    "npm-unpinned", Warning, "npm install of named packages without versions", ["DL3016"], [], [];
    "gem-unpinned", Warning, "gem install without a version", ["DL3028"], [], [];
    "yarn-cache-not-cleaned", Info, "yarn install without yarn cache clean in the same RUN", ["DL3060"], [], [];
    "useradd-high-uid", Warning, "useradd with a large UID and without -l writes a huge sparse lastlog", ["DL3046"], [], [];
    "ln-bin-sh", Warning, "RUN ln replaces /bin/sh; use SHELL to choose the shell", ["DL4005"], [], [];
    "zypper-dist-upgrade", Warning, "zypper dist-upgrade in a build", ["DL3035"], [], [];
    "env-self-reference", Warning, "ENV uses a variable that the same ENV instruction defines", ["DL3044"], [], [];
    "wget-progress", Info, "wget without --progress or a quiet option bloats build logs", ["DL3047"], [], [];
    "label-key-invalid", Warning, "LABEL key breaks Docker's key format or uses a reserved namespace", ["DL3048"], [], [];
    "label-missing", Warning, "A stage lacks a label the label schema requires", ["DL3049"], [], [];
    "label-not-in-schema", Warning, "A label is not in the label schema (strict labels)", ["DL3050"], [], [];
    "label-empty", Warning, "A label the schema requires is empty", ["DL3051"], [], [];
    "label-invalid-value", Warning, "A label's value is not of its schema type (url, rfc3339, spdx, hash, semver, email)", ["DL3052", "DL3053", "DL3054", "DL3055", "DL3056", "DL3058"], [], [];
    "redundant-target-platform", Info, "FROM --platform=$TARGETPLATFORM is the default and can go", ["DL3065"], ["RedundantTargetPlatform"], [];
    "go-install-unpinned", Warning, "go install without @version (or with @latest)", ["DL3062"], [], [];
    "pipefail", Warning, "RUN with a pipe but no pipefail: a failing command before | is ignored", ["DL4006"], [], [];
    "curl-pipe-shell", Warning, "A downloaded script is piped straight into a shell or interpreter", [], [], [];
    "run-cd", Info, "cd in RUN; WORKDIR says it once for every later instruction", ["DL3003"], [], ["DS-0013"];
    "wget-and-curl", Info, "Both wget and curl are used; one tool is enough", ["DL4001"], [], ["DS-0014"];
    "pointless-command", Info, "A command that does nothing useful while building an image (ssh, vim, service, ...)", ["DL3001"], [], [];
    "base-prohibited", Error, "Base image is in the policy's prohibited tier", [], [], [];
    "base-restricted", Warning, "Base image is in the policy's restricted tier", [], [], [];
    "base-untrusted-registry", Error, "Base image comes from a registry the policy does not trust", ["DL3026"], [], [];
    "base-not-pinned", Error, "Policy requires base images pinned by digest", [], [], [];
    "base-unofficial", Error, "Policy allows only Docker Official Images from Docker Hub", [], [], [];
    "base-release-eol", Error, "Base image is on a release that has reached its end of life", [], [], [];
    "base-release-not-current", Warning, "Base image is not on the newest LTS (or stable) release of its product", [], [], [];
}

/// Looks up a rule by code.
pub fn rule(code: &str) -> Option<&'static RuleDef> {
    RULES.iter().find(|r| r.code == code)
}

/// Our codes that cover a Hadolint code (`DL3008` → `apt-unpinned`).
/// ShellCheck codes (`SC2086`) map to themselves.
pub fn codes_for_hadolint(code: &str) -> Vec<String> {
    let code = code.trim();
    if code.to_ascii_uppercase().starts_with("SC") {
        return vec![code.to_ascii_uppercase()];
    }
    RULES
        .iter()
        .filter(|r| r.hadolint.iter().any(|h| h.eq_ignore_ascii_case(code)))
        .map(|r| r.code.to_string())
        .collect()
}

/// Our codes that cover a Docker build-check name.
pub fn codes_for_docker_check(name: &str) -> Vec<String> {
    RULES
        .iter()
        .filter(|r| r.docker.iter().any(|d| d.eq_ignore_ascii_case(name)))
        .map(|r| r.code.to_string())
        .collect()
}

/// One raw result of a check, before levels and ignores are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Rule code.
    pub code: String,
    /// Byte range in the file.
    pub span: Range<usize>,
    /// Message.
    pub message: String,
    /// Level when the code is not in the registry (ShellCheck).
    pub level: Option<Level>,
    /// Extra properties.
    pub props: Vec<(String, String)>,
    /// Exact location when the source reports one (ShellCheck); otherwise
    /// the location is computed from `span`.
    pub location: Option<findings::Location>,
}

/// What checks read and write.
pub(crate) struct Ctx<'p, 'a> {
    pub src: &'p SourceFile,
    pub p: &'p Parsed<'a>,
    pub hits: Vec<Hit>,
}

impl Ctx<'_, '_> {
    pub fn hit(&mut self, code: &'static str, span: Range<usize>, message: impl Into<String>) {
        debug_assert!(rule(code).is_some(), "unregistered rule {code}");
        self.hits.push(Hit {
            code: code.to_string(),
            span,
            message: message.into(),
            level: None,
            props: vec![],
            location: None,
        });
    }
}

/// Runs every built-in check over a parsed file.
pub fn check(src: &SourceFile, parsed: &Parsed<'_>) -> Vec<Hit> {
    let mut ctx = Ctx {
        src,
        p: parsed,
        hits: Vec::new(),
    };
    stages::check(&mut ctx);
    instructions::check(&mut ctx);
    run::check(&mut ctx);
    labels::check_keys(&mut ctx);
    ctx.hits.sort_by_key(|h| (h.span.start, h.code.clone()));
    ctx.hits
}

/// The label-schema checks (`[lint] label_schema`, `.hadolint.yaml`
/// `label-schema`); nothing when the schema is empty.
pub fn check_label_schema(
    src: &SourceFile,
    parsed: &Parsed<'_>,
    schema: &std::collections::BTreeMap<String, labels::LabelType>,
    strict: bool,
) -> Vec<Hit> {
    let mut ctx = Ctx {
        src,
        p: parsed,
        hits: Vec::new(),
    };
    labels::check_schema(&mut ctx, schema, strict);
    ctx.hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for r in RULES {
            assert!(seen.insert(r.code), "duplicate {}", r.code);
            assert!(
                r.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{}",
                r.code
            );
        }
    }

    #[test]
    fn hadolint_mapping() {
        assert_eq!(codes_for_hadolint("DL3008"), ["apt-unpinned"]);
        assert_eq!(codes_for_hadolint("dl3041"), ["rpm-unpinned"]);
        assert_eq!(codes_for_hadolint("SC2086"), ["SC2086"]);
        assert!(codes_for_hadolint("DL9999").is_empty());
    }
}
