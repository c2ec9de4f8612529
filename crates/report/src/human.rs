//! Human output: each finding with its source line(s) and a caret, then a summary.

use std::collections::HashMap;

use annotate_snippets::{AnnotationKind, Level as ALevel, Renderer, Snippet};
use findings::{Finding, Level};

fn byte_offset(text: &str, line: u32, col: u32) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let line_text = &text[start..text[start..].find('\n').map_or(text.len(), |i| start + i)];
    start
        + line_text
            .char_indices()
            .nth(col.saturating_sub(1) as usize)
            .map_or(line_text.len(), |(i, _)| i)
}

/// Lines `first..=last` (1-based) of `text`, without the final line break.
fn line_range(text: &str, first: u32, last: u32) -> &str {
    let start = byte_offset(text, first, 1);
    let rest = &text[start..];
    let mut end = 0;
    for (i, line) in rest.split_inclusive('\n').enumerate() {
        end += line.len();
        if i as u32 + first >= last {
            break;
        }
    }
    rest[..end].trim_end_matches(['\n', '\r'])
}

/// Renders findings with source context. `sources` maps a path to its text;
/// findings whose file is missing there are printed without context.
pub fn human(findings: &[Finding], sources: &HashMap<String, String>, color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for f in findings {
        let level = match f.level {
            Level::Error => ALevel::ERROR,
            Level::Warning => ALevel::WARNING,
            Level::Info => ALevel::INFO,
            Level::Style => ALevel::NOTE.with_name("style"),
        };
        let loc = &f.location;
        let mut message = f.message.clone();
        if let (Some(tier), Some(pattern)) = (f.properties.get("tier"), f.properties.get("pattern"))
        {
            message.push_str(&format!(" [tier: {tier}, pattern: {pattern}]"));
        }
        match sources.get(&loc.path) {
            Some(text) if loc.line >= 1 => {
                // Only the finding's own lines go to the renderer; handing it the
                // whole file costs a scan of the file per finding.
                let last = loc.end_line.max(loc.line);
                let lines = line_range(text, loc.line, last);
                let start = byte_offset(lines, 1, loc.column);
                let mut end = byte_offset(lines, last - loc.line + 1, loc.end_column);
                if end <= start {
                    end = (start + 1).min(lines.len());
                }
                let snippet = Snippet::source(lines)
                    .line_start(loc.line as usize)
                    .path(loc.path.as_str())
                    .fold(true)
                    .annotation(AnnotationKind::Primary.span(start..end));
                let group = level
                    .primary_title(message.as_str())
                    .id(f.code.as_str())
                    .element(snippet);
                out.push_str(&renderer.render(&[group]));
            }
            _ => {
                out.push_str(&format!(
                    "{}:{}:{}: {} [{}] {}",
                    loc.path, loc.line, loc.column, f.level, f.code, message
                ));
            }
        }
        out.push_str("\n\n");
    }
    out
}

/// One line: counts by level and files.
pub fn summary(findings: &[Finding], files: usize) -> String {
    let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}, {}, {} in {}",
        plural(count(Level::Error), "error"),
        plural(count(Level::Warning), "warning"),
        plural(count(Level::Info), "info"),
        plural(count(Level::Style), "style finding"),
        plural(files, "file"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use findings::Location;

    #[test]
    fn renders_caret_under_span() {
        let text = "FROM debian\nRUN sudo apt-get update\n".to_string();
        let f = Finding::new(
            "sudo",
            Level::Error,
            "sudo in RUN",
            Location {
                path: "Dockerfile".into(),
                line: 2,
                column: 5,
                end_line: 2,
                end_column: 9,
            },
        );
        let sources = HashMap::from([("Dockerfile".to_string(), text)]);
        let out = human(&[f], &sources, false);
        insta::assert_snapshot!(out);
    }

    #[test]
    fn multi_line_span_keeps_line_numbers() {
        let text = "FROM a\nRUN x \\\n  y\nCMD z\n".to_string();
        let f = Finding::new(
            "pipefail",
            Level::Warning,
            "m",
            Location {
                path: "D".into(),
                line: 2,
                column: 1,
                end_line: 3,
                end_column: 4,
            },
        );
        let out = human(&[f], &HashMap::from([("D".to_string(), text)]), false);
        assert!(out.contains("2 | / RUN x"), "{out}");
        assert!(out.contains("3 | |   y"), "{out}");
        assert!(!out.contains("CMD"), "{out}");
        assert_eq!(line_range("a\nb\nc\n", 2, 3), "b\nc");
    }

    #[test]
    fn offsets() {
        assert_eq!(byte_offset("ab\ncd", 2, 2), 4);
        assert_eq!(byte_offset("é\nx", 1, 2), 2);
    }
}
