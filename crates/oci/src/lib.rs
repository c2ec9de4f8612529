//! Everything about reading images: references, digests, platforms, the
//! image model, sources (OCI layout, docker-archive, root filesystem
//! directory, registry), verified streaming of layers and the squashed view.
//!
//! Everything that names an image is parsed once, here, into newtypes:
//! [`ImageRef`], [`Digest`], [`Platform`]. Other crates never split reference strings.

pub mod analyze;
mod digest;
pub mod error;
pub mod image;
pub mod layer;
pub mod pattern;
mod platform;
#[cfg(feature = "registry")]
pub mod push;
mod reference;
#[cfg(feature = "registry")]
pub mod registry;
pub mod settings;
pub mod source;
pub mod tree;
pub mod verify;
pub mod write;

pub use analyze::{
    Analysis, AnalyzeError, Opened, Options, Progress, Want, analyze, analyze_opened, open,
    platforms,
};
pub use digest::{Digest, DigestError};
pub use image::{Image, Layer};
pub use layer::Select;
pub use platform::{Platform, PlatformError};
pub use reference::{DEFAULT_REGISTRY, ImageRef, ReferenceError};
pub use source::{Blobs, Source, SourceError};
