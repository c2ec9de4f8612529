//! Vulnerability data: version schemes, the advisory model, feed parsers
//! (OSV, Debian tracker, Alpine secdb), importers for files, directories and
//! zips, and the single-file advisory DB that scans read.

pub mod db;
pub mod feed;
pub mod import;
pub mod model;
pub mod version;

pub use db::{Db, DbBuilder, DbError, DbStatus};
pub use model::{Advisory, Affected, Severity, Status};
