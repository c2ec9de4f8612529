//! Patching an image in place, for images a fleet does not build (vendor
//! and upstream images) and for fixes that cannot wait for the next
//! rebuild: the fixed versions of its OS packages go into **one** layer on
//! top of the original, byte-identical layers.
//!
//! - [`open`] reads the image: its package database, release and config; a
//!   patch layer this module wrote before is found (history comment and
//!   label) and set aside, so patching a patched image starts from the
//!   original and layers never stack.
//! - [`prepare`] asks a tooling container of the same release (a
//!   configured image, [`tooling`]) to resolve and download the fixed
//!   packages ([`apt`]), refuses plans that add, remove or change held
//!   packages or miss a required fixed version, and unpacks the packages
//!   itself ([`deb`], [`dpkg`]): nothing from the patched image runs, and
//!   maintainer scripts are recorded, not run.
//! - [`Target::write`] writes the original or the patched image into an
//!   OCI layout: the original layers copied as they are, the patch layer,
//!   and the config with a history entry saying what was patched.
//!
//! Debian and Ubuntu (dpkg's `status` or distroless' `status.d`) are
//! patched; a hardened image (safeimage's `harden`) gets only the files it
//! kept. Alpine and the Red Hat family are refused with a clear message.

pub mod apt;
pub mod deb;
pub mod dpkg;
pub mod flow;
pub mod layer;
pub mod stanza;
pub mod tooling;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use oci::image::{History, ImageConfig};
use oci::tree::FileTree;

pub use apt::{Ask, Release};
pub use dpkg::Upgrade;
pub use tooling::{Container, Engine, Tooling};

/// The history comment of a patch layer.
pub const COMMENT: &str = "safeimage patch";
/// The label naming the patch layer's diffID.
pub const LABEL_LAYER: &str = "dev.safeimage.patch.layer";
/// The label naming the original image's manifest digest.
pub const LABEL_ORIGINAL: &str = "dev.safeimage.patch.original";
/// The annotation on the patch layer's descriptor.
pub const LAYER_ANNOTATION: &str = "dev.safeimage.patch";
/// The label `safeimage harden` sets on what it writes (harden::LABEL_FROM).
pub const HARDENED_LABEL: &str = "dev.safeimage.hardened.from";

/// Why an image could not be patched.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// Reading the image.
    #[error(transparent)]
    Image(Box<oci::AnalyzeError>),
    /// Reading a blob of the image.
    #[error(transparent)]
    Source(Box<oci::SourceError>),
    /// A package file or record.
    #[error("{package}: {reason}")]
    Package {
        /// Which.
        package: String,
        /// Why.
        reason: String,
    },
    /// The tooling container.
    #[error("tooling container: {reason}")]
    Tooling {
        /// Why.
        reason: String,
    },
    /// The release's repositories are gone.
    #[error(
        "{release}: its package repositories no longer answer ({detail}); an end-of-life release cannot be patched, move the image to a supported release"
    )]
    ReleaseGone {
        /// The release.
        release: String,
        /// What apt said.
        detail: String,
    },
    /// A held package would change.
    #[error(
        "a held package would change ({detail}); release the hold or leave the package out (--only)"
    )]
    Held {
        /// What apt or the records said.
        detail: String,
    },
    /// The plan would add packages.
    #[error(
        "the upgrade needs packages the image does not have ({packages}); patching only replaces installed packages — rebuild the image instead, or leave the package out (--only)"
    )]
    NewPackages {
        /// `name version`, comma-separated.
        packages: String,
    },
    /// The plan would remove packages.
    #[error("the upgrade would remove {packages}; patching never removes packages")]
    Removals {
        /// Names.
        packages: String,
    },
    /// The repositories do not serve the fix.
    #[error(
        "{package}: the fix needs version {fixed} (source) but the repositories serve {available}"
    )]
    NotServed {
        /// Binary package.
        package: String,
        /// The fixed (source) version.
        fixed: String,
        /// What they serve.
        available: String,
    },
    /// Findings the patch set out to fix are still there.
    #[error("after patching, these findings are still there: {findings}; nothing was written")]
    StillVulnerable {
        /// `ID in package`, comma-separated.
        findings: String,
    },
    /// The image has no package database we patch.
    #[error("{image}: {reason}")]
    Unsupported {
        /// The image.
        image: String,
        /// Why.
        reason: String,
    },
    /// A file.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

impl From<oci::AnalyzeError> for PatchError {
    fn from(e: oci::AnalyzeError) -> Self {
        PatchError::Image(Box::new(e))
    }
}

impl From<oci::SourceError> for PatchError {
    fn from(e: oci::SourceError) -> Self {
        PatchError::Source(Box::new(e))
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> PatchError + '_ {
    move |source| PatchError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A patch layer this module wrote earlier, set aside.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Previous {
    /// Its diffID.
    pub layer: String,
    /// What it said it patched.
    pub created_by: String,
}

/// An opened image, as patching sees it.
pub struct Target {
    /// The image as given (with a previous patch layer, if any).
    pub image: oci::Image,
    /// The original layers (a previous patch layer left out).
    pub layers: Vec<oci::Layer>,
    /// The original config (a previous patch's history entry and labels left out).
    pub config: ImageConfig,
    /// The previous patch, when the image had one.
    pub previous: Option<Previous>,
    /// The original files (package records, `etc/` captured).
    pub tree: FileTree,
    /// Its dpkg database.
    pub db: dpkg::Db,
    /// Its release (`/etc/os-release`).
    pub release: Release,
    /// Hardened by safeimage: only files it kept are replaced.
    pub hardened: bool,
    /// The manifest digest of the unpatched original (when known).
    pub original: Option<String>,
    blobs: Arc<dyn oci::Blobs>,
}

struct SharedBlobs(Arc<dyn oci::Blobs>);

impl oci::Blobs for SharedBlobs {
    fn open(
        &self,
        layer: &oci::Layer,
    ) -> Result<oci::verify::Verified<Box<dyn std::io::Read + Send>>, oci::SourceError> {
        self.0.open(layer)
    }
}

fn os_release(tree: &FileTree) -> Release {
    let text = tree
        .read("etc/os-release")
        .or_else(|| tree.read("usr/lib/os-release"))
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let mut r = Release::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
        match k.trim() {
            "ID" => r.id = v,
            "VERSION_CODENAME" => r.codename = v,
            "VERSION_ID" => r.version = v,
            _ => {}
        }
    }
    r
}

fn wanted(path: &str, _size: u64) -> bool {
    path.starts_with("var/lib/dpkg/")
        || path.starts_with("etc/")
        || path == "usr/lib/os-release"
        || path == "lib/apk/db/installed"
        || path.starts_with("var/lib/rpm/")
        || path.starts_with("usr/lib/sysimage/rpm/")
}

/// Opens `source` for patching.
pub fn open(source: &oci::Source, opts: &oci::Options) -> Result<Target, PatchError> {
    let name = source.to_string();
    let mut o = opts.clone();
    o.cache_dir = None;
    let (image, blobs) = match oci::open(source, &o)? {
        oci::Opened::Image { image, blobs } => (image, Arc::<dyn oci::Blobs>::from(blobs)),
        oci::Opened::Dir { .. } => {
            return Err(PatchError::Unsupported {
                image: name,
                reason: "a directory is not an image; patch an image (oci:DIR, docker-archive:FILE or a registry reference)".into(),
            });
        }
    };
    // every other file's MD5, to tell files the image changed after a
    // package put them there (dpkg's md5sums say what they were)
    let md5 = |_: &str, bytes: &[u8]| Some(dpkg::md5_hex(bytes));
    let every = |_: &str, _: u32, _: u64| true;
    let want = oci::Want {
        select: oci::Select {
            capture: &wanted,
            probe: &every,
            extract: &md5,
        },
        key: "patch",
    };
    let opened = oci::Opened::Image {
        image: image.clone(),
        blobs: Box::new(SharedBlobs(blobs.clone())),
    };
    let analysis = oci::analyze_opened(opened, &o, &want, &|_| {})?;
    let mut config = image.config.clone();
    let mut layers = image.layers.clone();
    let labels = config
        .config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default();
    let last_layer_entry = config
        .history
        .iter()
        .rposition(|h| h.empty_layer != Some(true));
    let previous = match (layers.last(), last_layer_entry) {
        (Some(l), Some(h))
            if labels.get(LABEL_LAYER) == Some(&l.diff_id.to_string())
                && config.history[h].comment.as_deref() == Some(COMMENT) =>
        {
            Some((h, l.diff_id.to_string()))
        }
        _ => None,
    };
    let mut original = image.manifest_digest.as_ref().map(|d| d.to_string());
    let previous = previous.map(|(h, diff_id)| {
        let entry = config.history.remove(h);
        layers.pop();
        config.rootfs.diff_ids.pop();
        original = labels.get(LABEL_ORIGINAL).cloned();
        if let Some(c) = config.config.as_mut()
            && let Some(l) = c.labels.as_mut()
        {
            l.remove(LABEL_LAYER);
            l.remove(LABEL_ORIGINAL);
        }
        Previous {
            layer: diff_id,
            created_by: entry.created_by.unwrap_or_default(),
        }
    });
    let tree = FileTree::from_layers(&analysis.layers[..layers.len()]);
    let release = os_release(&tree);
    let Some(db) = dpkg::Db::read(&tree) else {
        let reason = if tree.get("lib/apk/db/installed").is_some() {
            "an Alpine image (apk): patching replaces Debian and Ubuntu packages only so far; rebuild it on a patched base".to_string()
        } else if tree.get("var/lib/rpm").is_some() || tree.get("usr/lib/sysimage/rpm").is_some() {
            "a Red Hat family image (rpm): patching replaces Debian and Ubuntu packages only so far; rebuild it on a patched base".to_string()
        } else {
            "no package database (var/lib/dpkg/status or status.d): nothing says which packages it holds".to_string()
        };
        return Err(PatchError::Unsupported {
            image: name,
            reason,
        });
    };
    Ok(Target {
        hardened: labels.contains_key(HARDENED_LABEL),
        image,
        layers,
        config,
        previous,
        tree,
        db,
        release,
        original,
        blobs,
    })
}

/// A prepared patch: the layer and what it changes.
#[derive(Debug, Clone)]
pub struct Patched {
    /// The packages replaced.
    pub upgrades: Vec<Upgrade>,
    /// The layer's paths.
    pub layer: layer::Layer,
    tar: Vec<u8>,
}

impl Patched {
    /// The layer's diffID.
    pub fn diff_id(&self) -> oci::Digest {
        oci::verify::sha256(&self.tar)
    }
    /// Uncompressed layer bytes.
    pub fn size(&self) -> u64 {
        self.tar.len() as u64
    }
    /// The history line: what changed.
    pub fn summary(&self) -> String {
        let list: Vec<String> = self
            .upgrades
            .iter()
            .map(|u| format!("{} {} -> {}", u.name, u.from, u.to))
            .collect();
        format!("safeimage patch: {}", list.join(", "))
    }
}

/// What must be fixed: binary package → (lowest fixed source version, advisory ids).
pub type Minimum = BTreeMap<String, (String, Vec<String>)>;

/// Resolves, downloads and unpacks the upgrades `ask` names into a patch
/// layer, in `work` (a private directory). Every package in `minimum` must
/// reach its fixed version. `Ok(None)`: nothing to upgrade.
pub fn prepare(
    target: &Target,
    tooling: &dyn Tooling,
    ask: &Ask,
    minimum: &Minimum,
    work: &Path,
) -> Result<Option<Patched>, PatchError> {
    let arch = apt::debian_arch(&target.image.platform).ok_or_else(|| PatchError::Unsupported {
        image: target.image.source.clone(),
        reason: format!(
            "platform {} has no Debian architecture",
            target.image.platform
        ),
    })?;
    if let Ask::Packages(names) = ask {
        if names.is_empty() {
            return Ok(None);
        }
        let held: Vec<&str> = names
            .iter()
            .filter_map(|n| target.db.get(n).filter(|p| p.held).map(|p| p.name.as_str()))
            .collect();
        if !held.is_empty() {
            return Err(PatchError::Held {
                detail: format!("{} is on hold in the image", held.join(", ")),
            });
        }
    }
    // records that are a subset (distroless, hardened): the candidates of
    // what they hold, no dependency solving over records that look broken
    let subset;
    let ask = match (target.db.layout, ask) {
        (dpkg::Layout::StatusD, Ask::All) => {
            subset = Ask::Candidates(target.db.packages.iter().map(|p| p.name.clone()).collect());
            &subset
        }
        (dpkg::Layout::StatusD, Ask::Packages(p)) => {
            subset = Ask::Candidates(p.clone());
            &subset
        }
        _ => ask,
    };
    let actions = apt::resolve(
        tooling,
        work,
        &target.db.apt_status(),
        arch,
        ask,
        &target.release,
    )?;
    let mut plan: Vec<(String, String)> = Vec::new();
    let (mut new, mut removed) = (Vec::new(), Vec::new());
    for a in actions {
        match a {
            apt::Action::Inst {
                name,
                old: Some(_),
                new: v,
            } => plan.push((name, v)),
            apt::Action::Inst {
                name,
                old: None,
                new: v,
            } => new.push(format!("{name} {v}")),
            apt::Action::Remv { name } => removed.push(name),
        }
    }
    if !removed.is_empty() {
        return Err(PatchError::Removals {
            packages: removed.join(", "),
        });
    }
    if !new.is_empty() {
        return Err(PatchError::NewPackages {
            packages: new.join(", "),
        });
    }
    let base = |n: &str| n.split(':').next().unwrap_or(n).to_string();
    for (pkg, (fixed, _)) in minimum {
        if !plan.iter().any(|(n, _)| base(n) == *pkg) {
            let installed = target.db.get(pkg).map_or("nothing", |p| p.version.as_str());
            return Err(PatchError::NotServed {
                package: pkg.clone(),
                fixed: fixed.clone(),
                available: format!("nothing newer than the installed {installed}"),
            });
        }
    }
    if plan.is_empty() {
        return Ok(None);
    }
    let mut debs = fetch(tooling, work, arch, &plan)?;
    if target.db.layout == dpkg::Layout::StatusD {
        // records that are a subset: what the new versions depend on and
        // the image records too old comes along, found round by round
        for _ in 0..8 {
            let need = unmet(&debs, &target.db, &plan)?;
            if need.is_empty() {
                break;
            }
            let names: Vec<String> = need.keys().cloned().collect();
            let cands = apt::policy(tooling, work, arch, &names)?;
            let mut more = Vec::new();
            for (n, constraint) in need {
                let Some(v) = cands.get(&n).and_then(|c| c.1.clone()) else {
                    return Err(PatchError::NotServed {
                        package: n,
                        fixed: constraint,
                        available: "no candidate".into(),
                    });
                };
                more.push((n, v));
            }
            debs.extend(fetch(tooling, work, arch, &more)?);
            plan.extend(more);
        }
        let left = unmet(&debs, &target.db, &plan)?;
        if let Some((n, c)) = left.into_iter().next() {
            return Err(PatchError::NotServed {
                package: n,
                fixed: c,
                available: "no version that the other upgrades accept".into(),
            });
        }
    }
    debs.retain(|d| {
        plan.iter()
            .any(|(n, v)| base(n) == d.name() && v == d.version())
    });
    for (pkg, (fixed, _)) in minimum {
        let Some(d) = debs.iter().find(|d| d.name() == pkg) else {
            continue;
        };
        let reached = vulndb::version::Scheme::Dpkg
            .compare(d.source_version(), fixed)
            .is_some_and(|o| o != std::cmp::Ordering::Less);
        if !reached {
            return Err(PatchError::NotServed {
                package: pkg.clone(),
                fixed: fixed.clone(),
                available: format!("{} (source {})", d.version(), d.source_version()),
            });
        }
    }
    let scope = if target.hardened {
        dpkg::Scope::Existing
    } else {
        dpkg::Scope::Whole
    };
    let (layer, upgrades) = target.db.install(&target.tree, &debs, scope)?;
    let tar = layer.tar().map_err(io(work))?;
    Ok(Some(Patched {
        upgrades,
        layer,
        tar,
    }))
}

/// Downloads and reads `plan` (name, version); each must arrive.
fn fetch(
    tooling: &dyn Tooling,
    work: &Path,
    arch: &str,
    plan: &[(String, String)],
) -> Result<Vec<deb::Deb>, PatchError> {
    let base = |n: &str| n.split(':').next().unwrap_or(n).to_string();
    let files = apt::download(tooling, work, arch, plan)?;
    let mut debs = Vec::new();
    for f in &files {
        let what = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let planned = plan.iter().any(|(n, v)| {
            let n = base(n);
            // apt names files NAME_VERSION_ARCH.deb, the epoch's colon as %3a
            what.starts_with(&format!("{n}_{}_", v.replace(':', "%3a")))
        });
        if !planned {
            continue;
        }
        let bytes = std::fs::read(f).map_err(io(f))?;
        debs.push(deb::read(&bytes, &what)?);
    }
    for (name, version) in plan {
        if !debs.iter().any(|d| {
            d.name() == base(name)
                && d.version() == version
                && (d.arch() == arch || d.arch() == "all")
        }) {
            return Err(PatchError::Tooling {
                reason: format!("apt-get download did not deliver {name} {version} for {arch}"),
            });
        }
    }
    Ok(debs)
}

/// The dependencies of `debs` that the image records at a version the new
/// ones do not accept (dependencies it does not record are not judged: its
/// records are a subset): name → the constraint, for the packages not
/// planned yet. A planned version that does not satisfy is an error.
fn unmet(
    debs: &[deb::Deb],
    db: &dpkg::Db,
    plan: &[(String, String)],
) -> Result<BTreeMap<String, String>, PatchError> {
    use std::cmp::Ordering::*;
    let base = |n: &str| n.split(':').next().unwrap_or(n).to_string();
    let version_of = |n: &str| -> Option<(String, bool)> {
        if let Some((_, v)) = plan.iter().find(|(p, _)| base(p) == n) {
            return Some((v.clone(), true));
        }
        db.get(n).map(|p| (p.version.clone(), false))
    };
    let mut out = BTreeMap::new();
    for d in debs {
        for field in ["Pre-Depends", "Depends"] {
            for clause in d.control.get(field).unwrap_or("").split(',') {
                let mut recorded = Vec::new();
                let mut ok = false;
                for alt in clause.split('|') {
                    let alt = alt.trim();
                    let (name, rest) = alt.split_once(' ').unwrap_or((alt, ""));
                    let name = base(name.trim());
                    if name.is_empty() {
                        continue;
                    }
                    let Some((have, planned)) = version_of(&name) else {
                        continue;
                    };
                    let rest = rest
                        .trim()
                        .trim_start_matches('(')
                        .trim_end_matches(')')
                        .trim();
                    let satisfied = if rest.is_empty() {
                        true
                    } else {
                        let (op, want) = rest.split_once(' ').unwrap_or((rest, ""));
                        let c = vulndb::version::Scheme::Dpkg.compare(&have, want.trim());
                        match (op, c) {
                            (_, None) => true,
                            (">=", Some(o)) => o != Less,
                            (">>", Some(o)) => o == Greater,
                            ("<=", Some(o)) => o != Greater,
                            ("<<", Some(o)) => o == Less,
                            ("=", Some(o)) => o == Equal,
                            _ => true,
                        }
                    };
                    if satisfied {
                        ok = true;
                        break;
                    }
                    recorded.push((name, rest.to_string(), planned));
                }
                if ok || recorded.is_empty() {
                    continue;
                }
                let (name, constraint, planned) = recorded.remove(0);
                if planned {
                    return Err(PatchError::NotServed {
                        package: name,
                        fixed: constraint,
                        available: format!("a version {} does not accept", d.name()),
                    });
                }
                out.insert(name, constraint);
            }
        }
    }
    Ok(out)
}

impl Target {
    /// Writes the original image (`patch: None`) or the patched one into
    /// the OCI layout `dir` under `tag` (`append`: next to its other tags);
    /// returns the manifest digest.
    pub fn write(
        &self,
        dir: &Path,
        tag: &str,
        append: bool,
        patch: Option<&Patched>,
    ) -> Result<oci::Digest, PatchError> {
        let mut w = if append {
            oci::write::LayoutWriter::append(dir)
        } else {
            oci::write::LayoutWriter::create(dir)
        }
        .map_err(io(dir))?;
        for l in &self.layers {
            // written already (the original, before the patched image):
            // not fetched again
            let have = dir.join("blobs/sha256").join(l.digest.encoded()).is_file();
            if have {
                w.add_existing_layer(l, &mut std::io::empty())
            } else {
                w.add_existing_layer(l, &mut self.blobs.open(l)?)
            }
            .map_err(io(dir))?;
        }
        let mut config = self.config.clone();
        if let Some(p) = patch {
            let diff_id = w.add_layer(&p.tar).map_err(io(dir))?;
            let names: Vec<String> = p
                .upgrades
                .iter()
                .map(|u| format!("{}={}", u.name, u.to))
                .collect();
            w.annotate_layer(LAYER_ANNOTATION, &names.join(" "));
            config.history.push(History {
                created_by: Some(p.summary()),
                comment: Some(COMMENT.into()),
                ..Default::default()
            });
            let c = config.config.get_or_insert_with(Default::default);
            let labels = c.labels.get_or_insert_with(Default::default);
            labels.insert(LABEL_LAYER.into(), diff_id.to_string());
            if let Some(o) = &self.original {
                labels.insert(LABEL_ORIGINAL.into(), o.clone());
            }
        }
        for (k, v) in &self.image.annotations {
            w.annotate(k, v);
        }
        let mut v = serde_json::to_value(&config).map_err(|e| PatchError::Io {
            path: dir.display().to_string(),
            source: e.into(),
        })?;
        if let Some(o) = v.as_object_mut() {
            o.remove("rootfs");
        }
        w.finish(v, tag).map_err(io(dir))
    }
}
