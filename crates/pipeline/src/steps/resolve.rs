//! Resolve every base reference to a digest (HEAD), and to each platform's
//! manifest under it (a GET, only for digests the store has not seen). The
//! builds then use exactly these digests ([`pin_dockerfile`]), so a base
//! tag that moves during the run cannot slip in unrecorded.

use dockerfile::{BaseRef, BaseRefKind};
use model::{BaseDigest, PlatformDigest};
use oci::Digest;

use crate::cx::ImageCx;
use crate::steps::StepError;
use crate::steps::dockerfile::Dockerfile;

/// The resolved bases.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// References to rewrite in the Dockerfile, with their digests.
    pub pins: Vec<(BaseRef, Digest)>,
    /// One entry per distinct reference, for the outcome and the store.
    pub bases: Vec<BaseDigest>,
    /// Every base is on loopback or on a registry declared insecure.
    pub insecure_pull: bool,
}

/// The step.
pub fn run(cx: &ImageCx<'_>, df: &Dockerfile) -> Result<Resolved, StepError> {
    let platforms = cx.spec.platforms();
    let mut out = Resolved {
        pins: Vec::new(),
        bases: Vec::new(),
        insecure_pull: true,
    };
    for b in &df.bases {
        let r = &b.reference;
        out.insecure_pull &= oci::source::is_loopback(r.registry())
            || cx
                .registry_options
                .insecure
                .iter()
                .any(|h| h == r.registry());
        let digest = match r.digest() {
            Some(d) => d.clone(),
            None => match cx.registry.head(r) {
                Ok(Some(d)) => d,
                Ok(None) => {
                    return Err(StepError::BaseNotFound {
                        reference: r.clone(),
                        file: df.src.path.clone(),
                        line: df.line_of(b.span.start),
                    });
                }
                Err(source) => {
                    return Err(StepError::Resolve {
                        reference: r.clone(),
                        source,
                    });
                }
            },
        };
        let mut per_platform = Vec::new();
        for platform in &platforms {
            let key = (digest.clone(), platform.clone());
            let pd = match cx.history.platform_cache.get(&key) {
                Some(p) => p.clone(),
                None => cx
                    .registry
                    .platform_digest(r, &digest, platform)
                    .map_err(|source| StepError::Platform {
                        reference: r.clone(),
                        platform: platform.clone(),
                        source,
                    })?,
            };
            per_platform.push(PlatformDigest {
                platform: platform.clone(),
                digest: pd,
            });
        }
        if r.digest().is_none() {
            out.pins.push((b.clone(), digest.clone()));
        }
        if !out.bases.iter().any(|x| &x.reference == r) {
            out.bases.push(BaseDigest {
                reference: r.clone(),
                kind: b.kind,
                previous: cx
                    .history
                    .promoted_base(r)
                    .filter(|p| **p != digest)
                    .cloned(),
                digest,
                platforms: per_platform,
            });
        }
    }
    Ok(out)
}

/// The Dockerfile text with every resolved base reference replaced by
/// `registry/repository@digest` (containers/image refuses tag + digest).
pub fn pin_dockerfile(text: &str, pins: &[(BaseRef, Digest)]) -> String {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (b, d) in pins {
        let pinned = format!(
            "{}/{}@{d}",
            b.reference.registry(),
            b.reference.repository()
        );
        let (start, end) = (b.span.start, b.span.end.min(text.len()));
        if start >= end || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            continue;
        }
        match b.kind {
            BaseRefKind::MountFrom => {
                // Only the `from=` value inside the mount options.
                let opts = &text[start..end];
                let mut at = 0;
                for part in opts.split(',') {
                    if let Some(v) = part.strip_prefix("from=") {
                        let vs = start + at + 5;
                        edits.push((vs, vs + v.len(), pinned.clone()));
                    }
                    at += part.len() + 1;
                }
            }
            _ => edits.push((start, end, pinned)),
        }
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    edits.dedup_by(|a, b| a.0 == b.0);
    let mut out = text.to_string();
    for (s, e, r) in edits {
        out.replace_range(s..e, &r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_rewrites_only_image_references() {
        let text = "ARG BASE=r.example/base/debian:12\nFROM ${BASE} AS build\nRUN --mount=type=cache,from=r.example/tools:1,target=/t true\nCOPY --from=r.example/assets:2 /a /a\nFROM build\nCOPY --from=build /x /x\n";
        let src = dockerfile::SourceFile::new("Dockerfile", text);
        let parsed = dockerfile::Parsed::parse(&src, &Default::default()).unwrap();
        let d: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        let pins: Vec<_> = parsed
            .base_refs()
            .into_iter()
            .map(|b| (b, d.clone()))
            .collect();
        assert_eq!(pins.len(), 3);
        let out = pin_dockerfile(text, &pins);
        let a = "a".repeat(64);
        assert!(
            out.contains(&format!("FROM r.example/base/debian@sha256:{a} AS build")),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "--mount=type=cache,from=r.example/tools@sha256:{a},target=/t true"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!("COPY --from=r.example/assets@sha256:{a} /a /a")),
            "{out}"
        );
        assert!(
            out.contains("FROM build\nCOPY --from=build /x /x"),
            "stages untouched: {out}"
        );
        assert!(out.starts_with("ARG BASE=r.example/base/debian:12\n"));
    }
}
