//! Secrets: credentials committed to repositories or baked into images.
//!
//! - [`rule`]: a rule (id, regex with a secret group, keywords, entropy
//!   threshold, path filter, allowlists, severity) and how one is checked;
//! - [`builtin`]: the rule set written here (cloud keys, forge and chat
//!   tokens, package registry tokens, private keys, JWTs, database URLs,
//!   generic assignments gated by entropy), with documented example values
//!   recognised as examples;
//! - [`engine`]: all rules over one text: one Aho-Corasick pass over the
//!   lowercased input decides which regexes run at all; `gitleaks:allow`
//!   on a line silences it; secrets are redacted unless asked otherwise.
//!
//! Matching uses Rust's `regex` (linear time: no catastrophic backtracking
//! on hostile input).

pub mod builtin;
pub mod config;
pub mod dir;
pub mod engine;
pub mod found;
pub mod git;
pub mod image;
pub mod rule;
pub mod settings;

pub use engine::{Engine, Hit};
pub use rule::{Allowlist, Rule, RuleError, Severity};

/// Shannon entropy of `s` in bits per byte.
pub fn entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0usize; 256];
    for b in s {
        counts[*b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// `secret` as it may be shown: its first 4 characters, then `****`.
pub fn redact(secret: &str) -> String {
    let head: String = secret.chars().take(4).collect();
    format!("{head}****")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_tells_random_from_repetitive() {
        assert_eq!(entropy(b""), 0.0);
        assert_eq!(entropy(b"aaaaaaaa"), 0.0);
        assert!((entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!(entropy(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") > 4.0);
    }

    #[test]
    fn redaction_keeps_four_characters() {
        assert_eq!(redact("ghp_abcdefghijkl"), "ghp_****");
        assert_eq!(redact("ab"), "ab****");
    }
}
