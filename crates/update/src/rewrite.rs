//! Rewriting a Dockerfile's base references and nothing else: each edit
//! replaces one reference where it is written (a FROM image, a
//! `COPY --from=` value, the `from=` inside a `RUN --mount`, or the default
//! of the global `ARG` a FROM names), every other byte is kept (comments,
//! continuations, heredocs, a byte-order mark, line endings). The result is
//! parsed again and must name the same references in the same places with
//! only the edited ones changed; otherwise there is no rewrite.

use std::collections::HashMap;
use std::ops::Range;

use dockerfile::{BaseRefKind, Parsed, SourceFile};
use oci::ImageRef;

/// One reference to replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The reference as the file resolves it today.
    pub from: ImageRef,
    /// What it becomes (`registry/repo:tag@sha256:...`).
    pub to: String,
}

/// A rewritten file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The new text.
    pub text: String,
    /// The byte ranges of the input that were replaced, in order.
    pub replaced: Vec<Range<usize>>,
}

/// Why a file was not rewritten.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    /// The file does not parse.
    #[error("{path}: does not parse: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A reference is written in a way we do not rewrite (a variable with
    /// no global default, a value built from several pieces).
    #[error(
        "{path}:{line}: `{reference}` is written as `{written}`, which cannot be rewritten in place"
    )]
    NotInPlace {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// The reference.
        reference: String,
        /// As written.
        written: String,
    },
    /// Parsing the result did not give back the same references with only
    /// the edits applied.
    #[error(
        "{path}: the rewritten file would not be the same Dockerfile with only the base references changed ({what})"
    )]
    NotReproduced {
        /// The file.
        path: String,
        /// What differed.
        what: String,
    },
    /// Nothing in the file is one of the references to edit.
    #[error("{path}: none of the references to update are in the file")]
    NothingToEdit {
        /// The file.
        path: String,
    },
}

fn global_arg_default(text: &str, name: &str, first_from: usize) -> Option<Range<usize>> {
    let mut at = 0;
    for line in text[..first_from].split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(rest) = trimmed
            .strip_prefix("ARG ")
            .or_else(|| trimmed.strip_prefix("arg "))
        {
            let rest_at = at + indent + 4;
            let r = rest.trim_start();
            let r_at = rest_at + (rest.len() - r.len());
            if let Some(v) = r.strip_prefix(name).and_then(|v| v.strip_prefix('=')) {
                let v_at = r_at + name.len() + 1;
                let end = v.find(|c: char| c.is_whitespace()).unwrap_or(v.len());
                let raw = &v[..end];
                let (s, e) = match raw.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
                    Some(inner) => (v_at + 1, v_at + 1 + inner.len()),
                    None => (v_at, v_at + raw.len()),
                };
                return Some(s..e);
            }
        }
        at += line.len();
    }
    None
}

fn variable_name(written: &str) -> Option<&str> {
    let w = written.trim();
    let name = w
        .strip_prefix("${")
        .and_then(|x| x.strip_suffix('}'))
        .or_else(|| w.strip_prefix('$'))?;
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then_some(name)
}

/// Rewrites `text` (the file at `path`, parsed with `build_args`) so each
/// reference in `edits` becomes its replacement.
pub fn rewrite(
    path: &str,
    text: &str,
    build_args: &HashMap<String, String>,
    edits: &[Edit],
) -> Result<Rewritten, RewriteError> {
    let parse_err = |e: dockerfile::SyntaxError| RewriteError::Parse {
        path: path.to_string(),
        message: e.to_string(),
    };
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let src = SourceFile::new(path, text);
    let parsed = Parsed::parse(&src, build_args).map_err(parse_err)?;
    let refs = parsed.base_refs();
    let first_from = refs
        .iter()
        .filter(|b| b.kind == BaseRefKind::From)
        .map(|b| src.to_text_offset(b.span.start))
        .min()
        .unwrap_or(src.text.len());
    let line_of = |off: usize| src.text[..off.min(src.text.len())].matches('\n').count() + 1;
    let mut spans: Vec<(Range<usize>, String)> = Vec::new();
    for b in &refs {
        let Some(e) = edits.iter().find(|e| e.from == b.reference) else {
            continue;
        };
        let (s, end) = (
            src.to_text_offset(b.span.start),
            src.to_text_offset(b.span.end),
        );
        let written = &src.text[s..end.min(src.text.len())];
        let range = match b.kind {
            BaseRefKind::MountFrom => {
                let mut found = None;
                let mut at = s;
                for part in written.split(',') {
                    if let Some(v) = part.strip_prefix("from=") {
                        found = Some(at + 5..at + 5 + v.len());
                    }
                    at += part.len() + 1;
                }
                found
            }
            _ => Some(s..end),
        };
        let Some(mut range) = range else { continue };
        let value = &src.text[range.clone()];
        if value.contains('$') {
            range = variable_name(value)
                .and_then(|n| global_arg_default(&src.text, n, first_from))
                .ok_or_else(|| RewriteError::NotInPlace {
                    path: path.to_string(),
                    line: line_of(s),
                    reference: b.reference.to_string(),
                    written: value.to_string(),
                })?;
        }
        if !spans.iter().any(|(r, _)| *r == range) {
            spans.push((range, e.to.clone()));
        }
    }
    if spans.is_empty() {
        return Err(RewriteError::NothingToEdit {
            path: path.to_string(),
        });
    }
    spans.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    let mut out = text.to_string();
    for (r, to) in &spans {
        out.replace_range(r.start + bom..r.end + bom, to);
    }
    check(path, &out, build_args, &refs, edits)?;
    let mut replaced: Vec<Range<usize>> = spans
        .into_iter()
        .map(|(r, _)| r.start + bom..r.end + bom)
        .collect();
    replaced.reverse();
    Ok(Rewritten {
        text: out,
        replaced,
    })
}

/// The rewritten file names the same references, in the same order and
/// kinds, with exactly the edited ones replaced.
fn check(
    path: &str,
    out: &str,
    build_args: &HashMap<String, String>,
    before: &[dockerfile::BaseRef],
    edits: &[Edit],
) -> Result<(), RewriteError> {
    let not = |what: String| RewriteError::NotReproduced {
        path: path.to_string(),
        what,
    };
    let src = SourceFile::new(path, out);
    let after = Parsed::parse(&src, build_args)
        .map_err(|e| not(format!("it no longer parses: {e}")))?
        .base_refs();
    if after.len() != before.len() {
        return Err(not(format!(
            "{} references instead of {}",
            after.len(),
            before.len()
        )));
    }
    for (a, b) in after.iter().zip(before) {
        let want = match edits.iter().find(|e| e.from == b.reference) {
            Some(e) => e.to.parse::<ImageRef>().map_err(|x| not(x.to_string()))?,
            None => b.reference.clone(),
        };
        if a.kind != b.kind || a.stage != b.stage || a.reference != want {
            return Err(not(format!("`{}` became `{}`", b.reference, a.reference)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(from: &str, to: &str) -> Edit {
        Edit {
            from: from.parse().unwrap(),
            to: to.into(),
        }
    }

    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn only_the_references_change_comments_continuations_and_heredocs_stay() {
        let text = "# syntax=docker/dockerfile:1\r\nFROM debian:12 AS build\r\n# a comment\r\nRUN <<EOF\r\necho FROM debian:12\r\nEOF\r\nCOPY --from=alpine:3.20 \\\r\n  /etc/os-release /x\r\nRUN --mount=type=bind,from=debian:12,target=/m true\r\nFROM build\r\n";
        let to = format!("debian:12@{D}");
        let out = rewrite(
            "Dockerfile",
            text,
            &HashMap::new(),
            &[edit("debian:12", &to)],
        )
        .unwrap()
        .text;
        assert_eq!(
            out,
            text.replacen("FROM debian:12 AS", &format!("FROM {to} AS"), 1)
                .replacen("from=debian:12,", &format!("from={to},"), 1),
            "the heredoc's text is not a reference"
        );
    }

    #[test]
    fn a_from_through_a_global_arg_rewrites_the_default() {
        let text = "ARG BASE=\"python:3.12-slim\"\nFROM ${BASE}\nRUN true\n";
        let to = format!("python:3.13-slim@{D}");
        let out = rewrite("D", text, &HashMap::new(), &[edit("python:3.12-slim", &to)])
            .unwrap()
            .text;
        assert_eq!(
            out,
            format!("ARG BASE=\"{to}\"\nFROM ${{BASE}}\nRUN true\n")
        );
    }

    #[test]
    fn a_reference_built_from_pieces_is_refused_with_its_line() {
        let text = "ARG V=12\nFROM debian:${V}\n";
        let e = rewrite(
            "D",
            text,
            &HashMap::new(),
            &[edit("debian:12", "debian:13")],
        )
        .unwrap_err();
        assert!(matches!(e, RewriteError::NotInPlace { line: 2, .. }), "{e}");
    }

    #[test]
    fn a_byte_order_mark_is_kept() {
        let text = "\u{feff}FROM alpine:3.20\n";
        let out = rewrite(
            "D",
            text,
            &HashMap::new(),
            &[edit("alpine:3.20", "alpine:3.21")],
        )
        .unwrap()
        .text;
        assert_eq!(out, "\u{feff}FROM alpine:3.21\n");
    }

    #[test]
    fn nothing_to_edit_is_said() {
        let e = rewrite(
            "D",
            "FROM alpine\n",
            &HashMap::new(),
            &[edit("debian:12", "debian:13")],
        )
        .unwrap_err();
        assert!(matches!(e, RewriteError::NothingToEdit { .. }));
    }
}
