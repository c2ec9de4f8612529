//! The base-image policy: tiers of glob patterns on fully qualified
//! repositories, trusted registries, digest pinning, and Docker-official-only.
//!
//! The most specific matching pattern decides the tier (more literal
//! characters wins); on a tie the stricter tier wins. Images no pattern
//! matches fall into `default_tier` (prohibited unless configured).

use std::fmt;

use oci::ImageRef;
use serde::Serialize;

use crate::model::{BaseRef, BaseRefKind};

/// Policy tiers, most wanted first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Use these.
    Preferred,
    /// Allowed.
    Permitted,
    /// Allowed with a warning.
    Restricted,
    /// Blocked.
    Prohibited,
}

impl Tier {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Preferred => "preferred",
            Tier::Permitted => "permitted",
            Tier::Restricted => "restricted",
            Tier::Prohibited => "prohibited",
        }
    }
    /// Parses a tier name.
    pub fn parse(s: &str) -> Option<Tier> {
        Some(match s {
            "preferred" => Tier::Preferred,
            "permitted" => Tier::Permitted,
            "restricted" => Tier::Restricted,
            "prohibited" => Tier::Prohibited,
            _ => return None,
        })
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use oci::pattern::{Pattern, PatternError};

/// The base-image policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Patterns per tier.
    pub tiers: Vec<(Tier, Vec<Pattern>)>,
    /// One image's own patterns per tier (`[image.policy.base_images]`): a
    /// match here decides before any of `tiers`.
    pub image_tiers: Vec<(Tier, Vec<Pattern>)>,
    /// Tier of images no pattern matches.
    pub default_tier: Tier,
    /// Registries images may come from (empty: any). `*.example.com` allowed.
    pub trusted_registries: Vec<String>,
    /// Require `@sha256:` pins.
    pub require_digest: bool,
    /// From Docker Hub, only `docker.io/library/*`.
    pub docker_official_only: bool,
    /// Bases must be on a release that has not ended and is the newest LTS
    /// (or newest stable) cycle of their product (needs end-of-life data).
    pub current_release: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            tiers: Vec::new(),
            image_tiers: Vec::new(),
            default_tier: Tier::Prohibited,
            trusted_registries: Vec::new(),
            require_digest: false,
            docker_official_only: false,
            current_release: false,
        }
    }
}

/// The tier an image falls in, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// Tier.
    pub tier: Tier,
    /// Matching pattern as written; `None` when the default tier applied.
    pub pattern: Option<String>,
}

/// What a violation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ViolationKind {
    /// The image's tier (prohibited or restricted).
    Tier,
    /// The registry is not trusted.
    UntrustedRegistry,
    /// Not pinned by digest where the policy requires it.
    NotPinned,
    /// Not a Docker Official Image where the policy requires one.
    Unofficial,
}

/// A policy violation for one base reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// What it is about.
    pub kind: ViolationKind,
    /// Rule code (`base-prohibited`, ...).
    pub code: &'static str,
    /// Message.
    pub message: String,
    /// Tier of the image.
    pub tier: Tier,
    /// Pattern that decided the tier.
    pub pattern: Option<String>,
}

impl Policy {
    /// Classifies an image.
    pub fn classify(&self, r: &ImageRef) -> Classification {
        let name = r.full_name();
        Self::best(&self.image_tiers, &name)
            .or_else(|| Self::best(&self.tiers, &name))
            .unwrap_or(Classification {
                tier: self.default_tier,
                pattern: None,
            })
    }

    /// The most specific match among `tiers` (the stricter tier on a tie).
    fn best(tiers: &[(Tier, Vec<Pattern>)], name: &str) -> Option<Classification> {
        let mut best: Option<(usize, Tier, &Pattern)> = None;
        for (tier, patterns) in tiers {
            for p in patterns.iter().filter(|p| p.matches(name)) {
                let s = p.specificity();
                let better = match best {
                    None => true,
                    Some((bs, bt, _)) => s > bs || (s == bs && *tier > bt),
                };
                if better {
                    best = Some((s, *tier, p));
                }
            }
        }
        best.map(|(_, tier, p)| Classification {
            tier,
            pattern: Some(p.text.clone()),
        })
    }

    /// Whether a registry host is trusted.
    pub fn registry_trusted(&self, host: &str) -> bool {
        self.trusted_registries.is_empty()
            || self.trusted_registries.iter().any(|t| {
                let t = t.trim();
                let t = if t == "index.docker.io" {
                    "docker.io"
                } else {
                    t
                };
                t.eq_ignore_ascii_case(host)
                    || t.strip_prefix("*.").is_some_and(|suffix| {
                        host.len() > suffix.len()
                            && host
                                .to_ascii_lowercase()
                                .ends_with(&format!(".{}", suffix.to_ascii_lowercase()))
                    })
            })
    }

    /// Every violation for one base reference.
    pub fn check(&self, base: &BaseRef) -> Vec<Violation> {
        let r = &base.reference;
        let c = self.classify(r);
        let how = match base.kind {
            BaseRefKind::From => "base image",
            BaseRefKind::CopyFrom => "COPY --from image",
            BaseRefKind::MountFrom => "RUN --mount from image",
        };
        let why = match &c.pattern {
            Some(p) => format!("matches `{p}`"),
            None => "matches no pattern; unknown images cannot be verified, so they get the default tier".to_string(),
        };
        let mut out = Vec::new();
        let mut push = |kind: ViolationKind, code: &'static str, message: String| {
            out.push(Violation {
                kind,
                code,
                message,
                tier: c.tier,
                pattern: c.pattern.clone(),
            })
        };
        match c.tier {
            Tier::Prohibited => push(
                ViolationKind::Tier,
                "base-prohibited",
                format!("{how} `{}` is prohibited by policy ({why})", r.full_name()),
            ),
            Tier::Restricted => push(
                ViolationKind::Tier,
                "base-restricted",
                format!(
                    "{how} `{}` is restricted by policy ({why}); prefer a preferred or permitted image",
                    r.full_name()
                ),
            ),
            _ => {}
        }
        if !self.registry_trusted(r.registry()) {
            push(
                ViolationKind::UntrustedRegistry,
                "base-untrusted-registry",
                format!(
                    "{how} `{r}` comes from `{}`, which is not a trusted registry (trusted: {})",
                    r.registry(),
                    self.trusted_registries.join(", ")
                ),
            );
        }
        if self.require_digest && r.digest().is_none() {
            push(
                ViolationKind::NotPinned,
                "base-not-pinned",
                format!("{how} `{r}` is not pinned by digest; policy requires `@sha256:...`"),
            );
        }
        if self.docker_official_only
            && r.registry() == oci::DEFAULT_REGISTRY
            && !r.is_docker_official()
        {
            push(
                ViolationKind::Unofficial,
                "base-unofficial",
                format!(
                    "{how} `{}` is not a Docker Official Image; policy allows only docker.io/library/* from Docker Hub",
                    r.full_name()
                ),
            );
        }
        out
    }

    /// The violation that blocks a build: the image is in the prohibited tier.
    pub fn prohibited(&self, base: &BaseRef) -> Option<Violation> {
        self.check(base)
            .into_iter()
            .find(|v| v.kind == ViolationKind::Tier && v.tier == Tier::Prohibited)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        let pats = |xs: &[&str]| {
            xs.iter()
                .map(|x| Pattern::new(x).unwrap())
                .collect::<Vec<_>>()
        };
        Policy {
            tiers: vec![
                (
                    Tier::Preferred,
                    pats(&["alpine", "gcr.io/distroless/*", "scratch"]),
                ),
                (Tier::Permitted, pats(&["debian", "ubuntu"])),
                (Tier::Restricted, pats(&["node", "python", "golang"])),
                (Tier::Prohibited, pats(&["docker.io/**"])),
            ],
            ..Policy::default()
        }
    }

    fn r(s: &str) -> ImageRef {
        s.parse().unwrap()
    }

    #[test]
    fn normalizes_patterns() {
        assert_eq!(
            oci::pattern::normalize("alpine"),
            "docker.io/library/alpine"
        );
        assert_eq!(oci::pattern::normalize("bitnami/*"), "docker.io/bitnami/*");
        assert_eq!(
            oci::pattern::normalize("docker.io/node"),
            "docker.io/library/node"
        );
        assert_eq!(
            oci::pattern::normalize("gcr.io/distroless/*"),
            "gcr.io/distroless/*"
        );
        assert_eq!(
            oci::pattern::normalize("localhost:5000/*"),
            "localhost:5000/*"
        );
    }

    #[test]
    fn each_tier() {
        let p = policy();
        assert_eq!(
            p.classify(&r("alpine:3.20")),
            Classification {
                tier: Tier::Preferred,
                pattern: Some("alpine".into())
            }
        );
        assert_eq!(
            p.classify(&r("gcr.io/distroless/static-debian12")).tier,
            Tier::Preferred
        );
        assert_eq!(
            p.classify(&r("gcr.io/distroless/nested/x")).tier,
            Tier::Prohibited,
            "* stays in one segment; unknown → default"
        );
        assert_eq!(p.classify(&r("debian:12-slim")).tier, Tier::Permitted);
        assert_eq!(p.classify(&r("node:22")).tier, Tier::Restricted);
        let c = p.classify(&r("someone/random:1"));
        assert_eq!(
            (c.tier, c.pattern.as_deref()),
            (Tier::Prohibited, Some("docker.io/**"))
        );
        let c = p.classify(&r("quay.io/x/y:1"));
        assert_eq!((c.tier, c.pattern), (Tier::Prohibited, None));
    }

    #[test]
    fn an_image_s_own_patterns_decide_before_the_fleet_s() {
        let p = Policy {
            image_tiers: vec![(Tier::Permitted, vec![Pattern::new("no*").unwrap()])],
            ..policy()
        };
        // Less specific than the fleet's `node` pattern, and a looser tier:
        // still the image's own word.
        let c = p.classify(&r("node:22"));
        assert_eq!(
            (c.tier, c.pattern.as_deref()),
            (Tier::Permitted, Some("no*"))
        );
        // Images the image's patterns do not name fall back to the fleet's.
        assert_eq!(p.classify(&r("alpine:3.20")).tier, Tier::Preferred);
        assert_eq!(p.classify(&r("quay.io/x/y:1")).tier, Tier::Prohibited);
    }

    #[test]
    fn default_tier_configurable() {
        let p = Policy {
            default_tier: Tier::Permitted,
            ..policy()
        };
        assert_eq!(p.classify(&r("quay.io/x/y:1")).tier, Tier::Permitted);
    }

    #[test]
    fn trusted_registries_and_flags() {
        let p = Policy {
            trusted_registries: vec![
                "docker.io".into(),
                "*.example.com".into(),
                "localhost:5000".into(),
            ],
            require_digest: true,
            docker_official_only: true,
            ..policy()
        };
        assert!(p.registry_trusted("docker.io"));
        assert!(p.registry_trusted("reg.example.com"));
        assert!(!p.registry_trusted("example.com"));
        assert!(p.registry_trusted("localhost:5000"));
        assert!(!p.registry_trusted("quay.io"));
        let base = |s: &str| BaseRef {
            kind: BaseRefKind::From,
            reference: r(s),
            span: 0..0,
            stage: 0,
        };
        let codes = |s: &str| {
            p.check(&base(s))
                .into_iter()
                .map(|v| v.code)
                .collect::<Vec<_>>()
        };
        assert_eq!(codes("alpine:3.20"), ["base-not-pinned"]);
        assert_eq!(
            codes(&format!("alpine@sha256:{}", "a".repeat(64))),
            Vec::<&str>::new()
        );
        assert_eq!(
            codes("quay.io/x/y:1"),
            [
                "base-prohibited",
                "base-untrusted-registry",
                "base-not-pinned"
            ]
        );
        assert_eq!(
            codes("bitnami/redis:7"),
            ["base-prohibited", "base-not-pinned", "base-unofficial"]
        );
        assert_eq!(codes("node:22"), ["base-restricted", "base-not-pinned"]);
    }
}
