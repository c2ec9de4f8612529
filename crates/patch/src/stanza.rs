//! deb822 stanzas (dpkg's `status`, `status.d` records, a package's
//! `control`, apk's `installed` uses its own one-letter form): fields in
//! their order, continuation lines kept verbatim, written back as read.

/// One stanza: `Name: value` fields in order; a multi-line value keeps its
/// continuation lines (each starting with a space) after a newline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stanza {
    fields: Vec<(String, String)>,
}

impl Stanza {
    /// Every stanza of a deb822 text (blank lines separate them; `#`
    /// comment lines are skipped).
    pub fn parse_all(text: &str) -> Vec<Stanza> {
        let mut out = Vec::new();
        let mut cur = Stanza::default();
        for line in text.lines() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                if !cur.fields.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                // trailing whitespace of a continuation line means nothing
                if let Some((_, v)) = cur.fields.last_mut() {
                    v.push('\n');
                    v.push_str(line.trim_end());
                }
                continue;
            }
            // a field name is non-empty, has no space and is no comment
            if let Some((k, v)) = line.split_once(':')
                && let k = k.trim()
                && !k.is_empty()
                && !k.starts_with('#')
                && !k.contains(char::is_whitespace)
            {
                cur.fields.push((k.to_string(), v.trim().to_string()));
            }
        }
        if !cur.fields.is_empty() {
            out.push(cur);
        }
        out
    }

    /// A field's value (case-insensitive name, as dpkg reads them).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sets a field, in place when it exists, else after `after` (or at the end).
    pub fn set(&mut self, name: &str, value: &str, after: Option<&str>) {
        if let Some((_, v)) = self
            .fields
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            *v = value.to_string();
            return;
        }
        let at = after
            .and_then(|a| {
                self.fields
                    .iter()
                    .position(|(k, _)| k.eq_ignore_ascii_case(a))
            })
            .map_or(self.fields.len(), |i| i + 1);
        self.fields
            .insert(at, (name.to_string(), value.to_string()));
    }

    /// Removes a field.
    pub fn remove(&mut self, name: &str) {
        self.fields.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }

    /// The stanza as text, ending in a newline (no blank line).
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.fields {
            s.push_str(k);
            s.push(':');
            if !v.is_empty() && !v.starts_with('\n') {
                s.push(' ');
            }
            s.push_str(v);
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_read_and_written_back_unchanged() {
        let text = "Package: a\nStatus: install ok installed\nConffiles:\n /etc/a.conf 0123\n /etc/b newconffile\nDescription: x\n more\n .\n end\n\nPackage: b\nVersion: 1\n";
        let all = Stanza::parse_all(text);
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[0].get("conffiles"),
            Some("\n /etc/a.conf 0123\n /etc/b newconffile")
        );
        let back: Vec<String> = all.iter().map(Stanza::render).collect();
        assert_eq!(back.join("\n"), text);
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        // a name that trims to a comment, a name with a space, trailing
        // space on a continuation line: none changes on a second reading
        let text = "\u{c}#: x\nA B: y\nPackage: p\nDescription: d\n more \r\r\n";
        let first = Stanza::parse_all(text);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].get("Description"), Some("d\n more"));
        assert_eq!(first[0].get("#"), None);
        let again: Vec<Stanza> = first
            .iter()
            .flat_map(|s| Stanza::parse_all(&s.render()))
            .collect();
        assert_eq!(again, first);
    }

    #[test]
    fn set_replaces_in_place_or_inserts_after() {
        let mut s = Stanza::parse_all("Package: a\nVersion: 1\n").remove(0);
        s.set("Status", "install ok installed", Some("Package"));
        s.set("version", "2", None);
        assert_eq!(
            s.render(),
            "Package: a\nStatus: install ok installed\nVersion: 2\n"
        );
    }
}
