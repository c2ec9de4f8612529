//! For images with `rebuild = "on-change"`: a fingerprint of the build
//! inputs (the Dockerfile, build args, target, platform, secret ids and
//! every file of the context except `.git`), and the check that nothing
//! changed since the last promotion: same inputs, same base digests.

use std::path::Path;

use sha2::{Digest as _, Sha256};

use oci::{Digest, Platform};

use crate::config::Rebuild;
use crate::cx::ImageCx;
use crate::steps::dockerfile::Dockerfile;
use crate::steps::resolve::Resolved;
use crate::steps::{StepError, Stop};

fn walk(root: &Path, dir: &Path, h: &mut Sha256) -> Result<(), StepError> {
    let err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| StepError::Work {
            path: p.clone(),
            source,
        }
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(err(dir))?
        .collect::<Result<_, _>>()
        .map_err(err(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let rel = p
            .strip_prefix(root)
            .unwrap_or(&p)
            .to_string_lossy()
            .into_owned();
        let ft = e.file_type().map_err(err(&p))?;
        if ft.is_dir() {
            if rel == ".git" {
                continue;
            }
            h.update(format!("d {rel}\0").as_bytes());
            walk(root, &p, h)?;
        } else if ft.is_symlink() {
            let t = std::fs::read_link(&p).map_err(err(&p))?;
            h.update(format!("l {rel}\0{}\0", t.display()).as_bytes());
        } else if ft.is_file() {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = e.metadata().map_err(err(&p))?.permissions().mode() & 0o111;
            let data = std::fs::read(&p).map_err(err(&p))?;
            h.update(format!("f {rel}\0{mode:o}\0{}\0", data.len()).as_bytes());
            h.update(&data);
        }
    }
    Ok(())
}

/// The fingerprint, for images rebuilt on change only (`None` otherwise).
pub fn fingerprint(cx: &ImageCx<'_>, df: &Dockerfile) -> Result<Option<String>, StepError> {
    if cx.spec.rebuild != Rebuild::OnChange {
        return Ok(None);
    }
    let mut h = Sha256::new();
    h.update(df.src.text.as_bytes());
    h.update(b"\0args\0");
    let mut args: Vec<_> = df.args.iter().collect();
    args.sort();
    for (k, v) in args {
        h.update(format!("{k}={v}\0").as_bytes());
    }
    // Platforms are not part of it: each is compared on its own bases.
    h.update(format!("target={:?}\0", cx.spec.target).as_bytes());
    for s in &cx.spec.secrets {
        h.update(format!("secret={s}\0").as_bytes());
    }
    h.update(b"context\0");
    walk(&cx.spec.context, &cx.spec.context, &mut h)?;
    Ok(Some(format!("sha256:{}", hex::encode(h.finalize()))))
}

/// What to do with one platform this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Build it.
    Build(Platform),
    /// Keep the manifest of the last promotion (its bases and the inputs
    /// are unchanged, and the image is rebuilt on change only).
    Reuse(Platform, Digest),
}

/// Decides per platform: with `rebuild = "on-change"`, a platform whose
/// base manifests and the build inputs equal the last promotion's keeps its
/// manifest (a new arm64 base does not rebuild amd64); when every platform
/// would, the image stops as `Unchanged`.
pub fn plan(
    cx: &ImageCx<'_>,
    inputs: Option<&str>,
    resolved: &Resolved,
) -> Result<Vec<Plan>, Stop> {
    let platforms = cx.spec.platforms();
    let build_all = || platforms.iter().cloned().map(Plan::Build).collect();
    let (Some(inputs), Some(p)) = (inputs, cx.history.promoted.as_ref()) else {
        return Ok(build_all());
    };
    if p.inputs.as_deref() != Some(inputs) || p.bases.len() != resolved.bases.len() {
        return Ok(build_all());
    }
    // The base manifest a platform was built from, then and now.
    fn then<'h>(
        h: &'h model::History,
        b: &model::BaseDigest,
        platform: &Platform,
    ) -> Option<&'h Digest> {
        h.promoted_base(&b.reference)
            .and_then(|old| h.platform_cache.get(&(old.clone(), platform.clone())))
    }
    fn now<'b>(b: &'b model::BaseDigest, platform: &Platform) -> Option<&'b Digest> {
        b.platforms
            .iter()
            .find(|x| &x.platform == platform)
            .map(|x| &x.digest)
    }
    let plan: Vec<Plan> = platforms
        .iter()
        .map(|platform| {
            let same = resolved.bases.iter().all(|b| {
                cx.history.promoted_base(&b.reference) == Some(&b.digest)
                    || (then(cx.history, b, platform).is_some()
                        && then(cx.history, b, platform) == now(b, platform))
            });
            match (
                same,
                p.digest_for(platform).or(
                    // single-platform promotions before per-platform results
                    (platforms.len() == 1).then_some(&p.digest),
                ),
            ) {
                (true, Some(d)) => Plan::Reuse(platform.clone(), d.clone()),
                _ => Plan::Build(platform.clone()),
            }
        })
        .collect();
    if plan.iter().all(|x| matches!(x, Plan::Reuse(..))) {
        return Err(Stop::Unchanged(format!(
            "bases and build inputs unchanged since run {} ({}); not rebuilt (rebuild = \"on-change\")",
            p.run, p.digest
        )));
    }
    // A hardened image's -debug sibling is not kept per platform: when
    // anything changed, every platform is rebuilt and hardened again.
    if cx.spec.harden.is_some() {
        return Ok(build_all());
    }
    Ok(plan)
}
