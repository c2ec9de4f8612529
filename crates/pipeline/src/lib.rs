//! The daily rebuild: the fleet config ([`config`]), build engines
//! ([`engine`]) and one image's way through the run ([`run`]): resolve
//! bases, lint and policy, build, push by digest, scan, gate, promote.
//! Storing, notifying and reporting happen around it, in their own crates.

pub mod config;
pub mod engine;
pub mod run;

pub use config::{FleetConfig, ImageSpec};
pub use run::{History, ImageOutcome, Outcome, RunReport};
