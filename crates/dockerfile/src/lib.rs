//! Dockerfile parsing, lint rules and the base-image policy.
//!
//! Parsing builds on `parse-dockerfile` (BuildKit's grammar: directives,
//! heredocs, exec/shell forms, every flag, spans); [`model`] groups stages,
//! expands ARGs in FROM and collects every base image reference. Rules in
//! [`rules`] and the [`policy`] turn that into [`findings::Finding`]s with
//! stable codes. Nothing here prints.

pub mod args;
pub mod config;
pub mod discover;
pub mod heredoc;
pub mod model;
pub mod policy;
pub mod pragma;
pub mod release;
pub mod rules;
pub mod shell;
pub mod shell_checks;
pub mod shell_syntax;
pub mod shellcheck;
pub mod source;

use std::collections::HashSet;

use findings::{Finding, Level};

pub use config::LintConfig;
pub use model::{Base, BaseRef, BaseRefKind, BuildStep, Parsed, Stage, SyntaxError};
pub use policy::{Classification, Policy, Tier};
pub use settings::{ConfigError, ConfigErrors};
pub use source::SourceFile;

use crate::model::keyword_span;
use crate::pragma::Pragmas;
use crate::rules::Hit;

/// The result of linting a set of files.
#[derive(Debug, Default)]
pub struct LintReport {
    /// Findings, sorted by file, line and column.
    pub findings: Vec<Finding>,
    /// Number of files linted.
    pub files: usize,
    /// Whether ShellCheck ran.
    pub shellcheck_ran: bool,
    /// Whether the built-in shell checks ran (ShellCheck absent, disabled or
    /// failed).
    pub native_shell_checks_ran: bool,
    /// Problems that did not stop linting (e.g. ShellCheck failed).
    pub notes: Vec<String>,
}

struct FileState<'a> {
    src: &'a SourceFile,
    hits: Vec<Hit>,
    pragmas: Pragmas,
    skipped_checks: HashSet<String>,
    syntax: Option<Finding>,
}

/// The policy's `current_release` for one base: ended, or not the newest
/// LTS / stable cycle of its product.
fn release_hits(b: &model::BaseRef, data: &dyn release::Releases) -> Vec<Hit> {
    let Some((product, key)) = release::named(&b.reference) else {
        return Vec::new();
    };
    let Some(s) = release::standing(product, &key, &data.cycles(product), &data.today()) else {
        return Vec::new();
    };
    let hit = |code: &str, message: String| Hit {
        code: code.into(),
        span: b.span.clone(),
        message,
        level: None,
        props: vec![
            ("image".into(), b.reference.to_string()),
            ("release".into(), s.release.clone()),
        ],
        location: None,
    };
    let image = b.reference.to_string();
    if let Some(end) = &s.ended {
        let since = end
            .as_deref()
            .map(|e| format!(" since {e}"))
            .unwrap_or_default();
        return vec![hit(
            "base-release-eol",
            format!(
                "base image `{image}` is {}, which is end of life{since}{}",
                s.release,
                s.current
                    .as_deref()
                    .map(|c| format!("; move to {product} {c}"))
                    .unwrap_or_default()
            ),
        )];
    }
    match &s.current {
        Some(c) => vec![hit(
            "base-release-not-current",
            format!(
                "base image `{image}` is {}, not the newest {} release of {product} ({c})",
                s.release,
                if s.lts { "LTS" } else { "stable" }
            ),
        )],
        None => Vec::new(),
    }
}

/// Lints files. Files that fail to parse yield a `syntax-error` finding and
/// the others are still linted.
pub fn lint(files: &[SourceFile], cfg: &LintConfig) -> LintReport {
    let sc_exe = if cfg.shell_checks && cfg.shellcheck {
        shellcheck::find()
    } else {
        None
    };
    let mut report = LintReport {
        files: files.len(),
        ..Default::default()
    };
    let mut states = Vec::with_capacity(files.len());
    let mut scripts = Vec::new();
    for (key, src) in files.iter().enumerate() {
        let mut st = FileState {
            src,
            hits: vec![],
            pragmas: Pragmas::default(),
            skipped_checks: HashSet::new(),
            syntax: None,
        };
        match Parsed::parse(src, &cfg.build_args) {
            Err(e) => {
                let line = e.line.max(1);
                let text_len = src.line_text(line).chars().count() as u32;
                st.syntax = Some(Finding::new(
                    "syntax-error",
                    Level::Error,
                    e.message.clone(),
                    findings::Location {
                        path: src.path.clone(),
                        line,
                        column: e.column.max(1),
                        end_line: line,
                        end_column: text_len.max(e.column) + 1,
                    },
                ));
            }
            Ok(parsed) => {
                st.hits = rules::check(src, &parsed);
                st.hits.extend(rules::check_label_schema(
                    src,
                    &parsed,
                    &cfg.label_schema,
                    cfg.strict_labels,
                ));
                if let Some(policy) = &cfg.policy {
                    for b in parsed.base_refs() {
                        for v in policy.check(&b) {
                            st.hits.push(Hit {
                                code: v.code.to_string(),
                                span: b.span.clone(),
                                message: v.message,
                                level: None,
                                props: vec![
                                    ("tier".into(), v.tier.to_string()),
                                    (
                                        "pattern".into(),
                                        v.pattern.unwrap_or_else(|| "(default tier)".into()),
                                    ),
                                    ("image".into(), b.reference.to_string()),
                                ],
                                location: None,
                            });
                        }
                        if policy.current_release
                            && let Some(data) = &cfg.releases
                        {
                            st.hits.extend(release_hits(&b, &*data.0));
                        }
                    }
                }
                if let Some(at) = src.virtual_from {
                    // a fragment: nothing is reported about the stage we made up
                    st.hits.retain(|h| !src.is_virtual(h.span.start));
                    st.hits.push(Hit {
                        code: "missing-from".into(),
                        span: at..at + source::VIRTUAL_FROM.len(),
                        message: "No FROM before this instruction: the file cannot be built on its own (linted as a fragment)".into(),
                        level: None,
                        props: vec![],
                        location: None,
                    });
                }
                st.pragmas = Pragmas::read(src, &instruction_lines(src, &parsed));
                st.skipped_checks = parsed
                    .directives
                    .skipped_checks()
                    .iter()
                    .flat_map(|c| rules::codes_for_docker_check(c))
                    .collect();
                if cfg.shell_checks && parsed.escape == b'\\' {
                    collect_scripts(key, src, &parsed, &mut scripts);
                }
            }
        }
        states.push(st);
    }
    let from_binary = match &sc_exe {
        Some(exe) => {
            let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
            match shellcheck::run(exe, &scripts, jobs, cfg.cache_dir.as_deref()) {
                Ok(found) => Some(found),
                Err(e) => {
                    report.notes.push(format!(
                        "{e}; RUN scripts were checked by the built-in shell checks instead"
                    ));
                    None
                }
            }
        }
        None => None,
    };
    report.shellcheck_ran = from_binary.is_some();
    let found = match from_binary {
        Some(found) => found,
        None if cfg.shell_checks => {
            report.native_shell_checks_ran = true;
            native_shell_checks(&scripts)
        }
        None => Vec::new(),
    };
    for f in found {
        let st = &mut states[f.key];
        let location = findings::Location {
            path: st.src.path.clone(),
            line: f.line,
            column: f.column,
            end_line: f.end_line,
            end_column: f.end_column,
        };
        st.hits.push(Hit {
            code: f.code,
            span: 0..0,
            message: f.message,
            level: Some(f.level),
            props: vec![],
            location: Some(location),
        });
    }
    let ignored: HashSet<&str> = cfg.ignored.iter().map(String::as_str).collect();
    for st in states {
        if let Some(f) = st.syntax {
            report.findings.push(f);
            continue;
        }
        for h in st.hits {
            if ignored.contains(h.code.as_str()) || st.skipped_checks.contains(&h.code) {
                continue;
            }
            let location = h
                .location
                .unwrap_or_else(|| st.src.location(h.span.clone()));
            if !cfg.disable_ignore_pragma && st.pragmas.ignores(&h.code, location.line) {
                continue;
            }
            let level = cfg
                .overrides
                .get(&h.code)
                .copied()
                .or(h.level)
                .or_else(|| rules::rule(&h.code).map(|r| r.level))
                .unwrap_or(Level::Warning);
            let mut f = Finding::new(h.code, level, h.message, location);
            for (k, v) in h.props {
                f.properties.insert(k, v);
            }
            report.findings.push(f);
        }
    }
    report.findings.sort_by(|a, b| {
        (
            &a.location.path,
            a.location.line,
            a.location.column,
            &a.code,
        )
            .cmp(&(
                &b.location.path,
                b.location.line,
                b.location.column,
                &b.code,
            ))
    });
    report
}

fn instruction_lines(src: &SourceFile, parsed: &Parsed<'_>) -> Vec<(u32, u32)> {
    let starts: Vec<u32> = parsed
        .instructions
        .iter()
        .map(|i| src.line_col(keyword_span(i).start).0)
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(i, &first)| {
            let last = starts
                .get(i + 1)
                .map_or(src.line_count(), |n| n.saturating_sub(1).max(first));
            (first, last)
        })
        .collect()
}

/// The built-in checks over every script, mapped to Dockerfile positions
/// the same way ShellCheck's results are.
fn native_shell_checks(scripts: &[shellcheck::Script]) -> Vec<shellcheck::ScFinding> {
    let mut out = Vec::new();
    for s in scripts {
        let Some(dialect) = shell_checks::Dialect::from_name(s.dialect) else {
            continue;
        };
        for h in shell_checks::check(&s.text, dialect) {
            let (line, column, end_line, end_column) =
                shellcheck::to_dockerfile(s, h.line, h.column, h.end_line, h.end_column);
            out.push(shellcheck::ScFinding {
                key: s.key,
                code: format!("SC{}", h.code),
                level: h.level,
                message: h.message,
                line,
                column,
                end_line,
                end_column,
            });
        }
    }
    out
}

fn collect_scripts(
    key: usize,
    src: &SourceFile,
    parsed: &Parsed<'_>,
    out: &mut Vec<shellcheck::Script>,
) {
    for run in &parsed.runs {
        if run.exec_form {
            continue;
        }
        let dialect = run_dialect(parsed, run.stage, run.instruction);
        if dialect.is_empty() {
            continue;
        }
        for (offset, text, heredoc) in &run.shell_texts {
            let body = if *heredoc {
                text.clone()
            } else {
                shellcheck::prepare_shell_form(text)
            };
            if body.trim_start().starts_with("<<") && !heredoc {
                // `RUN <<EOF` — the heredoc body is checked on its own.
                continue;
            }
            let (line, column) = src.line_col(*offset);
            out.push(shellcheck::Script {
                key,
                line,
                column,
                dialect,
                text: body,
            });
        }
    }
}

/// `sh`, `bash`, or "" for shells ShellCheck does not read (pwsh, cmd).
fn run_dialect(parsed: &Parsed<'_>, stage: usize, before: usize) -> &'static str {
    let Some(sh) = parsed.shell_for(stage, before) else {
        return "sh";
    };
    let first = sh
        .arguments
        .first()
        .map(|a| a.value.to_ascii_lowercase())
        .unwrap_or_default();
    if first.ends_with("bash") {
        "bash"
    } else if first.ends_with("sh") && !first.contains("pwsh") {
        "sh"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn dialect_follows_the_shell_in_effect_for_each_run() {
        let src = SourceFile::new(
            "D",
            "FROM a:1 AS base\nSHELL [\"/bin/bash\", \"-c\"]\nFROM base\nRUN one\nSHELL [\"/bin/sh\", \"-c\"]\nRUN two\nSHELL [\"pwsh\", \"-c\"]\nRUN three\n",
        );
        let p = Parsed::parse(&src, &HashMap::new()).unwrap();
        let dialects: Vec<&str> = p
            .runs
            .iter()
            .map(|r| run_dialect(&p, r.stage, r.instruction))
            .collect();
        assert_eq!(dialects, ["bash", "sh", ""]);
    }
}
