//! Heredocs that `parse-dockerfile` 0.1 does not read: a heredoc after a
//! command (`RUN python3 <<EOF`) and several heredocs on one RUN
//! (`RUN <<A <<B`). A pre-pass finds their bodies, and the text given to the
//! parser has those body lines replaced by comment lines of the same length,
//! so every byte offset the parser reports still points into the real file.

/// A heredoc body the pre-pass took over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraHeredoc {
    /// 1-based line of the RUN instruction's first line.
    pub instruction_line: u32,
    /// Byte offset of the body's first line.
    pub offset: usize,
    /// Body text (leading tabs stripped for `<<-`).
    pub body: String,
    /// Whether the delimiter was quoted (no expansion).
    pub quoted: bool,
}

struct Marker {
    delim: String,
    strip_tabs: bool,
    quoted: bool,
}

fn markers(s: &str) -> Vec<Marker> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i + 2 < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if (c == b'"' || c == b'\'')
            && !(i >= 2 && &b[i - 2..i] == b"<<")
            && !(i >= 3 && &b[i - 3..i] == b"<<-")
        {
            quote = Some(c);
            i += 1;
            continue;
        }
        if c == b'<'
            && b[i + 1] == b'<'
            && (i == 0 || b[i - 1] != b'<')
            && b.get(i + 2) != Some(&b'<')
        {
            let mut j = i + 2;
            let strip_tabs = b.get(j) == Some(&b'-');
            if strip_tabs {
                j += 1;
            }
            let q = b.get(j).copied().filter(|x| *x == b'"' || *x == b'\'');
            if q.is_some() {
                j += 1;
            }
            let start = j;
            while j < b.len()
                && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'-' || b[j] == b'.')
            {
                j += 1;
            }
            if j > start && (q.is_none() || b.get(j) == q.as_ref()) {
                out.push(Marker {
                    delim: s[start..j].to_string(),
                    strip_tabs,
                    quoted: q.is_some(),
                });
                i = j + usize::from(q.is_some());
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Finds heredocs the parser cannot read; returns the masked text (when
/// anything was masked) and the bodies.
pub fn prepass(text: &str, escape: u8) -> (Option<String>, Vec<ExtraHeredoc>) {
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut off = 0;
    for l in text.split_inclusive('\n') {
        lines.push((off, l));
        off += l.len();
    }
    let content = |l: &str| l.trim_end_matches(['\n', '\r']).to_string();
    let mut masked: Option<String> = None;
    let mut extras = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let first = content(lines[i].1);
        let t = first.trim_start();
        if t.is_empty() || t.starts_with('#') {
            i += 1;
            continue;
        }
        let mut words = t.split_whitespace();
        let mut kw = words.next().unwrap_or("").to_ascii_uppercase();
        if kw == "ONBUILD" {
            kw = words.next().unwrap_or("").to_ascii_uppercase();
        }
        // the instruction's physical lines (continuations)
        let mut j = i;
        let mut joined = first.clone();
        while content(lines[j].1).trim_end().as_bytes().last() == Some(&escape)
            && j + 1 < lines.len()
        {
            j += 1;
            joined.push('\n');
            joined.push_str(&content(lines[j].1));
        }
        let ms = if matches!(kw.as_str(), "RUN" | "COPY" | "ADD") {
            markers(&joined)
        } else {
            Vec::new()
        };
        if ms.is_empty() {
            i = j + 1;
            continue;
        }
        // where the arguments start: after the keyword(s) and --flags
        let args_start = {
            let mut rest = t;
            for _ in 0..if t.to_ascii_uppercase().starts_with("ONBUILD") {
                2
            } else {
                1
            } {
                rest = rest
                    .trim_start()
                    .split_once(char::is_whitespace)
                    .map_or("", |(_, r)| r);
            }
            let mut rest = rest.trim_start();
            while rest.starts_with("--") {
                rest = rest
                    .split_once(char::is_whitespace)
                    .map_or("", |(_, r)| r)
                    .trim_start();
            }
            rest.to_string()
        };
        let supported = kw != "RUN" || (ms.len() == 1 && args_start.starts_with("<<"));
        let mut k = j + 1;
        let mut bodies = Vec::new();
        for m in &ms {
            // an earlier heredoc may have run to the end of the file
            let start = k.min(lines.len());
            k = start;
            while k < lines.len() {
                let l = content(lines[k].1);
                let l = if m.strip_tabs {
                    l.trim_start_matches('\t').to_string()
                } else {
                    l
                };
                if l == m.delim {
                    break;
                }
                k += 1;
            }
            let body: String = lines[start..k.min(lines.len())]
                .iter()
                .map(|(_, l)| {
                    if m.strip_tabs {
                        l.trim_start_matches('\t')
                    } else {
                        l
                    }
                })
                .collect();
            bodies.push((start, k.min(lines.len()), body, m.quoted));
            k += 1;
        }
        let end = k.min(lines.len());
        if !supported {
            // With a leading heredoc the parser still reads the first one itself.
            let leading = usize::from(args_start.starts_with("<<"));
            let mask_from = if leading == 1 { bodies[0].1 + 1 } else { j + 1 };
            let buf = masked.get_or_insert_with(|| text.to_string());
            for &(o, l) in &lines[mask_from.min(end)..end] {
                let n = content(l).len();
                if n > 0 {
                    let mut rep = String::with_capacity(n);
                    rep.push('#');
                    rep.extend(std::iter::repeat_n(' ', n - 1));
                    buf.replace_range(o..o + n, &rep);
                }
            }
            for (start, _, body, quoted) in bodies.into_iter().skip(leading) {
                if start < lines.len() {
                    extras.push(ExtraHeredoc {
                        instruction_line: i as u32 + 1,
                        offset: lines[start].0,
                        body,
                        quoted,
                    });
                }
            }
        }
        i = end;
    }
    (masked, extras)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_heredocs_are_masked_with_same_length() {
        let text = "FROM a:1\nRUN <<A <<B\necho one\nA\necho two\nB\nRUN true\n";
        let (masked, extras) = prepass(text, b'\\');
        let masked = masked.unwrap();
        assert_eq!(masked.len(), text.len());
        // the parser reads the first (leading) heredoc itself; the second is ours
        assert_eq!(
            masked,
            "FROM a:1\nRUN <<A <<B\necho one\nA\n#       \n#\nRUN true\n"
        );
        assert_eq!(extras.len(), 1);
        assert_eq!(extras[0].body, "echo two\n");
        assert_eq!(&text[extras[0].offset..extras[0].offset + 8], "echo two");
    }

    #[test]
    fn unterminated_heredocs_at_end_of_file_do_not_panic() {
        // found by the long `dockerfile` fuzz run
        for text in [
            "FROM a\nRUN cat <<A <<B\nx\n",
            "FROM a\nRUN <<A <<B\nA",
            "FROM a\nRUN x <<A <<B <<C",
        ] {
            let (m, _) = prepass(text, b'\\');
            assert_eq!(m.map_or(text.len(), |m| m.len()), text.len());
        }
    }

    #[test]
    fn heredoc_after_command_and_supported_forms() {
        let (m, e) = prepass("FROM a:1\nRUN python3 <<'EOF'\nprint(1)\nEOF\n", b'\\');
        assert!(m.is_some());
        assert!(e[0].quoted);
        let (m, e) = prepass("FROM a:1\nRUN <<EOF\nls\nEOF\nCOPY <<X /x\nhi\nX\n", b'\\');
        assert!(
            m.is_none() && e.is_empty(),
            "single leading heredoc is the parser's"
        );
        let (m, _) = prepass("FROM a:1\nRUN cat <<< \"x\" && echo '<<no'\n", b'\\');
        assert!(m.is_none());
    }
}
