//! A Dockerfile's text with its line index: byte offsets to line/column.

use findings::Location;
use serde::Serialize;

/// A Dockerfile as read from disk: BOM removed, line starts indexed.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as the user gave it.
    pub path: String,
    /// Text without a UTF-8 BOM (parser spans are offsets into this).
    pub text: String,
    line_starts: Vec<usize>,
    /// The text the parser reads: `text` with heredoc bodies the parser cannot
    /// handle blanked into comment lines of equal length (see [`crate::heredoc`]).
    masked: Option<String>,
    /// Heredoc bodies taken over from the parser.
    pub extra_heredocs: Vec<crate::heredoc::ExtraHeredoc>,
    /// Parser directives at the top of the file.
    pub directives: Directives,
    /// For a file with no `FROM` before its first instruction (a fragment, a
    /// template, an `ONBUILD` base): the parser reads a `FROM scratch` line
    /// inserted at this byte offset, so every instruction can still be
    /// linted. Parser offsets at or after it are shifted by [`VIRTUAL_FROM`]'s
    /// length; [`SourceFile::line_col`] and [`SourceFile::location`] undo that.
    pub virtual_from: Option<usize>,
    /// The parser's text when `virtual_from` is set.
    virtual_text: Option<String>,
}

/// The line the parser sees in front of a fragment's first instruction.
pub const VIRTUAL_FROM: &str = "FROM scratch\n";

impl SourceFile {
    /// Builds the index. A leading BOM is dropped so spans line up.
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        let mut text: String = text.into();
        if text.starts_with('\u{feff}') {
            text.drain(..3);
        }
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let directives = Directives::read(&text);
        let escape = directives.escape.map_or(b'\\', |c| c as u8);
        let (masked, mut extra_heredocs) = crate::heredoc::prepass(&text, escape);
        let base = masked.as_deref().unwrap_or(&text);
        let virtual_from = fragment_start(base, &line_starts);
        let virtual_text = virtual_from.map(|at| {
            for h in &mut extra_heredocs {
                if h.offset >= at {
                    h.offset += VIRTUAL_FROM.len();
                }
            }
            let mut t = String::with_capacity(base.len() + VIRTUAL_FROM.len() + 1);
            t.push_str(&base[..at]);
            if at > 0 && !base[..at].ends_with('\n') {
                // a file whose last line has no newline, FROM appended
                t.push('\n');
            }
            t.push_str(VIRTUAL_FROM);
            t.push_str(&base[at..]);
            t
        });
        SourceFile {
            path: path.into(),
            text,
            line_starts,
            masked,
            extra_heredocs,
            directives,
            virtual_from,
            virtual_text,
        }
    }

    /// The text to hand to the parser: same length and line breaks as
    /// `text`, except for a fragment's inserted `FROM` line.
    pub fn parse_text(&self) -> &str {
        self.virtual_text
            .as_deref()
            .or(self.masked.as_deref())
            .unwrap_or(&self.text)
    }

    /// Whether a parser offset falls in the inserted `FROM` line.
    pub fn is_virtual(&self, offset: usize) -> bool {
        self.virtual_from
            .is_some_and(|at| offset >= at && offset < at + VIRTUAL_FROM.len())
    }

    /// A parser offset as an offset into `text`; the inserted line maps to
    /// the start of the instruction it was put before.
    pub fn to_text_offset(&self, offset: usize) -> usize {
        match self.virtual_from {
            Some(at) if offset >= at + VIRTUAL_FROM.len() => offset - VIRTUAL_FROM.len(),
            Some(at) if offset >= at => at,
            _ => offset,
        }
    }

    /// 1-based line and column (in characters) of a parser byte offset.
    pub fn line_col(&self, offset: usize) -> (u32, u32) {
        self.text_line_col(self.to_text_offset(offset))
    }

    /// 1-based line and column of a byte offset into `text`.
    fn text_line_col(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line as u32 + 1, col as u32 + 1)
    }

    /// The location of a byte range. Trailing newlines are excluded so a range
    /// ending at a line end stays on that line.
    pub fn location(&self, span: std::ops::Range<usize>) -> Location {
        let span = self.to_text_offset(span.start)..self.to_text_offset(span.end);
        let (line, column) = self.text_line_col(span.start);
        let mut end = span.end.max(span.start);
        while end > span.start && matches!(self.text.as_bytes().get(end - 1), Some(b'\n' | b'\r')) {
            end -= 1;
        }
        let (end_line, end_column) = self.text_line_col(end);
        Location {
            path: self.path.clone(),
            line,
            column,
            end_line,
            end_column: end_column.max(column + u32::from(end_line == line)),
        }
    }

    /// Byte range of 1-based line `line` without its line terminator.
    pub fn line_span(&self, line: u32) -> Option<std::ops::Range<usize>> {
        let i = (line as usize).checked_sub(1)?;
        let start = *self.line_starts.get(i)?;
        let mut end = self
            .line_starts
            .get(i + 1)
            .map_or(self.text.len(), |e| e - 1);
        if end > start && self.text.as_bytes()[end - 1] == b'\r' {
            end -= 1;
        }
        Some(start..end.max(start))
    }

    /// Text of 1-based line `line`.
    pub fn line_text(&self, line: u32) -> &str {
        self.line_span(line).map_or("", |r| &self.text[r])
    }

    /// Number of lines.
    pub fn line_count(&self) -> u32 {
        self.line_starts.len() as u32
    }
}

/// Where a `FROM` must be inserted for the parser to read the file: the
/// start of the line of the first instruction that needs a stage, or the end
/// of a file that has only ARGs (or nothing). `None` when the file has a FROM
/// in time, or fails to parse for another reason.
fn fragment_start(text: &str, line_starts: &[usize]) -> Option<usize> {
    let mut iter = match parse_dockerfile::parse_iter(text) {
        Ok(i) => i,
        Err(_) => return None,
    };
    let mut seen_from = false;
    loop {
        match iter.next() {
            Some(Ok(parse_dockerfile::Instruction::From(_))) => seen_from = true,
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                let message = e.to_string();
                if seen_from {
                    return None;
                }
                if message.starts_with("expected at least one FROM") {
                    return Some(text.len());
                }
                if !message.starts_with("expected FROM") {
                    return None;
                }
                return line_starts.get(e.line().checked_sub(1)?).copied();
            }
            None => return (!seen_from).then_some(text.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_with_bom_and_crlf() {
        let s = SourceFile::new("D", "\u{feff}FROM a\r\nRUN é x\r\n");
        assert_eq!(s.line_col(0), (1, 1));
        let run = s.text.find("RUN").unwrap();
        assert_eq!(s.line_col(run), (2, 1));
        let x = s.text.find('x').unwrap();
        assert_eq!(s.line_col(x), (2, 7));
        assert_eq!(s.line_text(1), "FROM a");
        assert_eq!(s.line_count(), 3);
    }

    #[test]
    fn fragments_get_a_virtual_from_with_positions_unchanged() {
        let s = SourceFile::new("D", "# a fragment\nARG X=1\nRUN echo $X\nUSER root\n");
        let at = s.virtual_from.expect("fragment");
        assert_eq!(s.line_col(at), (3, 1));
        assert!(s.parse_text().contains("ARG X=1\nFROM scratch\nRUN echo"));
        let user = s.parse_text().find("USER").unwrap();
        assert_eq!(s.line_col(user), (4, 1));
        assert_eq!(s.location(user..user + 4).line, 4);
        assert_eq!(s.line_text(4), "USER root");
        let whole = SourceFile::new("D", "FROM a\nRUN b\n");
        assert_eq!(whole.virtual_from, None);
        let args_only = SourceFile::new("D", "ARG A=1");
        assert_eq!(args_only.virtual_from, Some(7));
        assert!(args_only.parse_text().ends_with("ARG A=1\nFROM scratch\n"));
    }
}

/// Parser directives at the top of a Dockerfile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Directives {
    /// `# syntax=` frontend image.
    pub syntax: Option<String>,
    /// `# escape=` character (`\\` or `` ` ``).
    pub escape: Option<char>,
    /// `# check=` build-check settings.
    pub check: Option<String>,
}

impl Directives {
    /// Reads directives: leading `# key=value` comment lines, stopping at the
    /// first line that is not one (as BuildKit does). Keys are case-insensitive.
    pub fn read(text: &str) -> Self {
        let mut d = Directives::default();
        for line in text.lines() {
            let Some(rest) = line.trim_start().strip_prefix('#') else {
                break;
            };
            let Some((k, v)) = rest.split_once('=') else {
                break;
            };
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim().to_string();
            if k.contains(char::is_whitespace) {
                break;
            }
            match k.as_str() {
                "syntax" => d.syntax = Some(v),
                "escape" => d.escape = v.chars().next(),
                "check" => d.check = Some(v),
                _ => break,
            }
        }
        d
    }

    /// Build checks skipped with `# check=skip=A,B` (or `all`).
    pub fn skipped_checks(&self) -> Vec<String> {
        let Some(c) = &self.check else { return vec![] };
        c.split(';')
            .filter_map(|part| part.trim().strip_prefix("skip="))
            .flat_map(|v| v.split(',').map(|s| s.trim().to_string()))
            .filter(|s| !s.is_empty())
            .collect()
    }
}
