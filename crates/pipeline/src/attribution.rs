//! Attribution of an image's layers for `scan` and the run: the base found
//! (given, from the manifest's base annotations, or from the Dockerfile's
//! final FROM), the Dockerfile's build steps read, and
//! [`inventory::attribution::attribute`] applied.

use std::path::Path;

use dockerfile::{Parsed, SourceFile};
use inventory::attribution::{Attribution, BaseImage, HistoryEntry, Step, attribute};
use oci::Source;

/// Why attribution could not start.
#[derive(Debug, thiserror::Error)]
pub enum AttributionError {
    /// The Dockerfile could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The Dockerfile is not valid.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// Line.
        line: u32,
        /// Column.
        column: u32,
        /// Why.
        message: String,
    },
    /// `--base` named something that is not an image source.
    #[error("--base {given}: {message}")]
    BaseSource {
        /// As given.
        given: String,
        /// Why.
        message: String,
    },
    /// `--base` could not be read.
    #[error("--base {given}: {source}")]
    Base {
        /// As given.
        given: String,
        /// Why.
        source: Box<oci::AnalyzeError>,
    },
}

/// Where the base comes from.
#[derive(Debug, Clone, Default)]
pub struct BaseHint {
    /// Given by the user (`--base REF`): an error when it cannot be read.
    pub given: Option<String>,
    /// Known already (the run resolved it): its name and layers.
    pub known: Option<BaseImage>,
}

/// The Dockerfile's build steps, as attribution takes them, and the image
/// its final stage starts from (when it is an image).
pub fn read_dockerfile(
    path: &Path,
) -> Result<(Vec<Step>, Option<oci::ImageRef>), AttributionError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| AttributionError::Read {
        path: name.clone(),
        source: e,
    })?;
    let src = SourceFile::new(name, text);
    dockerfile_steps(&src, &Default::default(), None)
}

/// The build steps of a Dockerfile already read (the run's), for a build
/// that stops at `target` (the last stage when `None`), and the image the
/// build's first stage starts from.
pub fn dockerfile_steps(
    src: &SourceFile,
    build_args: &std::collections::HashMap<String, String>,
    target: Option<&str>,
) -> Result<(Vec<Step>, Option<oci::ImageRef>), AttributionError> {
    let name = src.path.clone();
    let parsed = Parsed::parse(src, build_args).map_err(|e| AttributionError::Syntax {
        path: e.path.clone(),
        line: e.line,
        column: e.column,
        message: e.message.clone(),
    })?;
    let last = target
        .and_then(|t| parsed.find_stage(t, parsed.stages.len()))
        .unwrap_or(parsed.stages.len().saturating_sub(1));
    let steps = parsed
        .build_steps_to(src, last)
        .into_iter()
        .map(|s| Step {
            file: name.clone(),
            line: s.line,
            keyword: s.keyword,
            text: s.text,
            command: s.command,
        })
        .collect();
    let from = parsed
        .ancestry(last)
        .last()
        .and_then(|&root| match &parsed.stages[root].base {
            dockerfile::Base::Image { reference } => Some(reference.clone()),
            _ => None,
        });
    Ok((steps, from))
}

/// The base's layers, read from `source` for the image's platform.
fn base_layers(source: &Source, opts: &oci::Options) -> Result<BaseImage, oci::AnalyzeError> {
    let opened = oci::analyze::open(source, opts)?;
    let diff_ids = opened
        .image()
        .map(|i| i.layers.iter().map(|l| l.diff_id.to_string()).collect())
        .unwrap_or_default();
    Ok(BaseImage {
        name: source.to_string(),
        diff_ids,
    })
}

/// Attributes `image`'s layers, given the Dockerfile's steps as
/// [`read_dockerfile`] read them. A base named by the image's annotations
/// is fetched only from the registry the image itself came from (the
/// image is not trusted to send us elsewhere). A base that cannot be read
/// is a note (said only when nothing else told base and app apart);
/// `--base` that cannot be read is an error.
pub fn attribute_image(
    image: &oci::Image,
    dockerfile: Option<&(Vec<Step>, Option<oci::ImageRef>)>,
    hint: &BaseHint,
    opts: &oci::Options,
) -> Result<Attribution, AttributionError> {
    let (steps, from) = match dockerfile {
        Some((s, f)) => (Some(s.clone()), f.clone()),
        None => (None, None),
    };
    let mut opts = opts.clone();
    opts.platform = image.platform.clone();
    let mut unread = Vec::new();
    let base = if let Some(b) = &hint.known {
        Some(b.clone())
    } else if let Some(given) = &hint.given {
        let src: Source =
            given
                .parse()
                .map_err(|e: oci::source::SourceError| AttributionError::BaseSource {
                    given: given.clone(),
                    message: e.to_string(),
                })?;
        Some(
            base_layers(&src, &opts).map_err(|e| AttributionError::Base {
                given: given.clone(),
                source: Box::new(e),
            })?,
        )
    } else {
        let mut candidates = Vec::new();
        if let (Some(name), Some(digest)) = (
            image.annotations.get(oci::image::BASE_NAME),
            image.annotations.get(oci::image::BASE_DIGEST),
        ) {
            // the annotations are the image's own words: a host they name
            // is contacted only when it is the one the image came from
            let own = image.reference.as_ref().map(|r| r.registry());
            match name
                .parse::<oci::ImageRef>()
                .ok()
                .zip(digest.parse::<oci::Digest>().ok())
            {
                Some((r, _)) if own != Some(r.registry()) => unread.push(format!(
                    "the image's base annotations name {r}, not on the registry the image came from: not fetched (give --base)"
                )),
                Some((r, d)) => candidates.push(("the image's base annotations", r.with_digest(d))),
                None => unread.push(format!(
                    "the image's base annotations ({name}, {digest}) do not name an image"
                )),
            }
        }
        if let Some(r) = from {
            candidates.push(("the Dockerfile's FROM", r));
        }
        let mut found = None;
        for (why, r) in candidates {
            match base_layers(&Source::Registry { reference: r.clone() }, &opts) {
                Ok(b) if image.layers.len() >= b.diff_ids.len()
                    && image
                        .layers
                        .iter()
                        .zip(&b.diff_ids)
                        .all(|(l, d)| l.diff_id.to_string() == *d) =>
                {
                    found = Some(b);
                    break;
                }
                Ok(_) => unread.push(format!(
                    "the base {r} ({why}) is not under this image now (its tag moved since the build?)"
                )),
                Err(e) => unread.push(format!("the base {r} ({why}) could not be read: {e}")),
            }
        }
        found
    };
    let mut a = attribute_with(image, base.as_ref(), steps.as_deref());
    if !a.knows_base() {
        a.notes.extend(unread);
    }
    Ok(a)
}

/// Attributes `image`'s layers given its base (when known) and the build
/// steps (when known); nothing is read.
pub fn attribute_with(
    image: &oci::Image,
    base: Option<&BaseImage>,
    steps: Option<&[Step]>,
) -> Attribution {
    let diff_ids: Vec<String> = image.layers.iter().map(|l| l.diff_id.to_string()).collect();
    let history: Vec<HistoryEntry> = image
        .config
        .history
        .iter()
        .map(|h| HistoryEntry {
            created_by: h.created_by.clone().unwrap_or_default(),
            empty_layer: h.empty_layer == Some(true),
        })
        .collect();
    attribute(&diff_ids, &history, base, steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image read from a local layout whose annotations name a base on
    /// a host of the image's choosing: that host is not contacted (had it
    /// been tried, the note would say it could not be read).
    #[test]
    fn a_base_the_annotations_put_on_another_host_is_not_fetched() {
        let image = oci::Image {
            source: "oci:/tmp/x:v1".into(),
            reference: None,
            manifest_digest: None,
            index_digest: None,
            platform: oci::Platform::host(),
            config_digest: None,
            config: Default::default(),
            layers: vec![],
            annotations: [
                (
                    oci::image::BASE_NAME.to_string(),
                    "attacker.example/base:1".to_string(),
                ),
                (
                    oci::image::BASE_DIGEST.to_string(),
                    format!("sha256:{}", "a".repeat(64)),
                ),
            ]
            .into(),
        };
        let a =
            attribute_image(&image, None, &BaseHint::default(), &oci::Options::default()).unwrap();
        assert!(
            a.notes
                .iter()
                .any(|n| n.contains("attacker.example") && n.contains("not fetched")),
            "{:?}",
            a.notes
        );
        assert!(!a.notes.iter().any(|n| n.contains("could not be read")));
    }
}
