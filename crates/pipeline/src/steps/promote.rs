//! Promotion: only now do tags move. Each tag's current digest is read
//! first; if moving one fails, the tags already moved are put back where
//! they were, so an image is never half-promoted, and the next run retries.

use oci::Digest;

use crate::image::ImageCx;
use crate::steps::StepError;

/// The step: returns the tags moved.
pub fn run(cx: &ImageCx<'_>, digest: &Digest, tags: &[String]) -> Result<Vec<String>, StepError> {
    let repo = &cx.spec.repository;
    let pinned = format!("{}/{}@{digest}", repo.registry(), repo.repository());
    let mut moved: Vec<(String, Option<Digest>)> = Vec::new();
    for t in tags {
        let before = cx.registry.head(&repo.with_tag(t)).ok().flatten();
        match cx.registry.tag(repo, digest, t) {
            Ok(()) => moved.push((t.clone(), before)),
            Err(source) => {
                let mut restored = Vec::new();
                let mut left = Vec::new();
                for (m, prev) in moved.iter().rev() {
                    match prev {
                        Some(p) if cx.registry.tag(repo, p, m).is_ok() => restored.push(m.clone()),
                        _ => left.push(m.clone()),
                    }
                }
                let rollback = match (restored.is_empty(), left.is_empty()) {
                    (true, true) => "no tag had moved".to_string(),
                    (false, true) => format!("put back: {}", restored.join(", ")),
                    (_, false) => format!(
                        "put back: {}; could not put back (new or unreachable): {}",
                        if restored.is_empty() {
                            "none".into()
                        } else {
                            restored.join(", ")
                        },
                        left.join(", ")
                    ),
                };
                return Err(StepError::Tag {
                    tag: t.clone(),
                    pinned,
                    rollback,
                    source,
                });
            }
        }
    }
    Ok(moved.into_iter().map(|(t, _)| t).collect())
}
