//! A Dockerfile's text with its line index: byte offsets to line/column.

use findings::Location;

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
    pub directives: crate::model::Directives,
}

impl SourceFile {
    /// Builds the index. A leading BOM is dropped so spans line up.
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        let mut text: String = text.into();
        if text.starts_with('\u{feff}') {
            text.drain(..3);
        }
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let directives = crate::model::Directives::read(&text);
        let escape = directives.escape.map_or(b'\\', |c| c as u8);
        let (masked, extra_heredocs) = crate::heredoc::prepass(&text, escape);
        SourceFile {
            path: path.into(),
            text,
            line_starts,
            masked,
            extra_heredocs,
            directives,
        }
    }

    /// The text to hand to the parser (same length and line breaks as `text`).
    pub fn parse_text(&self) -> &str {
        self.masked.as_deref().unwrap_or(&self.text)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (u32, u32) {
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
        let (line, column) = self.line_col(span.start);
        let mut end = span.end.max(span.start);
        while end > span.start && matches!(self.text.as_bytes().get(end - 1), Some(b'\n' | b'\r')) {
            end -= 1;
        }
        let (end_line, end_column) = self.line_col(end);
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
}
