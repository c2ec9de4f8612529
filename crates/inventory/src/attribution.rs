//! Who must fix it: each layer of an image told as the base image's or the
//! image's own build, and — when the Dockerfile is known — the instruction
//! that made it. A package's origin is the origin of the layer it came from
//! (its first location's layer), so a finding can say "fix by bumping the
//! base" or "fix in this Dockerfile, line N".
//!
//! The base is told apart by its layers: a base image whose diffIDs are the
//! first diffIDs of the image. Without one, a Dockerfile whose instructions
//! match the last entries of the image's history (the same order, each entry
//! recording the same kind of instruction and, for `RUN`, the same command)
//! places the boundary itself. Instructions are matched from the end of the
//! history backwards: the base's history comes first and is not ours.

use serde::{Deserialize, Serialize};

use crate::model::Package;

/// Which part of the image a layer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// The base image's layers: fixed by a newer base.
    Base,
    /// The image's own build: fixed in its Dockerfile.
    App,
    /// Not known (no base and no matching Dockerfile).
    Unknown,
}

impl Part {
    /// `base`, `app`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Base => "base",
            Part::App => "app",
            Part::Unknown => "unknown",
        }
    }
}

/// A Dockerfile instruction, as attribution needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The Dockerfile, as the user named it.
    pub file: String,
    /// 1-based line of the instruction.
    pub line: u32,
    /// `RUN`, `COPY`, `ADD`...
    pub keyword: String,
    /// Its first line as written.
    pub text: String,
    /// For `RUN`: the command as one line (continuations joined, blanks
    /// collapsed), as image histories record it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// Where a layer (and what it added) came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// 0-based index among the image's layers.
    pub layer: usize,
    /// The layer's diffID.
    pub diff_id: String,
    /// Base or the image's own build.
    pub part: Part,
    /// The instruction that made it, when the Dockerfile is known and
    /// matches the history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Step>,
}

impl Origin {
    /// What to do about a finding here, in a few words.
    pub fn remedy(&self) -> String {
        match (self.part, &self.step) {
            (Part::Base, _) => "fix by bumping the base image".to_string(),
            (Part::App, Some(s)) => format!("fix in {} line {} ({})", s.file, s.line, s.keyword),
            (Part::App, None) => "fix in this image's Dockerfile".to_string(),
            (Part::Unknown, _) => format!("layer {}", self.layer),
        }
    }
}

/// A base image, by its layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseImage {
    /// How reports name it (`debian@sha256:...`).
    pub name: String,
    /// Its layers' diffIDs, base first.
    pub diff_ids: Vec<String>,
}

/// One history entry of the image, as attribution reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// What made it (`created_by`).
    pub created_by: String,
    /// It made no layer.
    pub empty_layer: bool,
}

/// The origin of every layer of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    /// The base, when known (its name, or "inferred from the Dockerfile").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// How many of the first layers are the base's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_layers: Option<usize>,
    /// One per layer, in order.
    pub layers: Vec<Origin>,
    /// What could not be told, in sentences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Attribution {
    /// The origin of the layer with this diffID.
    pub fn origin(&self, diff_id: &str) -> Option<&Origin> {
        self.layers.iter().find(|o| o.diff_id == diff_id)
    }

    /// The origin of a package: the layer of its first location that has
    /// one (dpkg records carry the layer the package first appeared in).
    pub fn of_package(&self, p: &Package) -> Option<&Origin> {
        self.of_layers(p.locations.iter().filter_map(|l| l.layer.as_deref()))
    }

    /// The origin of the first of these layers that is one of the image's.
    pub fn of_layers<'a>(&self, mut layers: impl Iterator<Item = &'a str>) -> Option<&Origin> {
        layers.find_map(|l| self.origin(l))
    }

    /// Whether base and app layers were told apart.
    pub fn knows_base(&self) -> bool {
        self.base_layers.is_some()
    }
}

/// Attributes the layers `diff_ids` of an image with history `history`
/// (every entry, empty ones included), given its base (when known) and the
/// Dockerfile's build steps (when known).
pub fn attribute(
    diff_ids: &[String],
    history: &[HistoryEntry],
    base: Option<&BaseImage>,
    steps: Option<&[Step]>,
) -> Attribution {
    let mut notes = Vec::new();
    let mut base_name = None;
    let mut base_layers = None;
    if let Some(b) = base {
        if b.diff_ids.len() <= diff_ids.len() && diff_ids.starts_with(&b.diff_ids) {
            base_name = Some(b.name.clone());
            base_layers = Some(b.diff_ids.len());
        } else {
            notes.push(format!(
                "the base {} is not under this image (its layers are not the image's first layers: \
                 the image was built on another digest); base and app layers are told apart {}",
                b.name,
                if steps.is_some() {
                    "by the Dockerfile"
                } else {
                    "by nothing: every layer is `unknown`"
                }
            ));
        }
    }
    // the non-empty history entries, one per layer when the history is whole
    let layered: Vec<&HistoryEntry> = history.iter().filter(|h| !h.empty_layer).collect();
    let history_whole = layered.len() == diff_ids.len();
    if !history.is_empty() && !history_whole {
        notes.push(format!(
            "the image's history records {} layers but it has {}: layers are not traced to instructions",
            layered.len(),
            diff_ids.len()
        ));
    }
    let mut step_of: Vec<Option<Step>> = vec![None; diff_ids.len()];
    if let Some(steps) = steps
        && history_whole
    {
        match align(history, steps, base_layers) {
            Alignment::Matched { steps: found, first } => {
                if base_layers.is_none() {
                    base_layers = Some(first);
                    base_name = Some("inferred from the Dockerfile".to_string());
                }
                for (i, s) in found {
                    step_of[i] = Some(s);
                }
            }
            Alignment::Squashed { first_line, last_line } => {
                notes.push(format!(
                    "the build committed all its instructions as one layer (lines {first_line}–{last_line}; \
                     buildah without --layers): the app layer is not traced to a line"
                ));
                if base_layers.is_none() && diff_ids.len() > 1 {
                    base_layers = Some(diff_ids.len() - 1);
                    base_name = Some("inferred from the Dockerfile".to_string());
                }
            }
            Alignment::Mismatch(why) => notes.push(format!(
                "the Dockerfile does not match the image's history ({why}): attribution by layer only"
            )),
        }
    }
    let layers = diff_ids
        .iter()
        .enumerate()
        .map(|(i, d)| Origin {
            layer: i,
            diff_id: d.clone(),
            part: match base_layers {
                Some(n) if i < n => Part::Base,
                Some(_) => Part::App,
                None => Part::Unknown,
            },
            step: step_of[i].take(),
        })
        .collect();
    Attribution {
        base: base_name,
        base_layers,
        layers,
        notes,
    }
}

enum Alignment {
    /// Layer index → step; `first` is the first layer of the build.
    Matched {
        steps: Vec<(usize, Step)>,
        first: usize,
    },
    /// One layer holds the whole build.
    Squashed {
        first_line: u32,
        last_line: u32,
    },
    Mismatch(String),
}

/// Instructions that always leave a layer behind in a per-instruction build.
fn makes_layer(keyword: &str) -> bool {
    matches!(keyword, "RUN" | "COPY" | "ADD")
}

/// Whether a history entry records this step.
fn records(entry: &str, step: &Step) -> bool {
    let e = entry.split_whitespace().collect::<Vec<_>>().join(" ");
    // BuildKit writes `RUN /bin/sh -c cmd # buildkit`, buildah and the
    // classic builder `|1 ARG=v /bin/sh -c cmd` and `/bin/sh -c #(nop) COPY
    // file:... in /dest`.
    let nop = e.contains("#(nop)");
    let upper = e.to_ascii_uppercase();
    let word = |w: &str| {
        upper
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|t| t == w)
    };
    match step.keyword.as_str() {
        "RUN" => {
            let cmd = step.command.as_deref().unwrap_or_default();
            !nop && !cmd.is_empty() && e.contains(cmd)
        }
        "COPY" | "ADD" => {
            let starts = upper.starts_with(&format!("{} ", step.keyword));
            (nop || starts) && (word(&step.keyword) || (step.keyword == "ADD" && word("COPY")))
        }
        k => (nop || upper.starts_with(&format!("{k} ")) || upper == k) && word(k),
    }
}

/// Matches the image's history against the steps, from the end.
fn align(history: &[HistoryEntry], steps: &[Step], base_layers: Option<usize>) -> Alignment {
    let layer_steps: Vec<&Step> = steps.iter().filter(|s| makes_layer(&s.keyword)).collect();
    if layer_steps.is_empty() {
        return Alignment::Mismatch("the Dockerfile's final stage adds no layer".to_string());
    }
    // the layer index of each history entry that made one
    let mut index = Vec::with_capacity(history.len());
    let mut n = 0;
    for h in history {
        index.push((!h.empty_layer).then(|| {
            n += 1;
            n - 1
        }));
    }
    let total = n;
    // squashed: the last entry is the only layer of the build, the entries
    // before it record the other instructions that make layers, yet made
    // none (an empty `RUN true` in BuildKit is one such entry, not all)
    let last_layer_entry = history.iter().rposition(|h| !h.empty_layer);
    if let Some(last) = last_layer_entry {
        let squashed = history[..last]
            .iter()
            .rev()
            .take_while(|h| h.empty_layer)
            .filter(|h| layer_steps.iter().any(|s| records(&h.created_by, s)))
            .count();
        // every layer step but the last recorded without a layer
        if layer_steps.len() > 1
            && squashed + 1 >= layer_steps.len()
            && records(
                &history[last].created_by,
                layer_steps[layer_steps.len() - 1],
            )
        {
            return Alignment::Squashed {
                first_line: layer_steps[0].line,
                last_line: layer_steps[layer_steps.len() - 1].line,
            };
        }
    }
    let mut found = Vec::new();
    let mut s = steps.len();
    let mut matched_layer_steps = 0;
    for h in (0..history.len()).rev() {
        let entry = &history[h];
        let Some(layer) = index[h] else {
            continue;
        };
        if base_layers.is_some_and(|b| layer < b) {
            break;
        }
        let done = matched_layer_steps == layer_steps.len();
        // the nearest earlier step this entry records (once every layer
        // step is matched, only instructions that made no layer remain: an
        // entry that records none of them is the base's)
        let pos = steps[..s]
            .iter()
            .rposition(|st| records(&entry.created_by, st) && !(done && makes_layer(&st.keyword)));
        let Some(pos) = pos else {
            if done {
                break;
            }
            return Alignment::Mismatch(format!(
                "layer {layer} was made by `{}`, which no instruction before line {} records",
                short(&entry.created_by),
                steps.get(s).map_or(u32::MAX, |st| st.line)
            ));
        };
        // a layer-making step skipped over left no layer: only an empty
        // change may do that (BuildKit marks those entries empty too)
        for skipped in steps[pos + 1..s]
            .iter()
            .filter(|st| makes_layer(&st.keyword))
        {
            if !recorded_empty(&history[h + 1..], skipped) {
                return Alignment::Mismatch(format!(
                    "no layer of the image records line {} ({})",
                    skipped.line, skipped.keyword
                ));
            }
            matched_layer_steps += 1;
        }
        if makes_layer(&steps[pos].keyword) {
            matched_layer_steps += 1;
        }
        found.push((layer, steps[pos].clone()));
        s = pos;
    }
    if matched_layer_steps < layer_steps.len()
        && let Some(missing) = steps[..s]
            .iter()
            .rev()
            .find(|st| makes_layer(&st.keyword) && !recorded_empty(history, st))
    {
        return Alignment::Mismatch(format!(
            "no layer of the image records line {} ({})",
            missing.line, missing.keyword
        ));
    }
    let first = found.iter().map(|(l, _)| *l).min().unwrap_or(total);
    if let Some(b) = base_layers
        && first < b
    {
        return Alignment::Mismatch(format!(
            "the Dockerfile's instructions reach into the base's layers (layer {first} of {b})"
        ));
    }
    found.reverse();
    Alignment::Matched {
        steps: found,
        first: base_layers.unwrap_or(first),
    }
}

/// Whether an empty history entry records this step (an instruction that
/// changed nothing).
fn recorded_empty(history: &[HistoryEntry], step: &Step) -> bool {
    history
        .iter()
        .any(|e| e.empty_layer && records(&e.created_by, step))
}

fn short(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests;
