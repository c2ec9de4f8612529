//! All rules over one text. One Aho-Corasick pass over the lowercased input
//! finds which rules' keywords occur; only those rules' regexes run (rules
//! without keywords always run). A candidate is dropped when its secret's
//! entropy is not above the rule's floor, its line says `gitleaks:allow`,
//! or an allowlist (the rule's, or a global one) matches it.

use aho_corasick::AhoCorasick;

use crate::builtin;
use crate::rule::{Allowlist, Rule, RuleError, Severity};

/// One finding in one text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hit {
    /// Rule id.
    pub rule: String,
    /// What the rule finds.
    pub description: String,
    /// Severity (`info` for a documented example value).
    pub severity: Severity,
    /// A documented example value (not a leak).
    pub example: bool,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (bytes).
    pub column: usize,
    /// The secret itself; callers show [`crate::redact`]ed text unless
    /// asked to show secrets.
    #[serde(skip)]
    pub secret: String,
}

/// The rules, ready to run.
#[derive(Debug)]
pub struct Engine {
    rules: Vec<Rule>,
    global: Vec<Allowlist>,
    keywords: AhoCorasick,
    /// Keyword pattern index → rules that list it.
    owners: Vec<Vec<usize>>,
    /// Rules without keywords.
    always: Vec<usize>,
}

impl Engine {
    /// An engine over `rules` with global allowlists.
    pub fn new(rules: Vec<Rule>, global: Vec<Allowlist>) -> Result<Engine, RuleError> {
        for r in &rules {
            r.validate()?;
        }
        let mut words: Vec<String> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            if r.keywords.is_empty() {
                always.push(i);
            }
            for k in &r.keywords {
                match words.iter().position(|w| w == k) {
                    Some(p) => owners[p].push(i),
                    None => {
                        words.push(k.clone());
                        owners.push(vec![i]);
                    }
                }
            }
        }
        let keywords = AhoCorasick::new(&words).expect("keywords build an automaton");
        Ok(Engine {
            rules,
            global,
            keywords,
            owners,
            always,
        })
    }

    /// The built-in rule set.
    pub fn builtin() -> Result<Engine, RuleError> {
        Engine::new(builtin::rules()?, Vec::new())
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// `text` with every secret the rules find in it redacted (for text
    /// shown beside a finding, such as the history line that made a layer).
    pub fn redact_all(&self, path: &str, text: &str) -> String {
        let mut out = text.to_string();
        for h in self.scan(path, text.as_bytes()) {
            if !h.secret.is_empty() {
                out = out.replace(&h.secret, &crate::redact(&h.secret));
            }
        }
        out
    }

    /// Every finding in `data`, the content of `path`, in order.
    pub fn scan(&self, path: &str, data: &[u8]) -> Vec<Hit> {
        let lower = data.to_ascii_lowercase();
        let mut active = vec![false; self.rules.len()];
        for i in &self.always {
            active[*i] = true;
        }
        let mut left = active.iter().filter(|a| !**a).count();
        for m in self.keywords.find_overlapping_iter(&lower) {
            for r in &self.owners[m.pattern().as_usize()] {
                if !active[*r] {
                    active[*r] = true;
                    left -= 1;
                }
            }
            if left == 0 {
                break;
            }
        }
        let mut hits: Vec<(usize, Hit)> = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if !active[i]
                || rule
                    .path
                    .as_ref()
                    .is_some_and(|p| !p.is_match(path.as_bytes()))
            {
                continue;
            }
            for caps in rule.regex.captures_iter(data) {
                let whole = caps.get(0).expect("group 0 always matches");
                let secret = caps.get(rule.secret_group).unwrap_or(whole);
                if rule
                    .entropy
                    .is_some_and(|e| crate::entropy(secret.as_bytes()) <= e)
                {
                    continue;
                }
                let start = secret.start();
                let line_start = data[..start]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |p| p + 1);
                let line_end = data[start..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(data.len(), |p| start + p);
                let line = &data[line_start..line_end];
                if line.windows(14).any(|w| w == b"gitleaks:allow") {
                    continue;
                }
                let allowed = rule
                    .allowlists
                    .iter()
                    .chain(self.global.iter().filter(|a| {
                        a.target_rules.is_empty() || a.target_rules.iter().any(|t| t == &rule.id)
                    }))
                    .any(|a| a.allows(path, secret.as_bytes(), whole.as_bytes(), line));
                if allowed {
                    continue;
                }
                let example = builtin::is_example(secret.as_bytes());
                hits.push((
                    start,
                    Hit {
                        rule: rule.id.clone(),
                        description: rule.description.clone(),
                        severity: if example {
                            Severity::Info
                        } else {
                            rule.severity
                        },
                        example,
                        line: 0,
                        column: start - line_start + 1,
                        secret: String::from_utf8_lossy(secret.as_bytes()).into_owned(),
                    },
                ));
            }
        }
        hits.sort_by_key(|(s, h)| (*s, h.rule.clone()));
        // line numbers in one pass over the text
        let (mut at, mut line) = (0usize, 1usize);
        for (start, h) in &mut hits {
            line += data[at..*start].iter().filter(|b| **b == b'\n').count();
            at = *start;
            h.line = line;
        }
        hits.into_iter().map(|(_, h)| h).collect()
    }
}
