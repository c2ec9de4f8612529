//! The steps of one image's run, one module each, in the order
//! [`crate::image::run`] calls them: tags, dockerfile, lint (and the
//! base-image policy), secrets (context), resolve, build, harden, secrets
//! (image), push, scan, gate, promote. Each takes the image's context and
//! the typed results of the steps before it, and returns typed data or a
//! [`Stop`]: a typed [`StepError`], a block (gate or policy), or a reason
//! not to go on (dry run, unchanged).

pub mod build;
pub mod dockerfile;
pub mod gate;
pub mod harden;
pub mod inputs;
pub mod lint;
pub mod promote;
pub mod provenance;
pub mod push;
pub mod resolve;
pub mod scan;
pub mod secrets;
pub mod tags;

use model::Step;
use oci::registry::RegistryError;
use oci::{ImageRef, Platform};

use crate::engine::EngineError;

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// A tag template could not be rendered.
    #[error("image `{image}`: {message}")]
    Tags {
        /// Image.
        image: String,
        /// What.
        message: String,
    },
    /// The Dockerfile could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// File.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The Dockerfile does not parse.
    #[error(transparent)]
    Syntax(#[from] ::dockerfile::model::SyntaxError),
    /// A base reference does not exist.
    #[error("base image {reference} ({file}:{line}): not found in the registry")]
    BaseNotFound {
        /// The reference.
        reference: ImageRef,
        /// Dockerfile.
        file: String,
        /// Line.
        line: usize,
    },
    /// Resolving a base failed.
    #[error("resolving base image {reference}: {source}")]
    Resolve {
        /// The reference.
        reference: ImageRef,
        /// Cause.
        source: RegistryError,
    },
    /// Resolving a base's platform manifest failed.
    #[error("resolving base image {reference} for {platform}: {source}")]
    Platform {
        /// The reference.
        reference: ImageRef,
        /// Platform.
        platform: Platform,
        /// Cause.
        source: RegistryError,
    },
    /// Files in the work directory.
    #[error("{}: {source}", path.display())]
    Work {
        /// File.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The build failed.
    #[error(transparent)]
    Build(#[from] EngineError),
    /// Hardening stopped (not a failed smoke check: that blocks).
    #[error(transparent)]
    Harden(#[from] ::harden::HardenError),
    /// A secret scan could not run (git history unreadable).
    #[error("secrets: {0}")]
    Secrets(String),
    /// The push failed.
    #[error("pushing {repository}: {source}")]
    Push {
        /// Repository.
        repository: ImageRef,
        /// Cause.
        source: RegistryError,
    },
    /// The built image could not be read.
    #[error("reading the built image: {0}")]
    Analyze(#[from] oci::AnalyzeError),
    /// Matching failed.
    #[error(transparent)]
    Scan(#[from] vulndb::DbError),
    /// Reading or writing signatures and attachments.
    #[error(transparent)]
    Provenance(#[from] ::provenance::ProvenanceError),
    /// Another run took over the image (this run's lease expired).
    #[error(transparent)]
    LeaseLost(#[from] crate::cx::FenceError),
    /// The run was asked to stop before this step.
    #[error("interrupted before the {0} step: the run was stopped (SIGINT/SIGTERM)")]
    Interrupted(Step),
    /// Moving a tag failed; the tags moved before it were put back.
    #[error(
        "moving tag {tag}: {source} (the image is pushed as {pinned}; {rollback}; rerun to retry)"
    )]
    Tag {
        /// The tag that failed.
        tag: String,
        /// `repo@digest`.
        pinned: String,
        /// What happened to the tags moved before it.
        rollback: String,
        /// Cause.
        source: RegistryError,
    },
}

/// Why an image's run stopped before promotion.
#[derive(Debug)]
pub enum Stop {
    /// A step failed.
    Failed(Step, Box<StepError>),
    /// The gate or the policy said no (reasons for people).
    Blocked(Vec<String>),
    /// `--dry-run`: resolved and checked only.
    DryRun,
    /// Evaluated: gated, nothing signed or tagged.
    Evaluated,
    /// Nothing changed since the last promotion (why).
    Unchanged(String),
}

/// Attaches the step to an error.
pub trait AtStep<T> {
    /// `Stop::Failed(step, e)` for an error.
    fn at(self, step: Step) -> Result<T, Stop>;
}

impl<T, E: Into<StepError>> AtStep<T> for Result<T, E> {
    fn at(self, step: Step) -> Result<T, Stop> {
        self.map_err(|e| Stop::Failed(step, Box::new(e.into())))
    }
}
