//! Planning base updates for a fleet: every base each image's Dockerfile
//! pulls, looked up once per distinct reference (tags once per repository,
//! each manifest once however many images share it), compared per platform
//! the image builds (an index digest that moved because another platform
//! was added is no update), held back until each new platform manifest has
//! been seen for the stability window, and grouped into proposals whose
//! Dockerfiles are rewritten with only the references changed.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;

use dockerfile::{BaseRef, BaseRefKind, Parsed, Policy, SourceFile};
use oci::{Digest, ImageRef, Platform};
use serde::Serialize;
use store::{StateStore, StoreError};

use crate::rewrite::{Edit, rewrite};
use crate::settings::{Group, UpdateSettings};

/// A fleet image, as planning needs it.
#[derive(Debug, Clone)]
pub struct FleetImage {
    /// Its name in the fleet.
    pub name: String,
    /// Its Dockerfile.
    pub dockerfile: PathBuf,
    /// Build args (they decide ARG-built references).
    pub build_args: HashMap<String, String>,
    /// Platforms it builds.
    pub platforms: Vec<Platform>,
    /// The base-image policy that applies to it (a newer tag it refuses is
    /// not proposed).
    pub policy: Option<Policy>,
}

/// What a reference points at: its digest and each platform's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifests {
    /// The digest of what the reference names (an index, or one manifest).
    pub digest: Digest,
    /// `(platform, manifest digest)`; a single manifest has no platform
    /// (it serves whatever it was built for).
    pub platforms: Vec<(Option<Platform>, Digest)>,
}

impl Manifests {
    /// The manifest a build for `p` uses.
    pub fn for_platform(&self, p: &Platform) -> Option<&Digest> {
        self.platforms
            .iter()
            .find(|(q, _)| q.as_ref().is_none_or(|q| p.matches(q)))
            .map(|(_, d)| d)
    }
}

/// A registry lookup failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reference}: {message}")]
pub struct LookupError {
    /// What was looked up.
    pub reference: String,
    /// Why it failed.
    pub message: String,
}

/// What planning asks registries.
pub trait Lookup: Sync {
    /// The repository's tags.
    fn tags(&self, repo: &ImageRef) -> Result<Vec<String>, LookupError>;
    /// What `r` (a tag or digest) points at; `None` when it is gone.
    fn manifests(&self, r: &ImageRef) -> Result<Option<Manifests>, LookupError>;
}

type Memo<T> = Mutex<HashMap<String, Result<T, LookupError>>>;

/// A [`Lookup`] that asks each question once.
pub struct Once<'a> {
    inner: &'a dyn Lookup,
    tags: Memo<Vec<String>>,
    manifests: Memo<Option<Manifests>>,
}

impl<'a> Once<'a> {
    /// Wraps `inner`.
    pub fn new(inner: &'a dyn Lookup) -> Self {
        Once {
            inner,
            tags: Mutex::default(),
            manifests: Mutex::default(),
        }
    }
}

fn memo<T: Clone>(
    m: &Memo<T>,
    key: String,
    f: impl FnOnce() -> Result<T, LookupError>,
) -> Result<T, LookupError> {
    if let Some(v) = m.lock().expect("memo").get(&key) {
        return v.clone();
    }
    let v = f();
    m.lock().expect("memo").insert(key, v.clone());
    v
}

impl Lookup for Once<'_> {
    fn tags(&self, repo: &ImageRef) -> Result<Vec<String>, LookupError> {
        let key = format!("{}/{}", repo.registry(), repo.repository());
        memo(&self.tags, key, || self.inner.tags(repo))
    }
    fn manifests(&self, r: &ImageRef) -> Result<Option<Manifests>, LookupError> {
        memo(&self.manifests, r.to_string(), || self.inner.manifests(r))
    }
}

/// What kind of update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A new digest of the same tag.
    Digest,
    /// A newer tag.
    Tag,
    /// The reference was not pinned; it is pinned to what the tag is now.
    Pin,
}

/// One platform's manifest, before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformChange {
    /// The platform.
    pub platform: String,
    /// The manifest the pinned reference gives today (none when unpinned).
    pub from: Option<String>,
    /// The proposed one.
    pub to: String,
    /// When safeimage first saw it (seconds since the epoch).
    pub first_seen: i64,
}

/// One base reference to update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseUpdate {
    /// The fleet image.
    pub image: String,
    /// Its Dockerfile.
    pub file: PathBuf,
    /// 1-based line of the reference.
    pub line: usize,
    /// FROM, COPY --from or RUN --mount from.
    pub kind: BaseRefKind,
    /// The reference today.
    pub from: String,
    /// What it becomes: `registry/repo:tag@sha256:<index digest>`.
    pub to: String,
    /// Digest, tag or pin.
    pub change: Change,
    /// Per platform.
    pub platforms: Vec<PlatformChange>,
    /// When every new manifest has been seen long enough.
    pub ready_at: i64,
}

/// A group of updates made as one branch and one pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proposal {
    /// The branch (and the pull request's identity).
    pub branch: String,
    /// Images it changes.
    pub images: Vec<String>,
    /// The updates.
    pub updates: Vec<BaseUpdate>,
    /// Files with their new text.
    #[serde(skip)]
    pub files: Vec<(PathBuf, String)>,
}

/// The plan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    /// Ready proposals.
    pub proposals: Vec<Proposal>,
    /// Updates inside the stability window, not proposed yet.
    pub waiting: Vec<BaseUpdate>,
    /// What could not be looked up or rewritten, and why.
    pub notes: Vec<String>,
}

/// Planning failed as a whole (the store).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn pinned(r: &ImageRef, tag: &str, digest: &Digest) -> String {
    format!("{}/{}:{tag}@{digest}", r.registry(), r.repository())
}

fn line_of(text: &str, src: &SourceFile, offset: usize) -> usize {
    let o = src.to_text_offset(offset).min(text.len());
    src.text[..o].matches('\n').count() + 1
}

struct Ctx<'a> {
    lookup: &'a dyn Lookup,
    store: &'a mut dyn StateStore,
    settings: &'a UpdateSettings,
    now: i64,
    notes: Vec<String>,
}

impl Ctx<'_> {
    /// The newest allowed tag for `r`, if one is newer than its own.
    fn newer_tag(&mut self, policy: Option<&Policy>, b: &BaseRef, tag: &str) -> Option<String> {
        if !self.settings.tags {
            return None;
        }
        let tags = match self.lookup.tags(&b.reference) {
            Ok(t) => t,
            Err(e) => {
                self.notes.push(format!("tags of {e}"));
                return None;
            }
        };
        let mut candidates: Vec<&str> = tags.iter().map(String::as_str).collect();
        while let Some(t) =
            crate::tag::newest(tag, candidates.iter().copied(), self.settings.allow_major)
        {
            let probe = BaseRef {
                reference: b.reference.with_tag(t),
                ..b.clone()
            };
            let refused = policy.and_then(|p| p.check(&probe).into_iter().next());
            match refused {
                None => return Some(t.to_string()),
                Some(v) => {
                    self.notes.push(format!(
                        "{}: not proposed, the base-image policy refuses it: {}",
                        probe.reference, v.message
                    ));
                    candidates.retain(|c| *c != t);
                }
            }
        }
        None
    }

    fn base(
        &mut self,
        img: &FleetImage,
        b: &BaseRef,
        line: usize,
    ) -> Result<Option<BaseUpdate>, PlanError> {
        let r = &b.reference;
        let tag = match (r.tag(), r.digest()) {
            (Some(t), _) => t.to_string(),
            (None, None) => "latest".to_string(),
            // pinned by digest only: nothing says what it should follow
            (None, Some(_)) => return Ok(None),
        };
        let new_tag = self.newer_tag(img.policy.as_ref(), b, &tag);
        let target_tag = new_tag.clone().unwrap_or_else(|| tag.clone());
        let target_ref = r.with_tag(&target_tag);
        let target = match self.lookup.manifests(&target_ref) {
            Ok(Some(m)) => m,
            Ok(None) => {
                self.notes.push(format!(
                    "{}:{line}: {target_ref} no longer exists; no update proposed",
                    img.dockerfile.display()
                ));
                return Ok(None);
            }
            Err(e) => {
                self.notes
                    .push(format!("{}:{line}: {e}", img.dockerfile.display()));
                return Ok(None);
            }
        };
        let current = match r.digest() {
            // pinned to what the tag still names: the same manifests, no request
            Some(d) if *d == target.digest => Some(target.clone()),
            Some(d) => match self.lookup.manifests(&r.with_digest(d.clone())) {
                Ok(m) => m,
                Err(e) => {
                    self.notes
                        .push(format!("{}:{line}: {e}", img.dockerfile.display()));
                    return Ok(None);
                }
            },
            None => None,
        };
        let mut platforms = Vec::new();
        let mut ready_at = self.now;
        let mut moved = false;
        for p in &img.platforms {
            let Some(to) = target.for_platform(p) else {
                self.notes.push(format!(
                    "{}:{line}: {target_ref} has no {p} manifest; not proposed for {}",
                    img.dockerfile.display(),
                    img.name
                ));
                return Ok(None);
            };
            let from = current.as_ref().and_then(|c| c.for_platform(p)).cloned();
            moved |= from.as_ref() != Some(to);
            let subject = format!("{}/{} {p}", r.registry(), r.repository());
            let seen = self
                .store
                .first_seen(&subject, to, model::Timestamp(self.now))?
                .0;
            if from.as_ref() != Some(to) {
                ready_at = ready_at.max(seen + self.settings.min_age_secs);
            }
            platforms.push(PlatformChange {
                platform: p.to_string(),
                from: from.map(|d| d.to_string()),
                to: to.to_string(),
                first_seen: seen,
            });
        }
        let change = if new_tag.is_some() {
            Change::Tag
        } else if r.digest().is_none() {
            Change::Pin
        } else if moved {
            Change::Digest
        } else {
            return Ok(None);
        };
        Ok(Some(BaseUpdate {
            image: img.name.clone(),
            file: img.dockerfile.clone(),
            line,
            kind: b.kind,
            from: r.to_string(),
            to: pinned(r, &target_tag, &target.digest),
            change,
            platforms,
            ready_at,
        }))
    }
}

/// A ready update with its file's text and build args.
type Found = (BaseUpdate, String, HashMap<String, String>);
/// A file's text, build args and the edits to make in it.
type FileEdits = (String, HashMap<String, String>, Vec<Edit>);

/// Plans the updates of `images`.
pub fn plan(
    images: &[FleetImage],
    lookup: &dyn Lookup,
    store: &mut dyn StateStore,
    settings: &UpdateSettings,
    now: i64,
) -> Result<Plan, PlanError> {
    let once = Once::new(lookup);
    let mut cx = Ctx {
        lookup: &once,
        store,
        settings,
        now,
        notes: Vec::new(),
    };
    let mut ready: Vec<Found> = Vec::new();
    let mut waiting = Vec::new();
    for img in images {
        let text = match std::fs::read_to_string(&img.dockerfile) {
            Ok(t) => t,
            Err(e) => {
                cx.notes.push(format!("{}: {e}", img.dockerfile.display()));
                continue;
            }
        };
        let src = SourceFile::new(img.dockerfile.display().to_string(), text.clone());
        let refs = match Parsed::parse(&src, &img.build_args) {
            Ok(p) => p.base_refs(),
            Err(e) => {
                cx.notes.push(e.to_string());
                continue;
            }
        };
        let mut done: Vec<&ImageRef> = Vec::new();
        for b in &refs {
            if done.contains(&&b.reference) {
                continue;
            }
            done.push(&b.reference);
            let line = line_of(&text, &src, b.span.start);
            if let Some(u) = cx.base(img, b, line)? {
                if u.ready_at <= now {
                    ready.push((u, text.clone(), img.build_args.clone()));
                } else {
                    waiting.push(u);
                }
            }
        }
    }
    let mut groups: BTreeMap<String, Vec<Found>> = BTreeMap::new();
    for u in ready {
        let key = branch_for(settings, &u.0.image);
        groups.entry(key).or_default().push(u);
    }
    let mut proposals = Vec::new();
    for (branch, us) in groups {
        let mut files: Vec<(PathBuf, String)> = Vec::new();
        let mut by_file: BTreeMap<PathBuf, FileEdits> = BTreeMap::new();
        for (u, text, args) in &us {
            let e = by_file
                .entry(u.file.clone())
                .or_insert_with(|| (text.clone(), args.clone(), Vec::new()));
            let from: ImageRef = u.from.parse().expect("a reference we printed");
            if !e.2.iter().any(|x| x.from == from) {
                e.2.push(Edit {
                    from,
                    to: u.to.clone(),
                });
            }
        }
        let mut failed = Vec::new();
        for (path, (text, args, edits)) in by_file {
            match rewrite(&path.display().to_string(), &text, &args, &edits) {
                Ok(r) => files.push((path, r.text)),
                Err(e) => {
                    cx.notes.push(format!("{e}; no proposal for this file"));
                    failed.push(path);
                }
            }
        }
        let updates: Vec<BaseUpdate> = us
            .into_iter()
            .map(|(u, _, _)| u)
            .filter(|u| !failed.contains(&u.file))
            .collect();
        if updates.is_empty() {
            continue;
        }
        let mut images: Vec<String> = updates.iter().map(|u| u.image.clone()).collect();
        images.dedup();
        proposals.push(Proposal {
            branch,
            images,
            updates,
            files,
        });
    }
    Ok(Plan {
        proposals,
        waiting,
        notes: cx.notes,
    })
}

/// The branch an image's updates are proposed on.
pub fn branch_for(settings: &UpdateSettings, image: &str) -> String {
    match settings.group {
        Group::Image => format!("{}{}", settings.branch_prefix, branch_part(image)),
        Group::Fleet => format!("{}fleet", settings.branch_prefix),
    }
}

/// An image name as a branch name component.
pub fn branch_part(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches(['-', '.'])
        .replace("..", "-")
}

#[cfg(test)]
mod tests;
