//! Vulnerability data: version schemes, the advisory model, feed parsers
//! (OSV, Debian tracker, Alpine secdb), importers for files, directories and
//! zips, the single-file advisory DB that scans read, and (feature
//! `update`) downloading the feeds.

pub mod db;
pub mod feed;
pub mod import;
pub mod model;
pub mod releases;
#[cfg(feature = "update")]
pub mod update;
pub mod version;

pub use db::{Db, DbBuilder, DbError, DbStatus};
pub use model::{Advisory, AdvisoryId, Affected, Severity, Status};
pub use releases::Releases;
