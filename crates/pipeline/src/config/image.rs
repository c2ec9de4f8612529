//! `[[image]]`: one image of the fleet, read strictly (every problem at
//! file:line:column) — its context and Dockerfile (kept inside the
//! config's directory), build settings, repository and tag templates, its
//! own gate and base-image policy over the fleet's; `[image.harden]` is
//! handed to the `harden` crate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci::{ImageRef, Platform};
use scan::gate::Gate;
use settings::{Reader, Value};

use super::{LoadOptions, inside, outside};

type V<'t> = Reader<'t>;

/// When an image is rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rebuild {
    /// Every run, from the newest bases (default).
    #[default]
    Always,
    /// Only when a base digest or the build inputs (Dockerfile, build
    /// args, context files) changed since the last promotion.
    OnChange,
}

/// One image of the fleet.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// Name (unique; used by `--only`, the store and the audit log).
    pub name: model::ImageName,
    /// Build context.
    pub context: PathBuf,
    /// Dockerfile (default `context/Dockerfile`).
    pub dockerfile: PathBuf,
    /// Build target stage.
    pub target: Option<String>,
    /// Build args.
    pub build_args: BTreeMap<String, String>,
    /// Platforms (default: this machine's).
    pub platforms: Vec<Platform>,
    /// Destination repository (no tag).
    pub repository: ImageRef,
    /// Tag templates (`latest`, `{date}`, `{git_sha}`, `{version}-r{n}`).
    pub tags: Vec<String>,
    /// Declared version, for `{version}`.
    pub version: Option<String>,
    /// Build secrets (`id=NAME,src=FILE`), mounted only where a RUN asks.
    pub secrets: Vec<String>,
    /// Gate for this image.
    pub gate: Gate,
    /// The base-image policy for this image when it has its own
    /// (`[image.policy.base_images]` over the fleet's); `None`: the fleet's.
    pub policy: Option<dockerfile::policy::Policy>,
    /// When to rebuild.
    pub rebuild: Rebuild,
    /// Harden the built image before it is scanned (`[image.harden]`).
    pub harden: Option<harden::settings::HardenSpec>,
}

impl ImageSpec {
    /// The platforms it is built for (this machine's when none are configured).
    pub fn platforms(&self) -> Vec<Platform> {
        if self.platforms.is_empty() {
            vec![Platform::host()]
        } else {
            self.platforms.clone()
        }
    }
}

fn tag_template_ok(t: &str) -> Result<(), String> {
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        let Some(j) = rest[i..].find('}') else {
            return Err(format!("tag `{t}`: unclosed `{{`"));
        };
        let var = &rest[i + 1..i + j];
        if !["date", "git_sha", "version", "n"].contains(&var) {
            return Err(format!(
                "tag `{t}`: unknown variable `{{{var}}}` (expected {{date}}, {{git_sha}}, {{version}}, {{n}})"
            ));
        }
        rest = &rest[i + j + 1..];
    }
    let probe = t
        .replace("{date}", "20260101")
        .replace("{git_sha}", "abc1234")
        .replace("{version}", "1.0")
        .replace("{n}", "1");
    if is_tag(&probe) {
        Ok(())
    } else {
        Err(format!(
            "tag `{t}` is not a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})"
        ))
    }
}

/// Whether `s` is a valid tag (the distribution reference grammar).
pub fn is_tag(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

pub(super) fn image(
    v: &mut V<'_>,
    dir: &Path,
    val: &Value<'_>,
    gate_base: &Gate,
    policy_base: Option<&dockerfile::policy::Policy>,
    opts: &LoadOptions,
) -> Option<ImageSpec> {
    let Some(t) = val.as_table() else {
        v.err(val.span, "each [[image]] must be a table");
        return None;
    };
    const KEYS: &[&str] = &[
        "name",
        "context",
        "dockerfile",
        "target",
        "build_args",
        "platforms",
        "repository",
        "tags",
        "version",
        "secrets",
        "gate",
        "policy",
        "rebuild",
        "harden",
    ];
    let (mut name, mut context, mut dockerfile, mut target) = (None, None, None, None);
    let (mut build_args, mut platforms, mut repository) = (BTreeMap::new(), Vec::new(), None);
    let mut tags = vec!["latest".to_string(), "{date}".to_string()];
    let (mut version, mut secrets, mut g) = (None, Vec::new(), gate_base.clone());
    let mut rebuild = Rebuild::Always;
    let mut policy = None;
    let mut harden = None;
    let mut tags_span = val.span;
    let mut dockerfile_span = None;
    let mut repository_given = false;
    for (k, x) in t {
        let what = format!("image.{}", k.name);
        match k.name.as_ref() {
            "name" => {
                name = v.string(x, &what);
                if let Some(n) = &name
                    && !(n.len() <= 128
                        && n.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                        && n.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
                {
                    v.err(
                        x.span,
                        format!(
                            "image name `{n}`: start with a letter or digit, then letters, digits, `-`, `_`, `.` (at most 128)"
                        ),
                    );
                }
            }
            "context" => {
                context = v.string(x, &what).map(|s| settings::resolve_path(dir, &s));
                if let Some(c) = &context
                    && !opts.allow_outside_root
                    && !inside(dir, c)
                {
                    v.err(x.span, outside("image.context", c, dir));
                }
            }
            "dockerfile" => {
                dockerfile = v.string(x, &what);
                dockerfile_span = Some(x.span);
            }
            "target" => target = v.string(x, &what),
            "version" => {
                version = v.string(x, &what);
                if let Some(ver) = &version
                    && !is_tag(ver)
                {
                    v.err(
                        x.span,
                        format!("version `{ver}` cannot be part of a tag (use letters, digits, `_`, `.`, `-`)"),
                    );
                }
            }
            "secrets" => {
                // a build secret's file is read by the engine into the build:
                // its path is resolved here, against the config's directory,
                // and must stay in it like the context
                secrets = v
                    .string_list(x, &what)
                    .into_iter()
                    .map(|spec| {
                        let mut parts = Vec::new();
                        for part in spec.split(',') {
                            match part.split_once('=') {
                                Some((k @ ("src" | "source"), p)) => {
                                    let abs = settings::resolve_path(dir, p);
                                    if !opts.allow_outside_root && !inside(dir, &abs) {
                                        v.err(x.span, outside("image.secrets", &abs, dir));
                                    }
                                    parts.push(format!("{k}={}", abs.display()));
                                }
                                _ => parts.push(part.to_string()),
                            }
                        }
                        parts.join(",")
                    })
                    .collect()
            }
            "rebuild" => match v.string(x, &what).as_deref() {
                Some("always") => rebuild = Rebuild::Always,
                Some("on-change") => rebuild = Rebuild::OnChange,
                Some(o) => v.err(
                    x.span,
                    format!("`image.rebuild`: `{o}` (expected always or on-change)"),
                ),
                None => {}
            },
            "build_args" => match x.as_table() {
                Some(bt) => {
                    for (bk, bv) in bt {
                        if let Some(s) = v.string(bv, &format!("image.build_args.{}", bk.name)) {
                            build_args.insert(bk.name.to_string(), s);
                        }
                    }
                }
                None => v.err(
                    x.span,
                    "`image.build_args` must be a table of NAME = \"value\"",
                ),
            },
            "platforms" => {
                for (p, span) in v.strings(x, &what) {
                    match p.parse::<Platform>() {
                        Ok(pl) => platforms.push(pl),
                        Err(e) => v.err(span, format!("platform `{p}`: {e}")),
                    }
                }
                let mut seen = Vec::new();
                for p in &platforms {
                    if seen.contains(&p) {
                        v.err(x.span, format!("platform `{p}` is listed twice"));
                    }
                    seen.push(p);
                }
            }
            "repository" => {
                repository_given = true;
                if let Some(s) = v.string(x, &what) {
                    match s.parse::<ImageRef>() {
                        Ok(r) if r.tag().is_none() && r.digest().is_none() => repository = Some(r),
                        Ok(_) => v.err(
                            x.span,
                            format!("repository `{s}` must not have a tag or digest (tags come from `tags`)"),
                        ),
                        Err(e) => v.err(x.span, format!("repository `{s}`: {e}")),
                    }
                }
            }
            "tags" => {
                tags_span = x.span;
                tags = v.string_list(x, &what);
                if tags.is_empty() {
                    v.err(x.span, "`image.tags` needs at least one tag");
                }
                for t in &tags {
                    if let Err(e) = tag_template_ok(t) {
                        v.err(x.span, e);
                    }
                }
            }
            "gate" => g = Gate::read(v, x, gate_base, "image.gate"),
            "policy" => {
                policy = dockerfile::config::read_policy(
                    v,
                    x,
                    policy_base.cloned(),
                    "image.policy",
                    true,
                )
            }
            "harden" => harden = harden::settings::read(v, dir, x),
            other => v.unknown(k.span, "[image]", other, KEYS),
        }
    }
    let Some(name) = name else {
        v.err(val.span, "[[image]] needs a `name`");
        return None;
    };
    let Some(context) = context else {
        v.err(val.span, format!("image `{name}` needs a `context`"));
        return None;
    };
    let Some(repository) = repository else {
        if !repository_given {
            v.err(val.span, format!("image `{name}` needs a `repository`"));
        }
        return None;
    };
    if tags.iter().any(|t| t.contains("{version}")) && version.is_none() {
        v.err(
            tags_span,
            format!("image `{name}`: a tag uses {{version}} but no `version` is declared"),
        );
    }
    let dockerfile = match dockerfile {
        Some(d) => settings::resolve_path(&context, &d),
        None => context.join("Dockerfile"),
    };
    if !opts.allow_outside_root && !inside(dir, &dockerfile) && inside(dir, &context) {
        v.err(
            dockerfile_span.unwrap_or(val.span),
            outside("image.dockerfile", &dockerfile, dir),
        );
    }
    Some(ImageSpec {
        name: model::ImageName::new(name),
        context,
        dockerfile,
        target,
        build_args,
        platforms,
        repository,
        tags,
        version,
        secrets,
        gate: g,
        policy,
        rebuild,
        harden,
    })
}
