//! The check mode for pull requests someone else opened (Renovate,
//! Dependabot, a person): the fleet at two revisions, each exported from
//! git without a checkout, the images whose Dockerfile, context or config
//! changed built and scanned at both (the run's own steps up to the gate,
//! nothing tagged), compared image by image, judged by the hard rules.

use std::path::{Path, PathBuf};

use compare::Security;
use serde::Serialize;

use super::{
    Before, EvalDeps, UpdateError, UpdateOptions, evaluate_images, image_options, verdict,
};
use crate::config::FleetConfig;

/// One image checked.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    /// The image.
    pub image: String,
    /// The hard rules' verdict of head against base.
    pub security: Security,
    /// What the base revision built.
    pub base_digest: Option<String>,
    /// What the head revision built.
    pub head_digest: Option<String>,
    /// Why an evaluation did not pass, when it did not.
    pub reasons: Vec<String>,
}

/// What the check found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The base revision.
    pub base: String,
    /// The head revision.
    pub head: String,
    /// Images whose inputs changed.
    pub images: Vec<Checked>,
    /// Images left alone because nothing of theirs changed.
    pub unchanged: Vec<String>,
    /// Any image blocked (the exit condition).
    pub blocked: bool,
    /// The Markdown for the pull request comment and the job summary.
    pub markdown: String,
}

fn touches(
    changed: &[PathBuf],
    cfg_rel: &Path,
    spec: &crate::config::ImageSpec,
    root: &Path,
) -> bool {
    let rel = |p: &Path| p.strip_prefix(root).map(Path::to_path_buf).ok();
    let context = rel(&spec.context);
    let dockerfile = rel(&spec.dockerfile);
    changed.iter().any(|c| {
        c == cfg_rel
            || dockerfile.as_deref() == Some(c.as_path())
            || context.as_deref().is_some_and(|d| c.starts_with(d))
    })
}

/// A revision's config, read as untrusted (paths confined to its
/// directory); what it could use to reach out — registry credentials named
/// by environment variables, notifications, signing — comes from the
/// trusted config instead, or is off.
fn load(
    dir: &Path,
    cfg_rel: &Path,
    what: &str,
    trusted: &FleetConfig,
) -> Result<FleetConfig, UpdateError> {
    let mut cfg =
        FleetConfig::load_fleet(&dir.join(cfg_rel)).map_err(|e| UpdateError::Revision {
            what: what.to_string(),
            message: e.to_string(),
        })?;
    cfg.registries = trusted.registries.clone();
    cfg.engine_program = trusted.engine_program.clone();
    cfg.notify.clear();
    cfg.sign = None;
    Ok(cfg)
}

/// Checks `head` against `base` in `repo`, for the fleet config at
/// `config` (a path inside the repository's work tree, `trusted` as read
/// from there).
pub fn check(
    repo: &update::git::Repo,
    config: &Path,
    trusted: &FleetConfig,
    base: &str,
    head: &str,
    deps: &EvalDeps<'_>,
    opts: &UpdateOptions,
) -> Result<CheckReport, UpdateError> {
    let config = std::fs::canonicalize(config).unwrap_or_else(|_| config.to_path_buf());
    let cfg_rel = config
        .strip_prefix(repo.top())
        .map_err(|_| UpdateError::Revision {
            what: config.display().to_string(),
            message: format!("not inside the repository at {}", repo.top().display()),
        })?
        .to_path_buf();
    let scratch = tempfile::Builder::new()
        .prefix("safeimage-check-")
        .tempdir()
        .map_err(UpdateError::Scratch)?;
    let changed = repo.changed(base, head)?;
    let mut sides = Vec::new();
    for (rev, name) in [(base, "base"), (head, "head")] {
        let dir = scratch.path().join(name);
        repo.export(rev, &dir)?;
        let root = std::fs::canonicalize(&dir).map_err(UpdateError::Scratch)?;
        sides.push((
            load(&root, &cfg_rel, &format!("{rev} ({name})"), trusted)?,
            root,
        ));
    }
    let (head_cfg, head_root) = &sides[1];
    let (base_cfg, _) = &sides[0];
    let mut images = Vec::new();
    let mut unchanged = Vec::new();
    for spec in &head_cfg.images {
        if touches(&changed, &cfg_rel, spec, head_root) {
            images.push(spec.name.to_string());
        } else {
            unchanged.push(spec.name.to_string());
        }
    }
    let in_base: Vec<String> = images
        .iter()
        .filter(|i| {
            base_cfg
                .images
                .iter()
                .any(|s| s.name.as_str() == i.as_str())
        })
        .cloned()
        .collect();
    let mut outcomes: Vec<Result<Option<model::RunReport>, crate::FleetError>> = Vec::new();
    for ((cfg, _), (list, name)) in sides.iter().zip([(&in_base, "base"), (&images, "head")]) {
        let run_dir = scratch.path().join(format!("{name}-run"));
        std::fs::create_dir_all(&run_dir).map_err(UpdateError::Scratch)?;
        outcomes.push(if list.is_empty() {
            Ok(None)
        } else {
            evaluate_images(cfg, list, &run_dir, deps, opts)?.map(Some)
        });
    }
    let image_opts = image_options(head_cfg, opts)?;
    let mut checked = Vec::new();
    let mut diffs = Vec::new();
    for image in &images {
        let find = |r: &Result<Option<model::RunReport>, crate::FleetError>| {
            r.as_ref()
                .ok()
                .and_then(Option::as_ref)
                .and_then(|r| r.images.iter().find(|o| &o.name == image).cloned())
        };
        let (b, h) = (find(&outcomes[0]), find(&outcomes[1]));
        let failed = |r: &Result<Option<model::RunReport>, crate::FleetError>| match r {
            Err(e) => vec![e.to_string()],
            Ok(r) => r.as_ref().map(|r| r.errors.clone()).unwrap_or_default(),
        };
        let Some(h) = h else {
            checked.push(Checked {
                image: image.clone(),
                security: Security::Blocked("the head revision did not build".into()),
                base_digest: b.and_then(|b| b.digest.map(|d| d.to_string())),
                head_digest: None,
                reasons: failed(&outcomes[1]),
            });
            continue;
        };
        let before = b.as_ref().map(Before::built);
        let (v, body) = verdict(head_cfg, &h, before.as_ref(), &image_opts);
        let security = if h.outcome == model::Outcome::Evaluated {
            v.security
        } else {
            Security::Blocked(format!("{} at head: {}", h.outcome, h.reasons.join("; ")))
        };
        diffs.extend(body);
        checked.push(Checked {
            image: image.clone(),
            security,
            base_digest: b.and_then(|b| b.digest.map(|d| d.to_string())),
            head_digest: h.digest.as_ref().map(ToString::to_string),
            reasons: h.reasons.clone(),
        });
    }
    let blocked = checked
        .iter()
        .any(|c| matches!(c.security, Security::Blocked(_)));
    let markdown = markdown(base, head, &checked, &unchanged, &diffs);
    Ok(CheckReport {
        base: base.to_string(),
        head: head.to_string(),
        images: checked,
        unchanged,
        blocked,
        markdown,
    })
}

fn markdown(
    base: &str,
    head: &str,
    images: &[Checked],
    unchanged: &[String],
    diffs: &[String],
) -> String {
    use report::diff::md;
    let mut m = format!("## safeimage check: {} → {}\n\n", md(base), md(head));
    if images.is_empty() {
        m.push_str("No image's Dockerfile, context or config changed.\n");
    }
    for c in images {
        let word = match c.security {
            Security::Improved(_) => "improved",
            Security::Unchanged(_) => "unchanged",
            Security::Blocked(_) => "blocked",
        };
        m.push_str(&format!(
            "- {} — **{word}**: {}\n",
            md(&c.image),
            md(c.security.reason())
        ));
    }
    if !unchanged.is_empty() {
        m.push_str(&format!(
            "\nNot affected: {}\n",
            unchanged
                .iter()
                .map(|u| md(u))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for d in diffs {
        m.push('\n');
        m.push_str(d);
    }
    m
}
