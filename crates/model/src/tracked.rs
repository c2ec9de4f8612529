//! Findings over time, as the store tracks them and reports show them:
//! one occurrence of an (image, platform, advisory, package) with its
//! first/last-seen times and state (`store::lifecycle` keeps them), and an
//! overdue one with its deadline (`store::sla`).

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Where a tracked finding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrackState {
    /// In the promoted image, not ignored.
    Open,
    /// Ignored by a rule or a VEX statement.
    Ignored,
    /// Was ignored; the rule expired, so it counts again.
    IgnoreExpired,
    /// No longer in the promoted image.
    Fixed,
}

impl TrackState {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            TrackState::Open => "open",
            TrackState::Ignored => "ignored",
            TrackState::IgnoreExpired => "ignore-expired",
            TrackState::Fixed => "fixed",
        }
    }

    /// The stored word read back.
    pub fn parse(s: &str) -> Option<TrackState> {
        Some(match s {
            "open" => TrackState::Open,
            "ignored" => TrackState::Ignored,
            "ignore-expired" => TrackState::IgnoreExpired,
            "fixed" => TrackState::Fixed,
            _ => return None,
        })
    }

    /// Whether it still needs fixing (open, or its ignore expired).
    pub fn counts(self) -> bool {
        matches!(self, TrackState::Open | TrackState::IgnoreExpired)
    }
}

/// One occurrence of a finding in an image's promoted history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracked {
    /// The image.
    pub image: String,
    /// The platform (`*` when the run had no per-platform results).
    pub platform: String,
    /// The advisory's primary id.
    pub advisory: String,
    /// `type/name` of the package (no version: an upgrade without a fix is
    /// the same finding).
    pub package: String,
    /// 1, then 2 if it came back after being fixed, ...
    pub occurrence: i64,
    /// Severity as last seen.
    pub severity: String,
    /// Where it stands.
    pub state: TrackState,
    /// Why it is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the ignore ends (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// First seen (this occurrence).
    pub first_seen: Timestamp,
    /// Last seen in a promoted image.
    pub last_seen: Timestamp,
    /// When it left the promoted image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_at: Option<Timestamp>,
    /// When a fixed version was first known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_available: Option<Timestamp>,
    /// The promoted digest it was last seen in.
    pub digest: String,
    /// CISA's KEV due date for it (`YYYY-MM-DD`), when the catalog lists it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kev_due: Option<String>,
    /// When it was last notified as overdue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_at: Option<Timestamp>,
}

impl Tracked {
    /// Its identity, without the occurrence.
    pub fn key(&self) -> (&str, &str, &str, &str) {
        (&self.image, &self.platform, &self.advisory, &self.package)
    }
}

/// A finding past its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overdue {
    /// The finding.
    #[serde(flatten)]
    pub finding: Tracked,
    /// Its deadline.
    pub deadline: Timestamp,
    /// Notified this run (first time overdue, or `renotify` since the last
    /// notice).
    #[serde(default)]
    pub notice: bool,
}

/// One image's security issue, kept in the store (and mirrored to a forge
/// when configured): opened when findings at or above the threshold exist,
/// appended with a dated block when they change, closed when none remain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityIssue {
    /// The image.
    pub image: String,
    /// Open or closed.
    pub open: bool,
    /// When it was opened.
    pub opened_at: Timestamp,
    /// When it was closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Timestamp>,
    /// The findings it last described (`severity advisory package platform`
    /// lines, `overdue` marked), to tell what changed.
    pub keys: Vec<String>,
    /// Its text: the header and every dated block, oldest first.
    pub blocks: Vec<String>,
    /// Where the forge keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forge_url: Option<String>,
    /// Its number there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forge_number: Option<u64>,
}

/// What happened to one image's issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssueAction {
    /// Opened.
    Opened,
    /// A block was added.
    Appended,
    /// Closed.
    Closed,
}

/// One image's issue after a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueChange {
    /// The image.
    pub image: String,
    /// What happened.
    pub action: IssueAction,
    /// The forge's issue, when mirrored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A forge error (the store's issue moved anyway; the next run retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
