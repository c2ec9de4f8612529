//! The side effects of a run, each behind a small trait so the run's logic
//! is tested with in-memory doubles ([`crate::testing`]): the registry, the
//! advisory DB, the clock and the observer (progress). The engine is in
//! [`crate::engine`], the state store in the `store` crate, notifiers in
//! `notify`. The real implementations are here too.

use std::path::{Path, PathBuf};

use model::{Outcome, RunId, Stage, Timestamp};
use oci::registry::RegistryError;
use oci::{Digest, ImageRef, Platform};
use vulndb::{Db, DbError};

/// Registry operations the run needs.
pub trait Registry: Sync {
    /// The digest a reference points at (HEAD), `None` when absent.
    fn head(&self, r: &ImageRef) -> Result<Option<Digest>, RegistryError>;
    /// The manifest digest for `platform` under `digest` (a GET, only for
    /// digests the store has not seen).
    fn platform_digest(
        &self,
        r: &ImageRef,
        digest: &Digest,
        platform: &Platform,
    ) -> Result<Digest, RegistryError>;
    /// The layers (diffIDs) of the image manifest `digest` in `r`'s
    /// repository: a base's, to tell its layers from the image's own.
    fn diff_ids(&self, r: &ImageRef, digest: &Digest) -> Result<Vec<Digest>, RegistryError>;
    /// Push an OCI layout to `repo` by digest; no tag moves.
    fn push_layout(&self, repo: &ImageRef, layout: &Path) -> Result<Digest, RegistryError>;
    /// Point `tag` in `repo` at `digest`.
    fn tag(&self, repo: &ImageRef, digest: &Digest, tag: &str) -> Result<(), RegistryError>;
    /// Push a manifest or index by digest (what it points at is there).
    fn push_manifest(
        &self,
        repo: &ImageRef,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest, RegistryError>;
    /// Size and media type of a manifest in `repo`.
    fn describe(
        &self,
        repo: &ImageRef,
        digest: &Digest,
    ) -> Result<oci::push::Described, RegistryError>;
    /// Signatures and attachments in `repo`.
    fn artifacts(
        &self,
        repo: &ImageRef,
    ) -> Result<Box<dyn provenance::Artifacts + '_>, RegistryError>;
}

/// The advisory DB.
pub trait Advisories: Sync {
    /// Fails when the DB is missing, unreadable or too old, or a feed in it
    /// is older than allowed (checked before anything is built); returns
    /// warnings for the run report (a feed that looks stale).
    fn check(&self, now: Timestamp) -> Result<Vec<String>, DbError>;
    /// When the DB was built (it changes with every `db update`, `db pull`
    /// and `db import`); `None` when unknown.
    fn built(&self) -> Result<Option<Timestamp>, DbError> {
        Ok(None)
    }
    /// Match an inventory.
    fn matches(
        &self,
        inv: &inventory::Inventory,
        opts: &scan::Options,
    ) -> Result<scan::Matched, DbError>;
    /// Every end-of-life record the DB holds (for the policy's
    /// `current_release`).
    fn eol_all(&self) -> Result<Vec<vulndb::feed::eol::Cycle>, DbError> {
        Ok(Vec::new())
    }
    /// Where the inventory's distribution release and runtimes stand on
    /// `today` (`YYYY-MM-DD`), for those the DB has end-of-life data for.
    fn eol(
        &self,
        _inv: &inventory::Inventory,
        _today: &str,
    ) -> Result<Vec<vulndb::feed::eol::EolStatus>, DbError> {
        Ok(Vec::new())
    }
}

/// The time.
pub trait Clock: Sync {
    /// Now.
    fn now(&self) -> Timestamp;
    /// Whether this is the machine's own clock, which a run corrects to a
    /// shared store's time ([`StoreClock`]); a given time (tests, replays)
    /// is used as it is.
    fn is_system(&self) -> bool {
        false
    }
}

/// This machine's clock corrected to the store's: on a store shared by
/// replicas (PostgreSQL) first-seen times, deadlines, leases and notices
/// all come from one clock, whatever each machine's says.
pub struct StoreClock<'a> {
    inner: &'a dyn Clock,
    offset: i64,
}

impl<'a> StoreClock<'a> {
    /// `inner` corrected by the store's time, when the store has one and
    /// `inner` is the system clock; also the seconds this machine is ahead
    /// of the store (0 when not corrected).
    pub fn follow(
        inner: &'a dyn Clock,
        store: &dyn store::StateStore,
    ) -> Result<(StoreClock<'a>, i64), store::StoreError> {
        let offset = match store.time()? {
            Some(t) if inner.is_system() => store::clock_offset(t, inner.now()),
            _ => 0,
        };
        Ok((StoreClock { inner, offset }, -offset))
    }
}

impl Clock for StoreClock<'_> {
    fn now(&self) -> Timestamp {
        Timestamp(self.inner.now().0 + self.offset)
    }
}

/// What happens during a run, for a progress display (the binary prints
/// these; libraries never print).
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// The run started.
    Started {
        /// Its id.
        run: RunId,
        /// Images in it.
        images: usize,
        /// Engine name.
        engine: &'a str,
        /// Whether nothing is built or moved.
        dry_run: bool,
    },
    /// Something earlier runs left was fixed (recovery).
    Recovered(&'a str),
    /// An image started.
    ImageStarted(&'a str),
    /// An image reached a stage. `Gated` comes right before tags move.
    Stage(&'a str, Stage),
    /// An image is decided.
    ImageDone(&'a str, Outcome),
    /// A problem that changes no decision (a notifier failed, a record failed).
    Warning(&'a str),
}

/// Receives [`Event`]s.
pub trait Observer: Sync {
    /// One event.
    fn event(&self, e: &Event<'_>);
}

/// Set when the run must stop (SIGINT/SIGTERM): no further image starts,
/// running engine commands are stopped, the run is recorded as interrupted.
#[derive(Debug, Clone, Default)]
pub struct Cancel(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Cancel {
    /// Ask the run to stop.
    pub fn set(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    /// Whether it was asked to stop.
    pub fn is_set(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
    /// The flag itself, for work below the pipeline that checks it.
    pub fn flag(&self) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
        self.0.clone()
    }
}

/// An observer that ignores everything.
pub struct Quiet;

impl Observer for Quiet {
    fn event(&self, _: &Event<'_>) {}
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
    fn is_system(&self) -> bool {
        true
    }
}

/// The advisory DB file.
pub struct DbFile {
    /// Path.
    pub path: PathBuf,
    /// Refuse a DB older than this (0: no limit).
    pub max_age_hours: u64,
    /// Refuse a DB with a downloaded feed whose newest record is older.
    pub max_feed_age_days: Option<u64>,
}

impl Advisories for DbFile {
    fn check(&self, now: Timestamp) -> Result<Vec<String>, DbError> {
        Db::open_fresh(&self.path, self.max_age_hours, now)?
            .check_feeds(now, self.max_feed_age_days)
    }
    fn built(&self) -> Result<Option<Timestamp>, DbError> {
        Ok(Some(Db::open(&self.path)?.status().built_at))
    }
    fn matches(
        &self,
        inv: &inventory::Inventory,
        opts: &scan::Options,
    ) -> Result<scan::Matched, DbError> {
        // One connection per call: images are scanned on several threads.
        let db = Db::open(&self.path)?;
        scan::match_inventory(inv, &db, opts)
    }
    fn eol(
        &self,
        inv: &inventory::Inventory,
        today: &str,
    ) -> Result<Vec<vulndb::feed::eol::EolStatus>, DbError> {
        scan::eol::check(&Db::open(&self.path)?, inv, today)
    }
    fn eol_all(&self) -> Result<Vec<vulndb::feed::eol::Cycle>, DbError> {
        Db::open(&self.path)?.eol_all()
    }
}

/// The real registry client.
pub struct OciRegistry {
    /// Options (insecure hosts, credentials).
    pub opts: oci::source::RegistryOptions,
}

impl Registry for OciRegistry {
    fn head(&self, r: &ImageRef) -> Result<Option<Digest>, RegistryError> {
        let repo = oci::push::Repo::connect(r, &self.opts)?;
        let what = match (r.digest(), r.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => "latest".to_string(),
        };
        repo.head(&what)
    }
    fn platform_digest(
        &self,
        r: &ImageRef,
        d: &Digest,
        p: &Platform,
    ) -> Result<Digest, RegistryError> {
        oci::push::Repo::connect(r, &self.opts)?.platform_digest(d, p)
    }
    fn diff_ids(&self, r: &ImageRef, digest: &Digest) -> Result<Vec<Digest>, RegistryError> {
        let pinned = r.with_digest(digest.clone());
        let (image, _) =
            oci::registry::open(&pinned, &Platform::host(), &self.opts, &pinned.to_string())
                .map_err(|e| RegistryError::Other {
                    reference: pinned.to_string(),
                    message: e.to_string(),
                })?;
        Ok(image.layers.into_iter().map(|l| l.diff_id).collect())
    }
    fn push_layout(&self, repo: &ImageRef, layout: &Path) -> Result<Digest, RegistryError> {
        oci::push::Repo::connect(repo, &self.opts)?.push_layout(layout, Some("latest"))
    }
    fn tag(&self, repo: &ImageRef, digest: &Digest, tag: &str) -> Result<(), RegistryError> {
        oci::push::Repo::connect(repo, &self.opts)?.tag(digest, tag)
    }
    fn push_manifest(
        &self,
        repo: &ImageRef,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest, RegistryError> {
        oci::push::Repo::connect(repo, &self.opts)?.push_manifest(bytes, media_type)
    }
    fn describe(
        &self,
        repo: &ImageRef,
        digest: &Digest,
    ) -> Result<oci::push::Described, RegistryError> {
        oci::push::Repo::connect(repo, &self.opts)?.describe(digest)
    }
    fn artifacts(
        &self,
        repo: &ImageRef,
    ) -> Result<Box<dyn provenance::Artifacts + '_>, RegistryError> {
        Ok(Box::new(oci::push::Repo::connect(repo, &self.opts)?))
    }
}
