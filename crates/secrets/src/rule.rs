//! One rule and its allowlists, and the check of one candidate match.

use regex::bytes::Regex;

/// How bad a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A documented example value, shown for information only.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// What an allowlist regex is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// The secret group.
    #[default]
    Secret,
    /// The whole match.
    Match,
    /// The whole line.
    Line,
}

/// Matches a finding that should not be reported.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    /// Description, for people.
    pub description: String,
    /// Regexes over [`Allowlist::target`].
    pub regexes: Vec<Regex>,
    /// What the regexes see.
    pub target: Target,
    /// Paths (regexes over the file path).
    pub paths: Vec<Regex>,
    /// Words that, found in the secret (case-insensitive), allow it.
    pub stopwords: Vec<String>,
    /// All of the kinds given must match (`AND`), or any (`OR`, default).
    pub all: bool,
    /// Only for these rules (global allowlists; empty: every rule).
    pub target_rules: Vec<String>,
}

impl Allowlist {
    /// Whether this allowlist lets the candidate through unreported.
    pub fn allows(&self, path: &str, secret: &[u8], whole: &[u8], line: &[u8]) -> bool {
        let target = match self.target {
            Target::Secret => secret,
            Target::Match => whole,
            Target::Line => line,
        };
        let lower = String::from_utf8_lossy(secret).to_lowercase();
        let mut checks = Vec::new();
        if !self.regexes.is_empty() {
            checks.push(self.regexes.iter().any(|r| r.is_match(target)));
        }
        if !self.paths.is_empty() {
            checks.push(self.paths.iter().any(|r| r.is_match(path.as_bytes())));
        }
        if !self.stopwords.is_empty() {
            checks.push(
                self.stopwords
                    .iter()
                    .any(|w| lower.contains(&w.to_lowercase())),
            );
        }
        if checks.is_empty() {
            return false;
        }
        if self.all {
            checks.iter().all(|c| *c)
        } else {
            checks.iter().any(|c| *c)
        }
    }
}

/// A detection rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Stable id (`github-pat`).
    pub id: String,
    /// What it finds.
    pub description: String,
    /// The pattern.
    pub regex: Regex,
    /// Which group is the secret (0: the whole match; default: the first
    /// group when there is one).
    pub secret_group: usize,
    /// Lowercase words one of which must occur for the regex to run at all
    /// (empty: it always runs).
    pub keywords: Vec<String>,
    /// The secret's Shannon entropy must be above this.
    pub entropy: Option<f64>,
    /// Only files whose path matches.
    pub path: Option<Regex>,
    /// Matches to leave out.
    pub allowlists: Vec<Allowlist>,
    /// Severity.
    pub severity: Severity,
}

/// A rule that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// A bad regex.
    #[error("rule {rule}: {what} does not compile: {source}")]
    Regex {
        /// Rule id.
        rule: String,
        /// Which regex.
        what: String,
        /// Cause.
        source: Box<regex::Error>,
    },
    /// The secret group does not exist.
    #[error("rule {rule}: secretGroup {group} but the regex has {groups} group(s)")]
    Group {
        /// Rule id.
        rule: String,
        /// Asked for.
        group: usize,
        /// Present.
        groups: usize,
    },
}

/// Compiles a regex for a rule, naming the rule on failure. Patterns are
/// compiled with a size limit, so a hostile config cannot exhaust memory.
pub fn compile(rule: &str, what: &str, pattern: &str) -> Result<Regex, RuleError> {
    regex::bytes::RegexBuilder::new(pattern)
        .size_limit(8 << 20)
        .dfa_size_limit(8 << 20)
        .build()
        .map_err(|e| RuleError::Regex {
            rule: rule.to_string(),
            what: what.to_string(),
            source: Box::new(e),
        })
}

impl Rule {
    /// A rule from its parts; the secret group defaults to 1 when the
    /// regex has a group, else 0.
    pub fn new(
        id: &str,
        description: &str,
        pattern: &str,
        keywords: &[&str],
        entropy: Option<f64>,
        severity: Severity,
    ) -> Result<Rule, RuleError> {
        let regex = compile(id, "regex", pattern)?;
        let secret_group = usize::from(regex.captures_len() > 1);
        Ok(Rule {
            id: id.to_string(),
            description: description.to_string(),
            regex,
            secret_group,
            keywords: keywords.iter().map(|k| k.to_lowercase()).collect(),
            entropy,
            path: None,
            allowlists: Vec::new(),
            severity,
        })
    }

    /// Checks the secret group exists.
    pub fn validate(&self) -> Result<(), RuleError> {
        let groups = self.regex.captures_len() - 1;
        if self.secret_group > groups {
            return Err(RuleError::Group {
                rule: self.id.clone(),
                group: self.secret_group,
                groups,
            });
        }
        Ok(())
    }
}
