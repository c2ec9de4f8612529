//! Ignoring a finding through the service: the rule is written into the
//! fleet's own ignore file (the first `.yaml` of `[scan] ignore_files`), in
//! the format `safeimage` reads there, appended as text so the file's
//! comments stay; the result is read back with the reader the runs use and
//! must hold exactly one rule more, or nothing is written. The change is an
//! event in the image's audit log.

use std::path::{Path, PathBuf};

/// An ignore asked for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
pub struct IgnoreRequest {
    /// The advisory id (an alias matches too).
    pub advisory: String,
    /// The package name (none: any package).
    #[serde(default)]
    pub package: Option<String>,
    /// Why it does not apply (required).
    pub reason: String,
    /// `YYYY-MM-DD`: the rule stops applying after this day.
    #[serde(default)]
    pub expires: Option<String>,
}

/// Why an ignore was not written.
#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    /// A field is wrong (HTTP 400, naming it).
    #[error("{field}: {message}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The fleet has no ignore file to write (HTTP 409).
    #[error(
        "the fleet config names no `.yaml` file in [scan] ignore_files: add one (e.g. `ignore_files = [\".safeimage-ignore.yaml\"]`) so ignores have a home"
    )]
    NoFile,
    /// The file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && s[..4].parse::<u32>().is_ok()
        && s[5..7].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
        && s[8..].parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
}

/// A YAML double-quoted scalar (every character that could end or bend it
/// escaped).
fn quoted(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if c.is_control() => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

impl IgnoreRequest {
    /// Checks the fields (each named when wrong).
    pub fn check(&self) -> Result<(), IgnoreError> {
        let bad = |field, message: &str| {
            Err(IgnoreError::Field {
                field,
                message: message.into(),
            })
        };
        let id = self.advisory.trim();
        if id.is_empty()
            || id.len() > 128
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        {
            return bad(
                "advisory",
                "an advisory id such as CVE-2024-1234 (letters, digits, - _ . :)",
            );
        }
        if self.reason.trim().is_empty() {
            return bad("reason", "a reason is required");
        }
        if self.reason.len() > 1000 {
            return bad("reason", "at most 1000 bytes");
        }
        if let Some(p) = &self.package
            && (p.len() > 256 || p.chars().any(char::is_control))
        {
            return bad(
                "package",
                "a package name (no control characters, at most 256 bytes)",
            );
        }
        if let Some(e) = &self.expires
            && !valid_date(e)
        {
            return bad("expires", "YYYY-MM-DD");
        }
        Ok(())
    }

    fn entry(&self, indent: &str) -> String {
        let mut e = format!("{indent}- id: {}\n", quoted(self.advisory.trim()));
        let inner = format!("{indent}  ");
        if let Some(p) = self.package.as_deref().filter(|p| !p.trim().is_empty()) {
            e.push_str(&format!("{inner}package: {}\n", quoted(p.trim())));
        }
        e.push_str(&format!("{inner}reason: {}\n", quoted(self.reason.trim())));
        if let Some(x) = self.expires.as_deref().filter(|x| !x.is_empty()) {
            e.push_str(&format!("{inner}expires: {}\n", quoted(x)));
        }
        e
    }
}

/// The fleet's ignore file the service writes.
pub fn home(ignore_files: &[PathBuf]) -> Result<&Path, IgnoreError> {
    ignore_files
        .iter()
        .find(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e == "yaml" || e == "yml")
        })
        .map(PathBuf::as_path)
        .ok_or(IgnoreError::NoFile)
}

/// Adds `req` to the ignore file at `path` (created when absent).
pub fn write(path: &Path, req: &IgnoreRequest) -> Result<(), IgnoreError> {
    req.check()?;
    let file_err = |message: String| IgnoreError::File {
        path: path.to_path_buf(),
        message,
    };
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(file_err(e.to_string())),
    };
    let before = if old.trim().is_empty() {
        0
    } else {
        scan::suppress::read_ignore_file(path)
            .map_err(|e| file_err(format!("not readable as it is, so not changed: {e}")))?
            .len()
    };
    // the list's items as the file indents them; an empty `ignore: []`
    // becomes a block list
    let indent = old
        .lines()
        .find_map(|l| {
            let t = l.trim_start();
            t.starts_with("- ")
                .then(|| l[..l.len() - t.len()].to_string())
        })
        .unwrap_or_else(|| "  ".into());
    let mut text = if old.trim().is_empty() {
        "ignore:\n".to_string()
    } else if let Some(pos) = old.find("ignore: []") {
        format!(
            "{}ignore:\n{}",
            &old[..pos],
            &old[pos + "ignore: []".len()..].trim_start_matches('\n')
        )
    } else {
        old.clone()
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&req.entry(&indent));
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.safeimage-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("ignore"),
        std::process::id()
    ));
    std::fs::write(&tmp, &text).map_err(|e| file_err(e.to_string()))?;
    let after = scan::suppress::read_ignore_file(&tmp).map(|r| r.len());
    if after.as_ref().ok() != Some(&(before + 1)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(file_err(format!(
            "the rule could not be added in this file's layout ({}); nothing was changed",
            match after {
                Ok(n) => format!("it would hold {n} rules, not {}", before + 1),
                Err(e) => e.to_string(),
            }
        )));
    }
    std::fs::rename(&tmp, path).map_err(|e| file_err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(id: &str, reason: &str) -> IgnoreRequest {
        IgnoreRequest {
            advisory: id.into(),
            package: Some("openssl".into()),
            reason: reason.into(),
            expires: Some("2027-01-31".into()),
        }
    }

    #[test]
    fn a_rule_is_appended_keeping_comments_and_read_back_by_the_runs_reader() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".safeimage-ignore.yaml");
        std::fs::write(
            &p,
            "# reviewed by security, 2026-11\nignore:\n    - id: CVE-2020-1\n      reason: test only\n",
        )
        .unwrap();
        write(
            &p,
            &req("CVE-2026-9", "not reachable: \"quoted\"\nnext: line"),
        )
        .unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("# reviewed by security"), "{text}");
        let rules = scan::suppress::read_ignore_file(&p).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1].id, "CVE-2026-9");
        assert_eq!(rules[1].reason, "not reachable: \"quoted\"\nnext: line");
        assert_eq!(rules[1].expires.as_deref(), Some("2027-01-31"));
    }

    #[test]
    fn an_empty_list_and_a_missing_file_get_a_block_list() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("i.yaml");
        std::fs::write(&p, "ignore: []\n").unwrap();
        write(&p, &req("CVE-1", "r")).unwrap();
        assert_eq!(scan::suppress::read_ignore_file(&p).unwrap().len(), 1);
        let q = dir.path().join("new.yaml");
        write(&q, &req("CVE-2", "r")).unwrap();
        assert_eq!(scan::suppress::read_ignore_file(&q).unwrap().len(), 1);
    }

    #[test]
    fn bad_fields_are_named_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("i.yaml");
        for (r, field) in [
            (req("CVE 1; rm", "r"), "advisory"),
            (req("CVE-1", "  "), "reason"),
            (
                IgnoreRequest {
                    expires: Some("31.01.2027".into()),
                    ..req("CVE-1", "r")
                },
                "expires",
            ),
        ] {
            let e = write(&p, &r).unwrap_err();
            assert!(
                matches!(e, IgnoreError::Field { field: f, .. } if f == field),
                "{e}"
            );
        }
        assert!(!p.exists());
        // a file the runs could not read is not touched
        std::fs::write(&p, "ignore: {broken").unwrap();
        assert!(write(&p, &req("CVE-1", "r")).is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "ignore: {broken");
    }
}
