//! The fleet config (`safeimage.toml`): `[[image]]`, `[registry."HOST"]`,
//! `[engine]`, `[gate]`, `[scan]`, `[notify]`, `[store]`, `[report]`,
//! `[schedule]`, plus `[lint]`/`[policy]` (read by the `dockerfile` crate).
//! Validation is strict and complete: every unknown key and bad value is
//! reported at once with file:line:column. Relative paths are resolved
//! against the config file's directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dockerfile::{ConfigError, ConfigErrors, LintConfig};
use oci::{ImageRef, Platform};
use toml_span::{Span, Value};
use vulndb::Severity;

/// Which engine builds images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// `buildah bud` (default).
    #[default]
    Buildah,
    /// `docker buildx build` (BuildKit).
    Docker,
    /// `podman build`.
    Podman,
}

/// Gate settings (fleet-wide, overridable per image).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateSettings {
    /// Block at or above this severity (default HIGH).
    pub fail_on: Option<Severity>,
    /// Count only findings with a fix (default true).
    pub only_fixed: bool,
    /// Block a new finding at or above this severity vs the last promoted
    /// image (default CRITICAL).
    pub fail_on_new: Option<Severity>,
    /// Block when the total went up vs the last promoted image (default true).
    pub fail_on_increase: bool,
}

impl Default for GateSettings {
    fn default() -> Self {
        GateSettings {
            fail_on: Some(Severity::High),
            only_fixed: true,
            fail_on_new: Some(Severity::Critical),
            fail_on_increase: true,
        }
    }
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
    /// Gate settings for this image.
    pub gate: GateSettings,
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

/// Run outcomes notifications can be routed by.
pub const OUTCOMES: &[&str] = &["promoted", "blocked", "failed"];

/// A notification target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyTarget {
    /// Generic JSON webhook, optionally HMAC-SHA256 signed.
    Webhook {
        /// URL.
        url: String,
        /// Env var holding the HMAC secret.
        secret_env: Option<String>,
    },
    /// Slack incoming webhook.
    Slack {
        /// URL (a secret: redacted in logs).
        url: String,
    },
    /// Email over SMTP.
    Email {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// `starttls`, `tls` or `none`.
        security: String,
        /// From address.
        from: String,
        /// Recipients.
        to: Vec<String>,
        /// Env var with the SMTP username.
        username_env: Option<String>,
        /// Env var with the SMTP password.
        password_env: Option<String>,
    },
}

/// A notifier with its routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifier {
    /// Where.
    pub target: NotifyTarget,
    /// Send when any image has one of these outcomes (default: all).
    pub on: Vec<String>,
}

/// Scan settings for the run.
#[derive(Debug, Clone, Default)]
pub struct ScanSettings {
    /// Advisory DB (default: the cache's).
    pub db: Option<PathBuf>,
    /// Refuse an older DB (hours; 0 = no limit; default 120).
    pub max_age_hours: u64,
    /// Ignore files.
    pub ignore_files: Vec<PathBuf>,
    /// OpenVEX documents.
    pub vex: Vec<PathBuf>,
    /// Severity source priority.
    pub severity_source: Vec<String>,
}

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
    /// Fleet gate.
    pub gate: GateSettings,
    /// Scan settings.
    pub scan: ScanSettings,
    /// Notifiers.
    pub notify: Vec<Notifier>,
    /// SQLite state file.
    pub store: PathBuf,
    /// Audit log directory.
    pub audit_dir: PathBuf,
    /// Report directory.
    pub report_dir: PathBuf,
    /// Cron expression for a scheduler (`run` itself is one pass).
    pub schedule: Option<String>,
    /// Lint and base-image policy.
    pub lint: LintConfig,
}

use dockerfile::config::Reader as V;

fn severity(v: &mut V<'_>, x: &Value<'_>, what: &str) -> Option<Option<Severity>> {
    let s = v.string(x, what)?;
    if s == "none" || s.is_empty() {
        return Some(None);
    }
    match s.parse::<Severity>() {
        Ok(sev) => Some(Some(sev)),
        Err(e) => {
            v.err(x.span, format!("`{what}`: {e} (or \"none\")"));
            None
        }
    }
}

fn gate(v: &mut V<'_>, val: &Value<'_>, base: &GateSettings, section: &str) -> GateSettings {
    let mut g = base.clone();
    let Some(t) = val.as_table() else {
        v.err(val.span, format!("`{section}` must be a table"));
        return g;
    };
    const KEYS: &[&str] = &["fail_on", "only_fixed", "fail_on_new", "fail_on_increase"];
    for (k, x) in t {
        let what = format!("{section}.{}", k.name);
        match k.name.as_ref() {
            "fail_on" => {
                if let Some(s) = severity(v, x, &what) {
                    g.fail_on = s;
                }
            }
            "fail_on_new" => {
                if let Some(s) = severity(v, x, &what) {
                    g.fail_on_new = s;
                }
            }
            "only_fixed" => g.only_fixed = v.boolean(x, &what).unwrap_or(g.only_fixed),
            "fail_on_increase" => {
                g.fail_on_increase = v.boolean(x, &what).unwrap_or(g.fail_on_increase)
            }
            other => v.unknown(k.span, section, other, KEYS),
        }
    }
    g
}

fn resolve(dir: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    // Lexically drop `.` and `..` so reports show clean paths.
    let mut out = dir.to_path_buf();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
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
    let ok = !probe.is_empty()
        && probe.len() <= 128
        && probe
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && probe
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag `{t}` is not a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})"
        ))
    }
}

fn image(
    v: &mut V<'_>,
    dir: &Path,
    val: &Value<'_>,
    gate_base: &GateSettings,
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
    ];
    let (mut name, mut context, mut dockerfile, mut target) = (None, None, None, None);
    let (mut build_args, mut platforms, mut repository) = (BTreeMap::new(), Vec::new(), None);
    let mut tags = vec!["latest".to_string(), "{date}".to_string()];
    let (mut version, mut secrets, mut g) = (None, Vec::new(), gate_base.clone());
    let mut tags_span = val.span;
    let mut repository_given = false;
    for (k, x) in t {
        let what = format!("image.{}", k.name);
        match k.name.as_ref() {
            "name" => {
                name = v.string(x, &what);
                if let Some(n) = &name
                    && (n.is_empty()
                        || !n
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
                {
                    v.err(
                        x.span,
                        format!("image name `{n}`: use letters, digits, `-`, `_`, `.`"),
                    );
                }
            }
            "context" => context = v.string(x, &what).map(|s| resolve(dir, &s)),
            "dockerfile" => dockerfile = v.string(x, &what),
            "target" => target = v.string(x, &what),
            "version" => version = v.string(x, &what),
            "secrets" => secrets = v.string_list(x, &what),
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
                for (i, p) in v.string_list(x, &what).into_iter().enumerate() {
                    match p.parse::<Platform>() {
                        Ok(pl) => platforms.push(pl),
                        Err(e) => {
                            let span = x.as_array().map_or(x.span, |a| a[i].span);
                            v.err(span, format!("platform `{p}`: {e}"));
                        }
                    }
                }
                if platforms.len() > 1 {
                    v.err(x.span, "more than one platform per image is not supported yet (multi-platform indexes need emulation this machine lacks)");
                }
            }
            "repository" => {
                repository_given = true;
                if let Some(s) = v.string(x, &what) {
                    match s.parse::<ImageRef>() {
                        Ok(r) if r.tag().is_none() && r.digest().is_none() => repository = Some(r),
                        Ok(_) => v.err(x.span, format!("repository `{s}` must not have a tag or digest (tags come from `tags`)")),
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
            "gate" => g = gate(v, x, gate_base, "image.gate"),
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
        Some(d) => resolve(&context, &d),
        None => context.join("Dockerfile"),
    };
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
    })
}

fn notifier(v: &mut V<'_>, kind: &str, val: &Value<'_>) -> Option<Notifier> {
    let Some(t) = val.as_table() else {
        v.err(
            val.span,
            format!("`notify.{kind}` must be a table (or an array of tables)"),
        );
        return None;
    };
    let mut s: BTreeMap<String, (String, Span)> = BTreeMap::new();
    let mut lists: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let known: &[&str] = match kind {
        "webhook" => &["url", "secret_env", "on"],
        "slack" => &["url", "url_env", "on"],
        _ => &[
            "host",
            "port",
            "security",
            "from",
            "to",
            "username_env",
            "password_env",
            "on",
        ],
    };
    let mut port = None;
    for (k, x) in t {
        let what = format!("notify.{kind}.{}", k.name);
        if !known.contains(&k.name.as_ref()) {
            v.unknown(k.span, &format!("notify.{kind}"), &k.name, known);
            continue;
        }
        match k.name.as_ref() {
            "on" | "to" => {
                let l = v.string_list(x, &what);
                if k.name == "on" {
                    for o in &l {
                        if !OUTCOMES.contains(&o.as_str()) {
                            v.err(
                                x.span,
                                format!(
                                    "`{what}`: unknown outcome `{o}` (expected {})",
                                    OUTCOMES.join(", ")
                                ),
                            );
                        }
                    }
                }
                lists.insert(k.name.to_string(), l);
            }
            "port" => port = v.integer(x, &what),
            _ => {
                if let Some(st) = v.string(x, &what) {
                    s.insert(k.name.to_string(), (st, x.span));
                }
            }
        }
    }
    let on = lists
        .remove("on")
        .unwrap_or_else(|| OUTCOMES.iter().map(|s| s.to_string()).collect());
    let get = |k: &str| s.get(k).map(|x| x.0.clone());
    let target = match kind {
        "webhook" => NotifyTarget::Webhook {
            url: match get("url") {
                Some(u) => u,
                None => {
                    v.err(val.span, "`notify.webhook` needs a `url`");
                    return None;
                }
            },
            secret_env: get("secret_env"),
        },
        "slack" => {
            let url = match (get("url"), get("url_env")) {
                (Some(u), _) => u,
                (None, Some(e)) => match std::env::var(&e) {
                    Ok(u) => u,
                    Err(_) => {
                        v.err(
                            s["url_env"].1,
                            format!("`notify.slack.url_env`: environment variable {e} is not set"),
                        );
                        return None;
                    }
                },
                (None, None) => {
                    v.err(val.span, "`notify.slack` needs `url` or `url_env`");
                    return None;
                }
            };
            NotifyTarget::Slack { url }
        }
        _ => {
            let security = get("security").unwrap_or_else(|| "starttls".into());
            if !["starttls", "tls", "none"].contains(&security.as_str()) {
                v.err(
                    s["security"].1,
                    "`notify.email.security` must be starttls, tls or none",
                );
            }
            let (Some(host), Some(from)) = (get("host"), get("from")) else {
                v.err(val.span, "`notify.email` needs `host` and `from`");
                return None;
            };
            let to = lists.remove("to").unwrap_or_default();
            if to.is_empty() {
                v.err(
                    val.span,
                    "`notify.email` needs at least one address in `to`",
                );
            }
            let port = match port {
                Some(p) if (1..=65535).contains(&p) => p as u16,
                Some(_) => {
                    v.err(val.span, "`notify.email.port` must be 1-65535");
                    25
                }
                None if security == "tls" => 465,
                None if security == "starttls" => 587,
                None => 25,
            };
            NotifyTarget::Email {
                host,
                port,
                security,
                from,
                to,
                username_env: get("username_env"),
                password_env: get("password_env"),
            }
        }
    };
    Some(Notifier { target, on })
}

impl FleetConfig {
    /// Parse a fleet config.
    pub fn from_toml(path: &Path, text: &str) -> Result<FleetConfig, ConfigErrors> {
        let shown = path.display().to_string();
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        // Absolute paths in messages and reports, when the directory exists.
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        let mut v = V::new(&shown, text);
        // [lint] and [policy] first: their problems are reported with ours.
        let lint = match LintConfig::from_toml(&shown, text) {
            Ok(l) => l,
            Err(e) => {
                v.errors.extend(e.0);
                LintConfig::default()
            }
        };
        let root = match toml_span::parse(text) {
            Ok(r) => r,
            Err(_) => return Err(ConfigErrors(v.errors)),
        };
        let mut cfg = FleetConfig {
            path: path.to_path_buf(),
            images: Vec::new(),
            registries: BTreeMap::new(),
            engine: EngineKind::Buildah,
            gate: GateSettings::default(),
            scan: ScanSettings {
                max_age_hours: 120,
                severity_source: vec![
                    "vendor".into(),
                    "cvss_v4".into(),
                    "cvss_v3".into(),
                    "cvss_v2".into(),
                ],
                ..ScanSettings::default()
            },
            notify: Vec::new(),
            store: dir.join(".safeimage/state.db"),
            audit_dir: dir.join(".safeimage/audit"),
            report_dir: dir.join(".safeimage/reports"),
            schedule: None,
            lint,
        };
        let Some(top) = root.as_table() else {
            return Err(ConfigErrors(v.errors));
        };
        // [gate] before the images so per-image overrides start from it.
        if let Some((_, g)) = top.iter().find(|(k, _)| k.name == "gate") {
            cfg.gate = gate(&mut v, g, &GateSettings::default(), "gate");
        }
        let mut image_vals = None;
        for (k, val) in top {
            match k.name.as_ref() {
                "lint" | "policy" | "gate" => {}
                "image" => image_vals = Some(val),
                "registry" => match val.as_table() {
                    Some(t) => {
                        for (host, rv) in t {
                            let mut rs = RegistrySettings::default();
                            match rv.as_table() {
                                Some(rt) => {
                                    for (rk, rx) in rt {
                                        let what =
                                            format!("registry.\"{}\".{}", host.name, rk.name);
                                        match rk.name.as_ref() {
                                            "insecure" => {
                                                rs.insecure = v.boolean(rx, &what).unwrap_or(false)
                                            }
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
                            cfg.registries.insert(host.name.to_string(), rs);
                        }
                    }
                    None => v.err(
                        val.span,
                        "`registry` must be a table of [registry.\"HOST\"] tables",
                    ),
                },
                "engine" => match val.as_table() {
                    Some(t) => {
                        for (ek, ex) in t {
                            match ek.name.as_ref() {
                                "kind" => match v.string(ex, "engine.kind").as_deref() {
                                    Some("buildah") => cfg.engine = EngineKind::Buildah,
                                    Some("docker") | Some("buildx") | Some("buildkit") => cfg.engine = EngineKind::Docker,
                                    Some("podman") => cfg.engine = EngineKind::Podman,
                                    Some(o) => v.err(ex.span, format!("`engine.kind`: unknown engine `{o}` (expected buildah, docker or podman)")),
                                    None => {}
                                },
                                other => v.unknown(ek.span, "engine", other, &["kind"]),
                            }
                        }
                    }
                    None => v.err(val.span, "`engine` must be a table"),
                },
                "scan" => match val.as_table() {
                    Some(t) => {
                        for (sk, sx) in t {
                            let what = format!("scan.{}", sk.name);
                            match sk.name.as_ref() {
                                "db" => {
                                    cfg.scan.db = v.string(sx, &what).map(|s| resolve(&dir, &s))
                                }
                                "max_age_hours" => {
                                    if let Some(i) = v.integer(sx, &what) {
                                        if i < 0 {
                                            v.err(
                                                sx.span,
                                                "`scan.max_age_hours` must be 0 or more",
                                            );
                                        } else {
                                            cfg.scan.max_age_hours = i as u64;
                                        }
                                    }
                                }
                                "ignore_files" => {
                                    cfg.scan.ignore_files = v
                                        .string_list(sx, &what)
                                        .iter()
                                        .map(|s| resolve(&dir, s))
                                        .collect()
                                }
                                "vex" => {
                                    cfg.scan.vex = v
                                        .string_list(sx, &what)
                                        .iter()
                                        .map(|s| resolve(&dir, s))
                                        .collect()
                                }
                                "severity_source" => {
                                    let l = v.string_list(sx, &what);
                                    for s in &l {
                                        if let Err(e) = s.parse::<scan::severity::Source>() {
                                            v.err(sx.span, format!("`scan.severity_source`: {e}"));
                                        }
                                    }
                                    cfg.scan.severity_source = l;
                                }
                                other => v.unknown(
                                    sk.span,
                                    "scan",
                                    other,
                                    &[
                                        "db",
                                        "max_age_hours",
                                        "ignore_files",
                                        "vex",
                                        "severity_source",
                                    ],
                                ),
                            }
                        }
                    }
                    None => v.err(val.span, "`scan` must be a table"),
                },
                "notify" => match val.as_table() {
                    Some(t) => {
                        for (nk, nx) in t {
                            let kind = nk.name.as_ref();
                            if !["webhook", "slack", "email"].contains(&kind) {
                                v.unknown(nk.span, "notify", kind, &["webhook", "slack", "email"]);
                                continue;
                            }
                            match nx.as_array() {
                                Some(a) => {
                                    for item in a {
                                        if let Some(n) = notifier(&mut v, kind, item) {
                                            cfg.notify.push(n);
                                        }
                                    }
                                }
                                None => {
                                    if let Some(n) = notifier(&mut v, kind, nx) {
                                        cfg.notify.push(n);
                                    }
                                }
                            }
                        }
                    }
                    None => v.err(val.span, "`notify` must be a table"),
                },
                "store" => match val.as_table() {
                    Some(t) => {
                        for (sk, sx) in t {
                            let what = format!("store.{}", sk.name);
                            match sk.name.as_ref() {
                                "path" => {
                                    if let Some(p) = v.string(sx, &what) {
                                        cfg.store = resolve(&dir, &p);
                                    }
                                }
                                "audit_dir" => {
                                    if let Some(p) = v.string(sx, &what) {
                                        cfg.audit_dir = resolve(&dir, &p);
                                    }
                                }
                                "kind" => {
                                    if let Some(k) = v.string(sx, &what)
                                        && k != "sqlite"
                                    {
                                        v.err(sx.span, format!("`store.kind`: `{k}` is not available yet (only sqlite)"));
                                    }
                                }
                                other => v.unknown(
                                    sk.span,
                                    "store",
                                    other,
                                    &["kind", "path", "audit_dir"],
                                ),
                            }
                        }
                    }
                    None => v.err(val.span, "`store` must be a table"),
                },
                "report" => match val.as_table() {
                    Some(t) => {
                        for (rk, rx) in t {
                            match rk.name.as_ref() {
                                "dir" => {
                                    if let Some(p) = v.string(rx, "report.dir") {
                                        cfg.report_dir = resolve(&dir, &p);
                                    }
                                }
                                other => v.unknown(rk.span, "report", other, &["dir"]),
                            }
                        }
                    }
                    None => v.err(val.span, "`report` must be a table"),
                },
                "schedule" => match val.as_table() {
                    Some(t) => {
                        for (sk, sx) in t {
                            match sk.name.as_ref() {
                                "cron" => {
                                    if let Some(c) = v.string(sx, "schedule.cron") {
                                        if c.split_whitespace().count() != 5 {
                                            v.err(sx.span, format!("`schedule.cron`: `{c}` is not a 5-field cron expression"));
                                        }
                                        cfg.schedule = Some(c);
                                    }
                                }
                                other => v.unknown(sk.span, "schedule", other, &["cron"]),
                            }
                        }
                    }
                    None => v.err(val.span, "`schedule` must be a table"),
                },
                other if dockerfile::config::OTHER_SECTIONS.contains(&other) => {}
                other => v.err(k.span, format!("unknown top-level key `{other}`")),
            }
        }
        match image_vals {
            Some(val) => match val.as_array() {
                Some(a) => {
                    for item in a {
                        if let Some(img) = image(&mut v, &dir, item, &cfg.gate) {
                            if cfg.images.iter().any(|i| i.name == img.name) {
                                v.err(item.span, format!("duplicate image name `{}`", img.name));
                            }
                            cfg.images.push(img);
                        }
                    }
                }
                None => v.err(val.span, "images are declared as [[image]] tables"),
            },
            None => v.errors.push(ConfigError {
                path: shown.clone(),
                line: 1,
                column: 1,
                message: "no [[image]] declared".into(),
            }),
        }
        v.errors.sort_by_key(|e| (e.line, e.column));
        if v.errors.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigErrors(v.errors))
        }
    }

    /// Read and parse a fleet config file.
    pub fn load(path: &Path) -> Result<FleetConfig, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                path: path.display().to_string(),
                line: 0,
                column: 0,
                message: format!("cannot read: {e}"),
            }])
        })?;
        Self::from_toml(path, &text)
    }

    /// Registry options for the client: insecure hosts and env credentials.
    pub fn registry_options(&self) -> Result<oci::source::RegistryOptions, String> {
        let mut o = oci::source::RegistryOptions::default();
        for (host, r) in &self.registries {
            if r.insecure {
                o.insecure.push(host.clone());
            }
            if let (Some(u), Some(p)) = (&r.username_env, &r.password_env) {
                let user = std::env::var(u)
                    .map_err(|_| format!("registry {host}: environment variable {u} is not set"))?;
                let pass = std::env::var(p)
                    .map_err(|_| format!("registry {host}: environment variable {p} is not set"))?;
                o.basic_auth.insert(host.clone(), (user, pass));
            }
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

[notify.webhook]
url = "http://127.0.0.1:9/hook"
on = ["promoted", "exploded"]

[engine]
kind = "kaniko"
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
        assert!(all.contains("unknown outcome `exploded`"), "{all}");
        assert!(all.contains("unknown engine `kaniko`"), "{all}");
        assert!(msgs.len() >= 7, "{all}");
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
[image.gate]
fail_on = "critical"
"#;
        let c = FleetConfig::from_toml(Path::new("/srv/fleet/safeimage.toml"), text).unwrap();
        assert_eq!(c.images[0].context, Path::new("/srv/fleet/fleet/api"));
        assert_eq!(
            c.images[0].dockerfile,
            Path::new("/srv/fleet/fleet/api/Dockerfile")
        );
        assert_eq!(c.images[0].tags, vec!["latest", "{date}"]);
        assert_eq!(c.images[0].gate, GateSettings::default());
        assert_eq!(
            c.images[1].dockerfile,
            Path::new("/abs/worker/Containerfile")
        );
        assert_eq!(c.images[1].gate.fail_on, Some(Severity::Critical));
        assert!(c.images[1].gate.only_fixed);
        assert_eq!(c.store, Path::new("/srv/fleet/.safeimage/state.db"));
        assert_eq!(c.engine, EngineKind::Buildah);
    }
}
