//! The config file read once: [`Document`] parses the TOML, hands each
//! top-level section to the crate that owns it (which reads it with the
//! shared [`Reader`]), and reports every section nobody claimed. Problems
//! are collected, never returned one at a time, so a user sees every
//! mistake in one go, each at file:line:column.

use std::fmt;

use toml_span::value::{Table, ValueInner};
use toml_span::{Span, Value};

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// File, as shown.
    pub path: String,
    /// 1-based line (0: the file as a whole).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.path, self.line, self.column, self.message
            )
        }
    }
}

/// Every problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// A single problem with the file as a whole (unreadable, say).
    pub fn file(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigErrors(vec![ConfigError {
            path: path.into(),
            line: 0,
            column: 0,
            message: message.into(),
        }])
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} problem{} in the configuration:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

/// Collects every problem of a TOML config with its file:line:column.
pub struct Reader<'t> {
    path: &'t str,
    text: &'t str,
    /// Problems so far.
    pub errors: Vec<ConfigError>,
}

impl<'t> Reader<'t> {
    /// A reader for `text` shown as `path`.
    pub fn new(path: &'t str, text: &'t str) -> Self {
        Reader {
            path,
            text,
            errors: Vec::new(),
        }
    }

    /// The file, as shown.
    pub fn path(&self) -> &str {
        self.path
    }

    /// Record a problem at a span.
    pub fn err(&mut self, span: Span, message: impl Into<String>) {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        self.errors.push(ConfigError {
            path: self.path.to_string(),
            line,
            column,
            message: message.into(),
        });
    }

    /// Record a problem with the file as a whole.
    pub fn err_file(&mut self, message: impl Into<String>) {
        self.errors.push(ConfigError {
            path: self.path.to_string(),
            line: 1,
            column: 1,
            message: message.into(),
        });
    }

    /// Report an unknown key of `[section]`.
    pub fn unknown(&mut self, span: Span, section: &str, key: &str, known: &[&str]) {
        self.err(
            span,
            format!(
                "unknown key `{key}` in [{section}] (expected one of: {})",
                known.join(", ")
            ),
        );
    }

    /// A table, or a problem.
    pub fn table<'a, 'de>(&mut self, v: &'a Value<'de>, what: &str) -> Option<&'a Table<'de>> {
        let t = v.as_table();
        if t.is_none() {
            self.err(v.span, format!("`{what}` must be a table"));
        }
        t
    }

    /// A string, or a problem.
    pub fn string(&mut self, v: &Value<'_>, what: &str) -> Option<String> {
        match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.err(v.span, format!("`{what}` must be a string"));
                None
            }
        }
    }

    /// A boolean, or a problem.
    pub fn boolean(&mut self, v: &Value<'_>, what: &str) -> Option<bool> {
        match v.as_bool() {
            Some(b) => Some(b),
            None => {
                self.err(v.span, format!("`{what}` must be true or false"));
                None
            }
        }
    }

    /// An integer, or a problem.
    pub fn integer(&mut self, v: &Value<'_>, what: &str) -> Option<i64> {
        let i = v.as_integer();
        if i.is_none() {
            self.err(v.span, format!("`{what}` must be an integer"));
        }
        i
    }

    /// An array of strings with their spans; wrong items are problems.
    pub fn strings(&mut self, v: &Value<'_>, what: &str) -> Vec<(String, Span)> {
        match v.as_array() {
            Some(a) => a
                .iter()
                .filter_map(|x| match x.as_str() {
                    Some(s) => Some((s.to_string(), x.span)),
                    None => {
                        self.err(x.span, format!("`{what}` must contain only strings"));
                        None
                    }
                })
                .collect(),
            None => {
                self.err(v.span, format!("`{what}` must be an array of strings"));
                vec![]
            }
        }
    }

    /// An array of strings without their spans.
    pub fn string_list(&mut self, v: &Value<'_>, what: &str) -> Vec<String> {
        self.strings(v, what).into_iter().map(|(s, _)| s).collect()
    }

    /// A value parsed with `FromStr`, or a problem naming the key.
    pub fn parsed<T: std::str::FromStr>(&mut self, v: &Value<'_>, what: &str) -> Option<T>
    where
        T::Err: fmt::Display,
    {
        let s = self.string(v, what)?;
        match s.parse::<T>() {
            Ok(t) => Some(t),
            Err(e) => {
                self.err(v.span, format!("`{what}`: {e}"));
                None
            }
        }
    }
}

/// A config file parsed once. Owners [`take`](Document::take) their
/// sections and read them with [`Document::reader`]; [`finish`](Document::finish)
/// reports what nobody took.
pub struct Document<'t> {
    /// Collects every problem.
    pub reader: Reader<'t>,
    top: Table<'t>,
    taken: Vec<&'static str>,
    parsed: bool,
}

impl<'t> Document<'t> {
    /// Parses `text` (shown as `path`); invalid TOML is recorded as a
    /// problem and leaves an empty document.
    pub fn parse(path: &'t str, text: &'t str) -> Self {
        let mut reader = Reader::new(path, text);
        let (top, parsed) = match toml_span::parse(text) {
            Ok(mut root) => match root.take() {
                ValueInner::Table(t) => (t, true),
                _ => {
                    reader.err_file("the config must be a TOML table");
                    (Table::new(), false)
                }
            },
            Err(e) => {
                reader.err(e.span, format!("invalid TOML: {}", e.kind));
                (Table::new(), false)
            }
        };
        Document {
            reader,
            top,
            taken: Vec::new(),
            parsed,
        }
    }

    /// Whether the text was valid TOML.
    pub fn is_valid(&self) -> bool {
        self.parsed
    }

    /// Takes a top-level section (its owner reads it); `None` when absent.
    pub fn take(&mut self, name: &'static str) -> Option<Value<'t>> {
        self.taken.push(name);
        self.top.remove(name)
    }

    /// Returns the problems of what was taken, leaving the other sections
    /// to their owners (a crate reading its own section of a file another
    /// crate reads whole).
    pub fn finish_taken(self) -> Result<(), ConfigErrors> {
        let mut errors = self.reader.errors;
        errors.sort_by_key(|e| (e.line, e.column));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Reports every top-level key nobody took, then returns all problems.
    pub fn finish(mut self) -> Result<(), ConfigErrors> {
        let mut known = self.taken.clone();
        known.sort_unstable();
        known.dedup();
        let left: Vec<(String, Span)> = self
            .top
            .keys()
            .map(|k| (k.name.to_string(), k.span))
            .collect();
        for (name, span) in left {
            self.reader.err(
                span,
                format!(
                    "unknown top-level key `{name}` (expected one of: {})",
                    known.join(", ")
                ),
            );
        }
        let mut errors = self.reader.errors;
        errors.sort_by_key(|e| (e.line, e.column));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_claimed_and_leftovers_reported() {
        let text = "[a]\nx = 1\n\n[b]\ny = \"s\"\n\n[c]\n";
        let mut doc = Document::parse("f.toml", text);
        let a = doc.take("a").unwrap();
        let t = doc.reader.table(&a, "a").unwrap();
        let x = t.get("x").unwrap();
        assert_eq!(doc.reader.integer(x, "a.x"), Some(1));
        let b = doc.take("b").unwrap();
        let y = b.as_table().unwrap().get("y").unwrap();
        assert_eq!(doc.reader.integer(y, "b.y"), None);
        assert!(doc.take("absent").is_none());
        let e = doc.finish().unwrap_err();
        let all = e.to_string();
        assert_eq!(e.0.len(), 2, "{all}");
        assert!(
            all.contains("f.toml:5:6: `b.y` must be an integer"),
            "{all}"
        );
        assert!(
            all.contains("f.toml:7:2: unknown top-level key `c` (expected one of: a, absent, b)"),
            "{all}"
        );
    }

    #[test]
    fn invalid_toml_names_the_line() {
        let doc = Document::parse("x.toml", "[lint]\nfailure_threshold = \n");
        assert!(!doc.is_valid());
        let e = doc.finish().unwrap_err();
        assert_eq!(e.0[0].line, 2);
        assert!(e.0[0].message.starts_with("invalid TOML"));
    }

    #[test]
    fn file_level_problems_have_no_position() {
        let e = ConfigErrors::file("/etc/x.toml", "cannot read: gone");
        assert_eq!(
            e.to_string(),
            "1 problem in the configuration:\n  /etc/x.toml: cannot read: gone"
        );
    }
}
