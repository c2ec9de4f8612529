//! Image references, digests and (later) manifests, layouts, the registry
//! client and layer reading.
//!
//! Everything that names an image is parsed once, here, into newtypes:
//! [`ImageRef`] and [`Digest`]. Other crates never split reference strings.

mod digest;
mod reference;

pub use digest::{Digest, DigestError};
pub use reference::{DEFAULT_REGISTRY, ImageRef, ReferenceError};
