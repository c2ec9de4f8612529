//! What one image's run reads, given to every step: the image, the fleet
//! config, what earlier runs left, the side effects (registry, engine,
//! advisory DB), the run's suppressions, scanner and signer, and the
//! run's clock, stage recorder, cancel flag and lease fence.

use std::path::PathBuf;

use model::{History, RunId, Stage, Timestamp};
use oci::Digest;

use crate::config::{FleetConfig, ImageSpec};
use crate::deps::{Advisories, Registry};
use crate::engine::Engine;

/// Ignore rules and VEX statements, read once per run.
#[derive(Debug, Clone, Default)]
pub struct Suppressions {
    /// Ignore-file rules.
    pub rules: Vec<scan::suppress::Rule>,
    /// VEX statements.
    pub vex: Vec<scan::suppress::VexStatement>,
}

/// Why this run may not move the image's tags any more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FenceError {
    /// Another run took the image (this run's lease expired).
    #[error("this run's lease on {0} expired and another run took it; nothing promoted")]
    Taken(model::ImageName),
    /// The store could not say.
    #[error("{image}: checking its lease: {message}")]
    Store {
        /// The image.
        image: model::ImageName,
        /// What the store said.
        message: String,
    },
}

/// Records a stage (in the store, and for the observer).
pub type StageFn<'a> = dyn Fn(&model::ImageName, Stage, Option<&Digest>) + Sync + 'a;

/// Everything one image's run reads.
pub struct ImageCx<'a> {
    /// The run.
    pub run: RunId,
    /// The image.
    pub spec: &'a ImageSpec,
    /// The fleet config.
    pub config: &'a FleetConfig,
    /// What earlier runs left.
    pub history: &'a History,
    /// Registry.
    pub registry: &'a dyn Registry,
    /// Engine.
    pub engine: &'a dyn Engine,
    /// Advisory DB.
    pub advisories: &'a dyn Advisories,
    /// Ignore rules and VEX.
    pub suppress: &'a Suppressions,
    /// Matching options.
    pub scan_opts: &'a scan::Options,
    /// Insecure hosts and credentials (for the engine's pulls).
    pub registry_options: &'a oci::source::RegistryOptions,
    /// This image's work directory (pinned Dockerfile, build log, layout).
    pub work: PathBuf,
    /// Layer cache.
    pub cache_dir: Option<PathBuf>,
    /// Today (tags, ignore-rule expiry).
    pub today: Timestamp,
    /// Resolve and check only.
    pub dry_run: bool,
    /// Stop after the gate (an update's evaluation).
    pub evaluate: bool,
    /// Stage recorder.
    pub stage: &'a StageFn<'a>,
    /// Set when the run must stop.
    pub cancel: &'a crate::deps::Cancel,
    /// Checks (renewing it) that this run still holds the image's lease.
    pub fence: &'a (dyn Fn() -> Result<(), FenceError> + Sync),
    /// The secret scanner (`[secrets]`).
    pub secrets: &'a crate::scanner::Scanner,
    /// The `[sign]` key, opened (none on dry runs or without `[sign]`).
    pub signer: Option<&'a crate::signer::Signer>,
    /// The image's tracked findings already past their `[sla]` deadline
    /// (read only when its gate has `block_on_overdue`).
    pub overdue: Vec<model::tracked::Overdue>,
}
