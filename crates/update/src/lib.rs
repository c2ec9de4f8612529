//! Base-image updates: for every base a fleet's Dockerfiles pull, a newer
//! digest of the same tag (judged by each platform's manifest, not the
//! index) or a newer tag within policy ([`tag`]), held back by a stability
//! window counted from when safeimage first saw each digest, and written
//! into the Dockerfiles with nothing else touched ([`rewrite`]).

pub mod forge;
pub mod git;
pub mod plan;
pub mod propose;
pub mod registry;
pub mod rewrite;
pub mod settings;
pub mod tag;
