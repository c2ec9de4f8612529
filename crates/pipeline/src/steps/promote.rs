//! Promotion: only now do tags move (the image's, and a hardened image's
//! `-debug` sibling's). Each tag's current digest is read first; if moving
//! one fails, the tags already moved are put back where they were, so an
//! image is never half-promoted, and the next run retries.

use oci::Digest;

use crate::cx::ImageCx;
use crate::steps::StepError;

/// The step: moves each set of tags to its digest (the image first);
/// returns the tags moved.
pub fn run(cx: &ImageCx<'_>, moves: &[(Digest, Vec<String>)]) -> Result<Vec<String>, StepError> {
    let repo = &cx.spec.repository;
    let Some((first, _)) = moves.first() else {
        return Ok(Vec::new());
    };
    let pinned = format!("{}/{}@{first}", repo.registry(), repo.repository());
    let mut moved: Vec<(String, Option<Digest>)> = Vec::new();
    for (digest, t) in moves
        .iter()
        .flat_map(|(d, ts)| ts.iter().map(move |t| (d, t)))
    {
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
