//! Text from images, advisories and package metadata on its way to a
//! terminal: control characters (C0, DEL, C1: escape sequences that set the
//! title, clear the screen or make OSC-8 links), and the Unicode characters
//! that reorder or hide text (bidi overrides and isolates, zero-width
//! marks), are shown as visible escapes (`\x1b`, `\u{202e}`) instead of
//! being interpreted. Line breaks are escaped too: a table cell stays on
//! its line.

use std::borrow::Cow;
use std::fmt::Write as _;

fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
        )
}

/// `s` with every control or text-reordering character escaped.
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !hidden(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// Like [`clean`], but keeps line breaks (for multi-line messages).
pub fn clean_lines(s: &str) -> String {
    s.split('\n')
        .map(|l| clean(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_interpret() {
        assert!(matches!(clean("libssl3 3.0.11"), Cow::Borrowed(_)));
        assert_eq!(clean("\x1b]0;pwned\x07x"), "\\x1b]0;pwned\\x07x");
        assert_eq!(
            clean("\x1b[2J\x1b[HFAKE-CLEAN"),
            "\\x1b[2J\\x1b[HFAKE-CLEAN"
        );
        assert_eq!(clean("a\nb\rc\td"), "a\\x0ab\\x0dc\\x09d");
        assert_eq!(clean("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(clean("evil\u{202e}gpj.exe"), "evil\\u{202e}gpj.exe");
        assert_eq!(clean("é ü 日本"), "é ü 日本");
        assert_eq!(clean_lines("one\x1b\ntwo"), "one\\x1b\ntwo");
    }
}
