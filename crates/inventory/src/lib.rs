//! What is inside an image: the distro and every package (OS and language),
//! with purls, source packages, licenses and the layer each came from; and
//! the SBOM documents (CycloneDX 1.6, SPDX 2.3, our JSON, a table) built from it.
//!
//! Catalogers read the squashed [`oci::tree::FileTree`]; the files they need
//! are declared up front ([`wanted`]) so layers are read once, streamed.

pub mod attribution;
pub mod cache;
pub mod catalog;
pub mod image;
pub mod license;
pub mod model;
pub mod sbom;
pub mod sbom_check;
pub mod sbom_in;

pub use catalog::{CATALOGER_VERSION, catalog, select, wanted};
pub use image::{Inventoried, Loaded, inventory, load};
pub use model::{Distro, Inventory, Location, Note, Package, PackageType, Relations};
