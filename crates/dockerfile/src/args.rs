//! ARG/ENV key-value parsing and `$VAR` / `${VAR:-default}` expansion as BuildKit does it.

use std::collections::HashMap;

/// One `NAME[=value]` pair from an ARG, ENV or LABEL instruction, with the byte
/// offset of the name inside the instruction's argument text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// Variable name.
    pub name: String,
    /// Value with quotes removed; `None` for `ARG NAME`.
    pub value: Option<String>,
    /// Offset of the name in the argument text.
    pub offset: usize,
}

/// Splits `A=1 B="two words" C` (or the legacy `ENV NAME value with spaces`) into pairs.
pub fn key_values(raw: &str, legacy_env: bool) -> Vec<KeyValue> {
    let words = split_words(raw);
    // Legacy `ENV NAME value`: first word has no `=`.
    if legacy_env
        && let Some((first, off)) = words.first()
        && !first.contains('=')
        && words.len() > 1
    {
        let rest = raw[off + first.len()..].trim();
        return vec![KeyValue {
            name: first.clone(),
            value: Some(unquote(rest)),
            offset: *off,
        }];
    }
    words
        .into_iter()
        .map(|(w, off)| match w.split_once('=') {
            Some((k, v)) => KeyValue {
                name: k.to_string(),
                value: Some(unquote(v)),
                offset: off,
            },
            None => KeyValue {
                name: w,
                value: None,
                offset: off,
            },
        })
        .collect()
}

/// Whitespace-separated words, quotes kept, `\`-newline continuations treated as space.
fn split_words(raw: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = None;
    let mut quote: Option<char> = None;
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if let Some(s) = start.take() {
                    out.push((std::mem::take(&mut cur), s));
                }
            }
            (None, '\\') if matches!(chars.peek(), Some((_, '\n' | '\r'))) => {
                while matches!(chars.peek(), Some((_, '\n' | '\r'))) {
                    chars.next();
                }
                if let Some(s) = start.take() {
                    out.push((std::mem::take(&mut cur), s));
                }
            }
            (q, '\\') if q != Some('\'') => {
                start.get_or_insert(i);
                cur.push('\\');
                if let Some((_, n)) = chars.next() {
                    cur.push(n);
                }
            }
            (None, '"' | '\'') => {
                start.get_or_insert(i);
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (_, c) => {
                start.get_or_insert(i);
                cur.push(c);
            }
        }
    }
    if let Some(s) = start {
        out.push((cur, s));
    }
    out
}

/// Removes one level of quoting and backslash escapes.
pub fn unquote(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut quote: Option<char> = None;
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (q, '\\') if q != Some('\'') => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            (_, c) => out.push(c),
        }
    }
    out
}

/// The result of expanding a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    /// The text after expansion.
    pub value: String,
    /// Variables referenced but not declared at all.
    pub undeclared: Vec<String>,
    /// Variables declared without a value (expanded to empty).
    pub empty: Vec<String>,
}

/// Expands `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`.
///
/// `vars` maps declared names to their value (`None` = declared without value).
pub fn expand(word: &str, vars: &HashMap<String, Option<String>>) -> Expanded {
    let mut out = Expanded {
        value: String::new(),
        undeclared: vec![],
        empty: vec![],
    };
    let b = word.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' && i + 1 < b.len() && b[i + 1] == b'$' {
            out.value.push('$');
            i += 2;
            continue;
        }
        if c != b'$' {
            let ch = word[i..].chars().next().unwrap_or('\u{fffd}');
            out.value.push(ch);
            i += ch.len_utf8();
            continue;
        }
        // `$`
        if i + 1 < b.len() && b[i + 1] == b'{' {
            let Some(close) = word[i + 2..].find('}') else {
                out.value.push_str(&word[i..]);
                break;
            };
            let inner = &word[i + 2..i + 2 + close];
            i += 3 + close;
            let name_end = inner
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(inner.len());
            let (name, modifier) = inner.split_at(name_end);
            let val = lookup(name, vars, &mut out, modifier.is_empty());
            let set = val.is_some();
            let non_empty = val.as_deref().is_some_and(|v| !v.is_empty());
            let v = val.unwrap_or_default();
            let res = if let Some(d) = modifier.strip_prefix(":-") {
                if non_empty { v } else { expand(d, vars).value }
            } else if let Some(d) = modifier.strip_prefix('-') {
                if set { v } else { expand(d, vars).value }
            } else if let Some(d) = modifier.strip_prefix(":+") {
                if non_empty {
                    expand(d, vars).value
                } else {
                    String::new()
                }
            } else if let Some(d) = modifier.strip_prefix('+') {
                if set {
                    expand(d, vars).value
                } else {
                    String::new()
                }
            } else {
                v
            };
            out.value.push_str(&res);
        } else {
            let rest = &word[i + 1..];
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if len == 0 {
                out.value.push('$');
                i += 1;
                continue;
            }
            let name = &rest[..len];
            i += 1 + len;
            let v = lookup(name, vars, &mut out, true).unwrap_or_default();
            out.value.push_str(&v);
        }
    }
    out
}

fn lookup(
    name: &str,
    vars: &HashMap<String, Option<String>>,
    out: &mut Expanded,
    report: bool,
) -> Option<String> {
    match vars.get(name) {
        Some(Some(v)) => Some(v.clone()),
        Some(None) => {
            if report {
                out.empty.push(name.to_string());
            }
            None
        }
        None => {
            if report {
                out.undeclared.push(name.to_string());
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_forms() {
        let kv = key_values(r#"A=1 B="two words" C"#, false);
        assert_eq!(kv.len(), 3);
        assert_eq!(kv[1].value.as_deref(), Some("two words"));
        assert_eq!(kv[2].value, None);
        assert_eq!(kv[1].offset, 4);
        let kv = key_values("PATH /usr/local/bin:$PATH", true);
        assert_eq!(
            (kv[0].name.as_str(), kv[0].value.as_deref()),
            ("PATH", Some("/usr/local/bin:$PATH"))
        );
        let kv = key_values("A=1 \\\n    B=2", false);
        assert_eq!(
            kv.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
            ["A", "B"]
        );
    }

    #[test]
    fn expansion() {
        let mut vars = HashMap::new();
        vars.insert("TAG".to_string(), Some("3.20".to_string()));
        vars.insert("EMPTY".to_string(), None);
        let e = expand("alpine:${TAG}", &vars);
        assert_eq!(e.value, "alpine:3.20");
        let e = expand("${BASE:-debian}:$TAG", &vars);
        assert_eq!(e.value, "debian:3.20");
        assert!(
            e.undeclared.is_empty(),
            "defaults do not count as undeclared"
        );
        let e = expand("$NOPE/x", &vars);
        assert_eq!(
            (e.value.as_str(), e.undeclared.as_slice()),
            ("/x", &["NOPE".to_string()][..])
        );
        let e = expand("${EMPTY}", &vars);
        assert_eq!(e.empty, ["EMPTY"]);
        assert_eq!(expand("${TAG:+set}", &vars).value, "set");
        // An ARG declared without a value is unset, as in BuildKit.
        assert_eq!(expand("${EMPTY-x}", &vars).value, "x");
        assert_eq!(expand("${EMPTY:-x}", &vars).value, "x");
        assert_eq!(expand("a\\$b", &vars).value, "a$b");
    }
}
