//! Secrets (`[secrets]`): before building, the build context (files,
//! `.gitignore` honoured) and the history of the repository holding it (every
//! added line); after building (and hardening), every layer of the image and
//! its config. A finding of a kind set to `block` (the default) blocks the
//! image: from the context before anything is built (it would be baked in or
//! leaked), from the image before anything is pushed. Findings are kept
//! redacted in the outcome, the store and the notifications.

use std::path::Path;

use secrets::found::Found;
use secrets::settings::Action;

use crate::cx::ImageCx;
use crate::engine::Built;
use crate::scanner::Scanner;
use crate::steps::{StepError, Stop};

/// What a scan found, and the reasons it blocks for.
#[derive(Debug, Default)]
pub struct Scanned {
    /// Findings, redacted.
    pub findings: Vec<findings::Finding>,
    /// Why the image is blocked (empty: it is not).
    pub blocking: Vec<String>,
}

fn collect(s: &Scanner, found: Vec<Found>, action: Action, what: &str, out: &mut Scanned) {
    for f in found {
        if s.ignored.contains(&f.fingerprint()) {
            continue;
        }
        let finding = f.to_finding(false);
        if action == Action::Block && !f.hit.example {
            out.blocking.push(format!(
                "secret {what}: {} [{}] {}",
                if finding.location.line > 0 {
                    format!("{}:{}", finding.location.path, finding.location.line)
                } else {
                    finding.location.path.clone()
                },
                finding.code,
                finding.message
            ));
        }
        out.findings.push(finding);
    }
}

/// The top of the git repository holding `dir`, if it is in one.
fn repository(dir: &Path) -> Option<std::path::PathBuf> {
    let out = sandbox::git::command(dir)
        .args(["rev-parse", "--show-toplevel"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Before building: the context and its repository's history.
pub fn context(cx: &ImageCx<'_>, s: &Scanner) -> Result<Scanned, StepError> {
    let mut out = Scanned::default();
    if s.settings.context != Action::Off {
        // What the builder is sent: everything but what .dockerignore
        // excludes (a file .gitignore hides is sent all the same).
        let opts = secrets::dir::DirOptions {
            gitignore: false,
            ignore_files: vec![".dockerignore".into()],
            cancel: Some(cx.cancel.flag()),
            ..Default::default()
        };
        let (found, seen) = secrets::dir::scan(&cx.spec.context, &s.engine, &opts);
        if seen.cancelled {
            return Err(StepError::Interrupted(model::Step::Secrets));
        }
        collect(
            s,
            found,
            s.settings.context,
            "in the build context",
            &mut out,
        );
    }
    if s.settings.history != Action::Off
        && let Some(repo) = repository(&cx.spec.context)
    {
        let (found, _) = secrets::git::scan(&repo, None, &s.engine)
            .map_err(|e| StepError::Secrets(e.to_string()))?;
        collect(
            s,
            found,
            s.settings.history,
            "in the repository's history",
            &mut out,
        );
    }
    Ok(out)
}

/// After building: every layer and the config of the image to be pushed.
pub fn image(s: &Scanner, built: &Built, platform: &oci::Platform) -> Result<Scanned, Stop> {
    let mut out = Scanned::default();
    if s.settings.image == Action::Off {
        return Ok(out);
    }
    let src = oci::Source::OciLayout {
        dir: built.layout.clone(),
        tag: None,
    };
    let opts = oci::Options {
        platform: platform.clone(),
        ..Default::default()
    };
    let (found, _) = secrets::image::scan(&src, &opts, &s.engine)
        .map_err(|e| Stop::Failed(model::Step::Scan, Box::new(StepError::Analyze(e))))?;
    collect(s, found, s.settings.image, "in the image", &mut out);
    Ok(out)
}
