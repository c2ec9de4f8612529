//! The advisory DB: one SQLite file with a versioned schema. It is built in
//! a temporary file next to its destination and renamed into place, so a
//! reader never sees half a DB and a failed import leaves the old one.
//! Lookups go by (ecosystem, normalised name) through one index.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use findings::time::Timestamp;

use crate::feed::Record;
use crate::model::{Advisory, Affected, normalize_name};

/// The schema this build reads and writes. A DB with another version must
/// be rebuilt (`safeimage db update` or `db import`).
pub const SCHEMA_VERSION: u32 = 1;

/// A downloaded feed whose newest record is older than this many days is
/// reported (every feed OSV exports publishes or amends records daily).
pub const STALE_FEED_WARN_DAYS: i64 = 14;

/// Errors reading or building the DB.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The file is missing.
    #[error(
        "no vulnerability DB at {0} (build one with `safeimage db update`, or offline with `safeimage db import PATH`)"
    )]
    Missing(PathBuf),
    /// SQLite failed.
    #[error("vulnerability DB {path}: {source}")]
    Sqlite {
        /// File.
        path: PathBuf,
        /// Cause.
        source: rusqlite::Error,
    },
    /// Not one of ours, or another schema version.
    #[error(
        "vulnerability DB {path} has schema {found}, this safeimage reads schema {SCHEMA_VERSION}: rebuild it with `safeimage db update` or `safeimage db import`"
    )]
    Schema {
        /// File.
        path: PathBuf,
        /// What it has.
        found: String,
    },
    /// Filesystem.
    #[error("vulnerability DB {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Built longer ago than the caller accepts.
    #[error(
        "vulnerability DB {path} was built {built_at} ({hours} hours ago), older than the limit of {max_hours} hours: run `safeimage db update` (or `db import` offline), or raise --db-max-age"
    )]
    TooOld {
        /// File.
        path: PathBuf,
        /// When it was built.
        built_at: Timestamp,
        /// Its age.
        hours: i64,
        /// The limit.
        max_hours: u64,
    },
    /// A downloaded feed's newest record is older than the caller accepts.
    #[error(
        "vulnerability DB {path}: feed {feed}'s newest record is {days} days old ({newest_record}), over the limit of {max_days} days (max_feed_age_days): the feed has stopped updating or the download is a stale copy; run `safeimage db update` or check the feed"
    )]
    StaleFeed {
        /// File.
        path: PathBuf,
        /// The feed.
        feed: String,
        /// Its newest record.
        newest_record: Timestamp,
        /// Age in days.
        days: i64,
        /// The limit.
        max_days: u64,
    },
    /// A stored row did not decode.
    #[error("vulnerability DB {path}: corrupt row: {message}")]
    Corrupt {
        /// File.
        path: PathBuf,
        /// What.
        message: String,
    },
}

/// One imported source.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceInfo {
    /// What it was (`osv`, `debian-tracker`, `alpine-secdb`, or a path).
    pub name: String,
    /// Where it came from (URL or path).
    pub location: String,
    /// Advisories read from it.
    pub records: u64,
    /// The newest `modified` time among its records: how current the feed
    /// itself is, whatever the age of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_record: Option<Timestamp>,
    /// When it was downloaded (`db update`); none for offline imports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_at: Option<Timestamp>,
}

/// What `db status` shows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DbStatus {
    /// The file.
    pub path: PathBuf,
    /// Schema version.
    pub schema_version: u32,
    /// When it was built (RFC 3339 UTC).
    pub built_at: Timestamp,
    /// Advisories.
    pub advisories: u64,
    /// Affected-package rows.
    pub affected_rows: u64,
    /// Rows per ecosystem.
    pub ecosystems: Vec<(String, u64)>,
    /// Imported sources.
    pub sources: Vec<SourceInfo>,
    /// CISA KEV catalog imported: its version and entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kev: Option<FeedSummary>,
    /// EPSS scores imported: their model, date and rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss: Option<FeedSummary>,
}

/// A KEV or EPSS import, as `db status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FeedSummary {
    /// KEV: `catalogVersion`; EPSS: `model_version`.
    pub version: String,
    /// KEV: `dateReleased`; EPSS: `score_date`.
    pub date: String,
    /// Entries.
    pub entries: u64,
}

fn sq(path: &Path) -> impl Fn(rusqlite::Error) -> DbError + '_ {
    move |source| DbError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// Builds a new DB file.
pub struct DbBuilder {
    conn: Connection,
    tmp: tempfile::TempPath,
    dest: PathBuf,
    advisories: u64,
    rows: u64,
    sources: Vec<SourceInfo>,
    ecosystems: std::collections::BTreeMap<String, u64>,
    kev: Option<FeedSummary>,
    epss: Option<FeedSummary>,
}

impl DbBuilder {
    /// Start a DB that [`DbBuilder::finish`] will move to `dest`.
    pub fn create(dest: &Path) -> Result<DbBuilder, DbError> {
        let io = |source| DbError::Io {
            path: dest.to_path_buf(),
            source,
        };
        // Build beside the file the DB will become (a symlink's target), so
        // the final rename stays on one filesystem; a device or FIFO gets
        // the finished bytes written into it.
        let tmp = match safefs::resolve(dest).map_err(io)? {
            safefs::Target::Regular(real) => {
                if let Some(dir) = real.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                safefs::temp_beside(&real, safefs::Mode::Public)
            }
            safefs::Target::Special(_) => tempfile::Builder::new()
                .prefix(".safeimage-db-")
                .suffix(".tmp")
                .tempfile(),
        }
        .map_err(io)?
        .into_temp_path();
        let conn = Connection::open(&tmp).map_err(sq(dest))?;
        conn.execute_batch(
            "PRAGMA journal_mode = OFF;
             PRAGMA synchronous = OFF;
             PRAGMA page_size = 8192;
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE advisory (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
             CREATE TABLE affected (ecosystem TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL, advisory INTEGER NOT NULL, data TEXT NOT NULL,
                                    PRIMARY KEY (ecosystem, name, seq)) WITHOUT ROWID;
             CREATE TABLE kev (cve TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;
             CREATE TABLE epss (cve TEXT PRIMARY KEY, score REAL NOT NULL, percentile REAL NOT NULL) WITHOUT ROWID;
             CREATE TABLE eol (product TEXT NOT NULL, cycle TEXT NOT NULL, data TEXT NOT NULL,
                               PRIMARY KEY (product, cycle)) WITHOUT ROWID;
             BEGIN;",
        )
        .map_err(sq(dest))?;
        Ok(DbBuilder {
            conn,
            tmp,
            dest: dest.to_path_buf(),
            advisories: 0,
            rows: 0,
            sources: Vec::new(),
            ecosystems: Default::default(),
            kev: None,
            epss: None,
        })
    }

    /// Adds end-of-life dates (a later file replaces a product's cycles).
    pub fn add_eol(&mut self, cycles: &[crate::feed::eol::Cycle]) -> Result<u64, DbError> {
        let e = sq(&self.dest);
        let mut st = self
            .conn
            .prepare_cached("INSERT OR REPLACE INTO eol (product, cycle, data) VALUES (?1, ?2, ?3)")
            .map_err(&e)?;
        for c in cycles {
            let data = serde_json::to_string(c).map_err(|x| DbError::Corrupt {
                path: self.dest.clone(),
                message: x.to_string(),
            })?;
            st.execute(params![c.product, c.cycle, data]).map_err(&e)?;
        }
        Ok(cycles.len() as u64)
    }

    /// Adds CISA's KEV catalog (a later catalog replaces earlier entries).
    pub fn add_kev(&mut self, kev: &crate::feed::kev::Kev) -> Result<u64, DbError> {
        let e = sq(&self.dest);
        let mut st = self
            .conn
            .prepare_cached("INSERT OR REPLACE INTO kev (cve, data) VALUES (?1, ?2)")
            .map_err(&e)?;
        for k in &kev.entries {
            let data = serde_json::to_string(k).map_err(|x| DbError::Corrupt {
                path: self.dest.clone(),
                message: x.to_string(),
            })?;
            st.execute(params![k.cve, data]).map_err(&e)?;
        }
        self.kev = Some(FeedSummary {
            version: kev.version.clone(),
            date: kev.released.clone(),
            entries: kev.entries.len() as u64,
        });
        Ok(kev.entries.len() as u64)
    }

    /// Adds a day's EPSS scores (a later file replaces earlier scores).
    pub fn add_epss(&mut self, epss: &crate::feed::epss::Epss) -> Result<u64, DbError> {
        let e = sq(&self.dest);
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT OR REPLACE INTO epss (cve, score, percentile) VALUES (?1, ?2, ?3)",
            )
            .map_err(&e)?;
        for (cve, s) in &epss.scores {
            st.execute(params![cve, s.score, s.percentile])
                .map_err(&e)?;
        }
        self.epss = Some(FeedSummary {
            version: epss.model.clone(),
            date: epss.date.clone(),
            entries: epss.scores.len() as u64,
        });
        Ok(epss.scores.len() as u64)
    }

    /// Add one record. An advisory id seen before keeps its first text; its
    /// affected rows are added.
    pub fn add(&mut self, rec: &Record) -> Result<(), DbError> {
        let e = sq(&self.dest);
        let data = serde_json::to_string(&rec.advisory).map_err(|x| DbError::Corrupt {
            path: self.dest.clone(),
            message: x.to_string(),
        })?;
        let inserted = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO advisory (id, data) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![rec.advisory.id.as_str(), data]))
            .map_err(&e)?;
        let rowid: i64 = if inserted == 1 {
            self.advisories += 1;
            self.conn.last_insert_rowid()
        } else {
            self.conn
                .prepare_cached("SELECT rowid FROM advisory WHERE id = ?1")
                .and_then(|mut s| s.query_row([rec.advisory.id.as_str()], |r| r.get(0)))
                .map_err(&e)?
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO affected (advisory, ecosystem, name, data, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(&e)?;
        for a in &rec.affected {
            let data = serde_json::to_string(a).map_err(|x| DbError::Corrupt {
                path: self.dest.clone(),
                message: x.to_string(),
            })?;
            stmt.execute(params![
                rowid,
                a.ecosystem,
                normalize_name(&a.ecosystem, &a.name),
                data,
                self.rows as i64
            ])
            .map_err(&e)?;
            self.rows += 1;
            *self.ecosystems.entry(a.ecosystem.clone()).or_default() += 1;
        }
        Ok(())
    }

    /// Note a source in the DB's metadata.
    pub fn add_source(&mut self, info: SourceInfo) {
        self.sources.push(info);
    }

    /// Rows so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Index, write metadata, and move the file into place.
    pub fn finish(self, built_at: Timestamp) -> Result<DbStatus, DbError> {
        let e = sq(&self.dest);
        let status = DbStatus {
            path: self.dest.clone(),
            schema_version: SCHEMA_VERSION,
            built_at,
            advisories: self.advisories,
            affected_rows: self.rows,
            ecosystems: self.ecosystems.into_iter().collect(),
            sources: self.sources,
            kev: self.kev,
            epss: self.epss,
        };
        let meta = serde_json::to_string(&status).map_err(|x| DbError::Corrupt {
            path: self.dest.clone(),
            message: x.to_string(),
        })?;
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1), ('status', ?2)",
                params![SCHEMA_VERSION.to_string(), meta],
            )
            .map_err(&e)?;
        self.conn
            .execute_batch(
                // Rows are clustered by (ecosystem, name): one package's rows
                // sit together, so a lookup is one b-tree seek.
                "COMMIT;
                 ANALYZE;",
            )
            .map_err(&e)?;
        self.conn.close().map_err(|(_, x)| e(x))?;
        let io = |source| DbError::Io {
            path: self.dest.clone(),
            source,
        };
        std::fs::File::open(&self.tmp)
            .and_then(|f| f.sync_all())
            .map_err(io)?;
        let built = self.tmp.keep().map_err(|x| io(x.error))?;
        safefs::install(&built, &self.dest).map_err(|x| {
            let _ = std::fs::remove_file(&built);
            io(x.source)
        })?;
        Ok(status)
    }
}

/// An open DB.
pub struct Db {
    conn: Connection,
    status: DbStatus,
    /// The file has KEV and EPSS tables (DBs built before them do not).
    has_kev: bool,
    has_epss: bool,
    has_eol: bool,
}

impl Db {
    /// Open read-only and check the schema version.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        if !path.is_file() {
            return Err(DbError::Missing(path.to_path_buf()));
        }
        // The file is never changed in place (updates rename a new file over
        // it), so SQLite may skip locking and change detection.
        let mut uri = String::from("file:");
        for b in path.to_string_lossy().bytes() {
            if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
                uri.push(b as char);
            } else {
                uri.push_str(&format!("%{b:02X}"));
            }
        }
        uri.push_str("?immutable=1");
        let conn = Connection::open_with_flags(
            &uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(sq(path))?;
        // Map the file instead of copying pages through read(2); keep more
        // pages cached. Both only affect this connection.
        conn.execute_batch("PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -65536;")
            .map_err(sq(path))?;
        let schema = |found: String| DbError::Schema {
            path: path.to_path_buf(),
            found,
        };
        let version: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|_| schema("none (not a safeimage DB)".into()))?;
        match version {
            Some(v) if v == SCHEMA_VERSION.to_string() => {}
            Some(v) => return Err(schema(v)),
            None => return Err(schema("none".into())),
        }
        let meta: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'status'", [], |r| {
                r.get(0)
            })
            .map_err(sq(path))?;
        let mut status: DbStatus = serde_json::from_str(&meta).map_err(|x| DbError::Corrupt {
            path: path.to_path_buf(),
            message: x.to_string(),
        })?;
        status.path = path.to_path_buf();
        let table = |name: &str| -> Result<bool, DbError> {
            conn.query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |_| Ok(()),
            )
            .optional()
            .map(|x| x.is_some())
            .map_err(sq(path))
        };
        let (has_kev, has_epss, has_eol) = (table("kev")?, table("epss")?, table("eol")?);
        Ok(Db {
            conn,
            status,
            has_kev,
            has_epss,
            has_eol,
        })
    }

    /// The end-of-life record of a product's release cycle (`debian`, `12`;
    /// `ubuntu`, `22.04`), if the DB has end-of-life data for it. A
    /// `VERSION_ID` with a point release (`12.5`) finds its major cycle.
    pub fn eol(
        &self,
        product: &str,
        version: &str,
    ) -> Result<Option<crate::feed::eol::Cycle>, DbError> {
        if !self.has_eol {
            return Ok(None);
        }
        let path = &self.status.path;
        // the release as written, then its major.minor (`3.19.1` is Alpine
        // 3.19), then its major (`12.5` is Debian 12, `9.4` RHEL 9)
        let mut candidates = vec![version.to_string()];
        let parts: Vec<&str> = version.split('.').collect();
        if parts.len() > 2 {
            candidates.push(parts[..2].join("."));
        }
        if parts.len() > 1 {
            candidates.push(parts[0].to_string());
        }
        for c in candidates {
            let data: Option<String> = self
                .conn
                .prepare_cached("SELECT data FROM eol WHERE product = ?1 AND cycle = ?2")
                .and_then(|mut s| s.query_row([product, c.as_str()], |r| r.get(0)).optional())
                .map_err(sq(path))?;
            if let Some(d) = data {
                return serde_json::from_str(&d)
                    .map(Some)
                    .map_err(|x| DbError::Corrupt {
                        path: path.clone(),
                        message: x.to_string(),
                    });
            }
        }
        Ok(None)
    }

    /// Every end-of-life record (empty when the DB has none).
    pub fn eol_all(&self) -> Result<Vec<crate::feed::eol::Cycle>, DbError> {
        if !self.has_eol {
            return Ok(Vec::new());
        }
        let path = &self.status.path;
        let mut st = self
            .conn
            .prepare_cached("SELECT data FROM eol ORDER BY product, cycle")
            .map_err(sq(path))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(sq(path))?;
        let mut out = Vec::new();
        for d in rows {
            let d = d.map_err(sq(path))?;
            out.push(serde_json::from_str(&d).map_err(|x| DbError::Corrupt {
                path: path.clone(),
                message: x.to_string(),
            })?);
        }
        Ok(out)
    }

    /// Whether the DB holds end-of-life data.
    pub fn has_eol(&self) -> bool {
        self.has_eol
    }

    /// The KEV catalog's entry for `cve`, if the DB has the catalog and it
    /// lists the CVE.
    pub fn kev(&self, cve: &str) -> Result<Option<crate::feed::kev::KevEntry>, DbError> {
        if !self.has_kev {
            return Ok(None);
        }
        let path = &self.status.path;
        let data: Option<String> = self
            .conn
            .prepare_cached("SELECT data FROM kev WHERE cve = ?1")
            .and_then(|mut s| s.query_row([cve], |r| r.get(0)).optional())
            .map_err(sq(path))?;
        data.map(|d| {
            serde_json::from_str(&d).map_err(|x| DbError::Corrupt {
                path: path.clone(),
                message: x.to_string(),
            })
        })
        .transpose()
    }

    /// `cve`'s EPSS score, if the DB has scores and one for it.
    pub fn epss(&self, cve: &str) -> Result<Option<crate::feed::epss::EpssScore>, DbError> {
        if !self.has_epss {
            return Ok(None);
        }
        self.conn
            .prepare_cached("SELECT score, percentile FROM epss WHERE cve = ?1")
            .and_then(|mut s| {
                s.query_row([cve], |r| {
                    Ok(crate::feed::epss::EpssScore {
                        score: r.get(0)?,
                        percentile: r.get(1)?,
                    })
                })
                .optional()
            })
            .map_err(sq(&self.status.path))
    }

    /// Metadata.
    pub fn status(&self) -> &DbStatus {
        &self.status
    }

    /// The downloaded feeds whose newest record is older than
    /// [`STALE_FEED_WARN_DAYS`] (warnings, with the age), or an error for the
    /// first older than `max_days`. Only downloaded feeds count: an offline
    /// import is as old as the files it was given.
    pub fn check_feeds(
        &self,
        now: Timestamp,
        max_days: Option<u64>,
    ) -> Result<Vec<String>, DbError> {
        let mut warnings = Vec::new();
        for s in &self.status.sources {
            let (Some(newest), Some(_)) = (s.newest_record, s.fetched_at) else {
                continue;
            };
            let days = now.since(newest) / 86_400;
            if let Some(max) = max_days
                && days > max as i64
            {
                return Err(DbError::StaleFeed {
                    path: self.status.path.clone(),
                    feed: s.name.clone(),
                    newest_record: newest,
                    days,
                    max_days: max,
                });
            }
            if days > STALE_FEED_WARN_DAYS {
                warnings.push(format!(
                    "feed {}: its newest record is {days} days old ({newest}) although the DB was built {}: the feed may have stopped updating",
                    s.name, self.status.built_at
                ));
            }
        }
        Ok(warnings)
    }

    /// Open, refusing a DB built more than `max_hours` before `now` (0: no limit).
    pub fn open_fresh(path: &Path, max_hours: u64, now: Timestamp) -> Result<Db, DbError> {
        let db = Db::open(path)?;
        let age = now.since(db.status.built_at);
        if max_hours > 0 && age > (max_hours as i64) * 3600 {
            return Err(DbError::TooOld {
                path: path.to_path_buf(),
                built_at: db.status.built_at,
                hours: age / 3600,
                max_hours,
            });
        }
        Ok(db)
    }

    /// Affected rows for a package (name already normalised with
    /// [`normalize_name`]), with their advisory's row id.
    pub fn affected(&self, ecosystem: &str, name: &str) -> Result<Vec<(i64, Affected)>, DbError> {
        let path = &self.status.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT advisory, data FROM affected WHERE ecosystem = ?1 AND name = ?2",
            )
            .map_err(sq(path))?;
        let rows = stmt
            .query_map([ecosystem, name], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(sq(path))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, data) = row.map_err(sq(path))?;
            let a: Affected = serde_json::from_str(&data).map_err(|x| DbError::Corrupt {
                path: path.clone(),
                message: x.to_string(),
            })?;
            out.push((id, a));
        }
        Ok(out)
    }

    /// The advisory stored under `id`, if any (NVD's CVSS records are
    /// found this way: `NVD-<CVE id>`).
    pub fn advisory_by_id(&self, id: &str) -> Result<Option<Advisory>, DbError> {
        let path = &self.status.path;
        let data: Option<String> = self
            .conn
            .prepare_cached("SELECT data FROM advisory WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
            .map_err(sq(path))?;
        data.map(|d| {
            serde_json::from_str(&d).map_err(|x| DbError::Corrupt {
                path: path.clone(),
                message: x.to_string(),
            })
        })
        .transpose()
    }

    /// An advisory by row id.
    pub fn advisory(&self, rowid: i64) -> Result<Advisory, DbError> {
        let path = &self.status.path;
        let data: String = self
            .conn
            .prepare_cached("SELECT data FROM advisory WHERE rowid = ?1")
            .and_then(|mut s| s.query_row([rowid], |r| r.get(0)))
            .map_err(sq(path))?;
        serde_json::from_str(&data).map_err(|x| DbError::Corrupt {
            path: path.clone(),
            message: x.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::parse_bytes;

    #[test]
    fn build_open_lookup_and_schema_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/db.sqlite");
        let mut b = DbBuilder::create(&path).unwrap();
        for r in parse_bytes(br#"[{"id": "PYSEC-1", "aliases": ["CVE-1"], "affected": [{"package": {"ecosystem": "PyPI", "name": "Jinja2"}, "versions": ["2.0"]}]},
                                  {"id": "PYSEC-1", "affected": [{"package": {"ecosystem": "PyPI", "name": "jinja2"}, "versions": ["2.1"]}]}]"#).unwrap() {
            b.add(&r).unwrap();
        }
        assert!(!path.exists(), "nothing at the destination before finish");
        let st = b.finish("2026-01-01T00:00:00Z".parse().unwrap()).unwrap();
        assert_eq!((st.advisories, st.affected_rows), (1, 2));
        let db = Db::open(&path).unwrap();
        let rows = db.affected("PyPI", "jinja2").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(db.advisory(rows[0].0).unwrap().aliases, vec!["CVE-1"]);
        assert!(db.affected("PyPI", "Jinja2").unwrap().is_empty());
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");

        // Another schema version is refused with a clear message.
        let c = Connection::open(&path).unwrap();
        c.execute(
            "UPDATE meta SET value = '0' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
        drop(c);
        let err = Db::open(&path).err().unwrap().to_string();
        assert!(
            err.contains("has schema 0") && err.contains("db update"),
            "{err}"
        );
        let err = Db::open(&dir.path().join("nope"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("no vulnerability DB"), "{err}");
    }

    #[test]
    fn dropped_builder_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let b = DbBuilder::create(&path).unwrap();
        drop(b);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
