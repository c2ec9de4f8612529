//! One image's security report for its consumers (seed 003's "exportable
//! customer-ready security report") as data: what the promoted image is,
//! what it contains, its findings with their status, deadlines and
//! justifications, and its audit trail with the chain's state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::tracked::Tracked;

/// A finding as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DossierFinding {
    /// The tracked finding.
    #[serde(flatten)]
    pub finding: Tracked,
    /// Its `[sla]` deadline.
    pub deadline: Option<Timestamp>,
}

/// One audit record, as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailEntry {
    /// When.
    pub time: String,
    /// The decision.
    pub outcome: String,
    /// The digest decided.
    pub digest: String,
    /// Tags moved.
    pub tags: Vec<String>,
}

/// The report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dossier {
    /// The image.
    pub image: String,
    /// Its repository.
    pub repository: String,
    /// When the report was made.
    pub created: Timestamp,
    /// The promoted digest.
    pub digest: String,
    /// Platform → manifest.
    pub platforms: BTreeMap<String, String>,
    /// Base reference → digest.
    pub bases: BTreeMap<String, String>,
    /// Platform → package type → count (the kept inventories).
    pub packages: BTreeMap<String, BTreeMap<String, usize>>,
    /// Findings the promoted image carries (open, ignored, ignore expired).
    pub findings: Vec<DossierFinding>,
    /// The audit trail, oldest first.
    pub trail: Vec<TrailEntry>,
    /// The audit chain's problems (empty: it holds).
    pub trail_problems: Vec<String>,
    /// Signed and attached when it was promoted (its audit record): the
    /// signature and each attestation's type.
    #[serde(default)]
    pub signed: Vec<String>,
    /// What hardening did, per platform (its audit record).
    #[serde(default)]
    pub hardened: BTreeMap<String, crate::Hardening>,
    /// The signatures and attestations checked in the registry with the
    /// given keys (`report image --key`); `None`: not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verified>,
}

/// Signatures and attestations found valid in the registry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    /// Each valid signature: where it was found and the key's SHA-256.
    pub signatures: Vec<String>,
    /// Each valid attestation's predicate type.
    pub attestations: Vec<String>,
    /// Why verification failed (none: it holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}
