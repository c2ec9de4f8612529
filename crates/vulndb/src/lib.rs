//! Vulnerability data: version schemes, and (to come) advisory feeds, the
//! advisory DB and its importers.

pub mod version;
