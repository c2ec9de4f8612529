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
}
