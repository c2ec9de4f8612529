//! State of the daily run. [`StateStore`] is what the run needs; [`Sqlite`]
//! implements it (WAL, schema migrations, one transaction per decision).
//! Every decision is also appended to the image's audit log ([`audit`]),
//! whose head the store keeps, so `audit verify` can prove nothing was
//! edited, deleted or reordered. A run killed at any point leaves the store
//! consistent: the next open marks it interrupted and re-anchors audit
//! records written just before the kill.

pub mod audit;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite.
    #[error("state store {path}: {source}")]
    Sqlite {
        /// File.
        path: PathBuf,
        /// Cause.
        source: rusqlite::Error,
    },
    /// Files.
    #[error("state store {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A newer schema than this build knows.
    #[error("state store {path} has schema version {found}; this safeimage knows up to {known}")]
    Newer {
        /// File.
        path: PathBuf,
        /// Found.
        found: i64,
        /// Known.
        known: i64,
    },
}

/// The last promoted build of an image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Promoted {
    /// Manifest digest.
    pub digest: String,
    /// Findings JSON of its scan.
    pub findings: String,
    /// Bases JSON (reference → digest).
    pub bases: String,
    /// Version it was built as.
    pub version: Option<String>,
}

/// One image's final decision, as recorded.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    /// Run id.
    pub run: i64,
    /// Image.
    pub image: &'a str,
    /// `promoted`, `blocked`, `failed`.
    pub outcome: &'a str,
    /// Built digest.
    pub digest: Option<&'a str>,
    /// Version (for `{n}`).
    pub version: Option<&'a str>,
    /// The outcome JSON (stored whole).
    pub detail: &'a Value,
    /// Findings JSON (baseline for the next run when promoted).
    pub findings: &'a str,
    /// Bases JSON.
    pub bases: &'a str,
    /// Audit record fields.
    pub audit: Map<String, Value>,
}

/// What the run needs from a state store.
pub trait StateStore {
    /// Start a run.
    fn begin_run(&mut self, started: &str, config: &str) -> Result<i64, StoreError>;
    /// Record an intermediate stage.
    fn stage(
        &mut self,
        run: i64,
        image: &str,
        stage: &str,
        detail: &Value,
    ) -> Result<(), StoreError>;
    /// Record a final decision (audit record first, then the state, in one transaction).
    fn decide(&mut self, d: &Decision<'_>) -> Result<(), StoreError>;
    /// Finish a run.
    fn finish_run(&mut self, run: i64, finished: &str, status: &str) -> Result<(), StoreError>;
    /// The last promoted build.
    fn promoted(&self, image: &str) -> Result<Option<Promoted>, StoreError>;
    /// Promotions of a version so far.
    fn promotions(&self, image: &str, version: &str) -> Result<u64, StoreError>;
    /// A cached platform digest.
    fn platform_digest(&self, digest: &str, platform: &str) -> Result<Option<String>, StoreError>;
    /// Remember a platform digest.
    fn remember_platform(
        &mut self,
        digest: &str,
        platform: &str,
        pd: &str,
    ) -> Result<(), StoreError>;
    /// Every cached platform digest: (digest, platform, platform digest).
    fn platform_digests(&self) -> Result<Vec<(String, String, String)>, StoreError>;
    /// Audit head per image (seq, hash).
    fn audit_heads(&self) -> Result<Vec<(String, u64, String)>, StoreError>;
}

/// SQLite state.
pub struct Sqlite {
    conn: Connection,
    path: PathBuf,
    audit_dir: PathBuf,
    /// Things the last open fixed (interrupted runs, re-anchored records).
    pub recovered: Vec<String>,
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
];

impl Sqlite {
    fn sq(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Open (creating, migrating and recovering as needed).
    pub fn open(path: &Path, audit_dir: &Path) -> Result<Sqlite, StoreError> {
        let io = |source| StoreError::Io {
            path: path.into(),
            source,
        };
        if let Some(d) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(d).map_err(io)?;
        }
        std::fs::create_dir_all(audit_dir).map_err(|source| StoreError::Io {
            path: audit_dir.into(),
            source,
        })?;
        let conn = Connection::open(path).map_err(|source| StoreError::Sqlite {
            path: path.into(),
            source,
        })?;
        let mut s = Sqlite {
            conn,
            path: path.into(),
            audit_dir: audit_dir.into(),
            recovered: Vec::new(),
        };
        s.conn
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
            )
            .map_err(s.sq())?;
        s.migrate()?;
        s.recover()?;
        Ok(s)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let v: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(self.sq())?;
        let known = MIGRATIONS.len() as i64;
        if v > known {
            return Err(StoreError::Newer {
                path: self.path.clone(),
                found: v,
                known,
            });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(v as usize) {
            let tx = self
                .conn
                .transaction()
                .map_err(|source| StoreError::Sqlite {
                    path: self.path.clone(),
                    source,
                })?;
            tx.execute_batch(m)
                .and_then(|_| tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1)))
                .and_then(|_| tx.commit())
                .map_err(|source| StoreError::Sqlite {
                    path: self.path.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    /// Mark runs that never finished, and anchor audit records written just
    /// before a kill (valid chain continuing from the stored head).
    fn recover(&mut self) -> Result<(), StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE images SET status = 'interrupted' WHERE status NOT IN ('promoted','blocked','failed','dry-run','interrupted')
                 AND run IN (SELECT id FROM runs WHERE status = 'running')",
                [],
            )
            .map_err(self.sq())?;
        let r = self
            .conn
            .execute(
                "UPDATE runs SET status = 'interrupted' WHERE status = 'running'",
                [],
            )
            .map_err(self.sq())?;
        if r > 0 {
            self.recovered.push(format!(
                "{r} interrupted run(s) marked ({n} image(s) had not finished)"
            ));
        }
        for (image, seq, hash) in self.audit_heads()? {
            let chain = audit::read_chain(&audit::file_for(&self.audit_dir, &image));
            if !chain.problems.is_empty() {
                continue; // verify reports it; never paper over tampering
            }
            let at = chain.records.get(seq.saturating_sub(1) as usize);
            let anchored = seq == 0
                || at.and_then(|r| r.get("hash")).and_then(Value::as_str) == Some(hash.as_str());
            let (hseq, hhash) = chain.head();
            if anchored && hseq > seq {
                self.conn
                    .execute(
                        "UPDATE audit_head SET seq = ?2, hash = ?3 WHERE image = ?1",
                        params![image, hseq as i64, hhash],
                    )
                    .map_err(self.sq())?;
                self.recovered.push(format!(
                    "audit log of {image}: anchored {} record(s) written before an interruption",
                    hseq - seq
                ));
            }
        }
        Ok(())
    }

    /// The audit directory.
    pub fn audit_dir(&self) -> &Path {
        &self.audit_dir
    }
}

impl StateStore for Sqlite {
    fn begin_run(&mut self, started: &str, config: &str) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO runs (started, status, config) VALUES (?1, 'running', ?2)",
                params![started, config],
            )
            .map_err(self.sq())?;
        Ok(self.conn.last_insert_rowid())
    }

    fn stage(
        &mut self,
        run: i64,
        image: &str,
        stage: &str,
        detail: &Value,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO images (run, name, status, digest, detail) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (run, name) DO UPDATE SET status = excluded.status, digest = excluded.digest,
                 detail = excluded.detail, updated = strftime('%Y-%m-%dT%H:%M:%SZ','now')",
                params![run, image, stage, detail["digest"].as_str(), detail.to_string()],
            )
            .map_err(self.sq())?;
        Ok(())
    }

    fn decide(&mut self, d: &Decision<'_>) -> Result<(), StoreError> {
        let (seq, prev): (u64, String) = self
            .conn
            .query_row(
                "SELECT seq, hash FROM audit_head WHERE image = ?1",
                [d.image],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .optional()
            .map_err(self.sq())?
            .unwrap_or((0, audit::GENESIS.to_string()));
        let hash = audit::append(&self.audit_dir, d.image, seq + 1, &prev, d.audit.clone())
            .map_err(|source| StoreError::Io {
                path: audit::file_for(&self.audit_dir, d.image),
                source,
            })?;
        let path = self.path.clone();
        let e = move |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(&e)?;
        tx.execute(
            "INSERT INTO images (run, name, status, digest, detail) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (run, name) DO UPDATE SET status = excluded.status, digest = excluded.digest,
             detail = excluded.detail, updated = strftime('%Y-%m-%dT%H:%M:%SZ','now')",
            params![d.run, d.image, d.outcome, d.digest, d.detail.to_string()],
        )
        .map_err(&e)?;
        if d.outcome == "promoted"
            && let Some(dg) = d.digest
        {
            tx.execute(
                "INSERT INTO promoted (name, digest, run, findings, bases, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name) DO UPDATE SET digest = excluded.digest, run = excluded.run,
                 findings = excluded.findings, bases = excluded.bases, version = excluded.version",
                params![d.image, dg, d.run, d.findings, d.bases, d.version],
            )
            .map_err(&e)?;
            tx.execute(
                "INSERT INTO promotions (name, version, run, digest) VALUES (?1, ?2, ?3, ?4)",
                params![d.image, d.version, d.run, dg],
            )
            .map_err(&e)?;
        }
        tx.execute(
            "INSERT INTO audit_head (image, seq, hash) VALUES (?1, ?2, ?3)
             ON CONFLICT (image) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            params![d.image, (seq + 1) as i64, hash],
        )
        .map_err(&e)?;
        tx.commit().map_err(&e)?;
        Ok(())
    }

    fn finish_run(&mut self, run: i64, finished: &str, status: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE runs SET finished = ?2, status = ?3 WHERE id = ?1",
                params![run, finished, status],
            )
            .map_err(self.sq())?;
        Ok(())
    }

    fn promoted(&self, image: &str) -> Result<Option<Promoted>, StoreError> {
        self.conn
            .query_row(
                "SELECT digest, findings, bases, version FROM promoted WHERE name = ?1",
                [image],
                |r| {
                    Ok(Promoted {
                        digest: r.get(0)?,
                        findings: r.get(1)?,
                        bases: r.get(2)?,
                        version: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(self.sq())
    }

    fn promotions(&self, image: &str, version: &str) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM promotions WHERE name = ?1 AND version = ?2",
                params![image, version],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(self.sq())
    }

    fn platform_digest(&self, digest: &str, platform: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT platform_digest FROM platform_digests WHERE digest = ?1 AND platform = ?2",
                params![digest, platform],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sq())
    }

    fn remember_platform(
        &mut self,
        digest: &str,
        platform: &str,
        pd: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO platform_digests (digest, platform, platform_digest) VALUES (?1, ?2, ?3)",
                params![digest, platform, pd],
            )
            .map_err(self.sq())?;
        Ok(())
    }

    fn platform_digests(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT digest, platform, platform_digest FROM platform_digests")
            .map_err(self.sq())?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.sq())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sq())
    }

    fn audit_heads(&self) -> Result<Vec<(String, u64, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT image, seq, hash FROM audit_head ORDER BY image")
            .map_err(self.sq())?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?))
            })
            .map_err(self.sq())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sq())
    }
}

/// Verification result for one image.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Image.
    pub image: String,
    /// Records in the file.
    pub records: usize,
    /// Problems (empty = intact).
    pub problems: Vec<audit::Problem>,
}

/// Verify every audit log against its chain and the store's head.
pub fn verify(store: &Sqlite) -> Result<Vec<Verified>, StoreError> {
    let mut out = Vec::new();
    let heads = store.audit_heads()?;
    let mut names: Vec<String> = heads.iter().map(|h| h.0.clone()).collect();
    if let Ok(rd) = std::fs::read_dir(&store.audit_dir) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if let Some(stem) = n.strip_suffix(".jsonl")
                && !names.iter().any(|x| x == stem)
            {
                names.push(stem.to_string());
            }
        }
    }
    names.sort();
    for name in names {
        let file = audit::file_for(&store.audit_dir, &name);
        let mut chain = audit::read_chain(&file);
        let head = heads.iter().find(|h| h.0 == name);
        let (fseq, fhash) = chain.head();
        match head {
            None => chain.problems.push(audit::Problem {
                file: file.clone(),
                line: 0,
                message: "the store has no record of this log".into(),
            }),
            Some((_, seq, hash)) => {
                if fseq < *seq {
                    chain.problems.push(audit::Problem {
                        file: file.clone(),
                        line: 0,
                        message: format!("the log ends at record {fseq} but the store recorded {seq}: records were deleted"),
                    });
                } else if fseq == *seq && fhash != *hash {
                    chain.problems.push(audit::Problem {
                        file: file.clone(),
                        line: 0,
                        message: "the last record is not the one the store recorded".into(),
                    });
                } else if fseq > *seq {
                    chain.problems.push(audit::Problem {
                        file: file.clone(),
                        line: 0,
                        message: format!("records after {seq} are not anchored in the store (added outside a run?)"),
                    });
                }
            }
        }
        out.push(Verified {
            image: name,
            records: chain.records.len(),
            problems: chain.problems,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(s: &mut Sqlite, run: i64, image: &str, outcome: &str, digest: &str) {
        let mut a = Map::new();
        a.insert("outcome".into(), Value::from(outcome));
        a.insert("digest".into(), Value::from(digest));
        s.decide(&Decision {
            run,
            image,
            outcome,
            digest: Some(digest),
            version: None,
            detail: &Value::Null,
            findings: "[]",
            bases: "{}",
            audit: a,
        })
        .unwrap();
    }

    #[test]
    fn runs_decisions_recovery_and_verify() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("state.db");
        let audit = d.path().join("audit");
        let mut s = Sqlite::open(&db, &audit).unwrap();
        let r = s.begin_run("t0", "fleet.toml").unwrap();
        decide(&mut s, r, "api", "promoted", "sha256:a");
        decide(&mut s, r, "worker", "blocked", "sha256:b");
        s.finish_run(r, "t1", "completed").unwrap();
        let r2 = s.begin_run("t2", "fleet.toml").unwrap();
        s.stage(
            r2,
            "api",
            "pushed",
            &serde_json::json!({"digest": "sha256:c"}),
        )
        .unwrap();
        drop(s); // killed mid-run
        let mut s = Sqlite::open(&db, &audit).unwrap();
        assert!(
            s.recovered[0].contains("1 interrupted run"),
            "{:?}",
            s.recovered
        );
        assert_eq!(s.promoted("api").unwrap().unwrap().digest, "sha256:a");
        assert!(s.promoted("worker").unwrap().is_none());
        let r3 = s.begin_run("t3", "fleet.toml").unwrap();
        decide(&mut s, r3, "api", "promoted", "sha256:d");
        assert!(verify(&s).unwrap().iter().all(|v| v.problems.is_empty()));

        // A record appended just before a kill (state not committed) is anchored on open.
        let (seq, hash) = audit::read_chain(&audit::file_for(&audit, "api")).head();
        audit::append(&audit, "api", seq + 1, &hash, Map::new()).unwrap();
        drop(s);
        let s = Sqlite::open(&db, &audit).unwrap();
        assert!(
            s.recovered.iter().any(|m| m.contains("anchored 1")),
            "{:?}",
            s.recovered
        );
        assert!(verify(&s).unwrap().iter().all(|v| v.problems.is_empty()));

        // Deleting the last record is caught through the stored head.
        let f = audit::file_for(&audit, "api");
        let text = std::fs::read_to_string(&f).unwrap();
        let keep: Vec<&str> = text.lines().collect();
        std::fs::write(&f, format!("{}\n", keep[..keep.len() - 1].join("\n"))).unwrap();
        let v = verify(&s).unwrap();
        let api = v.iter().find(|x| x.image == "api").unwrap();
        assert!(
            api.problems
                .iter()
                .any(|p| p.message.contains("records were deleted")),
            "{:?}",
            api.problems
        );
    }
}
