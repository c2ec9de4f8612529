//! LABEL checks: key syntax (always), and the label schema an organisation
//! sets in `[lint] label_schema` or `.hadolint.yaml` `label-schema`: which
//! labels every stage must carry, of what type, and (with `strict_labels`)
//! that no others appear.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use parse_dockerfile::Instruction;
use regex::Regex;

use super::Ctx;
use crate::args::key_values;

/// The type a label's value must have in the label schema (Hadolint's
/// names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelType {
    /// Any non-empty text.
    Text,
    /// A URL.
    Url,
    /// A semantic version.
    Semver,
    /// A git commit hash.
    Hash,
    /// An RFC 3339 date-time.
    Rfc3339,
    /// An SPDX license expression.
    Spdx,
    /// An email address.
    Email,
}

impl std::str::FromStr for LabelType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "text" => LabelType::Text,
            "url" => LabelType::Url,
            "semver" => LabelType::Semver,
            "hash" => LabelType::Hash,
            "rfc3339" => LabelType::Rfc3339,
            "spdx" => LabelType::Spdx,
            "email" => LabelType::Email,
            other => {
                return Err(format!(
                    "unknown label type `{other}` (expected text, url, semver, hash, rfc3339, spdx, email)"
                ));
            }
        })
    }
}

/// One label as written, with the byte range of its key.
struct Label {
    key: String,
    value: String,
    span: std::ops::Range<usize>,
}

fn labels_of(ins: &Instruction<'_>) -> Vec<Label> {
    let l = match ins {
        Instruction::Label(l) => l,
        Instruction::Onbuild(o) => match &*o.instruction {
            Instruction::Label(l) => l,
            _ => return vec![],
        },
        _ => return vec![],
    };
    let base = l.arguments.span.start;
    key_values(&l.arguments.value, true)
        .into_iter()
        .map(|kv| Label {
            span: base + kv.offset..base + kv.offset + kv.name.len(),
            key: crate::rules::instructions::unquote(&kv.name).to_string(),
            value: kv.value.unwrap_or_default(),
        })
        .collect()
}

static KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z]([a-z0-9.-]*[a-z0-9])?$").expect("label key regex"));

/// Docker's label key recommendations: lowercase letters, digits, `.` and
/// `-`, starting and ending with a letter or digit, no `..` or `--`, and not
/// in the namespaces Docker reserves.
fn key_problem(key: &str) -> Option<&'static str> {
    for reserved in ["com.docker.", "io.docker.", "org.dockerproject."] {
        if key.starts_with(reserved) {
            return Some(
                "uses a namespace Docker reserves (com.docker., io.docker., org.dockerproject.)",
            );
        }
    }
    if !KEY.is_match(key) {
        return Some(
            "should use only lowercase letters, digits, `.` and `-`, start with a letter and end with a letter or digit",
        );
    }
    if key.contains("..") || key.contains("--") {
        return Some("has consecutive `.` or `-`");
    }
    None
}

pub(crate) fn check_keys(ctx: &mut Ctx<'_, '_>) {
    let p = ctx.p;
    for ins in &p.instructions {
        for l in labels_of(ins) {
            if let Some(problem) = key_problem(&l.key) {
                ctx.hit(
                    "label-key-invalid",
                    l.span.clone(),
                    format!("label key `{}` {problem}", l.key),
                );
            }
        }
    }
}

static RFC3339: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
        .expect("rfc3339 regex")
});
static SEMVER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$")
        .expect("semver regex")
});
static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]+[^\s]*$").expect("url regex")
});
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[^@\s<>]+@[^@\s<>.]+(\.[^@\s<>.]+)+$").expect("email regex"));
static GIT_HASH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([0-9a-fA-F]{7,40}|[0-9a-fA-F]{64})$").expect("hash regex"));

/// Why `value` is not of type `t`, if it is not.
fn value_problem(t: LabelType, value: &str) -> Option<&'static str> {
    if value.contains('$') {
        return None;
    }
    let ok = match t {
        LabelType::Text => true,
        LabelType::Url => URL.is_match(value),
        LabelType::Rfc3339 => RFC3339.is_match(value),
        LabelType::Semver => SEMVER.is_match(value),
        LabelType::Hash => GIT_HASH.is_match(value),
        LabelType::Email => EMAIL.is_match(value),
        LabelType::Spdx => spdx::Expression::parse(value).is_ok(),
    };
    (!ok).then_some(match t {
        LabelType::Text => "",
        LabelType::Url => "is not a URL",
        LabelType::Rfc3339 => "is not an RFC 3339 date-time (2024-01-31T12:00:00Z)",
        LabelType::Semver => "is not a semantic version (1.2.3)",
        LabelType::Hash => "is not a git commit hash",
        LabelType::Email => "is not an email address",
        LabelType::Spdx => "is not an SPDX license expression (MIT, Apache-2.0 OR MIT)",
    })
}

/// The schema checks, per stage; a stage built FROM another stage inherits
/// its labels.
pub(crate) fn check_schema(
    ctx: &mut Ctx<'_, '_>,
    schema: &BTreeMap<String, LabelType>,
    strict: bool,
) {
    if schema.is_empty() {
        return;
    }
    let p = ctx.p;
    let mut own: Vec<BTreeSet<String>> = Vec::with_capacity(p.stages.len());
    for st in &p.stages {
        let mut keys = BTreeSet::new();
        for idx in st.range.clone() {
            for l in labels_of(&p.instructions[idx]) {
                match schema.get(&l.key) {
                    None if strict => ctx.hit(
                        "label-not-in-schema",
                        l.span.clone(),
                        format!(
                            "label `{}` is not in the label schema (strict labels)",
                            l.key
                        ),
                    ),
                    None => {}
                    Some(_) if l.value.trim().is_empty() => ctx.hit(
                        "label-empty",
                        l.span.clone(),
                        format!("label `{}` is empty", l.key),
                    ),
                    Some(&t) => {
                        if let Some(problem) = value_problem(t, l.value.trim()) {
                            ctx.hit(
                                "label-invalid-value",
                                l.span.clone(),
                                format!("label `{}`: `{}` {problem}", l.key, l.value),
                            );
                        }
                    }
                }
                keys.insert(l.key);
            }
        }
        own.push(keys);
    }
    for st in &p.stages {
        if p.virtual_first_stage && st.index == 0 && st.range.len() <= 1 {
            continue;
        }
        let have: BTreeSet<&String> = p
            .ancestry(st.index)
            .iter()
            .flat_map(|&i| own[i].iter())
            .collect();
        let missing: Vec<&str> = schema
            .keys()
            .filter(|k| !have.contains(k))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            ctx.hit(
                "label-missing",
                st.image_span.clone(),
                format!(
                    "this stage lacks the label(s) the schema requires: {}",
                    missing.join(", ")
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(key_problem("org.opencontainers.image.source").is_none());
        assert!(key_problem("com.docker.x").is_some());
        assert!(key_problem("Invalid").is_some());
        assert!(key_problem("a..b").is_some());
        assert!(key_problem("-a").is_some());
    }

    #[test]
    fn values() {
        assert!(value_problem(LabelType::Url, "https://example.com/x").is_none());
        assert!(value_problem(LabelType::Url, "not-url").is_some());
        assert!(value_problem(LabelType::Spdx, "Apache-2.0 OR MIT").is_none());
        assert!(value_problem(LabelType::Spdx, "not-spdx").is_some());
        assert!(value_problem(LabelType::Semver, "2.0.1-rc1").is_none());
        assert!(value_problem(LabelType::Semver, "1.0").is_some());
        assert!(value_problem(LabelType::Hash, "2dbfae9").is_none());
        assert!(value_problem(LabelType::Rfc3339, "2021-03-10T10:26:33.5+01:00").is_none());
        assert!(value_problem(LabelType::Email, "a@b.com").is_none());
        assert!(value_problem(LabelType::Email, "not-email").is_some());
    }
}
