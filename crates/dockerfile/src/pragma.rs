//! Inline ignore pragmas.
//!
//! - `# safeimage ignore=CODE[,CODE] -- reason` on the comment lines directly
//!   above an instruction ignores those codes for that instruction;
//!   `# safeimage global ignore=CODE` anywhere ignores them for the file.
//! - Hadolint's `# hadolint ignore=DL3008,SC2086` and
//!   `# hadolint global ignore=...` are honoured through the code mapping.

use std::collections::HashSet;

use crate::rules::codes_for_hadolint;
use crate::source::SourceFile;

/// Ignores that apply to a file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pragmas {
    /// Codes ignored everywhere in the file.
    pub global: HashSet<String>,
    /// `(first line, last line, codes)` of instructions with ignores.
    pub scoped: Vec<(u32, u32, HashSet<String>)>,
}

fn parse_pragma(line: &str) -> Option<(bool, HashSet<String>)> {
    let body = line.trim_start().strip_prefix('#')?.trim_start();
    let (tool, rest) = body.split_once(char::is_whitespace)?;
    let tool = tool.to_ascii_lowercase();
    if tool != "hadolint" && tool != "safeimage" {
        return None;
    }
    let rest = rest.trim_start();
    let (global, rest) = match rest.strip_prefix("global") {
        Some(r) => (true, r.trim_start()),
        None => (false, rest),
    };
    let list = rest
        .strip_prefix("ignore")?
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let list = list.split(" --").next().unwrap_or(list);
    let list = list.split_whitespace().next().unwrap_or("");
    let mut codes = HashSet::new();
    for c in list.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        if tool == "hadolint"
            || c.to_ascii_uppercase().starts_with("DL")
            || c.to_ascii_uppercase().starts_with("SC")
        {
            let mapped = codes_for_hadolint(c);
            if mapped.is_empty() {
                codes.insert(c.to_string());
            }
            codes.extend(mapped);
        } else {
            codes.insert(c.to_string());
        }
    }
    Some((global, codes))
}

impl Pragmas {
    /// Reads pragmas. `instruction_lines` are the first and last line of each instruction.
    pub fn read(src: &SourceFile, instruction_lines: &[(u32, u32)]) -> Self {
        let mut p = Pragmas::default();
        for n in 1..=src.line_count() {
            if let Some((true, codes)) = parse_pragma(src.line_text(n)) {
                p.global.extend(codes);
            }
        }
        for &(first, last) in instruction_lines {
            let mut codes = HashSet::new();
            let mut n = first;
            while n > 1 {
                n -= 1;
                let text = src.line_text(n);
                if !text.trim_start().starts_with('#') {
                    break;
                }
                if let Some((false, c)) = parse_pragma(text) {
                    codes.extend(c);
                }
            }
            if !codes.is_empty() {
                p.scoped.push((first, last, codes));
            }
        }
        p
    }

    /// Whether a finding with `code` on `line` is ignored.
    pub fn ignores(&self, code: &str, line: u32) -> bool {
        self.global.contains(code)
            || self
                .scoped
                .iter()
                .any(|(a, b, c)| (*a..=*b).contains(&line) && c.contains(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        let (g, c) = parse_pragma("# hadolint ignore=DL3008,SC2086").unwrap();
        assert!(!g);
        assert!(c.contains("apt-unpinned") && c.contains("SC2086"));
        let (g, c) = parse_pragma("#safeimage global ignore=sudo -- we need it").unwrap();
        assert!(g && c.contains("sudo"));
        let (_, c) =
            parse_pragma("# safeimage ignore=apt-unpinned,pipefail -- reason here").unwrap();
        assert_eq!(c.len(), 2);
        assert!(parse_pragma("# just a comment").is_none());
        assert!(parse_pragma("# hadolint shell=bash").is_none());
    }

    #[test]
    fn scopes_to_next_instruction() {
        let src = SourceFile::new(
            "D",
            "FROM a\n# hadolint ignore=DL3004\n# another comment\nRUN sudo x \\\n  y\nRUN sudo z\n",
        );
        let p = Pragmas::read(&src, &[(1, 1), (4, 5), (6, 6)]);
        assert!(p.ignores("sudo", 4));
        assert!(p.ignores("sudo", 5));
        assert!(!p.ignores("sudo", 6));
    }
}
