//! Lint the Dockerfile and apply the base-image policy. Lint findings are
//! recorded; a base in the prohibited tier blocks the image before it is
//! built (decided from the policy's typed classification, so no pragma or
//! lint ignore can wave a prohibited base through).

use dockerfile::LintConfig;

use crate::cx::ImageCx;
use crate::steps::dockerfile::Dockerfile;

/// What lint found.
#[derive(Debug, Clone)]
pub struct Linted {
    /// Every finding.
    pub findings: Vec<findings::Finding>,
    /// Why the image may not be built (prohibited bases), for people.
    pub blocked: Vec<String>,
}

/// The step.
pub fn run(cx: &ImageCx<'_>, df: &Dockerfile) -> Linted {
    let mut cfg = LintConfig {
        build_args: df.args.clone(),
        policy: cx
            .spec
            .policy
            .clone()
            .or_else(|| cx.config.lint.policy.clone()),
        ..cx.config.lint.clone()
    };
    let mut blocked = Vec::new();
    if cfg.policy.as_ref().is_some_and(|p| p.current_release) {
        // the policy asks for a check only end-of-life data can make: without
        // it the image is held back, never waved through unchecked
        match cx.advisories.eol_all() {
            Ok(cycles) if !cycles.is_empty() => {
                cfg.releases = Some(dockerfile::config::ReleaseData(std::sync::Arc::new(
                    scan::eol::lint_table(&cycles, &cx.today.date()),
                )));
            }
            Ok(_) => blocked.push(
                "policy current_release: the advisory DB has no end-of-life data (`safeimage db update --feed eol`)".to_string(),
            ),
            Err(e) => blocked.push(format!("policy current_release: {e}")),
        }
    }
    let report = dockerfile::lint(std::slice::from_ref(&df.src), &cfg);
    if let Some(policy) = &cfg.policy {
        for b in &df.bases {
            if let Some(v) = policy.prohibited(b) {
                blocked.push(format!(
                    "{}:{}: {}",
                    df.src.path,
                    df.line_of(b.span.start),
                    v.message
                ));
            }
        }
    }
    Linted {
        findings: report.findings,
        blocked,
    }
}
