//! Glob patterns over fully qualified repository names
//! (`registry/repository`), as the base-image policy and
//! `[[base_signatures]]` write them: `*` stays inside one path segment,
//! `**` crosses them, and short names are normalised as Docker does
//! (`alpine` → `docker.io/library/alpine`).

use globset::GlobMatcher;

/// One glob pattern on `registry/repository`.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// As written in the config.
    pub text: String,
    /// Normalised (`alpine` → `docker.io/library/alpine`).
    pub normalized: String,
    matcher: GlobMatcher,
}

/// Why a pattern is unusable.
#[derive(Debug, thiserror::Error)]
#[error("invalid pattern `{pattern}`: {reason}")]
pub struct PatternError {
    /// The pattern.
    pub pattern: String,
    /// Why.
    pub reason: String,
}

impl Pattern {
    /// Compiles a pattern. `*` stays inside one path segment, `**` crosses them.
    pub fn new(text: &str) -> Result<Self, PatternError> {
        let normalized = normalize(text);
        let glob = globset::GlobBuilder::new(&normalized)
            .literal_separator(true)
            .build()
            .map_err(|e| PatternError {
                pattern: text.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Pattern {
            text: text.to_string(),
            normalized,
            matcher: glob.compile_matcher(),
        })
    }

    /// How literal it is (characters that are not glob syntax): the most
    /// specific matching pattern decides.
    pub fn specificity(&self) -> usize {
        self.normalized
            .chars()
            .filter(|c| !matches!(c, '*' | '?' | '[' | ']'))
            .count()
    }

    /// Whether the pattern matches a fully qualified repository name.
    pub fn matches(&self, full_name: &str) -> bool {
        self.matcher.is_match(full_name)
    }
}

/// A pattern as a full name (`alpine` → `docker.io/library/alpine`,
/// `bitnami/*` → `docker.io/bitnami/*`).
pub fn normalize(p: &str) -> String {
    let p = p.trim();
    let first = p.split('/').next().unwrap_or("");
    let has_registry = p.contains('/')
        && (first.contains(['.', ':']) || first == "localhost" || first.contains('*'));
    let p = p
        .strip_prefix("index.docker.io/")
        .map(|r| format!("docker.io/{r}"))
        .unwrap_or_else(|| p.to_string());
    if has_registry || p.starts_with("docker.io/") {
        let rest = p.strip_prefix("docker.io/");
        match rest {
            Some(r) if !r.contains('/') && !r.contains("**") => format!("docker.io/library/{r}"),
            _ => p,
        }
    } else if p.contains('/') || p.contains("**") {
        format!("docker.io/{p}")
    } else {
        format!("docker.io/library/{p}")
    }
}
