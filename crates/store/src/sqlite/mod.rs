//! The SQLite state store: one file (WAL, `synchronous = FULL`), schema
//! migrations by `user_version`, typed columns (digests, references,
//! outcomes) with JSON only for whole documents (an image's outcome, a scan
//! result). Audit logs are JSON-lines files beside it, one per image.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use model::{History, Holder, ImageName, Origin, RunId, Stage, Timestamp};
use oci::{Digest, Platform};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde_json::Value;

use crate::audit;
use crate::decide;
use crate::{AuditHead, Decision, Lease, Log, RunStatus, StateStore, StoreError};

/// SQLite state.
pub struct Sqlite {
    conn: Connection,
    path: PathBuf,
    audit_dir: PathBuf,
    key: Option<audit::AuditKey>,
}

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE runs (id INTEGER PRIMARY KEY, started TEXT NOT NULL, finished TEXT, status TEXT NOT NULL, config TEXT NOT NULL);
     CREATE TABLE images (run INTEGER NOT NULL REFERENCES runs(id), name TEXT NOT NULL, status TEXT NOT NULL,
                          digest TEXT, detail TEXT NOT NULL, updated TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
                          PRIMARY KEY (run, name));
     CREATE TABLE promoted (name TEXT PRIMARY KEY, digest TEXT NOT NULL, run INTEGER NOT NULL, findings TEXT NOT NULL,
                            bases TEXT NOT NULL, version TEXT);
     CREATE TABLE promotions (name TEXT NOT NULL, version TEXT, run INTEGER NOT NULL, digest TEXT NOT NULL);
     CREATE TABLE platform_digests (digest TEXT NOT NULL, platform TEXT NOT NULL, platform_digest TEXT NOT NULL,
                                    PRIMARY KEY (digest, platform));
     CREATE TABLE audit_head (image TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL);",
    // 2: the bases of a promotion as rows, not a JSON string; build-input fingerprints.
    "CREATE TABLE promoted_bases (name TEXT NOT NULL, reference TEXT NOT NULL, digest TEXT NOT NULL,
                                  PRIMARY KEY (name, reference));
     INSERT INTO promoted_bases (name, reference, digest)
       SELECT p.name, j.key, j.value FROM promoted p, json_each(p.bases) j;
     ALTER TABLE promoted DROP COLUMN bases;
     ALTER TABLE promoted ADD COLUMN inputs TEXT;",
    // 3: with an audit key, the last global record number and its HMAC.
    "CREATE TABLE audit_global (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, mac TEXT NOT NULL);",
    // 4: run heartbeats and per-image leases (overlapping runs).
    "ALTER TABLE runs ADD COLUMN heartbeat INTEGER;
     CREATE TABLE leases (image TEXT PRIMARY KEY, run INTEGER NOT NULL, holder TEXT NOT NULL, expires INTEGER NOT NULL);",
    // 5: the manifest of each platform of a promotion.
    "CREATE TABLE promoted_platforms (name TEXT NOT NULL, platform TEXT NOT NULL, digest TEXT NOT NULL,
                                      PRIMARY KEY (name, platform));",
    // 6: the order of decisions, and where it stood when each run began
    // (overlapping runs leave an image another run decided meanwhile alone).
    "ALTER TABLE images ADD COLUMN seq INTEGER;
     CREATE INDEX images_seq ON images (name, seq);
     ALTER TABLE runs ADD COLUMN mark INTEGER NOT NULL DEFAULT 0;",
    // 7: the process doing each run (a run whose process is gone is
    // recovered without waiting for its heartbeat to go stale).
    "ALTER TABLE runs ADD COLUMN origin TEXT;",
    // 8: when each base digest was first seen (update's stability window).
    "CREATE TABLE seen_digests (subject TEXT NOT NULL, digest TEXT NOT NULL, first_seen INTEGER NOT NULL,
                                PRIMARY KEY (subject, digest));",
    // 9: findings over time: each (image, platform, advisory, package)
    // occurrence with first/last seen, fixed-at, state, digest (lifecycle.rs).
    "CREATE TABLE findings (image TEXT NOT NULL, platform TEXT NOT NULL, advisory TEXT NOT NULL,
                            package TEXT NOT NULL, occurrence INTEGER NOT NULL, severity TEXT NOT NULL,
                            state TEXT NOT NULL, reason TEXT, expires TEXT, first_seen INTEGER NOT NULL,
                            last_seen INTEGER NOT NULL, fixed_at INTEGER, fix_available INTEGER,
                            digest TEXT NOT NULL, notified_at INTEGER, kev_due TEXT,
                            PRIMARY KEY (image, platform, advisory, package, occurrence));
     CREATE INDEX findings_open ON findings (image, fixed_at);
     CREATE TABLE promoted_inventories (name TEXT NOT NULL, platform TEXT NOT NULL, digest TEXT NOT NULL,
                                        inventory TEXT NOT NULL, fingerprint TEXT NOT NULL,
                                        PRIMARY KEY (name, platform));
     CREATE TABLE security_issues (image TEXT PRIMARY KEY, data TEXT NOT NULL);",
    // 10: small values the store keeps (the advisory DB last matched).
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 11: scheduled jobs' ticks (`serve`: each claimed once).
    "CREATE TABLE jobs (job TEXT NOT NULL, tick INTEGER NOT NULL, holder TEXT NOT NULL,
                        started INTEGER NOT NULL, finished INTEGER, ok INTEGER, log TEXT NOT NULL DEFAULT '',
                        PRIMARY KEY (job, tick));",
    // 12: the next decision's number is MAX(seq): by index, not a scan
    // (a fleet of 1,000 images decides 365,000 times a year).
    "CREATE INDEX images_seq_all ON images (seq);",
];

/// `promoted`: digest, run, findings, version, inputs.
type PromotedRow = (String, i64, String, Option<String>, Option<String>);

fn short(s: &str) -> String {
    s.chars().take(80).collect()
}

impl Sqlite {
    fn sq(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, what: &'static str, value: &str, message: impl ToString) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            what,
            value: short(value),
            message: message.to_string(),
        }
    }

    /// Open for a run: created with private permissions and migrated as
    /// needed. Nothing is recovered here (see [`StateStore::recover`]).
    pub fn open(path: &Path, audit_dir: &Path) -> Result<Sqlite, StoreError> {
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| StoreError::Io {
                path: p.clone(),
                source,
            }
        };
        if let Some(d) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(d).map_err(io(d))?;
        }
        std::fs::create_dir_all(audit_dir).map_err(io(audit_dir))?;
        if !path.exists() {
            // The state names images, digests and reasons: not for everyone.
            // Created in place and only if absent: another runner may be
            // creating it at this moment, and must end up on the same file.
            use std::os::unix::fs::OpenOptionsExt as _;
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_symlink() => {
                    // A dangling symlink: create its target, privately.
                    safefs::write(path, b"", safefs::Mode::Private).map_err(|e| {
                        StoreError::Io {
                            path: path.into(),
                            source: e.source,
                        }
                    })?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(path)(e)),
            }
        }
        // Runners starting together: one at a time switches a new file to
        // WAL and migrates it (SQLite reports I/O or protocol errors, not
        // busy, when two connections do that at once). An advisory flock,
        // apart from SQLite's own locks; held until the migration is done.
        let guard = std::fs::File::open(path).map_err(io(path))?;
        guard.lock().map_err(io(path))?;
        let conn = Connection::open(path).map_err(|source| StoreError::Sqlite {
            path: path.into(),
            source,
        })?;
        let mut s = Sqlite {
            conn,
            path: path.into(),
            audit_dir: audit_dir.into(),
            key: None,
        };
        s.conn
            .execute_batch(
                "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
            )
            .map_err(s.sq())?;
        s.migrate()?;
        drop(guard);
        Ok(s)
    }

    /// Open an existing store without changing anything (for `audit verify`).
    pub fn open_read_only(path: &Path, audit_dir: &Path) -> Result<Sqlite, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing(path.into()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Sqlite {
            path: path.into(),
            source,
        })?;
        let s = Sqlite {
            conn,
            path: path.into(),
            audit_dir: audit_dir.into(),
            key: None,
        };
        s.conn
            .execute_batch("PRAGMA busy_timeout = 10000;")
            .map_err(s.sq())?;
        decide::pending(MIGRATIONS, s.user_version()?, &s.path)?;
        Ok(s)
    }

    fn user_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(self.sq())
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        if decide::pending(MIGRATIONS, self.user_version()?, &self.path)?.is_empty() {
            return Ok(());
        }
        // Another process may be migrating the same file right now: take
        // the write lock first, then look again.
        let path = self.path.clone();
        let e = move |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&e)?;
        let v: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(&e)?;
        for (i, m) in decide::pending(MIGRATIONS, v, &self.path)?
            .iter()
            .enumerate()
        {
            tx.execute_batch(m)
                .and_then(|_| {
                    tx.execute_batch(&format!("PRAGMA user_version = {}", v as usize + i + 1))
                })
                .map_err(&e)?;
        }
        tx.commit().map_err(&e)
    }

    /// Signs audit records and the global head with `key` from now on.
    pub fn with_audit_key(mut self, key: Option<audit::AuditKey>) -> Self {
        self.key = key;
        self
    }

    fn global(&self) -> Result<Option<(u64, String)>, StoreError> {
        if self.user_version()? < 3 {
            return Ok(None);
        }
        self.conn
            .query_row("SELECT seq, mac FROM audit_global WHERE id = 1", [], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
            })
            .optional()
            .map_err(self.sq())
    }

    /// The audit directory.
    pub fn audit_dir(&self) -> &Path {
        &self.audit_dir
    }

    fn head_of(&self, image: &str) -> Result<Option<(u64, String)>, StoreError> {
        self.conn
            .query_row(
                "SELECT seq, hash FROM audit_head WHERE image = ?1",
                [image],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .optional()
            .map_err(self.sq())
    }

    fn log_names(&self) -> Result<BTreeSet<String>, StoreError> {
        let mut names: BTreeSet<String> =
            self.audit_heads()?.into_iter().map(|h| h.image).collect();
        match std::fs::read_dir(&self.audit_dir) {
            Ok(rd) => {
                for e in rd.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    if let Some(stem) = n.strip_suffix(".jsonl") {
                        names.insert(stem.to_string());
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StoreError::Io {
                    path: self.audit_dir.clone(),
                    source,
                });
            }
        }
        Ok(names)
    }
}

impl Sqlite {
    /// Runs `f` in one write transaction (the write lock held from its
    /// first read to the commit: another process's write cannot
    /// interleave), and commits.
    fn write<T>(
        &mut self,
        f: impl FnOnce(&mut SqliteTx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let e = move |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&e)?;
        let mut t = SqliteTx {
            tx,
            path: &self.path,
            audit_dir: &self.audit_dir,
        };
        let out = f(&mut t)?;
        t.tx.commit().map_err(&e)?;
        Ok(out)
    }
}

impl StateStore for Sqlite {
    fn recover(
        &mut self,
        now: Timestamp,
        stale_secs: i64,
        gone: &dyn Fn(&Origin) -> bool,
    ) -> Result<Vec<String>, StoreError> {
        let mut notes = Vec::new();
        let cutoff = now.0 - stale_secs;
        let interrupted: Vec<i64> = {
            let mut st = self
                .conn
                .prepare("SELECT id, heartbeat, origin FROM runs WHERE status = 'running'")
                .map_err(self.sq())?;
            let rows: Vec<(i64, Option<i64>, Option<String>)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(self.sq())?
                .collect::<Result<_, _>>()
                .map_err(self.sq())?;
            rows.into_iter()
                .filter(|(_, beat, origin)| {
                    beat.is_none_or(|b| b < cutoff)
                        || origin
                            .as_deref()
                            .is_some_and(|o| !o.is_empty() && gone(&Origin::from(o)))
                })
                .map(|(id, _, _)| id)
                .collect()
        };
        if interrupted.is_empty() {
            return Ok(notes);
        }
        let ids = interrupted
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let n = self
            .conn
            .execute(
                &format!(
                    "UPDATE images SET status = 'interrupted' WHERE status NOT IN ({})
                     AND run IN ({ids})",
                    decide::FINAL_STATES
                ),
                [],
            )
            .map_err(self.sq())?;
        self.conn
            .execute(
                &format!("UPDATE runs SET status = 'interrupted' WHERE id IN ({ids})"),
                [],
            )
            .map_err(self.sq())?;
        self.conn
            .execute(&format!("DELETE FROM leases WHERE run IN ({ids})"), [])
            .map_err(self.sq())?;
        notes.push(decide::recovered_note(interrupted.len(), n as u64));
        // Records the killed runs appended before their state committed:
        // anchored only when every unanchored record belongs to one of them.
        for image in self.log_names()? {
            let chain = audit::read_chain(&audit::file_for(&self.audit_dir, &image));
            if !chain.problems.is_empty() {
                continue; // verify reports it; never paper over tampering
            }
            let (seq, hash) = self
                .head_of(&image)?
                .unwrap_or((0, audit::GENESIS.to_string()));
            let anchored = seq == 0
                || chain
                    .records
                    .get(seq.saturating_sub(1) as usize)
                    .and_then(|r| r.get("hash"))
                    .and_then(Value::as_str)
                    == Some(hash.as_str());
            let extra = chain.records.get(seq as usize..).unwrap_or(&[]);
            let ours = !extra.is_empty()
                && extra.iter().all(|r| {
                    r.get("run")
                        .and_then(Value::as_i64)
                        .is_some_and(|run| interrupted.contains(&run))
                });
            let (hseq, hhash) = chain.head();
            if anchored && ours {
                self.conn
                    .execute(
                        "INSERT INTO audit_head (image, seq, hash) VALUES (?1, ?2, ?3)
                         ON CONFLICT (image) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                        params![image, hseq as i64, hhash],
                    )
                    .map_err(self.sq())?;
                let last_gseq = extra
                    .iter()
                    .filter_map(|r| r.get("gseq").and_then(Value::as_u64))
                    .max();
                if let (Some(key), Some(g)) = (self.key.clone(), last_gseq) {
                    let g = g.max(self.global()?.map_or(0, |x| x.0));
                    let path = self.path.clone();
                    let e = move |source| StoreError::Sqlite {
                        path: path.clone(),
                        source,
                    };
                    let tx = self.conn.transaction().map_err(&e)?;
                    let mut t = SqliteTx {
                        tx,
                        path: &self.path,
                        audit_dir: &self.audit_dir,
                    };
                    decide::sign_heads(&mut t, &key, g)?;
                    t.tx.commit().map_err(&e)?;
                }
                notes.push(format!(
                    "audit log of {image}: anchored {} record(s) written before an interruption",
                    hseq - seq
                ));
            }
        }
        Ok(notes)
    }

    fn begin_run(
        &mut self,
        started: Timestamp,
        config: &str,
        origin: &Origin,
    ) -> Result<RunId, StoreError> {
        let origin = origin.as_str();
        self.conn
            .execute(
                "INSERT INTO runs (started, status, config, heartbeat, mark, origin)
                 VALUES (?1, 'running', ?2, ?3, (SELECT COALESCE(MAX(seq), 0) FROM images), ?4)",
                params![started.to_string(), config, started.0, origin],
            )
            .map_err(self.sq())?;
        Ok(RunId(self.conn.last_insert_rowid()))
    }

    fn heartbeat(&mut self, run: RunId, now: Timestamp) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE runs SET heartbeat = ?2 WHERE id = ?1",
                params![run.0, now.0],
            )
            .map_err(self.sq())?;
        Ok(())
    }

    fn acquire(
        &mut self,
        image: &ImageName,
        run: RunId,
        holder: &Holder,
        now: Timestamp,
        ttl_secs: i64,
    ) -> Result<Lease, StoreError> {
        let image = image.as_str();
        let holder = holder.as_str();
        let path = self.path.clone();
        let e = move |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        // IMMEDIATE: the write lock is taken before the read, so two
        // processes cannot both see the lease free.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&e)?;
        let current: Option<(i64, String, i64)> = tx
            .query_row(
                "SELECT run, holder, expires FROM leases WHERE image = ?1",
                [image],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(&e)?;
        if let Some((other, who, expires)) = current
            && other != run.0
            && expires > now.0
        {
            return Ok(Lease::Held {
                run: RunId(other),
                holder: Holder::new(who),
            });
        }
        tx.execute(
            "INSERT OR REPLACE INTO leases (image, run, holder, expires) VALUES (?1, ?2, ?3, ?4)",
            params![image, run.0, holder, now.0 + ttl_secs],
        )
        .map_err(&e)?;
        tx.commit().map_err(&e)?;
        Ok(Lease::Acquired)
    }

    fn renew(
        &mut self,
        image: &ImageName,
        run: RunId,
        now: Timestamp,
        ttl_secs: i64,
    ) -> Result<bool, StoreError> {
        let image = image.as_str();
        let n = self
            .conn
            .execute(
                "UPDATE leases SET expires = ?3 WHERE image = ?1 AND run = ?2",
                params![image, run.0, now.0 + ttl_secs],
            )
            .map_err(self.sq())?;
        Ok(n == 1)
    }

    fn release(&mut self, image: &ImageName, run: RunId) -> Result<(), StoreError> {
        let image = image.as_str();
        self.conn
            .execute(
                "DELETE FROM leases WHERE image = ?1 AND run = ?2",
                params![image, run.0],
            )
            .map_err(self.sq())?;
        Ok(())
    }

    fn stage(
        &mut self,
        run: RunId,
        image: &ImageName,
        stage: Stage,
        digest: Option<&Digest>,
    ) -> Result<(), StoreError> {
        let image = image.as_str();
        self.conn
            .execute(
                "INSERT INTO images (run, name, status, digest, detail) VALUES (?1, ?2, ?3, ?4, '{}')
                 ON CONFLICT (run, name) DO UPDATE SET status = excluded.status, digest = excluded.digest,
                 updated = strftime('%Y-%m-%dT%H:%M:%SZ','now')",
                params![run.0, image, stage.as_str(), digest.map(|d| d.to_string())],
            )
            .map_err(self.sq())?;
        Ok(())
    }

    fn decide(&mut self, d: &Decision<'_>) -> Result<(), StoreError> {
        let (detail, findings) =
            decide::documents(d).map_err(|(what, m)| self.corrupt(what, &d.outcome.name, m))?;
        // Hold the write lock from reading the heads to committing them:
        // another process's decision cannot interleave.
        let key = self.key.clone();
        self.write(|t| decide::record(t, d, key.as_ref(), &detail, &findings))
    }

    fn finish_run(
        &mut self,
        run: RunId,
        finished: Timestamp,
        status: RunStatus,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE runs SET finished = ?2, status = ?3 WHERE id = ?1",
                params![run.0, finished.to_string(), status.as_str()],
            )
            .map_err(self.sq())?;
        self.conn
            .execute("DELETE FROM leases WHERE run = ?1", [run.0])
            .map_err(self.sq())?;
        Ok(())
    }

    fn decided_since(&self, image: &ImageName, run: RunId) -> Result<Option<RunId>, StoreError> {
        let image = image.as_str();
        self.conn
            .query_row(
                "SELECT i.run FROM images i, runs r
                 WHERE r.id = ?2 AND i.name = ?1 AND i.run != ?2 AND i.seq > r.mark
                 ORDER BY i.seq DESC LIMIT 1",
                params![image, run.0],
                |r| Ok(RunId(r.get(0)?)),
            )
            .optional()
            .map_err(self.sq())
    }

    fn history(&self, image: &ImageName, version: Option<&str>) -> Result<History, StoreError> {
        let image = image.as_str();
        let pairs = |sql: &str, arg: &str| -> Result<Vec<(String, String)>, StoreError> {
            let mut st = self.conn.prepare(sql).map_err(self.sq())?;
            st.query_map([arg], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(self.sq())?
                .collect::<Result<_, _>>()
                .map_err(self.sq())
        };
        let mut rows = crate::HistoryRows::default();
        let row: Option<PromotedRow> = self
            .conn
            .query_row(
                "SELECT digest, run, findings, version, inputs FROM promoted WHERE name = ?1",
                [image],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(self.sq())?;
        if let Some((digest, run, findings, version, inputs)) = row {
            rows.promoted = Some(crate::PromotedRows {
                digest,
                run,
                findings,
                version,
                inputs,
                bases: pairs(
                    "SELECT reference, digest FROM promoted_bases WHERE name = ?1 ORDER BY reference",
                    image,
                )?,
                platforms: pairs(
                    "SELECT platform, digest FROM promoted_platforms WHERE name = ?1 ORDER BY platform",
                    image,
                )?,
            });
        }
        let mut st = self
            .conn
            .prepare("SELECT digest, platform, platform_digest FROM platform_digests")
            .map_err(self.sq())?;
        rows.platform_cache = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.sq())?
            .collect::<Result<_, _>>()
            .map_err(self.sq())?;
        if let Some(v) = version {
            rows.promotions_of_version = Some(
                self.conn
                    .query_row(
                        "SELECT count(*) FROM promotions WHERE name = ?1 AND version = ?2",
                        params![image, v],
                        |r| r.get::<_, i64>(0),
                    )
                    .map_err(self.sq())?,
            );
        }
        rows.parse(image, &|what, value, message| {
            self.corrupt(what, value, message)
        })
    }

    fn remember_platform(
        &mut self,
        digest: &Digest,
        platform: &Platform,
        platform_digest: &Digest,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO platform_digests (digest, platform, platform_digest) VALUES (?1, ?2, ?3)",
                params![digest.to_string(), platform.to_string(), platform_digest.to_string()],
            )
            .map_err(self.sq())?;
        Ok(())
    }

    fn first_seen(
        &mut self,
        subject: &str,
        digest: &Digest,
        now: Timestamp,
    ) -> Result<Timestamp, StoreError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO seen_digests (subject, digest, first_seen) VALUES (?1, ?2, ?3)",
                params![subject, digest.to_string(), now.0],
            )
            .map_err(self.sq())?;
        self.conn
            .query_row(
                "SELECT first_seen FROM seen_digests WHERE subject = ?1 AND digest = ?2",
                params![subject, digest.to_string()],
                |r| r.get::<_, i64>(0),
            )
            .map(Timestamp)
            .map_err(self.sq())
    }

    fn tracked(
        &self,
        image: Option<&str>,
        with_fixed: bool,
    ) -> Result<Vec<crate::lifecycle::Tracked>, StoreError> {
        let sql = format!(
            "SELECT {} FROM findings WHERE (?1 = '' OR image = ?1) AND (?2 = 1 OR fixed_at IS NULL)
             ORDER BY image, platform, advisory, package, occurrence",
            crate::lifecycle::COLUMNS
        );
        let mut st = self.conn.prepare(&sql).map_err(self.sq())?;
        let n = st.column_count();
        let rows = st
            .query_map(params![image.unwrap_or(""), i64::from(with_fixed)], |r| {
                (0..n)
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.sq())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sq())?;
        Ok(rows
            .iter()
            .map(|r| crate::lifecycle::from_texts(r))
            .collect())
    }

    fn promoted_inventories(&self) -> Result<Vec<crate::StoredInventory>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT name, platform, digest, inventory, fingerprint FROM promoted_inventories ORDER BY name, platform",
            )
            .map_err(self.sq())?;
        st.query_map([], |r| {
            Ok(crate::StoredInventory {
                image: r.get(0)?,
                platform: r.get(1)?,
                digest: r.get(2)?,
                inventory: r.get(3)?,
                fingerprint: r.get(4)?,
            })
        })
        .map_err(self.sq())?
        .collect::<Result<_, _>>()
        .map_err(self.sq())
    }

    fn record_rematch(
        &mut self,
        image: &str,
        digest: &str,
        time: Timestamp,
        document: &std::collections::BTreeMap<String, Vec<scan::Finding>>,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(document)
            .map_err(|x| self.corrupt("findings", image, x.to_string()))?;
        self.write(|t| decide::record_rematch(t, image, digest, time, document, &text))
    }

    fn security_issue(
        &self,
        image: &str,
    ) -> Result<Option<model::tracked::SecurityIssue>, StoreError> {
        let data: Option<String> = self
            .conn
            .query_row(
                "SELECT data FROM security_issues WHERE image = ?1",
                [image],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sq())?;
        data.map(|d| {
            serde_json::from_str(&d)
                .map_err(|x| self.corrupt("security issue", image, x.to_string()))
        })
        .transpose()
    }

    fn save_security_issue(
        &mut self,
        issue: &model::tracked::SecurityIssue,
    ) -> Result<(), StoreError> {
        let data = serde_json::to_string(issue)
            .map_err(|x| self.corrupt("security issue", &issue.image, x.to_string()))?;
        self.conn
            .execute(
                "INSERT INTO security_issues (image, data) VALUES (?1, ?2)
                 ON CONFLICT (image) DO UPDATE SET data = excluded.data",
                params![issue.image, data],
            )
            .map_err(self.sq())?;
        Ok(())
    }

    fn audit_event(
        &mut self,
        image: &str,
        time: Timestamp,
        event: &str,
        mut fields: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), StoreError> {
        fields.insert("time".into(), time.to_string().into());
        fields.insert("event".into(), event.into());
        let key = self.key.clone();
        self.write(|t| decide::record_event(t, image, fields, key.as_ref()))
    }

    fn image_summaries(&self) -> Result<Vec<crate::ImageSummary>, StoreError> {
        let mut out: std::collections::BTreeMap<String, crate::ImageSummary> = Default::default();
        let mut st = self
            .conn
            .prepare(
                "SELECT i.name, i.run, i.status, i.detail, i.updated FROM images i
                 JOIN (SELECT name, MAX(seq) AS m FROM images GROUP BY name) l
                   ON l.name = i.name AND l.m = i.seq",
            )
            .map_err(self.sq())?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(self.sq())?;
        for r in rows {
            let (name, run, status, detail, time) = r.map_err(self.sq())?;
            out.entry(name.clone())
                .or_insert_with(|| crate::ImageSummary {
                    image: name,
                    last: None,
                    promoted: None,
                })
                .last = Some((RunId(run), status, time, detail));
        }
        let mut st = self
            .conn
            .prepare(
                "SELECT p.name, p.digest, COALESCE(i.detail, '') FROM promoted p
                 LEFT JOIN images i ON i.run = p.run AND i.name = p.name",
            )
            .map_err(self.sq())?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(self.sq())?;
        for r in rows {
            let (name, digest, detail) = r.map_err(self.sq())?;
            out.entry(name.clone())
                .or_insert_with(|| crate::ImageSummary {
                    image: name,
                    last: None,
                    promoted: None,
                })
                .promoted = Some((digest, detail));
        }
        Ok(out.into_values().collect())
    }

    fn runs(&self, limit: usize) -> Result<Vec<crate::RunSummary>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, started, finished, status, config FROM runs ORDER BY id DESC LIMIT ?1",
            )
            .map_err(self.sq())?;
        let rows = st
            .query_map([limit as i64], |r| {
                Ok(crate::RunSummary {
                    id: RunId(r.get(0)?),
                    started: r.get(1)?,
                    finished: r.get(2)?,
                    status: r.get(3)?,
                    config: r.get(4)?,
                })
            })
            .map_err(self.sq())?;
        rows.collect::<Result<_, _>>().map_err(self.sq())
    }

    fn run_image(
        &self,
        run: RunId,
        image: &str,
    ) -> Result<Option<model::ImageOutcome>, StoreError> {
        let d: Option<String> = self
            .conn
            .query_row(
                "SELECT detail FROM images WHERE run = ?1 AND name = ?2",
                params![run.0, image],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sq())?;
        d.filter(|d| d.starts_with('{'))
            .map(|d| {
                serde_json::from_str(&d)
                    .map_err(|x| self.corrupt("image outcome", image, x.to_string()))
            })
            .transpose()
    }

    fn run_images(&self, run: RunId) -> Result<Vec<model::ImageOutcome>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT name, detail FROM images WHERE run = ?1 ORDER BY name")
            .map_err(self.sq())?;
        let rows: Vec<(String, String)> = st
            .query_map([run.0], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.sq())?
            .collect::<Result<_, _>>()
            .map_err(self.sq())?;
        rows.into_iter()
            .filter(|(_, d)| d.starts_with('{'))
            .map(|(n, d)| {
                serde_json::from_str(&d)
                    .map_err(|x| self.corrupt("image outcome", &n, x.to_string()))
            })
            .collect()
    }

    fn claim_job(
        &mut self,
        job: &str,
        tick: Timestamp,
        holder: &str,
        now: Timestamp,
        busy_secs: i64,
    ) -> Result<bool, StoreError> {
        // one statement: SQLite runs it under its write lock
        let n = self
            .conn
            .execute(
                "INSERT INTO jobs (job, tick, holder, started)
                 SELECT ?1, ?2, ?3, ?4
                 WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE job = ?1 AND finished IS NULL AND started > ?5)
                 ON CONFLICT (job, tick) DO NOTHING",
                params![job, tick.0, holder, now.0, now.0 - busy_secs],
            )
            .map_err(self.sq())?;
        Ok(n == 1)
    }

    fn finish_job(
        &mut self,
        job: &str,
        tick: Timestamp,
        ok: bool,
        log: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE jobs SET finished = ?3, ok = ?4, log = ?5 WHERE job = ?1 AND tick = ?2",
                params![job, tick.0, now.0, ok, crate::log_tail(log)],
            )
            .map_err(self.sq())?;
        Ok(())
    }

    fn jobs(&self, limit: usize) -> Result<Vec<crate::JobRecord>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT job, tick, holder, started, finished, ok, log FROM jobs
                 ORDER BY started DESC, job LIMIT ?1",
            )
            .map_err(self.sq())?;
        let rows = st
            .query_map([limit as i64], |r| {
                Ok(crate::JobRecord {
                    job: r.get(0)?,
                    tick: Timestamp(r.get(1)?),
                    holder: r.get(2)?,
                    started: Timestamp(r.get(3)?),
                    finished: r.get::<_, Option<i64>>(4)?.map(Timestamp),
                    ok: r.get(5)?,
                    log: r.get(6)?,
                })
            })
            .map_err(self.sq())?;
        rows.collect::<Result<_, _>>().map_err(self.sq())
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.sq())
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(self.sq())?;
        Ok(())
    }

    fn mark_notified(
        &mut self,
        rows: &[crate::lifecycle::Tracked],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let e = move |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&e)?;
        for r in rows {
            tx.execute(
                "UPDATE findings SET notified_at = ?1 WHERE image = ?2 AND platform = ?3
                   AND advisory = ?4 AND package = ?5 AND occurrence = ?6",
                params![
                    now.0,
                    r.image,
                    r.platform,
                    r.advisory,
                    r.package,
                    r.occurrence
                ],
            )
            .map_err(&e)?;
        }
        tx.commit().map_err(&e)
    }

    fn audit_heads(&self) -> Result<Vec<AuditHead>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT image, seq, hash FROM audit_head ORDER BY image")
            .map_err(self.sq())?;
        let rows = st
            .query_map([], |r| {
                Ok(AuditHead {
                    image: r.get(0)?,
                    seq: r.get::<_, i64>(1)? as u64,
                    hash: r.get(2)?,
                })
            })
            .map_err(self.sq())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sq())
    }

    fn audit_global(&self) -> Result<Option<(u64, String)>, StoreError> {
        self.global()
    }

    fn audit_log(&self, image: &str) -> Result<Option<Log>, StoreError> {
        let file = audit::file_for(&self.audit_dir, image);
        Ok(file.exists().then(|| Log {
            chain: audit::read_chain(&file),
            image: image.to_string(),
            file,
        }))
    }

    fn audit_logs(&self) -> Result<Vec<Log>, StoreError> {
        Ok(self
            .log_names()?
            .into_iter()
            .map(|image| {
                let file = audit::file_for(&self.audit_dir, &image);
                Log {
                    chain: audit::read_chain(&file),
                    image,
                    file,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
mod tx;

use tx::SqliteTx;
