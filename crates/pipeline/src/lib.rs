//! The daily rebuild as a library of typed steps.
//!
//! - [`config`]: the fleet config, read once (each section by its owner);
//! - [`fleet::run`]: the whole run over the fleet, given its side effects
//!   ([`fleet::Deps`]: registry, engine, state store, notifier, advisory DB,
//!   clock, observer);
//! - [`image::run`]: one image's sequence of [`steps`]: tags, dockerfile,
//!   lint and policy, resolve, build, push, scan, gate, promote;
//! - [`deps`] and [`engine`]: the side-effect traits and their real
//!   implementations; [`testing`]: in-memory doubles for unit tests;
//! - [`origin`]: which process does a run, and whether it is gone;
//! - [`update`]: base-image updates planned, evaluated with the run's own
//!   steps (no tag moved) and pushed as branches;
//! - findings over time: [`rematch`] (kept inventories matched again after
//!   the DB changed), [`issues`] (one security issue per image),
//!   [`weekly`] (the weekly summary, sent and kept as a forge issue),
//!   [`dossier`] (one image's report for its consumers), [`due`] (a scan's
//!   findings marked with the fleet's deadlines).
//!
//! Storing, notifying and rendering reports happen in their own crates
//! (`store`, `notify`, `report`) over the shared `model`.

pub mod attribution;
pub mod config;
pub mod cx;
pub mod deps;
pub mod dossier;
pub mod due;
pub mod engine;
pub mod fleet;
pub mod image;
pub mod init;
pub mod issues;
pub mod origin;
pub mod rematch;
pub mod scanner;
pub mod signer;
// Step errors carry typed context (references, registry errors); they are
// rare, and each step's `Result` stays readable without boxing every variant.
#[allow(clippy::result_large_err)]
pub mod steps;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod update;
pub mod weekly;

pub use config::{FleetConfig, ImageSpec};
pub use fleet::{Deps, FleetError, Options};
