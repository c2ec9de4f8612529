//! Hardening: an image made into a minimal, non-root image that still runs
//! and can still be scanned, statically (no tracing of a running
//! container).
//!
//! - [`plan`]: what is kept: the entrypoint's ELF closure ([`elf`]: the
//!   interpreter, `DT_NEEDED`, RPATH/RUNPATH with `$ORIGIN`, `ld.so.conf`),
//!   `--keep` paths, well-known run-time modules, the service's config
//!   directories ([`packages`]), system files and reduced accounts
//!   ([`accounts`]); never shells, package managers, su/sudo or compilers;
//! - [`packages`]: package records of kept files written back for scanners;
//! - [`check`]: smoke checks of the hardened root as the image's user, in
//!   the `sandbox` crate's sandbox;
//! - [`output`]: the layer, the config and the OCI layout (and the `-debug`
//!   sibling with a static busybox).
//!
//! [`harden`] runs them in that order and writes nothing unless every check
//! passed.

pub mod accounts;
pub mod check;
pub mod elf;
pub mod output;
pub mod packages;
pub mod plan;
pub mod settings;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use oci::layer::EntryKind;
use oci::tree::FileTree;

pub use check::Check;
pub use plan::{Kept, Plan, Spec, User};

/// The uid and gid a hardened image runs as unless told otherwise.
pub const DEFAULT_USER: User = User::Id(65532, 65532);

/// Label naming the image a hardened image was made from.
pub const LABEL_FROM: &str = "dev.safeimage.hardened.from";

/// Why an image could not be hardened.
#[derive(Debug, thiserror::Error)]
pub enum HardenError {
    /// A path the image does not have.
    #[error("/{path}: not in the image")]
    Missing {
        /// Path.
        path: String,
    },
    /// The entrypoint is not an ELF program.
    #[error(
        "/{path}: not an ELF program (a script needs a shell, which a hardened image does not carry); name the program it runs"
    )]
    NotElf {
        /// Path.
        path: String,
    },
    /// A malformed ELF file.
    #[error("/{path}: malformed ELF file: {reason}")]
    BadElf {
        /// Path.
        path: String,
        /// Why.
        reason: String,
    },
    /// A library the loader would not find.
    #[error("{name}, needed by /{needed_by}, is not in the image (searched {})", searched.join(", "))]
    Library {
        /// The library.
        name: String,
        /// Who needs it.
        needed_by: String,
        /// Where it was looked for.
        searched: Vec<String>,
    },
    /// Too many symbolic links.
    #[error("/{path}: too many levels of symbolic links (a loop?)")]
    SymlinkLoop {
        /// Path.
        path: String,
    },
    /// A keep path outside the root.
    #[error("keep path `{path}` leaves the image root")]
    Escape {
        /// Path.
        path: String,
    },
    /// A shell, package manager, su/sudo or compiler was asked for.
    #[error(
        "/{path}: a hardened image never carries shells, package managers, su/sudo or compilers (the -debug variant has a shell)"
    )]
    Denied {
        /// Path.
        path: String,
    },
    /// A user name without a passwd file.
    #[error(
        "/etc/passwd: not in the image, so user `{user}` cannot be looked up (give a numeric UID[:GID])"
    )]
    NoPasswd {
        /// The name.
        user: String,
    },
    /// A user name not in passwd.
    #[error("/etc/passwd: no usable user `{user}`")]
    UnknownUser {
        /// The name.
        user: String,
    },
    /// A smoke check failed.
    #[error("check {check} failed: {reason}")]
    Check {
        /// The check.
        check: String,
        /// Why.
        reason: String,
    },
    /// The debug variant's busybox.
    #[error("{}: {reason}", path.display())]
    Busybox {
        /// Path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Writing.
    #[error("{}: {source}", path.display())]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// How to harden.
#[derive(Debug, Clone)]
pub struct Options {
    /// What to keep and who runs it.
    pub spec: Spec,
    /// Smoke checks; all must pass.
    pub checks: Vec<Check>,
    /// Time allowed per check.
    pub check_timeout: Duration,
    /// A static busybox for the `-debug` sibling (none: no sibling).
    pub busybox: Option<Vec<u8>>,
}

/// Sizes of an image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Sizes {
    /// Compressed layer bytes (what a pull downloads).
    pub compressed: u64,
    /// Uncompressed layer bytes.
    pub uncompressed: u64,
}

/// What hardening did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The source as named.
    pub source: String,
    /// Its manifest digest.
    pub source_digest: Option<String>,
    /// The program analysed.
    pub entrypoint: String,
    /// `uid:gid`.
    pub user: String,
    /// Before.
    pub before: Sizes,
    /// After.
    pub after: Sizes,
    /// The `-debug` sibling.
    pub debug: Option<Sizes>,
    /// Paths kept (files and links).
    pub files: usize,
    /// Packages owning kept files (name, version).
    pub packages: Vec<(String, String)>,
    /// Checks passed, with what they printed or answered.
    pub checks: Vec<(String, String)>,
    /// What was left out or changed.
    pub notes: Vec<String>,
    /// The hardened manifest digest.
    pub digest: String,
    /// The `-debug` sibling's manifest digest.
    pub debug_digest: Option<String>,
    /// Entrypoint and Cmd of the result.
    pub entrypoint_cmd: Vec<String>,
    /// Cmd of the result.
    pub cmd: Vec<String>,
}

/// Reads a static busybox for the debug sibling and checks it fits the
/// image's architecture.
pub fn read_busybox(path: &Path, platform: &oci::Platform) -> Result<Vec<u8>, HardenError> {
    let bad = |reason: String| HardenError::Busybox {
        path: path.to_path_buf(),
        reason,
    };
    let data = std::fs::read(path).map_err(|e| {
        bad(format!(
            "{e} (the debug variant needs a static busybox: apt-get install busybox-static, or --busybox PATH)"
        ))
    })?;
    let info = elf::parse(&data)
        .map_err(bad)?
        .ok_or_else(|| bad("not an ELF program".into()))?;
    if !info.is_static() {
        return Err(bad(
            "not statically linked (Debian's busybox-static is)".into()
        ));
    }
    let machine = match platform.architecture.as_str() {
        "amd64" => Some(object::elf::EM_X86_64),
        "arm64" => Some(object::elf::EM_AARCH64),
        "386" => Some(object::elf::EM_386),
        "arm" => Some(object::elf::EM_ARM),
        "ppc64le" => Some(object::elf::EM_PPC64),
        "s390x" => Some(object::elf::EM_S390),
        "riscv64" => Some(object::elf::EM_RISCV),
        _ => None,
    };
    if machine.is_some_and(|m| m.0 != info.machine) {
        return Err(bad(format!(
            "built for another architecture than the image's {}",
            platform.architecture
        )));
    }
    Ok(data)
}

/// The program `name` runs (a path, or looked up in the image's `PATH`),
/// resolved to its real path.
fn program(tree: &FileTree, env: &[String], name: &str) -> Option<String> {
    if name.contains('/') {
        return tree.resolve(name);
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':').find_map(|d| {
        let real = tree.resolve(&format!("{}/{name}", d.trim_matches('/')))?;
        matches!(
            tree.get(&real).map(|n| &n.kind),
            Some(EntryKind::File | EntryKind::Hardlink { .. })
        )
        .then_some(real)
    })
}

/// The hardened image's Entrypoint and Cmd: the source's when they already
/// run the entrypoint; otherwise the entrypoint itself, with the source's
/// Cmd (minus its first word when that names the entrypoint).
pub fn command(
    tree: &FileTree,
    source: &oci::image::ImageConfig,
    entrypoint: &str,
) -> output::Command {
    let c = source.config.clone().unwrap_or_default();
    let env = c.env.clone().unwrap_or_default();
    let ep = c.entrypoint.clone().unwrap_or_default();
    let cmd = c.cmd.clone().unwrap_or_default();
    let target = tree.resolve(entrypoint);
    let runs = |w: Option<&String>| {
        w.and_then(|w| program(tree, &env, w))
            .is_some_and(|r| Some(r) == target)
    };
    if runs(ep.first()) || (ep.is_empty() && runs(cmd.first())) {
        return output::Command {
            entrypoint: ep,
            cmd,
        };
    }
    let rest = if runs(cmd.first()) {
        cmd[1..].to_vec()
    } else {
        cmd
    };
    output::Command {
        entrypoint: vec![format!("/{}", entrypoint.trim_start_matches('/'))],
        cmd: rest,
    }
}

/// Every path of a base image's tree as kept entries.
pub fn base_entries(tree: &FileTree) -> BTreeMap<String, Kept> {
    tree.iter()
        .filter_map(|(p, n)| {
            let k = match &n.kind {
                EntryKind::Dir => Kept::Dir {
                    mode: n.mode & 0o1777,
                    owner: (0, 0),
                },
                EntryKind::File | EntryKind::Hardlink { .. } => Kept::File {
                    mode: n.mode & 0o1777,
                    data: n.content.clone().unwrap_or_else(|| Arc::new(Vec::new())),
                },
                EntryKind::Symlink { target } => Kept::Symlink {
                    target: target.clone(),
                },
                _ => return None,
            };
            Some((p.to_string(), k))
        })
        .collect()
}

/// The result of [`harden`].
#[derive(Debug)]
pub struct Hardened {
    /// The report.
    pub report: Report,
    /// The manifest digest of the hardened image.
    pub digest: oci::Digest,
    /// The `-debug` sibling's.
    pub debug_digest: Option<oci::Digest>,
}

/// Hardens the analysed image (every file captured) into the OCI layout
/// `layout` under `tag`, on top of `base` (an analysed image whose files
/// come first) or scratch; the `-debug` sibling goes into `debug_layout`
/// (tagged `tag`) or, without one, into `layout` as `TAG-debug`. Checks run
/// in the sandbox, on a copy of the root in its own scratch directory;
/// nothing is written at `layout` unless all pass.
pub fn harden(
    a: &oci::Analysis,
    base: Option<&oci::Analysis>,
    opts: &Options,
    layout: &Path,
    tag: &str,
    debug_layout: Option<&Path>,
) -> Result<Hardened, HardenError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| HardenError::Io { path, source }
    };
    let mut spec = opts.spec.clone();
    let cfg = &a.image.config;
    spec.env = cfg
        .config
        .as_ref()
        .and_then(|c| c.env.clone())
        .unwrap_or_default();
    let mut plan = plan::plan(&a.tree, &spec)?;
    if let Some(b) = base {
        let mut merged = base_entries(&b.tree);
        merged.extend(std::mem::take(&mut plan.entries));
        plan.entries = merged;
    }
    let entry = spec.entrypoint.trim_start_matches('/').to_string();
    let cmd = command(&a.tree, cfg, &entry);
    // Smoke checks in the sandbox.
    let mut checks = Vec::new();
    if let Some(first) = opts.checks.first() {
        let failed = |e: sandbox::SandboxError| HardenError::Check {
            check: first.to_string(),
            reason: e.to_string(),
        };
        let helper = sandbox::Sandbox::locate().map_err(failed)?;
        let scratch = sandbox::Scratch::new().map_err(failed)?;
        let writable = check::materialize(&plan, &scratch).map_err(failed)?;
        let env = spec.env.clone();
        let workdir = cfg
            .config
            .as_ref()
            .and_then(|c| c.working_dir.clone())
            .unwrap_or_default();
        let runner = check::Runner {
            sandbox: &helper,
            scratch: &scratch,
            writable: &writable,
            user: plan.user,
            env: &env,
            workdir: &workdir,
            timeout: opts.check_timeout,
        };
        let argv: Vec<String> = cmd.entrypoint.iter().chain(&cmd.cmd).cloned().collect();
        for c in &opts.checks {
            let said = runner.run(c, &entry, &argv)?;
            checks.push((c.to_string(), said));
        }
    }
    // The layout: written beside, moved into place at the end.
    let parent = layout
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".harden-")
        .tempdir_in(parent)
        .map_err(io(parent))?;
    let out = staging.path().join("layout");
    let source_digest = a.image.manifest_digest.as_ref().map(ToString::to_string);
    let from = source_digest
        .clone()
        .unwrap_or_else(|| a.image.source.clone());
    let mut labels = BTreeMap::new();
    labels.insert(LABEL_FROM.to_string(), from.clone());
    labels.insert(
        "dev.safeimage.hardened.entrypoint".to_string(),
        format!("/{entry}"),
    );
    let mut annotations = labels.clone();
    if let Some(d) = &source_digest {
        annotations.insert("org.opencontainers.image.base.digest".into(), d.clone());
    }
    let created_by = format!("safeimage harden --entrypoint /{entry} from {from}");
    let layer = output::layer_tar(&plan.entries).map_err(io(&out))?;
    let config = output::config(cfg, &plan, &cmd, &labels, &created_by, false);
    let (digest, written) =
        output::write_image(&out, false, &[&layer], config, tag, &annotations).map_err(io(&out))?;
    let mut debug = None;
    if let Some(bb) = &opts.busybox {
        let dl = output::debug_tar(bb).map_err(io(&out))?;
        let mut labels = labels.clone();
        labels.insert("dev.safeimage.hardened.variant".into(), "debug".into());
        let config = output::config(cfg, &plan, &cmd, &labels, &created_by, true);
        debug = Some(match debug_layout {
            None => output::write_image(
                &out,
                true,
                &[&layer, &dl],
                config,
                &format!("{tag}-debug"),
                &annotations,
            )
            .map_err(io(&out))?,
            Some(_) => {
                let d = staging.path().join("debug");
                output::write_image(&d, false, &[&layer, &dl], config, tag, &annotations)
                    .map_err(io(&d))?
            }
        });
    }
    if layout.exists() {
        std::fs::remove_dir_all(layout).map_err(io(layout))?;
    }
    std::fs::rename(&out, layout).map_err(io(layout))?;
    if let (Some(dl), Some(_)) = (debug_layout, &debug) {
        if dl.exists() {
            std::fs::remove_dir_all(dl).map_err(io(dl))?;
        }
        std::fs::rename(staging.path().join("debug"), dl).map_err(io(dl))?;
    }
    let before = Sizes {
        compressed: a.image.layers.iter().map(|l| l.size).sum(),
        uncompressed: a
            .layers
            .iter()
            .map(|r| {
                r.entries
                    .iter()
                    .map(|e| e.size.div_ceil(512) * 512 + 512)
                    .sum::<u64>()
            })
            .sum(),
    };
    let report = Report {
        source: a.image.source.clone(),
        source_digest,
        entrypoint: format!("/{entry}"),
        user: format!("{}:{}", plan.user.0, plan.user.1),
        before,
        after: Sizes {
            compressed: written.compressed,
            uncompressed: written.uncompressed,
        },
        debug: debug.as_ref().map(|(_, w)| Sizes {
            compressed: w.compressed,
            uncompressed: w.uncompressed,
        }),
        files: plan
            .entries
            .values()
            .filter(|k| !matches!(k, Kept::Dir { .. }))
            .count(),
        packages: plan.packages.clone(),
        checks,
        notes: plan.notes.clone(),
        digest: digest.to_string(),
        debug_digest: debug.as_ref().map(|(d, _)| d.to_string()),
        entrypoint_cmd: cmd.entrypoint.clone(),
        cmd: cmd.cmd.clone(),
    };
    Ok(Hardened {
        report,
        digest,
        debug_digest: debug.map(|(d, _)| d),
    })
}

/// Limits for reading an image to harden: every file is captured whole,
/// so the caps are the image's own size.
pub fn limits() -> oci::layer::Limits {
    oci::layer::Limits {
        max_layer_bytes: 16 << 30,
        max_file_bytes: 2 << 30,
        max_captured_bytes: 16 << 30,
        max_entries: 2_000_000,
    }
}

/// Reads an image with every file captured (no layer cache: the cache
/// holds only what catalogers need).
pub fn analyze(
    source: &oci::Source,
    opts: &oci::Options,
) -> Result<oci::Analysis, oci::AnalyzeError> {
    let mut o = opts.clone();
    o.cache_dir = None;
    o.limits = limits();
    let all = |_: &str, _: u64| true;
    let want = oci::Want {
        select: oci::Select::capture(&all),
        key: "harden",
    };
    oci::analyze(source, &o, &want, &|_| {})
}
