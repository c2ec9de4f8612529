//! Provenance for images, compatible with cosign: keys in cosign's formats
//! ([`keys`]), the simple-signing payload ([`simple`]), DSSE envelopes,
//! in-toto statements and Sigstore bundles ([`dsse`]), the registry layout
//! ([`layout`]), where it is read and written ([`store`]), signing and
//! attaching ([`sign`]), and verification ([`verify`]). Key-based only: no
//! Fulcio certificates and no transparency log.

pub mod dsse;
pub mod keys;
pub mod layout;
pub mod settings;
pub mod sign;
pub mod simple;
pub mod store;
pub mod verify;

pub use keys::{KeyError, PrivateKey, PublicKey};
pub use store::Artifacts;

/// Predicate types of what safeimage attaches.
pub mod predicate {
    /// A CycloneDX SBOM.
    pub const CYCLONEDX: &str = "https://cyclonedx.org/bom";
    /// SLSA provenance v1.
    pub const SLSA_PROVENANCE: &str = "https://slsa.dev/provenance/v1";
    /// A vulnerability scan summary (cosign's vuln predicate).
    pub const VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
    /// safeimage's gate decision.
    pub const GATE: &str = "https://safeimage.dev/attestation/gate/v1";
    /// An OpenVEX document (cosign's `--type openvex`).
    pub const OPENVEX: &str = "https://openvex.dev/ns";

    /// The predicate type a short name stands for (`sbom`, `provenance`,
    /// `vuln`, `gate`, `vex`), or the name itself if it is a URI.
    pub fn by_name(name: &str) -> Option<&'static str> {
        Some(match name {
            "sbom" | "cyclonedx" => CYCLONEDX,
            "provenance" | "slsa" | "slsaprovenance" => SLSA_PROVENANCE,
            "vuln" | "scan" => VULN,
            "gate" => GATE,
            "vex" | "openvex" => OPENVEX,
            _ => return None,
        })
    }

    /// A short name or a predicate type URI as given on the command line
    /// (`--attach TYPE=`, `--require TYPE`); `None` for anything else.
    pub fn parse(name: &str) -> Option<String> {
        by_name(name)
            .map(str::to_string)
            .or_else(|| name.contains("://").then(|| name.to_string()))
    }
}

/// Why provenance could not be read or written (a signature that does not
/// verify is a [`verify::Rejection`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    /// The registry.
    #[error(transparent)]
    Registry(#[from] oci::error::RegistryError),
    /// A key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Something read is not in the expected format.
    #[error("{what}: {message}")]
    Format {
        /// What.
        what: String,
        /// Why.
        message: String,
    },
}
