//! Everything about reading images: references, digests, platforms, the
//! image model, sources (OCI layout, docker-archive, root filesystem
//! directory, registry), verified streaming of layers and the squashed view.
//!
//! Everything that names an image is parsed once, here, into newtypes:
//! [`ImageRef`], [`Digest`], [`Platform`]. Other crates never split reference strings.

mod digest;
pub mod image;
pub mod layer;
mod platform;
mod reference;
pub mod tree;
pub mod verify;

pub use digest::{Digest, DigestError};
pub use image::{Image, Layer};
pub use platform::{Platform, PlatformError};
pub use reference::{DEFAULT_REGISTRY, ImageRef, ReferenceError};
