//! The typed model of a daily run, shared by the pipeline (which produces
//! it), the store (which records it), notifications and reports (which
//! render it). Everything that names an image or a piece of content stays a
//! newtype here ([`oci::ImageRef`], [`oci::Digest`], [`vulndb::AdvisoryId`]
//! inside scan findings, [`dockerfile::BaseRefKind`]); decisions are enums
//! ([`Outcome`], [`Step`], [`Stage`]), never strings compared by value.

pub mod dossier;
pub mod tracked;
pub mod weekly;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use dockerfile::BaseRefKind;
pub use findings::time::Timestamp;
use oci::{Digest, ImageRef, Platform};
use serde::{Deserialize, Serialize};
use vulndb::Severity;

/// The schema name of the run report JSON.
pub const RUN_REPORT_SCHEMA: &str = "safeimage-run-report/2";

/// A run's number in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Declares a string newtype with the conversions every seam needs.
macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value already checked where it was read.
            pub fn new(s: impl Into<String>) -> Self {
                $name(s.into())
            }
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }
    };
}

name_type!(
    /// An image of the fleet by its configured name (`[[image]] name`,
    /// checked when the config is read): what the store, the leases and the
    /// audit logs are keyed by.
    ImageName
);

name_type!(
    /// Who holds an image's lease: the run's process as `host:pid`.
    Holder
);

name_type!(
    /// The process doing a run, in the form the caller's `gone` test reads
    /// (`host:pid:start-time`); empty when unknown.
    Origin
);

/// The run's decision for an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Passed; tags moved.
    Promoted,
    /// Failed the gate or the policy; no tag moved.
    Blocked,
    /// An error stopped it; no tag moved.
    Failed,
    /// Bases and build inputs unchanged since the last promotion, and the
    /// config says not to rebuild then: nothing built, nothing moved.
    Unchanged,
    /// Another run holds the image's lease: this run left it alone.
    Skipped,
    /// `--dry-run`: resolved and checked only.
    DryRun,
    /// An update's evaluation: built, pushed by digest, scanned and gated;
    /// no tag moved, nothing signed.
    Evaluated,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 7] = [
        Outcome::Promoted,
        Outcome::Blocked,
        Outcome::Failed,
        Outcome::Unchanged,
        Outcome::Skipped,
        Outcome::DryRun,
        Outcome::Evaluated,
    ];

    /// Kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Promoted => "promoted",
            Outcome::Blocked => "blocked",
            Outcome::Failed => "failed",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
            Outcome::DryRun => "dry-run",
            Outcome::Evaluated => "evaluated",
        }
    }

    /// Whether this is a final decision the store and audit log record.
    pub fn is_decision(self) -> bool {
        !matches!(
            self,
            Outcome::DryRun | Outcome::Skipped | Outcome::Evaluated
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Not an outcome name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownOutcome(pub String);

impl fmt::Display for UnknownOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        write!(
            f,
            "unknown outcome `{}` (expected {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownOutcome {}

impl FromStr for Outcome {
    type Err = UnknownOutcome;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownOutcome(s.to_string()))
    }
}

/// A step of the per-image run (timings and failures name one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Render the tag templates.
    Tags,
    /// Read and parse the Dockerfile.
    Dockerfile,
    /// Resolve base images to digests.
    Resolve,
    /// Lint and base-image policy.
    Lint,
    /// Secrets in the context, the history and the image.
    Secrets,
    /// Check the bases' signatures (`[[base_signatures]]`).
    Verify,
    /// Build with the engine.
    Build,
    /// Make the built image minimal and non-root (`[image.harden]`).
    Harden,
    /// Push by digest.
    Push,
    /// Inventory and vulnerability matching.
    Scan,
    /// The gate.
    Gate,
    /// Sign the digest and attach signed evidence (`[sign]`).
    Sign,
    /// Move the tags.
    Promote,
    /// Record the decision.
    Record,
}

impl Step {
    /// Kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Tags => "tags",
            Step::Dockerfile => "dockerfile",
            Step::Resolve => "resolve",
            Step::Lint => "lint",
            Step::Secrets => "secrets",
            Step::Verify => "verify",
            Step::Build => "build",
            Step::Harden => "harden",
            Step::Push => "push",
            Step::Scan => "scan",
            Step::Gate => "gate",
            Step::Sign => "sign",
            Step::Promote => "promote",
            Step::Record => "record",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Where an image is in the run (recorded in the store as it happens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Bases resolved, lint and policy done.
    Checked,
    /// Built and pushed by digest.
    Pushed,
    /// Scanned and gated; tags about to move.
    Gated,
}

impl Stage {
    /// Kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Checked => "checked",
            Stage::Pushed => "pushed",
            Stage::Gated => "gated",
        }
    }
}

/// A base image as resolved this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseDigest {
    /// As written (after ARG expansion).
    pub reference: ImageRef,
    /// `FROM`, `COPY --from`, `RUN --mount from`.
    pub kind: BaseRefKind,
    /// What the reference resolved to (an index or a manifest).
    pub digest: Digest,
    /// Each platform's manifest under it.
    pub platforms: Vec<PlatformDigest>,
    /// The digest the last promoted build used, when different.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Digest>,
}

/// A platform and the manifest built or resolved for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformDigest {
    /// Platform.
    pub platform: Platform,
    /// Its manifest.
    pub digest: Digest,
}

/// One platform of an image's run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlatformOutcome {
    /// Platform.
    pub platform: Platform,
    /// Its manifest (pushed by digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// Built this run (false: its bases and inputs were unchanged, the last
    /// promoted manifest is reused).
    pub rebuilt: bool,
    /// Counted findings by severity.
    pub counts: BTreeMap<Severity, usize>,
    /// Counted findings with a fix.
    pub fixable: usize,
    /// Against the last promoted build of this platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<scan::baseline::Diff>,
    /// Why this platform blocks the image (gate reasons).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Findings.
    pub findings: Vec<scan::Finding>,
    /// What hardening did (when `[image.harden]` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardened: Option<Hardening>,
    /// The platform's inventory as JSON, when it was built this run (kept
    /// with the promotion so `rematch` can match it again without the
    /// image); not part of the report.
    #[serde(skip)]
    pub inventory: Option<String>,
    /// Where its distribution release and runtimes stand (end of life).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eol: Vec<vulndb::feed::eol::EolStatus>,
}

/// What hardening did to one platform's image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hardening {
    /// Compressed layer bytes of the built image.
    pub before_compressed: u64,
    /// Compressed layer bytes of the hardened image.
    pub after_compressed: u64,
    /// Uncompressed layer bytes of the built image.
    pub before_uncompressed: u64,
    /// Uncompressed layer bytes of the hardened image.
    pub after_uncompressed: u64,
    /// Files and links kept.
    pub files: usize,
    /// Packages owning kept files.
    pub packages: usize,
    /// Smoke checks passed.
    pub checks: Vec<String>,
    /// The `-debug` sibling's manifest (pushed by digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_digest: Option<Digest>,
}

/// The step that stopped an image, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The step.
    pub step: Step,
    /// What happened.
    pub message: String,
}

/// Everything the run learned about one image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageOutcome {
    /// Image name (unique in the fleet config).
    pub name: String,
    /// Destination repository.
    pub repository: ImageRef,
    /// Decision.
    pub outcome: Outcome,
    /// Why (gate reasons, policy violations, the error), for people.
    pub reasons: Vec<String>,
    /// The step that failed, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Bases.
    pub bases: Vec<BaseDigest>,
    /// What was pushed: the manifest, or for several platforms the index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// The hardened image's `-debug` sibling (manifest or index), when one
    /// was pushed; its tags are the image's with a `-debug` suffix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_digest: Option<Digest>,
    /// Per platform (one entry for a single-platform image).
    #[serde(default)]
    pub platforms: Vec<PlatformOutcome>,
    /// The last promoted digest before this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_digest: Option<Digest>,
    /// Tags moved (empty unless promoted).
    pub tags: Vec<String>,
    /// Counted findings by severity.
    pub counts: BTreeMap<Severity, usize>,
    /// Counted findings with a fix.
    pub fixable: usize,
    /// Lint findings.
    pub lint: Vec<findings::Finding>,
    /// Secrets found (redacted): context, history, image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<findings::Finding>,
    /// Signed and attached (`[sign]`): the signature and each attestation's type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed: Vec<String>,
    /// Base images whose signatures were checked (`[[base_signatures]]`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bases_verified: usize,
    /// Comparison with the last promoted scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<scan::baseline::Diff>,
    /// Vulnerability findings (for reports and the next baseline).
    pub findings: Vec<scan::Finding>,
    /// Where its distribution release and runtimes stand (end of life; for
    /// several platforms each release once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eol: Vec<vulndb::feed::eol::EolStatus>,
    /// Fingerprint of the build inputs (Dockerfile, args, context files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<String>,
    /// Seconds in the build engine.
    pub engine_seconds: f64,
    /// Seconds in everything else.
    pub other_seconds: f64,
    /// Seconds per step.
    #[serde(default)]
    pub steps: BTreeMap<Step, f64>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl ImageOutcome {
    /// A fresh outcome (`Failed` until a step says otherwise).
    pub fn new(name: &str, repository: &ImageRef, previous: Option<Digest>) -> Self {
        ImageOutcome {
            name: name.to_string(),
            repository: repository.clone(),
            outcome: Outcome::Failed,
            reasons: Vec::new(),
            failure: None,
            bases: Vec::new(),
            digest: None,
            debug_digest: None,
            platforms: Vec::new(),
            previous_digest: previous,
            tags: Vec::new(),
            counts: BTreeMap::new(),
            fixable: 0,
            lint: Vec::new(),
            secrets: Vec::new(),
            signed: Vec::new(),
            bases_verified: 0,
            baseline: None,
            findings: Vec::new(),
            eol: Vec::new(),
            inputs: None,
            engine_seconds: 0.0,
            other_seconds: 0.0,
            steps: BTreeMap::new(),
        }
    }

    /// The pushed image as `repository@digest`.
    pub fn pinned(&self) -> Option<String> {
        self.digest.as_ref().map(|d| {
            format!(
                "{}/{}@{d}",
                self.repository.registry(),
                self.repository.repository()
            )
        })
    }
}

/// A whole run, for reports and notifications.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// Always [`RUN_REPORT_SCHEMA`].
    pub schema: String,
    /// Run id in the store.
    pub run: RunId,
    /// Start.
    pub started: Timestamp,
    /// End.
    pub finished: Timestamp,
    /// Config file.
    pub config: String,
    /// Engine.
    pub engine: String,
    /// Images.
    pub images: Vec<ImageOutcome>,
    /// Notes (recovery, notifier failures, store problems).
    pub notes: Vec<String>,
    /// Errors outside any one image (recording a decision, say).
    #[serde(default)]
    pub errors: Vec<String>,
    /// The run was stopped (SIGINT/SIGTERM) before every image was done.
    #[serde(default)]
    pub interrupted: bool,
    /// Wall time of the run (seconds).
    pub wall_seconds: f64,
    /// Findings of the fleet's promoted images past their `[sla]` deadline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overdue: Vec<tracked::Overdue>,
    /// What this run did to the images' security issues.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<tracked::IssueChange>,
}

impl RunReport {
    /// Images per outcome (every outcome present, zero or not).
    pub fn summary(&self) -> BTreeMap<Outcome, usize> {
        let mut m: BTreeMap<Outcome, usize> = Outcome::ALL.iter().map(|o| (*o, 0)).collect();
        for i in &self.images {
            *m.entry(i.outcome).or_default() += 1;
        }
        m
    }

    /// Whether any image has this outcome.
    pub fn any(&self, o: Outcome) -> bool {
        self.images.iter().any(|i| i.outcome == o)
    }
}

/// A base of the last promoted build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotedBase {
    /// Reference as written.
    pub reference: ImageRef,
    /// Digest it resolved to.
    pub digest: Digest,
}

/// The last promoted build of an image.
#[derive(Debug, Clone, PartialEq)]
pub struct Promoted {
    /// The run that promoted it.
    pub run: RunId,
    /// Manifest (or index) digest.
    pub digest: Digest,
    /// Its scan findings per platform (the next run's baseline); `*` holds
    /// what stores written before per-platform results kept.
    pub findings: BTreeMap<String, Vec<scan::Finding>>,
    /// Its manifest per platform.
    pub platforms: Vec<PlatformDigest>,
    /// Bases it was built from.
    pub bases: Vec<PromotedBase>,
    /// Version it was built as.
    pub version: Option<String>,
    /// Fingerprint of its build inputs.
    pub inputs: Option<String>,
}

/// What the store knows about an image from earlier runs.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// The last promoted build.
    pub promoted: Option<Promoted>,
    /// Known platform manifests: (digest, platform) → platform digest.
    pub platform_cache: BTreeMap<(Digest, Platform), Digest>,
    /// Build number for `{n}` (promotions of this version so far + 1).
    pub n: u64,
}

impl Promoted {
    /// The findings of one platform's last promotion.
    pub fn findings_for(&self, p: &Platform) -> Option<&Vec<scan::Finding>> {
        self.findings
            .get(&p.to_string())
            .or_else(|| self.findings.get("*"))
    }

    /// The manifest one platform was last promoted with.
    pub fn digest_for(&self, p: &Platform) -> Option<&Digest> {
        self.platforms
            .iter()
            .find(|x| &x.platform == p)
            .map(|x| &x.digest)
    }
}

impl History {
    /// The digest a base reference resolved to in the last promoted build.
    pub fn promoted_base(&self, reference: &ImageRef) -> Option<&Digest> {
        self.promoted
            .as_ref()?
            .bases
            .iter()
            .find(|b| &b.reference == reference)
            .map(|b| &b.digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_by_name() {
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(o));
            assert_eq!(
                serde_json::to_value(o).unwrap(),
                serde_json::Value::from(o.as_str())
            );
        }
        let e = "exploded".parse::<Outcome>().unwrap_err().to_string();
        assert!(
            e.contains("promoted, blocked, failed, unchanged, skipped, dry-run"),
            "{e}"
        );
    }

    #[test]
    fn report_json_round_trips_with_typed_fields() {
        let repo: ImageRef = "127.0.0.1:5000/fleet/app".parse().unwrap();
        let d: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        let mut o = ImageOutcome::new("app", &repo, None);
        o.outcome = Outcome::Promoted;
        o.digest = Some(d.clone());
        o.steps.insert(Step::Build, 1.5);
        o.bases.push(BaseDigest {
            reference: "debian:12".parse().unwrap(),
            kind: BaseRefKind::From,
            digest: d.clone(),
            platforms: vec![PlatformDigest {
                platform: "linux/amd64".parse().unwrap(),
                digest: d.clone(),
            }],
            previous: None,
        });
        let r = RunReport {
            schema: RUN_REPORT_SCHEMA.into(),
            run: RunId(3),
            started: Timestamp(0),
            finished: Timestamp(60),
            config: "fleet.toml".into(),
            engine: "buildah".into(),
            images: vec![o],
            notes: vec![],
            errors: vec![],
            interrupted: false,
            wall_seconds: 60.0,
            overdue: Vec::new(),
            issues: Vec::new(),
        };
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["images"][0]["steps"]["build"], 1.5);
        assert_eq!(j["images"][0]["bases"][0]["kind"], "from");
        assert_eq!(j["started"], "1970-01-01T00:00:00Z");
        let back: RunReport = serde_json::from_value(j).unwrap();
        assert_eq!(back.images[0].digest, Some(d));
        assert_eq!(back.summary()[&Outcome::Promoted], 1);
        assert_eq!(
            back.images[0].pinned().unwrap(),
            format!("127.0.0.1:5000/fleet/app@sha256:{}", "a".repeat(64))
        );
    }
}
