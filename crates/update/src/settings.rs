//! `[update]` in the config file, read here because this crate owns base
//! updates: which updates are proposed (new majors or not, newer tags or
//! only new digests), how long a new digest must have been seen first, how
//! proposals are grouped, where they go (a forge's pull request, or git
//! alone) and when they are merged.

use settings::{Reader, Value};

/// How proposals are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Group {
    /// One proposal per image.
    #[default]
    Image,
    /// One proposal for the whole fleet.
    Fleet,
}

/// When a proposal is merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Automerge {
    /// Never: a person merges.
    #[default]
    Never,
    /// When the hard rules say security improved (no CRITICAL, fewer findings).
    SecurityImproved,
    /// When the proposal passes the fleet's gate.
    GatePasses,
}

/// Where proposals go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForgeKind {
    /// A branch and commit pushed to the remote; merged by git itself.
    #[default]
    Git,
    /// A GitHub pull request.
    Github,
    /// A GitLab merge request.
    Gitlab,
}

/// `[update]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateSettings {
    /// Propose a new major version (or a new distribution codename).
    pub allow_major: bool,
    /// Propose newer tags, not only new digests of the same tag.
    pub tags: bool,
    /// Seconds a new digest must have been seen before it is proposed.
    pub min_age_secs: i64,
    /// Grouping.
    pub group: Group,
    /// Merge policy.
    pub automerge: Automerge,
    /// Where proposals go.
    pub forge: ForgeKind,
    /// Git remote to push to.
    pub remote: String,
    /// The branch proposals are made against (and merged into).
    pub base_branch: String,
    /// Branch names start with this.
    pub branch_prefix: String,
    /// Commit author, `Name <email>`.
    pub author: String,
    /// Add a `Signed-off-by:` trailer.
    pub signoff: bool,
    /// Labels on pull requests.
    pub labels: Vec<String>,
    /// The forge's API base URL (GitHub: `https://api.github.com`).
    pub api_url: Option<String>,
    /// `owner/name` (GitHub) or the project path (GitLab).
    pub project: Option<String>,
    /// The environment variable that holds the forge token.
    pub token_env: String,
}

impl Default for UpdateSettings {
    fn default() -> Self {
        UpdateSettings {
            allow_major: false,
            tags: true,
            min_age_secs: 0,
            group: Group::Image,
            automerge: Automerge::Never,
            forge: ForgeKind::Git,
            remote: "origin".into(),
            base_branch: "main".into(),
            branch_prefix: "safeimage/update/".into(),
            author: "safeimage <safeimage@localhost>".into(),
            signoff: false,
            labels: vec!["dependencies".into(), "security".into()],
            api_url: None,
            project: None,
            token_env: "SAFEIMAGE_FORGE_TOKEN".into(),
        }
    }
}

const KEYS: &[&str] = &[
    "allow_major",
    "tags",
    "min_age",
    "group",
    "automerge",
    "forge",
    "remote",
    "base_branch",
    "branch_prefix",
    "author",
    "signoff",
    "labels",
    "api_url",
    "project",
    "token_env",
];

pub use settings::parse_duration;

fn is_ref_safe(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.contains("..")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b))
}

/// Reads `[update]`.
pub fn read(v: &mut Reader<'_>, val: &Value<'_>) -> UpdateSettings {
    let mut s = UpdateSettings::default();
    let Some(t) = v.table(val, "update") else {
        return s;
    };
    for (k, x) in t {
        let what = format!("update.{}", k.name);
        match k.name.as_ref() {
            "allow_major" => s.allow_major = v.boolean(x, &what).unwrap_or(s.allow_major),
            "tags" => s.tags = v.boolean(x, &what).unwrap_or(s.tags),
            "signoff" => s.signoff = v.boolean(x, &what).unwrap_or(s.signoff),
            "min_age" => {
                if let Some(d) = v.string(x, &what) {
                    match parse_duration(&d) {
                        Some(secs) => s.min_age_secs = secs,
                        None => v.err(
                            x.span,
                            format!("`{what}`: `{d}` is not a duration (e.g. 3d, 12h, 30m, 0)"),
                        ),
                    }
                }
            }
            "group" => match v.string(x, &what).as_deref() {
                Some("image") => s.group = Group::Image,
                Some("fleet") => s.group = Group::Fleet,
                Some(o) => v.err(x.span, format!("`{what}`: `{o}` (expected image or fleet)")),
                None => {}
            },
            "automerge" => match v.string(x, &what).as_deref() {
                Some("never") => s.automerge = Automerge::Never,
                Some("security-improved") => s.automerge = Automerge::SecurityImproved,
                Some("gate-passes") => s.automerge = Automerge::GatePasses,
                Some(o) => v.err(
                    x.span,
                    format!("`{what}`: `{o}` (expected never, security-improved or gate-passes)"),
                ),
                None => {}
            },
            "forge" => match v.string(x, &what).as_deref() {
                Some("git") => s.forge = ForgeKind::Git,
                Some("github") => s.forge = ForgeKind::Github,
                Some("gitlab") => s.forge = ForgeKind::Gitlab,
                Some(o) => v.err(
                    x.span,
                    format!("`{what}`: `{o}` (expected git, github or gitlab)"),
                ),
                None => {}
            },
            "remote" | "base_branch" | "branch_prefix" => {
                if let Some(r) = v.string(x, &what) {
                    if !is_ref_safe(&r) {
                        v.err(x.span, format!("`{what}`: `{r}` is not a plain git name"));
                        continue;
                    }
                    match k.name.as_ref() {
                        "remote" => s.remote = r,
                        "base_branch" => s.base_branch = r,
                        _ => s.branch_prefix = r,
                    }
                }
            }
            "author" => {
                if let Some(a) = v.string(x, &what) {
                    if a.contains('<') && a.ends_with('>') && !a.contains('\n') {
                        s.author = a;
                    } else {
                        v.err(x.span, format!("`{what}`: expected `Name <email>`"));
                    }
                }
            }
            "labels" => s.labels = v.string_list(x, &what),
            "api_url" => s.api_url = v.string(x, &what),
            "project" => s.project = v.string(x, &what),
            "token_env" => {
                if let Some(e) = v.string(x, &what) {
                    s.token_env = e;
                }
            }
            other => v.unknown(k.span, "update", other, KEYS),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_days_hours_minutes() {
        assert_eq!(parse_duration("3d"), Some(3 * 86_400));
        assert_eq!(parse_duration("12h"), Some(43_200));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("3 days"), None);
        assert_eq!(parse_duration("d"), None);
    }

    fn read_text(text: &str) -> Result<UpdateSettings, String> {
        let mut doc = settings::Document::parse("f.toml", text);
        let val = doc.take("update").unwrap();
        let s = read(&mut doc.reader, &val);
        doc.finish().map(|()| s).map_err(|e| e.to_string())
    }

    #[test]
    fn the_section_is_read_strictly_with_file_and_line() {
        let s = read_text("[update]\nallow_major = true\nmin_age = \"3d\"\ngroup = \"fleet\"\nautomerge = \"security-improved\"\n").unwrap();
        assert!(s.allow_major);
        assert_eq!(s.min_age_secs, 3 * 86_400);
        assert_eq!(
            (s.group, s.automerge),
            (Group::Fleet, Automerge::SecurityImproved)
        );
        let e = read_text("[update]\nautomerge = \"always\"\n").unwrap_err();
        assert!(e.contains("f.toml:2"), "{e}");
        let e = read_text("[update]\nbranch_prefix = \"--upload-pack=x\"\n").unwrap_err();
        assert!(e.contains("not a plain git name"), "{e}");
        let e = read_text("[update]\nautomerg = \"never\"\n").unwrap_err();
        assert!(e.contains("automerg"), "{e}");
    }
}
