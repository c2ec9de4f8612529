//! The fleet config (`safeimage.toml`), parsed once: this module reads
//! `[[image]]`, `[registry."HOST"]`, `[engine]`, `[gate]`, `[store]`,
//! `[report]` and `[schedule]`, and hands `[lint]`/`[policy]` to the
//! `dockerfile` crate, `[scan]` to `scan` and `[notify]` to `notify`; any
//! other top-level key is unknown. Validation is strict and complete: every
//! problem is reported at once with file:line:column. Relative paths are
//! resolved against the config file's directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dockerfile::LintConfig;
use oci::{ImageRef, Platform};
use scan::gate::Gate;
use scan::settings::ScanSettings;
use settings::{ConfigError, ConfigErrors, Document, Reader, Value};

/// Which engine builds images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// `buildah bud` (default).
    #[default]
    Buildah,
    /// BuildKit through `docker build` (`docker buildx build` when present).
    Docker,
    /// `podman build`.
    Podman,
}

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
    pub name: String,
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
    pub harden: Option<HardenSpec>,
}

/// `[image.harden]`: the built image is made minimal and non-root, and
/// that is what gets scanned, gated, pushed and tagged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardenSpec {
    /// The program the image runs.
    pub entrypoint: String,
    /// More paths to keep.
    pub keep: Vec<String>,
    /// Who it runs as.
    pub user: harden::User,
    /// Smoke checks (`cmd:ARGS`, `http:PORT[/PATH]`).
    pub checks: Vec<harden::Check>,
    /// Seconds per check.
    pub check_timeout: u64,
    /// Also push a `-debug` sibling with a static busybox (its tags get `-debug`).
    pub debug_variant: bool,
    /// The static busybox for it.
    pub busybox: PathBuf,
}

/// `[sign]`: the key every promoted digest is signed with (cosign's
/// format), and what is attached, each signed, as referrers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignSpec {
    /// The cosign private key.
    pub key: PathBuf,
    /// The variable holding its password.
    pub password_env: String,
    /// Predicate types to attach (SBOM, provenance, scan summary, gate).
    pub attach: Vec<String>,
}

/// One `[[base_signatures]]` rule: bases matching `images` must carry a
/// valid signature by one of `keys`, or the image is not built.
#[derive(Debug, Clone)]
pub struct BaseSignatures {
    /// Patterns over `registry/repository` (as in the base-image policy).
    pub images: Vec<dockerfile::policy::Pattern>,
    /// The public keys, read when the config is.
    pub keys: Vec<provenance::PublicKey>,
    /// Accept a signature made for another repository (a mirror of a
    /// signed upstream); otherwise the signed repository must be the base's.
    pub allow_other_repository: bool,
}

fn sign_spec(v: &mut V<'_>, dir: &Path, val: &Value<'_>) -> Option<SignSpec> {
    let t = v.table(val, "sign")?;
    const KEYS: &[&str] = &["key", "password_env", "attach"];
    let mut key = None;
    let mut spec = SignSpec {
        key: PathBuf::new(),
        password_env: settings::env::COSIGN_PASSWORD.name.to_string(),
        attach: ["sbom", "provenance", "vuln", "gate"]
            .iter()
            .filter_map(|n| provenance::predicate::by_name(n))
            .map(str::to_string)
            .collect(),
    };
    for (k, x) in t {
        let what = format!("sign.{}", k.name);
        match k.name.as_ref() {
            "key" => key = v.string(x, &what).map(|p| settings::resolve_path(dir, &p)),
            "password_env" => {
                if let Some(e) = v.string(x, &what) {
                    spec.password_env = e;
                }
            }
            "attach" => {
                spec.attach.clear();
                for (n, span) in v.strings(x, &what) {
                    match provenance::predicate::by_name(&n) {
                        Some(t) => spec.attach.push(t.to_string()),
                        None => v.err(
                            span,
                            format!("`{what}`: unknown attachment `{n}` (expected sbom, provenance, vuln, gate)"),
                        ),
                    }
                }
            }
            other => v.unknown(k.span, "sign", other, KEYS),
        }
    }
    match key {
        Some(k) => {
            spec.key = k;
            Some(spec)
        }
        None => {
            v.err(val.span, "`[sign]` needs `key` (a cosign private key file)");
            None
        }
    }
}

fn base_signatures(v: &mut V<'_>, dir: &Path, val: &Value<'_>) -> Vec<BaseSignatures> {
    let Some(items) = val.as_array() else {
        v.err(
            val.span,
            "`base_signatures` must be an array of tables ([[base_signatures]])",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(t) = v.table(item, "base_signatures") else {
            continue;
        };
        let mut rule = BaseSignatures {
            images: Vec::new(),
            keys: Vec::new(),
            allow_other_repository: false,
        };
        for (k, x) in t {
            let what = format!("base_signatures.{}", k.name);
            match k.name.as_ref() {
                "images" => {
                    for (s, span) in v.strings(x, &what) {
                        match dockerfile::policy::Pattern::new(&s) {
                            Ok(p) => rule.images.push(p),
                            Err(e) => v.err(span, e.to_string()),
                        }
                    }
                }
                "keys" => {
                    for (s, span) in v.strings(x, &what) {
                        match provenance::keys::load_public(&settings::resolve_path(dir, &s)) {
                            Ok(k) => rule.keys.push(k),
                            Err(e) => v.err(span, format!("`{what}`: {e}")),
                        }
                    }
                }
                "allow_other_repository" => {
                    if let Some(b) = v.boolean(x, &what) {
                        rule.allow_other_repository = b;
                    }
                }
                other => v.unknown(
                    k.span,
                    "base_signatures",
                    other,
                    &["images", "keys", "allow_other_repository"],
                ),
            }
        }
        if rule.images.is_empty() || rule.keys.is_empty() {
            v.err(
                item.span,
                "each [[base_signatures]] needs `images` and `keys`",
            );
            continue;
        }
        out.push(rule);
    }
    out
}

fn harden_spec(v: &mut V<'_>, dir: &Path, val: &Value<'_>) -> Option<HardenSpec> {
    let t = v.table(val, "image.harden")?;
    const KEYS: &[&str] = &[
        "entrypoint",
        "keep",
        "user",
        "checks",
        "check_timeout",
        "debug_variant",
        "busybox",
    ];
    let mut entrypoint = None;
    let mut h = HardenSpec {
        entrypoint: String::new(),
        keep: Vec::new(),
        user: harden::DEFAULT_USER,
        checks: Vec::new(),
        check_timeout: 30,
        debug_variant: false,
        busybox: PathBuf::from("/bin/busybox"),
    };
    for (k, x) in t {
        let what = format!("image.harden.{}", k.name);
        match k.name.as_ref() {
            "entrypoint" => entrypoint = v.string(x, &what),
            "keep" => h.keep = v.string_list(x, &what),
            "user" => {
                if let Some(u) = v.parsed(x, &what) {
                    h.user = u;
                }
            }
            "checks" => {
                for (c, span) in v.strings(x, &what) {
                    match c.parse::<harden::Check>() {
                        Ok(c) => h.checks.push(c),
                        Err(e) => v.err(span, format!("`{what}`: {e}")),
                    }
                }
            }
            "check_timeout" => match v.integer(x, &what) {
                Some(n) if (1..=3600).contains(&n) => h.check_timeout = n as u64,
                Some(_) => v.err(
                    x.span,
                    "`image.harden.check_timeout` must be 1 to 3600 seconds",
                ),
                None => {}
            },
            "debug_variant" => h.debug_variant = v.boolean(x, &what).unwrap_or(false),
            "busybox" => {
                if let Some(b) = v.string(x, &what) {
                    h.busybox = settings::resolve_path(dir, &b);
                }
            }
            other => v.unknown(k.span, "[image.harden]", other, KEYS),
        }
    }
    match entrypoint {
        Some(e) if e.starts_with('/') => h.entrypoint = e,
        Some(e) => {
            v.err(
                val.span,
                format!("`image.harden.entrypoint` `{e}` must be an absolute path in the image"),
            );
            return None;
        }
        None => {
            v.err(
                val.span,
                "[image.harden] needs an `entrypoint` (the program the image runs)",
            );
            return None;
        }
    }
    Some(h)
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

/// A registry's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrySettings {
    /// Plain HTTP (loopback hosts always are).
    pub insecure: bool,
    /// Environment variable holding the username.
    pub username_env: Option<String>,
    /// Environment variable holding the password or token.
    pub password_env: Option<String>,
}

/// A credential variable the config names is not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("registry {host}: environment variable {var} is not set")]
pub struct MissingCredential {
    /// Registry host.
    pub host: String,
    /// The variable.
    pub var: String,
}

/// The store cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenStoreError {
    /// The audit key.
    #[error(transparent)]
    Key(#[from] AuditKeyError),
    /// The store.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// The audit key cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuditKeyError(pub String);

/// The whole fleet config.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The file.
    pub path: PathBuf,
    /// Images.
    pub images: Vec<ImageSpec>,
    /// Registries by host.
    pub registries: BTreeMap<String, RegistrySettings>,
    /// Engine.
    pub engine: EngineKind,
    /// The engine's program, when not the default on PATH: from the
    /// command line or SAFEIMAGE_ENGINE_PROGRAM, never from the file.
    pub engine_program: Option<PathBuf>,
    /// Fleet gate (images start from it).
    pub gate: Gate,
    /// `[scan]`.
    pub scan: ScanSettings,
    /// `[notify]`.
    pub notify: Vec<notify::Route>,
    /// SQLite state file.
    pub store: PathBuf,
    /// PostgreSQL URL (`[store] url`); `SAFEIMAGE_STORE_URL` wins.
    pub store_url: Option<String>,
    /// Audit log directory.
    pub audit_dir: PathBuf,
    /// Environment variable holding the audit log's HMAC key.
    pub audit_key_env: Option<String>,
    /// How long an image's lease lasts without a heartbeat (seconds).
    pub lease_seconds: u64,
    /// Report directory.
    pub report_dir: PathBuf,
    /// Cron expression for a scheduler (`run` itself is one pass).
    pub schedule: Option<String>,
    /// `[lint]` and `[policy]`.
    pub lint: LintConfig,
    /// `[secrets]`.
    pub secrets: secrets::settings::Settings,
    /// `[sign]`: sign every promoted digest and attach signed evidence.
    pub sign: Option<SignSpec>,
    /// `[[base_signatures]]`: base images that must be signed, and by whom.
    pub base_signatures: Vec<BaseSignatures>,
}

type V<'t> = Reader<'t>;

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

/// How a fleet config is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Let `context` and `dockerfile` leave the config's directory
    /// (`run --allow-outside-root`); by default a config, which may come
    /// from a pull request, cannot send host files to a build.
    pub allow_outside_root: bool,
}

/// Whether `path` (resolved against `dir`) stays inside `dir`, with the
/// links of its existing part followed.
pub fn inside(dir: &Path, path: &Path) -> bool {
    if !path.starts_with(dir) {
        return false;
    }
    // the deepest part of `path` that exists, links followed, must still be
    // in the directory (a part above the directory, when the directory
    // itself does not exist, leaves only the lexical check)
    let mut p = path;
    while p.symlink_metadata().is_err() {
        match p.parent() {
            Some(parent) => p = parent,
            None => return true,
        }
    }
    if !p.starts_with(dir) {
        return true;
    }
    let canon_dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    // a dangling link does not canonicalize: not inside
    std::fs::canonicalize(p).is_ok_and(|real| real.starts_with(&canon_dir))
}

fn outside(what: &str, path: &Path, dir: &Path) -> String {
    format!(
        "`{what}` {} is outside the config's directory {} (a config from a pull request could send any host directory to a build): give `safeimage run --allow-outside-root` if this config is trusted",
        path.display(),
        dir.display()
    )
}

fn image(
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
            "harden" => harden = harden_spec(v, dir, x),
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
        name,
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

fn is_host(h: &str) -> bool {
    let (host, port) = match h.rsplit_once(':') {
        Some((a, p)) if !a.ends_with(']') || h.starts_with('[') => (a, Some(p)),
        _ => (h, None),
    };
    port.is_none_or(|p| p.parse::<u16>().is_ok())
        && !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.[]:".contains(c))
}

fn registries(v: &mut V<'_>, val: &Value<'_>) -> BTreeMap<String, RegistrySettings> {
    let mut out = BTreeMap::new();
    let Some(t) = val.as_table() else {
        v.err(
            val.span,
            "`registry` must be a table of [registry.\"HOST\"] tables",
        );
        return out;
    };
    for (host, rv) in t {
        if !is_host(&host.name) {
            v.err(
                host.span,
                format!("registry `{}` is not a HOST[:PORT]", host.name),
            );
        }
        let mut rs = RegistrySettings::default();
        match rv.as_table() {
            Some(rt) => {
                for (rk, rx) in rt {
                    let what = format!("registry.\"{}\".{}", host.name, rk.name);
                    match rk.name.as_ref() {
                        "insecure" => rs.insecure = v.boolean(rx, &what).unwrap_or(false),
                        "username_env" => rs.username_env = v.string(rx, &what),
                        "password_env" => rs.password_env = v.string(rx, &what),
                        other => v.unknown(
                            rk.span,
                            &format!("registry.\"{}\"", host.name),
                            other,
                            &["insecure", "username_env", "password_env"],
                        ),
                    }
                }
            }
            None => v.err(rv.span, "`registry.\"HOST\"` must be a table"),
        }
        if rs.username_env.is_some() != rs.password_env.is_some() {
            v.err(
                rv.span,
                format!(
                    "registry \"{}\": set both username_env and password_env",
                    host.name
                ),
            );
        }
        out.insert(host.name.to_string(), rs);
    }
    out
}

fn each_key<'a>(
    v: &mut V<'_>,
    val: &'a Value<'a>,
    section: &str,
    known: &[&str],
    mut f: impl FnMut(&mut V<'_>, &str, &'a Value<'a>),
) {
    let Some(t) = v.table(val, section) else {
        return;
    };
    for (k, x) in t {
        if known.contains(&k.name.as_ref()) {
            f(v, &k.name, x);
        } else {
            v.unknown(k.span, section, &k.name, known);
        }
    }
}

impl FleetConfig {
    /// Reads every section of a parsed config; images may be absent (the
    /// `lint` command reads the same file).
    pub fn read(path: &Path, doc: &mut Document<'_>) -> FleetConfig {
        Self::read_with(path, doc, &LoadOptions::default())
    }

    /// [`FleetConfig::read`] with options.
    pub fn read_with(path: &Path, doc: &mut Document<'_>, opts: &LoadOptions) -> FleetConfig {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        // Absolute paths in messages and reports, when the directory exists.
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        let lint = LintConfig::read(doc);
        let scan = ScanSettings::read(doc, &dir);
        let notify = notify::read(doc);
        let mut cfg = FleetConfig {
            path: path.to_path_buf(),
            images: Vec::new(),
            registries: BTreeMap::new(),
            engine: EngineKind::Buildah,
            engine_program: None,
            gate: Gate::daily(),
            scan,
            notify,
            store: dir.join(".safeimage/state.db"),
            store_url: None,
            audit_dir: dir.join(".safeimage/audit"),
            audit_key_env: None,
            lease_seconds: 900,
            report_dir: dir.join(".safeimage/reports"),
            schedule: None,
            lint,
            secrets: Default::default(),
            sign: None,
            base_signatures: Vec::new(),
        };
        if let Some(x) = doc.take("sign") {
            cfg.sign = sign_spec(&mut doc.reader, &dir, &x);
        }
        if let Some(x) = doc.take("base_signatures") {
            cfg.base_signatures = base_signatures(&mut doc.reader, &dir, &x);
        }
        if let Some(s) = doc.take("secrets") {
            cfg.secrets = secrets::settings::Settings::read(&mut doc.reader, &s, &dir);
        }
        if let Some(g) = doc.take("gate") {
            cfg.gate = Gate::read(&mut doc.reader, &g, &Gate::daily(), "gate");
        }
        if let Some(r) = doc.take("registry") {
            cfg.registries = registries(&mut doc.reader, &r);
        }
        if let Some(e) = doc.take("engine") {
            each_key(
                &mut doc.reader,
                &e,
                "engine",
                &["kind", "program"],
                |v, k, x| {
                    if k == "program" {
                        v.err(
                            x.span,
                            "`engine.program` is not read from the config file (a config from a pull request could name any program): give `safeimage run --engine-program PATH` or set SAFEIMAGE_ENGINE_PROGRAM",
                        );
                        return;
                    }
                    match v.string(x, "engine.kind").as_deref() {
                    Some("buildah") => cfg.engine = EngineKind::Buildah,
                    Some("docker" | "buildx" | "buildkit") => cfg.engine = EngineKind::Docker,
                    Some("podman") => cfg.engine = EngineKind::Podman,
                    Some(o) => v.err(
                        x.span,
                        format!(
                            "`engine.kind`: unknown engine `{o}` (expected buildah, docker or podman)"
                        ),
                    ),
                    None => {}
                }
                },
            );
        }
        // the places the run writes, with where the config set them
        let mut written = [
            ("store.path", settings::Span::new(0, 0)),
            ("store.audit_dir", settings::Span::new(0, 0)),
            ("report.dir", settings::Span::new(0, 0)),
        ];
        if let Some(s) = doc.take("store") {
            each_key(
                &mut doc.reader,
                &s,
                "store",
                &[
                    "kind",
                    "path",
                    "url",
                    "audit_dir",
                    "audit_key_env",
                    "lease_seconds",
                ],
                |v, k, x| {
                    let what = format!("store.{k}");
                    match k {
                        "url" => {
                            if let Some(u) = v.string(x, &what) {
                                if u.starts_with("postgres://") || u.starts_with("postgresql://") {
                                    cfg.store_url = Some(u);
                                } else {
                                    v.err(x.span, "`store.url` must be a postgres:// URL (SQLite uses `path`)");
                                }
                            }
                        }
                        "lease_seconds" => match v.integer(x, &what) {
                            Some(n) if (3..=86_400).contains(&n) => cfg.lease_seconds = n as u64,
                            Some(_) => v.err(x.span, "`store.lease_seconds` must be 3 to 86400"),
                            None => {}
                        },
                        "audit_key_env" => cfg.audit_key_env = v.string(x, &what),
                        "path" => {
                            if let Some(p) = v.string(x, &what) {
                                cfg.store = settings::resolve_path(&dir, &p);
                                written[0].1 = x.span;
                            }
                        }
                        "audit_dir" => {
                            if let Some(p) = v.string(x, &what) {
                                cfg.audit_dir = settings::resolve_path(&dir, &p);
                                written[1].1 = x.span;
                            }
                        }
                        _ => match v.string(x, &what).as_deref() {
                            Some("sqlite" | "postgres") | None => {}
                            Some(k) => v.err(
                                x.span,
                                format!("`store.kind`: `{k}` (expected sqlite or postgres)"),
                            ),
                        },
                    }
                },
            );
        }
        if let Some(r) = doc.take("report") {
            each_key(&mut doc.reader, &r, "report", &["dir"], |v, _, x| {
                if let Some(p) = v.string(x, "report.dir") {
                    cfg.report_dir = settings::resolve_path(&dir, &p);
                    written[2].1 = x.span;
                }
            });
        }
        // where the run writes: a link (a committed `.safeimage -> /etc`)
        // or a path out of the directory would write outside it
        if !opts.allow_outside_root {
            for ((what, span), path) in
                written
                    .iter()
                    .zip([&cfg.store, &cfg.audit_dir, &cfg.report_dir])
            {
                if !inside(&dir, path) {
                    doc.reader.err(
                        *span,
                        format!(
                            "`{what}` {} is outside the config's directory {} (a link, or a path out of it: the run would write there): give `safeimage run --allow-outside-root` if this config is trusted",
                            path.display(),
                            dir.display()
                        ),
                    );
                }
            }
        }
        if let Some(s) = doc.take("schedule") {
            each_key(&mut doc.reader, &s, "schedule", &["cron"], |v, _, x| {
                if let Some(c) = v.string(x, "schedule.cron") {
                    if c.split_whitespace().count() != 5 {
                        v.err(
                            x.span,
                            format!("`schedule.cron`: `{c}` is not a 5-field cron expression"),
                        );
                    }
                    cfg.schedule = Some(c);
                }
            });
        }
        if let Some(val) = doc.take("image") {
            match val.as_array() {
                Some(a) => {
                    for item in a {
                        if let Some(img) = image(
                            &mut doc.reader,
                            &dir,
                            item,
                            &cfg.gate,
                            cfg.lint.policy.as_ref(),
                            opts,
                        ) {
                            if cfg.images.iter().any(|i| i.name == img.name) {
                                doc.reader
                                    .err(item.span, format!("duplicate image name `{}`", img.name));
                            }
                            cfg.images.push(img);
                        }
                    }
                }
                None => doc
                    .reader
                    .err(val.span, "images are declared as [[image]] tables"),
            }
        }
        cfg
    }

    /// Parses a config text; every problem at once.
    pub fn from_toml(path: &Path, text: &str) -> Result<FleetConfig, ConfigErrors> {
        Self::from_toml_with(path, text, &LoadOptions::default())
    }

    /// [`FleetConfig::from_toml`] with options.
    pub fn from_toml_with(
        path: &Path,
        text: &str,
        opts: &LoadOptions,
    ) -> Result<FleetConfig, ConfigErrors> {
        let shown = path.display().to_string();
        let mut doc = Document::parse(&shown, text);
        let cfg = Self::read_with(path, &mut doc, opts);
        doc.finish().map(|()| cfg)
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<FleetConfig, ConfigErrors> {
        Self::load_with(path, &LoadOptions::default())
    }

    /// [`FleetConfig::load`] with options.
    pub fn load_with(path: &Path, opts: &LoadOptions) -> Result<FleetConfig, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::file(path.display().to_string(), format!("cannot read: {e}"))
        })?;
        Self::from_toml_with(path, &text, opts)
    }

    /// Reads a config the daily run can use: at least one image.
    pub fn load_fleet(path: &Path) -> Result<FleetConfig, ConfigErrors> {
        Self::load_fleet_with(path, &LoadOptions::default())
    }

    /// [`FleetConfig::load_fleet`] with options.
    pub fn load_fleet_with(path: &Path, opts: &LoadOptions) -> Result<FleetConfig, ConfigErrors> {
        let cfg = Self::load_with(path, opts)?;
        if cfg.images.is_empty() {
            return Err(ConfigErrors(vec![ConfigError {
                path: path.display().to_string(),
                line: 1,
                column: 1,
                message: "no [[image]] declared".into(),
            }]));
        }
        Ok(cfg)
    }

    /// Opens the state store: PostgreSQL when `SAFEIMAGE_STORE_URL` or
    /// `[store] url` gives one, else the SQLite file; with the audit key.
    pub fn open_store(&self) -> Result<Box<dyn store::StateStore>, OpenStoreError> {
        let key = self.audit_key()?;
        Ok(match self.postgres_url() {
            Some(url) => Box::new(store::Postgres::connect(&url)?.with_audit_key(key)),
            None => {
                Box::new(store::Sqlite::open(&self.store, &self.audit_dir)?.with_audit_key(key))
            }
        })
    }

    /// The store to verify, opened without changing it.
    pub fn open_store_read_only(&self) -> Result<Box<dyn store::StateStore>, OpenStoreError> {
        Ok(match self.postgres_url() {
            Some(url) => Box::new(store::Postgres::connect(&url)?),
            None => Box::new(store::Sqlite::open_read_only(&self.store, &self.audit_dir)?),
        })
    }

    /// The PostgreSQL URL, if the state lives in PostgreSQL.
    pub fn postgres_url(&self) -> Option<String> {
        settings::env::SAFEIMAGE_STORE_URL
            .get()
            .or_else(|| self.store_url.clone())
    }

    /// The audit key, when `[store] audit_key_env` names one.
    pub fn audit_key(&self) -> Result<Option<store::audit::AuditKey>, AuditKeyError> {
        let Some(var) = &self.audit_key_env else {
            return Ok(None);
        };
        let value = settings::env::named(var).ok_or_else(|| {
            AuditKeyError(format!(
                "[store] audit_key_env: environment variable {var} is not set"
            ))
        })?;
        store::audit::AuditKey::new(value.into_bytes())
            .map(Some)
            .ok_or_else(|| {
                AuditKeyError(format!(
                    "[store] audit_key_env: {var} must hold at least 16 bytes"
                ))
            })
    }

    /// Registry options for the client: insecure hosts and env credentials.
    pub fn registry_options(&self) -> Result<oci::source::RegistryOptions, MissingCredential> {
        let mut o = oci::source::RegistryOptions::default();
        for (host, r) in &self.registries {
            if r.insecure {
                o.insecure.push(host.clone());
            }
            if let (Some(u), Some(p)) = (&r.username_env, &r.password_env) {
                let get = |var: &str| {
                    settings::env::named(var).ok_or_else(|| MissingCredential {
                        host: host.clone(),
                        var: var.to_string(),
                    })
                };
                o.basic_auth.insert(host.clone(), (get(u)?, get(p)?));
            }
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vulndb::Severity;

    #[test]
    fn every_problem_at_once_with_lines() {
        let text = r#"
[gate]
fail_on = "severe"

[[image]]
name = "api"
context = "fleet/api"
repository = "127.0.0.1:5000/examples/api:1"
tags = ["latest", "{date}", "{nope}"]
colour = "blue"

[[image]]
context = "x"

[[image]]
name = ".."
context = "x"
repository = "127.0.0.1:5000/examples/dots"
version = "1.0/../../other"

[notify.webhook]
url = "http://127.0.0.1:9/hook"
on = ["promoted", "exploded"]

[engine]
kind = "kaniko"

[bogus]
"#;
        let e = FleetConfig::from_toml(Path::new("/etc/fleet.toml"), text).unwrap_err();
        let msgs: Vec<String> = e.0.iter().map(|x| x.to_string()).collect();
        let all = msgs.join("\n");
        assert!(
            all.contains("/etc/fleet.toml:3:12: `gate.fail_on`"),
            "{all}"
        );
        assert!(
            all.contains(":8:15: repository `127.0.0.1:5000/examples/api:1` must not have a tag"),
            "{all}"
        );
        assert!(all.contains("unknown variable `{nope}`"), "{all}");
        assert!(all.contains(":10:1: unknown key `colour`"), "{all}");
        assert!(all.contains("[[image]] needs a `name`"), "{all}");
        assert!(all.contains("image name `..`"), "{all}");
        assert!(
            all.contains("version `1.0/../../other` cannot be part of a tag"),
            "{all}"
        );
        assert!(all.contains("unknown outcome `exploded`"), "{all}");
        assert!(all.contains("unknown engine `kaniko`"), "{all}");
        assert!(
            all.contains(":28:2: unknown top-level key `bogus`"),
            "{all}"
        );
        assert!(msgs.len() >= 10, "{all}");
    }

    #[test]
    fn defaults_and_relative_paths() {
        let text = r#"
[[image]]
name = "api"
context = "fleet/api"
repository = "127.0.0.1:5000/examples/api"

[[image]]
name = "worker"
context = "/abs/worker"
dockerfile = "Containerfile"
repository = "127.0.0.1:5000/examples/worker"
tags = ["latest", "{version}-r{n}"]
version = "2.1"
rebuild = "on-change"
[image.gate]
fail_on = "critical"
"#;
        // /abs/worker is outside the config's directory: only when allowed
        let e = FleetConfig::from_toml(Path::new("/srv/fleet/safeimage.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                ":9:12: `image.context` /abs/worker is outside the config's directory /srv/fleet"
            ) && e.contains("--allow-outside-root"),
            "{e}"
        );
        let c = FleetConfig::from_toml_with(
            Path::new("/srv/fleet/safeimage.toml"),
            text,
            &LoadOptions {
                allow_outside_root: true,
            },
        )
        .unwrap();
        assert_eq!(c.images[0].context, Path::new("/srv/fleet/fleet/api"));
        assert_eq!(
            c.images[0].dockerfile,
            Path::new("/srv/fleet/fleet/api/Dockerfile")
        );
        assert_eq!(c.images[0].tags, vec!["latest", "{date}"]);
        assert_eq!(c.images[0].gate, Gate::daily());
        assert_eq!(c.images[0].rebuild, Rebuild::Always);
        assert_eq!(
            c.images[1].dockerfile,
            Path::new("/abs/worker/Containerfile")
        );
        assert_eq!(c.images[1].gate.fail_on, Some(Severity::Critical));
        assert!(c.images[1].gate.only_fixed);
        assert_eq!(c.images[1].rebuild, Rebuild::OnChange);
        assert_eq!(c.store, Path::new("/srv/fleet/.safeimage/state.db"));
        assert_eq!(c.engine, EngineKind::Buildah);
        assert_eq!(c.scan.max_age_hours, 120);
    }

    #[test]
    fn a_hostile_config_cannot_name_a_program_or_send_host_files_to_a_build() {
        let d = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(d.path()).unwrap();
        std::fs::create_dir(dir.join("app")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("linked")).unwrap();
        let text = r#"
[engine]
program = "/tmp/evil"

[[image]]
name = "root"
context = "/"
repository = "r.example/a"

[[image]]
name = "up"
context = "app/../.."
repository = "r.example/b"

[[image]]
name = "link"
context = "linked"
repository = "r.example/c"

[[image]]
name = "df"
context = "app"
dockerfile = "../../../etc/passwd"
repository = "r.example/d"

[[image]]
name = "fine"
context = "app"
repository = "r.example/e"
"#;
        let path = dir.join("safeimage.toml");
        let e = FleetConfig::from_toml(&path, text).unwrap_err().to_string();
        assert!(
            e.contains(":3:12: `engine.program` is not read from the config file"),
            "{e}"
        );
        for (line, what) in [
            (7, "context` /"),
            (12, "context`"),
            (17, "context`"),
            (23, "dockerfile`"),
        ] {
            assert!(
                e.contains(&format!(":{line}:")) && e.contains(&format!("`image.{what}")),
                "line {line}: {e}"
            );
        }
        assert_eq!(
            e.matches("is outside the config's directory").count(),
            4,
            "{e}"
        );
        assert!(!e.contains("r.example/e"), "{e}");
    }

    #[test]
    fn a_committed_link_cannot_redirect_where_the_run_writes() {
        let d = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(d.path()).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.join("app")).unwrap();
        // the repository ships `.safeimage` as a link out of it
        std::os::unix::fs::symlink(elsewhere.path(), dir.join(".safeimage")).unwrap();
        let text = "[[image]]\nname = \"a\"\ncontext = \"app\"\nrepository = \"r.example/a\"\n";
        let e = FleetConfig::from_toml(&dir.join("safeimage.toml"), text)
            .unwrap_err()
            .to_string();
        for what in ["store.path", "store.audit_dir", "report.dir"] {
            assert!(
                e.contains(&format!("`{what}` {}/.safeimage", dir.display())),
                "{what}: {e}"
            );
        }
        // a path out of the directory, given in the file, is named where it is
        let text = format!("{text}\n[report]\ndir = \"/etc/cron.d\"\n");
        std::fs::remove_file(dir.join(".safeimage")).unwrap();
        let e = FleetConfig::from_toml(&dir.join("safeimage.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(":7:8: `report.dir` /etc/cron.d is outside"),
            "{e}"
        );
        assert_eq!(e.matches("is outside").count(), 1, "{e}");
    }

    #[test]
    fn an_image_policy_overlays_the_fleet_s_and_is_checked_like_it() {
        let text = r#"
[policy.base_images]
preferred = ["debian"]
require_digest = true

[[image]]
name = "api"
context = "api"
repository = "127.0.0.1:5000/examples/api"

[[image]]
name = "legacy"
context = "legacy"
repository = "127.0.0.1:5000/examples/legacy"
[image.policy.base_images]
permitted = ["node"]
require_digest = false
"#;
        let c = FleetConfig::from_toml(Path::new("/srv/safeimage.toml"), text).unwrap();
        assert!(c.images[0].policy.is_none(), "the fleet's");
        let p = c.images[1].policy.as_ref().unwrap();
        assert!(!p.require_digest);
        assert_eq!(p.tiers.len(), 1, "the fleet's tiers stay");
        assert_eq!(p.image_tiers.len(), 1);
        let bad = "[[image]]\nname = \"x\"\ncontext = \"x\"\nrepository = \"r.example/x\"\n[image.policy.base_images]\ndefault_tier = \"banned\"\ncolour = 1\n";
        let e = FleetConfig::from_toml(Path::new("/srv/f.toml"), bad)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "/srv/f.toml:6:17: `image.policy.base_images.default_tier`: unknown tier `banned`"
            ),
            "{e}"
        );
        assert!(
            e.contains("/srv/f.toml:7:1: unknown key `image.policy.base_images.colour`"),
            "{e}"
        );
    }

    #[test]
    fn no_images_is_an_error_for_the_run_only() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("safeimage.toml");
        std::fs::write(&p, "[lint]\nfailure_threshold = \"error\"\n").unwrap();
        assert!(FleetConfig::load(&p).is_ok());
        let e = FleetConfig::load_fleet(&p).unwrap_err().to_string();
        assert!(e.contains("no [[image]] declared"), "{e}");
    }
}
