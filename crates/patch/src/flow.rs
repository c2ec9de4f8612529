//! One patch from start to end, as `safeimage patch` and the run's
//! `[[patch]]` entries do it: open the image (a previous patch set aside),
//! write the original into a work layout, scan it (or take a given scan's
//! findings), pick the fixable OS findings, prepare the patch layer, write
//! the patched image next to the original, and scan it again: every
//! finding the patch set out to fix must be gone, or nothing is handed on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use vulndb::model::Severity;

use crate::{Ask, Minimum, PatchError, Release, Target, Tooling, Upgrade};

/// A finding as a scan report gives it (`scan -f json`'s `findings`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Given {
    /// Advisory id.
    pub id: String,
    /// The package.
    pub package: GivenPackage,
    /// Fixed version.
    #[serde(default)]
    pub fixed_version: Option<String>,
    /// Severity.
    #[serde(default)]
    pub severity: Severity,
    /// Suppressed findings are not patched.
    #[serde(default)]
    pub suppressed: Option<serde_json::Value>,
}

/// The package of a [`Given`] finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct GivenPackage {
    /// `deb`, `apk`...
    #[serde(rename = "type")]
    pub kind: String,
    /// Name.
    pub name: String,
}

/// Reads the findings of a `scan -f json` report.
pub fn read_report(path: &Path) -> Result<Vec<Given>, PatchError> {
    let bytes = std::fs::read(path).map_err(|e| PatchError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    #[derive(serde::Deserialize)]
    struct Report {
        findings: Vec<Given>,
    }
    let r: Report = serde_json::from_slice(&bytes).map_err(|e| PatchError::Package {
        package: path.display().to_string(),
        reason: format!("not a `safeimage scan -f json` report: {e}"),
    })?;
    Ok(r.findings)
}

/// What to patch.
pub struct Options<'a> {
    /// The advisory DB (to scan before, unless `report`, and after).
    pub db: &'a vulndb::Db,
    /// Matching options.
    pub scan: scan::Options,
    /// Lowest severity patched.
    pub severity: Severity,
    /// Only these packages (empty: every fixable one).
    pub only: Vec<String>,
    /// Also upgrade every other upgradable package.
    pub all: bool,
    /// Findings of a given scan instead of scanning.
    pub report: Option<Vec<Given>>,
    /// Image access (platform, registries, the layer cache).
    pub image: oci::Options,
}

/// One finding the patch fixed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Fixed {
    /// Advisory id.
    pub id: String,
    /// Binary package.
    pub package: String,
}

/// What happened.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// The image as given.
    pub source: String,
    /// Its platform.
    pub platform: String,
    /// Its release.
    pub release: String,
    /// The original's manifest digest as written to the work layout.
    pub original_digest: String,
    /// The unpatched original's digest as the registry or layout had it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    /// A previous patch layer set aside.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<crate::Previous>,
    /// Packages replaced (empty: nothing to patch).
    pub upgrades: Vec<Upgrade>,
    /// Findings fixed.
    pub fixed: Vec<Fixed>,
    /// Findings before, and after (same as before when nothing was patched).
    pub findings_before: usize,
    /// After.
    pub findings_after: usize,
    /// The patched image's manifest digest (in the work layout, tag `patched`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patched_digest: Option<String>,
    /// The patch layer's diffID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Its uncompressed size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_bytes: Option<u64>,
    /// Files written and deleted by it.
    pub files: usize,
    /// Deleted.
    pub deleted: usize,
    /// Hardened image (only kept files replaced).
    pub hardened: bool,
}

/// The work layout: the original under `original`, the patched image under `patched`.
pub fn layout(work: &Path) -> PathBuf {
    work.join("layout")
}

fn matched(dir: &Path, tag: &str, opts: &Options<'_>) -> Result<Vec<scan::Finding>, PatchError> {
    let src = oci::Source::OciLayout {
        dir: dir.to_path_buf(),
        tag: Some(tag.to_string()),
    };
    let inv = inventory::inventory(&src, &opts.image, &|_| {})?;
    let m = scan::match_inventory(&inv.inventory, opts.db, &opts.scan).map_err(|e| {
        PatchError::Package {
            package: "the advisory DB".into(),
            reason: e.to_string(),
        }
    })?;
    Ok(m.findings)
}

/// The fixable OS findings the options select: package → (the highest
/// fixed version among them, their ids).
fn select(findings: &[Given], opts: &Options<'_>, target: &Target) -> Minimum {
    let mut out: Minimum = BTreeMap::new();
    for f in findings {
        let Some(fixed) = &f.fixed_version else {
            continue;
        };
        if f.package.kind != "deb"
            || f.suppressed.is_some()
            || f.severity < opts.severity
            || (!opts.only.is_empty() && !opts.only.contains(&f.package.name))
            || target.db.get(&f.package.name).is_none()
        {
            continue;
        }
        let e = out
            .entry(f.package.name.clone())
            .or_insert_with(|| (fixed.clone(), Vec::new()));
        if vulndb::version::Scheme::Dpkg.compare(fixed, &e.0) == Some(std::cmp::Ordering::Greater) {
            e.0 = fixed.clone();
        }
        if !e.1.contains(&f.id) {
            e.1.push(f.id.clone());
        }
    }
    out
}

fn given(f: &scan::Finding) -> Given {
    Given {
        id: f.id.as_str().to_string(),
        package: GivenPackage {
            kind: f.package.kind.clone(),
            name: f.package.name.clone(),
        },
        fixed_version: f.fixed_version.clone(),
        severity: f.severity,
        suppressed: f.suppressed.as_ref().map(|_| serde_json::Value::Bool(true)),
    }
}

/// The tooling container for a release.
pub type ToolingFor<'a> = dyn Fn(&Release) -> Result<Box<dyn Tooling>, PatchError> + 'a;

/// Patches `source` in `work` (a private, empty directory). `tooling`
/// gives the tooling container for the image's release.
pub fn run(
    source: &oci::Source,
    opts: &Options<'_>,
    tooling: &ToolingFor<'_>,
    work: &Path,
) -> Result<Outcome, PatchError> {
    let target = crate::open(source, &opts.image)?;
    let dir = layout(work);
    let original_digest = target.write(&dir, "original", false, None)?;
    let before: Vec<Given> = match &opts.report {
        Some(r) => r.clone(),
        None => matched(&dir, "original", opts)?.iter().map(given).collect(),
    };
    let minimum = select(&before, opts, &target);
    let mut outcome = Outcome {
        source: source.to_string(),
        platform: target.image.platform.to_string(),
        release: target.release.to_string(),
        original_digest: original_digest.to_string(),
        original: target.original.clone(),
        previous: target.previous.clone(),
        upgrades: Vec::new(),
        fixed: Vec::new(),
        findings_before: before.iter().filter(|f| f.suppressed.is_none()).count(),
        findings_after: 0,
        patched_digest: None,
        layer: None,
        layer_bytes: None,
        files: 0,
        deleted: 0,
        hardened: target.hardened,
    };
    outcome.findings_after = outcome.findings_before;
    let ask = if opts.all {
        Ask::All
    } else {
        Ask::Packages(minimum.keys().cloned().collect())
    };
    if minimum.is_empty() && !opts.all {
        return Ok(outcome);
    }
    let tool = tooling(&target.release)?;
    let apt_work = work.join("apt");
    std::fs::create_dir_all(&apt_work).map_err(|e| PatchError::Io {
        path: apt_work.display().to_string(),
        source: e,
    })?;
    let Some(patched) = crate::prepare(&target, tool.as_ref(), &ask, &minimum, &apt_work)? else {
        return Ok(outcome);
    };
    let digest = target.write(&dir, "patched", true, Some(&patched))?;
    let after = matched(&dir, "patched", opts)?;
    let still: BTreeSet<(String, String)> = after
        .iter()
        .map(|f| (f.id.as_str().to_string(), f.package.name.clone()))
        .collect();
    let mut left = Vec::new();
    for (pkg, (_, ids)) in &minimum {
        for id in ids {
            let fixed = Fixed {
                id: id.clone(),
                package: pkg.clone(),
            };
            if still.contains(&(id.clone(), pkg.clone())) {
                left.push(format!("{id} in {pkg}"));
            } else {
                outcome.fixed.push(fixed);
            }
        }
    }
    if !left.is_empty() {
        return Err(PatchError::StillVulnerable {
            findings: left.join(", "),
        });
    }
    outcome.fixed.sort();
    outcome.findings_after = after.iter().filter(|f| f.suppressed.is_none()).count();
    outcome.patched_digest = Some(digest.to_string());
    outcome.layer = Some(patched.diff_id().to_string());
    outcome.layer_bytes = Some(patched.size());
    outcome.files = patched.layer.files();
    outcome.deleted = patched.layer.deleted();
    outcome.upgrades = patched.upgrades;
    Ok(outcome)
}

/// The result of [`run_platforms`]: each platform's outcome, and the image
/// (a manifest, or an index over every platform) in the work layout
/// [`result_layout`] under the tag `result`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Done {
    /// One per platform.
    pub platforms: Vec<Outcome>,
    /// The result's digest (an index's when there are several platforms).
    pub digest: String,
    /// Several platforms, one index.
    pub index: bool,
}

impl Done {
    /// Whether any platform was patched.
    pub fn patched(&self) -> bool {
        self.platforms.iter().any(|o| o.patched_digest.is_some())
    }
}

/// Where [`run_platforms`] leaves the result.
pub fn result_layout(work: &Path) -> PathBuf {
    work.join("result")
}

fn io_at(dir: &Path) -> impl Fn(std::io::Error) -> PatchError + '_ {
    move |e| PatchError::Io {
        path: dir.display().to_string(),
        source: e,
    }
}

/// Patches `source` once, or every platform in `platforms` into one index
/// (an arm64 image gets arm64 packages: the tooling's apt is told the
/// architecture, nothing is emulated).
pub fn run_platforms(
    source: &oci::Source,
    opts: &Options<'_>,
    platforms: Option<&[oci::Platform]>,
    tooling: &ToolingFor<'_>,
    work: &Path,
) -> Result<Done, PatchError> {
    let result = result_layout(work);
    let tag_of = |o: &Outcome| {
        if o.patched_digest.is_some() {
            "patched"
        } else {
            "original"
        }
    };
    let Some(platforms) = platforms.filter(|p| !p.is_empty()) else {
        let o = run(source, opts, tooling, work)?;
        let d = oci::write::copy_image(&layout(work), tag_of(&o), &result, "result")
            .map_err(io_at(&result))?;
        return Ok(Done {
            platforms: vec![o],
            digest: d.to_string(),
            index: false,
        });
    };
    let mut outcomes = Vec::new();
    let mut entries = Vec::new();
    for (i, p) in platforms.iter().enumerate() {
        let mut image = opts.image.clone();
        image.platform = p.clone();
        let one = Options {
            db: opts.db,
            scan: opts.scan.clone(),
            severity: opts.severity,
            only: opts.only.clone(),
            all: opts.all,
            report: opts.report.clone(),
            image,
        };
        let w = work.join(format!("platform-{i}"));
        std::fs::create_dir_all(&w).map_err(io_at(&w))?;
        let o = run(source, &one, tooling, &w)?;
        let t = format!("platform-{i}");
        oci::write::copy_image(&layout(&w), tag_of(&o), &result, &t).map_err(io_at(&result))?;
        let (d, size, mt) =
            oci::write::layout_descriptor(&result, Some(&t)).map_err(io_at(&result))?;
        entries.push((d, size, mt, p.clone()));
        outcomes.push(o);
    }
    let d = oci::write::tag_index(&result, &entries, "result").map_err(io_at(&result))?;
    Ok(Done {
        platforms: outcomes,
        digest: d.to_string(),
        index: true,
    })
}

/// SLSA provenance v1 of a patch: the original image (each platform's
/// manifest) and the packages installed are its materials.
pub fn slsa_predicate(
    source: &str,
    done: &Done,
    tooling_image: &str,
    created: &str,
    tool: &str,
) -> serde_json::Value {
    let mut deps = Vec::new();
    for o in &done.platforms {
        let (alg, hex) = o
            .original_digest
            .split_once(':')
            .unwrap_or(("sha256", o.original_digest.as_str()));
        deps.push(serde_json::json!({
            "uri": format!("oci://{source}"),
            "digest": { alg: hex },
            "annotations": { "platform": o.platform, "role": "original" },
        }));
        for u in &o.upgrades {
            deps.push(serde_json::json!({
                "uri": format!("pkg:deb/{}@{}?arch={}", u.name, u.to, u.arch),
                "annotations": { "platform": o.platform, "replaces": u.from },
            }));
        }
    }
    serde_json::json!({
        "buildDefinition": {
            "buildType": "https://safeimage.dev/patch/v1",
            "externalParameters": { "source": source, "toolingImage": tooling_image },
            "resolvedDependencies": deps,
        },
        "runDetails": {
            "builder": { "id": format!("https://safeimage.dev/{tool}") },
            "metadata": { "startedOn": created },
        },
    })
}

/// Copies the work layout's image `tag` into the layout `dir` under `to_tag`.
pub fn export(
    layout: &Path,
    tag: &str,
    dir: &Path,
    to_tag: &str,
) -> Result<oci::Digest, PatchError> {
    oci::write::copy_image(layout, tag, dir, to_tag).map_err(|e| PatchError::Io {
        path: dir.display().to_string(),
        source: e,
    })
}
