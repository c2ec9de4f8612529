//! The weekly security summary (seed 003) as data: per image, the open
//! findings by severity at the end of the week and the week before, what
//! was found and fixed in it, the mean time to fix, findings past their
//! deadline, rebuilds and blocked promotions, and twelve weeks of history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// One image's week.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WeeklyImage {
    /// The image.
    pub image: String,
    /// Open findings by severity at the end of the week.
    pub open: BTreeMap<String, usize>,
    /// The same at the end of the week before.
    pub previous: BTreeMap<String, usize>,
    /// First seen in the week.
    pub new: usize,
    /// Fixed in the week.
    pub fixed: usize,
    /// Mean days from first seen to fixed, over the week's fixes.
    pub mean_days_to_fix: Option<f64>,
    /// Open and past their `[sla]` deadline at the end of the week.
    pub overdue: usize,
    /// Builds decided in the week (promoted, blocked or failed).
    pub rebuilds: usize,
    /// Promotions the gate blocked in the week.
    pub blocked: usize,
    /// Open findings at the end of each of the last twelve weeks, oldest
    /// first (the last is this week).
    pub history: Vec<usize>,
}

/// The fleet's week.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WeeklySummary {
    /// `YYYY-Www` (ISO 8601).
    pub week: String,
    /// Monday 00:00 UTC.
    pub from: Timestamp,
    /// The following Monday 00:00 UTC (or now, for the week in progress).
    pub to: Timestamp,
    /// Per image, in config order.
    pub images: Vec<WeeklyImage>,
    /// The weeks of `history`, oldest first.
    pub weeks: Vec<String>,
}

impl WeeklySummary {
    /// Open findings of the fleet at the end of each history week.
    pub fn fleet_history(&self) -> Vec<usize> {
        (0..self.weeks.len())
            .map(|i| {
                self.images
                    .iter()
                    .map(|im| im.history.get(i).copied().unwrap_or(0))
                    .sum()
            })
            .collect()
    }
}
