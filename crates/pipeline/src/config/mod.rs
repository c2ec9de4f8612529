//! The fleet config (`safeimage.toml`), parsed once. Each section is read
//! by the crate that owns it, from one `settings::Document`: `[lint]` and
//! `[policy]` by `dockerfile`, `[scan]` and `[gate]` by `scan`, `[notify]` by
//! `notify`, `[secrets]` by `secrets`, `[sign]` and `[[base_signatures]]` by
//! `provenance`, `[image.harden]` by `harden`, `[store]` by `store`,
//! `[registry."HOST"]` by `oci`. This module reads the fleet (`[[image]]`,
//! in [`image`]) and the run's own settings (`[engine]`, `[report]`,
//! `[schedule]`), and keeps what the run builds and writes inside the
//! config's directory unless told otherwise. Any other top-level key is
//! unknown; every problem is reported at once with file:line:column.
//! Relative paths are resolved against the config file's directory.

mod image;

use std::path::{Path, PathBuf};

use dockerfile::LintConfig;
use scan::gate::Gate;
use scan::settings::ScanSettings;
use settings::{ConfigError, ConfigErrors, Document, Reader, Value};

pub use harden::settings::HardenSpec;
pub use image::{ImageSpec, Rebuild, is_tag};
pub use provenance::settings::{BaseSignatures, SignSpec};

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

/// The whole fleet config.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The file.
    pub path: PathBuf,
    /// Images.
    pub images: Vec<ImageSpec>,
    /// `[registry."HOST"]` (read by `oci`).
    pub registries: oci::settings::Registries,
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
    /// `[store]` (read by `store`).
    pub store: store::settings::StoreSettings,
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
    /// `[update]`: base-image update proposals (read by `update`).
    pub update: update::settings::UpdateSettings,
    /// `[sla]`: patch deadlines by severity (read by `store`).
    pub sla: store::sla::Sla,
    /// `[issues]`: one security issue per image (read by `issues`).
    pub issues: crate::issues::IssueSettings,
}

type V<'t> = Reader<'t>;

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
            registries: Default::default(),
            engine: EngineKind::Buildah,
            engine_program: None,
            gate: Gate::daily(),
            scan,
            notify,
            store: store::settings::StoreSettings::defaults(&dir),
            report_dir: dir.join(".safeimage/reports"),
            schedule: None,
            lint,
            secrets: Default::default(),
            sign: None,
            base_signatures: Vec::new(),
            update: Default::default(),
            sla: Default::default(),
            issues: Default::default(),
        };
        let issues_val = doc.take("issues");
        cfg.issues = crate::issues::IssueSettings::read(&mut doc.reader, issues_val.as_ref());
        let sla_val = doc.take("sla");
        cfg.sla = store::sla::Sla::read(&mut doc.reader, sla_val.as_ref());
        if let Some(x) = doc.take("update") {
            cfg.update = update::settings::read(&mut doc.reader, &x);
        }
        if let Some(x) = doc.take("sign") {
            cfg.sign = provenance::settings::read_sign(&mut doc.reader, &dir, &x);
        }
        if let Some(x) = doc.take("base_signatures") {
            cfg.base_signatures =
                provenance::settings::read_base_signatures(&mut doc.reader, &dir, &x);
        }
        if let Some(s) = doc.take("secrets") {
            cfg.secrets = secrets::settings::Settings::read(&mut doc.reader, &s, &dir);
        }
        if let Some(g) = doc.take("gate") {
            cfg.gate = Gate::read(&mut doc.reader, &g, &Gate::daily(), "gate");
        }
        if let Some(r) = doc.take("registry") {
            cfg.registries = oci::settings::read(&mut doc.reader, &r);
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
        let store_val = doc.take("store");
        cfg.store = store::settings::StoreSettings::read(&mut doc.reader, &dir, store_val.as_ref());
        let mut report_span = settings::Span::new(0, 0);
        if let Some(r) = doc.take("report") {
            each_key(&mut doc.reader, &r, "report", &["dir"], |v, _, x| {
                if let Some(p) = v.string(x, "report.dir") {
                    cfg.report_dir = settings::resolve_path(&dir, &p);
                    report_span = x.span;
                }
            });
        }
        // where the run writes: a link (a committed `.safeimage -> /etc`)
        // or a path out of the directory would write outside it
        if !opts.allow_outside_root {
            let written = [
                ("store.path", cfg.store.path_span, &cfg.store.path),
                (
                    "store.audit_dir",
                    cfg.store.audit_dir_span,
                    &cfg.store.audit_dir,
                ),
                ("report.dir", report_span, &cfg.report_dir),
            ];
            for (what, span, path) in written {
                if !inside(&dir, path) {
                    doc.reader.err(
                        span,
                        format!(
                            "`{what}` {} is outside the config's directory {} (a link, or a path out of it: the run would write there): give `safeimage run --allow-outside-root` if this config is trusted",
                            path.display(),
                            dir.display()
                        ),
                    );
                }
            }
        }
        // `[serve]` is read by the `serve` crate (`safeimage serve`)
        let _ = doc.take("serve");
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
                        if let Some(img) = image::image(
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

    /// Opens the state store (`[store]`, read by the `store` crate).
    pub fn open_store(
        &self,
    ) -> Result<Box<dyn store::StateStore>, store::settings::OpenStoreError> {
        self.store.open()
    }

    /// Registry options for the client: insecure hosts and env credentials.
    pub fn registry_options(
        &self,
    ) -> Result<oci::source::RegistryOptions, oci::settings::MissingCredential> {
        oci::settings::options(&self.registries)
    }
}

#[cfg(test)]
mod tests;
