//! The PostgreSQL state store, for a fleet shared by several runners: the
//! same [`StateStore`] behaviour as [`crate::Sqlite`], with the audit log
//! kept in the database itself (one row per record, in the same
//! transaction as the head it moves), leases taken with a single atomic
//! `INSERT … ON CONFLICT … WHERE expired`, and schema migrations by a
//! version row. TLS follows the URL's `sslmode` (rustls with the Mozilla
//! roots); `sslmode=disable`, a Unix socket or a loopback host use none.

use std::collections::BTreeMap;
use std::path::PathBuf;

use model::{History, Holder, ImageName, Origin, RunId, Stage, Timestamp};
use oci::{Digest, Platform};
use postgres::{Client, NoTls, Transaction};

use crate::audit;
use crate::decide::{self, Arg, Tx};
use crate::{AuditHead, Decision, Lease, Log, RunStatus, StateStore, StoreError};

/// PostgreSQL state. The client sits behind a mutex because the store's
/// readers take `&self` while `postgres::Client` needs `&mut`.
pub struct Postgres {
    client: std::sync::Mutex<Client>,
    shown: String,
    key: Option<audit::AuditKey>,
}

const MIGRATIONS: &[&str] = &[
    // 1: everything the SQLite store has after its migration 4, plus the
    // audit records themselves.
    "CREATE TABLE runs (id BIGSERIAL PRIMARY KEY, started TEXT NOT NULL, finished TEXT, status TEXT NOT NULL,
                        config TEXT NOT NULL, heartbeat BIGINT);
     CREATE TABLE images (run BIGINT NOT NULL REFERENCES runs(id), name TEXT NOT NULL, status TEXT NOT NULL,
                          digest TEXT, detail TEXT NOT NULL, updated TIMESTAMPTZ NOT NULL DEFAULT now(),
                          PRIMARY KEY (run, name));
     CREATE TABLE promoted (name TEXT PRIMARY KEY, digest TEXT NOT NULL, run BIGINT NOT NULL,
                            findings TEXT NOT NULL, version TEXT, inputs TEXT);
     CREATE TABLE promoted_bases (name TEXT NOT NULL, reference TEXT NOT NULL, digest TEXT NOT NULL,
                                  PRIMARY KEY (name, reference));
     CREATE TABLE promotions (name TEXT NOT NULL, version TEXT, run BIGINT NOT NULL, digest TEXT NOT NULL);
     CREATE TABLE platform_digests (digest TEXT NOT NULL, platform TEXT NOT NULL, platform_digest TEXT NOT NULL,
                                    PRIMARY KEY (digest, platform));
     CREATE TABLE audit_head (image TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL);
     CREATE TABLE audit_global (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, mac TEXT NOT NULL);
     CREATE TABLE audit_log (image TEXT NOT NULL, seq BIGINT NOT NULL, line TEXT NOT NULL,
                             PRIMARY KEY (image, seq));
     CREATE TABLE leases (image TEXT PRIMARY KEY, run BIGINT NOT NULL, holder TEXT NOT NULL, expires BIGINT NOT NULL);",
    // 2: the manifest of each platform of a promotion.
    "CREATE TABLE promoted_platforms (name TEXT NOT NULL, platform TEXT NOT NULL, digest TEXT NOT NULL,
                                      PRIMARY KEY (name, platform));",
    // 3: the order of decisions, and where it stood when each run began
    // (overlapping runs leave an image another run decided meanwhile alone).
    "ALTER TABLE images ADD COLUMN seq BIGINT;
     CREATE INDEX images_seq ON images (name, seq);
     ALTER TABLE runs ADD COLUMN mark BIGINT NOT NULL DEFAULT 0;",
    // 4: the process doing each run (see the SQLite store's migration 7).
    "ALTER TABLE runs ADD COLUMN origin TEXT;",
    // 5: when each base digest was first seen (the SQLite store's migration 8).
    "CREATE TABLE seen_digests (subject TEXT NOT NULL, digest TEXT NOT NULL, first_seen BIGINT NOT NULL,
                                PRIMARY KEY (subject, digest));",
    // 6: findings over time (the SQLite store's migration 9).
    "CREATE TABLE findings (image TEXT NOT NULL, platform TEXT NOT NULL, advisory TEXT NOT NULL,
                            package TEXT NOT NULL, occurrence BIGINT NOT NULL, severity TEXT NOT NULL,
                            state TEXT NOT NULL, reason TEXT, expires TEXT, first_seen BIGINT NOT NULL,
                            last_seen BIGINT NOT NULL, fixed_at BIGINT, fix_available BIGINT,
                            digest TEXT NOT NULL, notified_at BIGINT, kev_due TEXT,
                            PRIMARY KEY (image, platform, advisory, package, occurrence));
     CREATE INDEX findings_open ON findings (image, fixed_at);
     CREATE TABLE promoted_inventories (name TEXT NOT NULL, platform TEXT NOT NULL, digest TEXT NOT NULL,
                                        inventory TEXT NOT NULL, fingerprint TEXT NOT NULL,
                                        PRIMARY KEY (name, platform));
     CREATE TABLE security_issues (image TEXT PRIMARY KEY, data TEXT NOT NULL);",
    // 7: small values the store keeps (the SQLite store's migration 10).
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 8: scheduled jobs' ticks (the SQLite store's migration 11).
    "CREATE TABLE jobs (job TEXT NOT NULL, tick BIGINT NOT NULL, holder TEXT NOT NULL,
                        started BIGINT NOT NULL, finished BIGINT, ok BOOLEAN, log TEXT NOT NULL DEFAULT '',
                        PRIMARY KEY (job, tick));",
    // 9: MAX(seq) by index (the SQLite store's migration 12).
    "CREATE INDEX images_seq_all ON images (seq);",
];

/// The URL with any password removed, for messages.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (auth, host) = rest.rsplit_once('@').map_or(("", rest), |(a, h)| (a, h));
            let user = auth.split(':').next().unwrap_or("");
            if auth.is_empty() {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{user}@{host}")
            }
        }
        None => "(postgres url)".into(),
    }
}

fn needs_tls(config: &postgres::Config) -> bool {
    use postgres::config::{Host, SslMode};
    if config.get_ssl_mode() == SslMode::Disable {
        return false;
    }
    !config.get_hosts().iter().all(|h| match h {
        Host::Tcp(name) => {
            name == "localhost"
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Host::Unix(_) => true,
    })
}

impl Postgres {
    fn err(&self) -> impl Fn(postgres::Error) -> StoreError + '_ {
        move |e| StoreError::Postgres {
            url: self.shown.clone(),
            message: e.to_string(),
        }
    }

    fn corrupt(&self, what: &'static str, value: &str, message: impl ToString) -> StoreError {
        StoreError::Corrupt {
            path: PathBuf::from(&self.shown),
            what,
            value: value.chars().take(80).collect(),
            message: message.to_string(),
        }
    }

    fn c(&self) -> Result<std::sync::MutexGuard<'_, Client>, StoreError> {
        self.client.lock().map_err(|_| StoreError::Postgres {
            url: self.shown.clone(),
            message: "the connection lock was poisoned".into(),
        })
    }

    /// Connects (a `postgres://` URL or key=value string) and migrates.
    pub fn connect(url: &str) -> Result<Postgres, StoreError> {
        let shown = redact_url(url);
        let e = |message: String| StoreError::Postgres {
            url: shown.clone(),
            message,
        };
        let config: postgres::Config =
            url.parse().map_err(|x: postgres::Error| e(x.to_string()))?;
        let client = if needs_tls(&config) {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let tls = rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
        } else {
            config.connect(NoTls)
        }
        .map_err(|x| e(x.to_string()))?;
        let mut s = Postgres {
            client: std::sync::Mutex::new(client),
            shown,
            key: None,
        };
        s.migrate()?;
        Ok(s)
    }

    /// Signs audit records and the global head with `key` from now on.
    pub fn with_audit_key(mut self, key: Option<audit::AuditKey>) -> Self {
        self.key = key;
        self
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let shown = self.shown.clone();
        let e = move |x: postgres::Error| StoreError::Postgres {
            url: shown.clone(),
            message: x.to_string(),
        };
        let mut c = self.c()?;
        let mut tx = c.transaction().map_err(&e)?;
        // One migrator at a time, even with several runners starting at once.
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(7284519);
             CREATE TABLE IF NOT EXISTS safeimage_schema (version INTEGER NOT NULL);",
        )
        .map_err(&e)?;
        let v: i32 = tx
            .query_opt("SELECT version FROM safeimage_schema", &[])
            .map_err(&e)?
            .map_or(0, |r| r.get(0));
        let known = MIGRATIONS.len() as i32;
        for m in decide::pending(MIGRATIONS, i64::from(v), &PathBuf::from(&self.shown))? {
            tx.batch_execute(m).map_err(&e)?;
        }
        if v == 0 {
            tx.execute(
                "INSERT INTO safeimage_schema (version) VALUES ($1)",
                &[&known],
            )
            .map_err(&e)?;
        } else if v < known {
            tx.execute("UPDATE safeimage_schema SET version = $1", &[&known])
                .map_err(&e)?;
        }
        tx.commit().map_err(&e)?;
        Ok(())
    }
}

/// A write transaction of this store, for [`crate::decide`]: `{now}` is
/// `now()`, and the audit log is a table written in the same transaction.
struct PgTx<'a> {
    tx: Transaction<'a>,
    url: &'a str,
}

fn pg_args<'a>(args: &'a [Arg<'a>]) -> Vec<Box<dyn postgres::types::ToSql + Sync + 'a>> {
    args.iter()
        .map(|a| -> Box<dyn postgres::types::ToSql + Sync + 'a> {
            match a {
                Arg::Int(i) => Box::new(*i),
                Arg::Text(t) => Box::new(*t),
                Arg::Opt(t) => Box::new(*t),
                Arg::OptInt(i) => Box::new(*i),
            }
        })
        .collect()
}

impl PgTx<'_> {
    fn rows(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<postgres::Row>, StoreError> {
        let boxed = pg_args(args);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            boxed.iter().map(|b| b.as_ref()).collect();
        let sql = sql.replace("{now}", "now()");
        let url = self.url.to_string();
        self.tx
            .query(sql.as_str(), &refs)
            .map_err(|x| StoreError::Postgres {
                url,
                message: x.to_string(),
            })
    }
}

impl Tx for PgTx<'_> {
    fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<(), StoreError> {
        let boxed = pg_args(args);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            boxed.iter().map(|b| b.as_ref()).collect();
        let sql = sql.replace("{now}", "now()");
        let url = self.url.to_string();
        self.tx
            .execute(sql.as_str(), &refs)
            .map(|_| ())
            .map_err(|x| StoreError::Postgres {
                url,
                message: x.to_string(),
            })
    }

    fn int_text(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<(i64, String)>, StoreError> {
        Ok(self
            .rows(sql, args)?
            .first()
            .map(|r| (r.get::<_, i64>(0), r.get(1))))
    }

    fn int(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<i64>, StoreError> {
        Ok(self.rows(sql, args)?.first().map(|r| r.get::<_, i64>(0)))
    }

    fn texts(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        Ok(self
            .rows(sql, args)?
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect()
            })
            .collect())
    }

    fn heads(&mut self) -> Result<Vec<(String, u64, String)>, StoreError> {
        Ok(self
            .rows("SELECT image, seq, hash FROM audit_head", &[])?
            .iter()
            .map(|r| (r.get(0), r.get::<_, i64>(1) as u64, r.get(2)))
            .collect())
    }

    fn append_audit(
        &mut self,
        image: &str,
        seq: u64,
        prev: &str,
        fields: serde_json::Map<String, serde_json::Value>,
        signing: Option<(&audit::AuditKey, u64)>,
    ) -> Result<String, StoreError> {
        let (line, hash) = audit::line_for(image, seq, prev, fields, signing);
        self.exec(
            "INSERT INTO audit_log (image, seq, line) VALUES ($1, $2, $3)",
            &[
                Arg::Text(image),
                Arg::Int(seq as i64),
                Arg::Text(line.trim_end()),
            ],
        )?;
        Ok(hash)
    }
}

impl StateStore for Postgres {
    fn recover(
        &mut self,
        now: Timestamp,
        stale_secs: i64,
        gone: &dyn Fn(&Origin) -> bool,
    ) -> Result<Vec<String>, StoreError> {
        let cutoff = now.0 - stale_secs;
        let shown = self.shown.clone();
        let e = move |x: postgres::Error| StoreError::Postgres {
            url: shown.clone(),
            message: x.to_string(),
        };
        let mut c = self.c()?;
        let mut tx = c.transaction().map_err(&e)?;
        let dead: Vec<i64> = tx
            .query(
                "SELECT id, origin FROM runs WHERE status = 'running' AND origin IS NOT NULL",
                &[],
            )
            .map_err(&e)?
            .iter()
            .filter(|r| {
                let o: String = r.get(1);
                !o.is_empty() && gone(&Origin::new(o.clone()))
            })
            .map(|r| r.get(0))
            .collect();
        let ids: Vec<i64> = tx
            .query(
                "UPDATE runs SET status = 'interrupted'
                 WHERE status = 'running' AND (heartbeat IS NULL OR heartbeat < $1 OR id = ANY($2))
                 RETURNING id",
                &[&cutoff, &dead],
            )
            .map_err(&e)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let n = tx
            .execute(
                &format!(
                    "UPDATE images SET status = 'interrupted'
                     WHERE status NOT IN ({}) AND run = ANY($1)",
                    decide::FINAL_STATES
                ),
                &[&ids],
            )
            .map_err(&e)?;
        tx.execute("DELETE FROM leases WHERE run = ANY($1)", &[&ids])
            .map_err(&e)?;
        tx.commit().map_err(&e)?;
        // Audit records commit with their heads here: nothing to anchor.
        Ok(vec![decide::recovered_note(ids.len(), n)])
    }

    fn heartbeat(&mut self, run: RunId, now: Timestamp) -> Result<(), StoreError> {
        self.c()?
            .execute(
                "UPDATE runs SET heartbeat = $2 WHERE id = $1",
                &[&run.0, &now.0],
            )
            .map_err(self.err())?;
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
        // Taken when free, expired, or already ours; in one statement.
        let taken = self
            .c()?
            .query_opt(
                "INSERT INTO leases (image, run, holder, expires) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (image) DO UPDATE SET run = excluded.run, holder = excluded.holder,
                   expires = excluded.expires
                 WHERE leases.expires <= $5 OR leases.run = excluded.run
                 RETURNING run",
                &[&image, &run.0, &holder, &(now.0 + ttl_secs), &now.0],
            )
            .map_err(self.err())?;
        if taken.is_some() {
            return Ok(Lease::Acquired);
        }
        let row = self
            .c()?
            .query_opt("SELECT run, holder FROM leases WHERE image = $1", &[&image])
            .map_err(self.err())?;
        Ok(match row {
            Some(r) => Lease::Held {
                run: RunId(r.get(0)),
                holder: Holder::new(r.get::<_, String>(1)),
            },
            // Released in between: try once more.
            None => self.acquire(
                &ImageName::from(image),
                run,
                &Holder::from(holder),
                now,
                ttl_secs,
            )?,
        })
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
            .c()?
            .execute(
                "UPDATE leases SET expires = $3 WHERE image = $1 AND run = $2",
                &[&image, &run.0, &(now.0 + ttl_secs)],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    fn release(&mut self, image: &ImageName, run: RunId) -> Result<(), StoreError> {
        let image = image.as_str();
        self.c()?
            .execute(
                "DELETE FROM leases WHERE image = $1 AND run = $2",
                &[&image, &run.0],
            )
            .map_err(self.err())?;
        Ok(())
    }

    fn begin_run(
        &mut self,
        started: Timestamp,
        config: &str,
        origin: &Origin,
    ) -> Result<RunId, StoreError> {
        let origin = origin.as_str();
        let row = self
            .c()?
            .query_one(
                "INSERT INTO runs (started, status, config, heartbeat, mark, origin)
                 VALUES ($1, 'running', $2, $3, (SELECT COALESCE(MAX(seq), 0) FROM images), $4) RETURNING id",
                &[&started.to_string(), &config, &started.0, &origin],
            )
            .map_err(self.err())?;
        Ok(RunId(row.get(0)))
    }

    fn stage(
        &mut self,
        run: RunId,
        image: &ImageName,
        stage: Stage,
        digest: Option<&Digest>,
    ) -> Result<(), StoreError> {
        let image = image.as_str();
        self.c()?
            .execute(
                "INSERT INTO images (run, name, status, digest, detail) VALUES ($1, $2, $3, $4, '{}')
                 ON CONFLICT (run, name) DO UPDATE SET status = excluded.status, digest = excluded.digest,
                 updated = now()",
                &[&run.0, &image, &stage.as_str(), &digest.map(|d| d.to_string())],
            )
            .map_err(self.err())?;
        Ok(())
    }

    fn decide(&mut self, d: &Decision<'_>) -> Result<(), StoreError> {
        let (detail, findings) =
            decide::documents(d).map_err(|(what, m)| self.corrupt(what, &d.outcome.name, m))?;
        let shown = self.shown.clone();
        let e = move |x: postgres::Error| StoreError::Postgres {
            url: shown.clone(),
            message: x.to_string(),
        };
        let key = self.key.clone();
        let url = self.shown.clone();
        let mut c = self.c()?;
        let mut tx = c.transaction().map_err(&e)?;
        // Serialise decisions: the global sequence and the head set move together.
        tx.batch_execute("SELECT pg_advisory_xact_lock(7284520)")
            .map_err(&e)?;
        let mut t = PgTx { tx, url: &url };
        decide::record(&mut t, d, key.as_ref(), &detail, &findings)?;
        t.tx.commit().map_err(&e)
    }

    fn finish_run(
        &mut self,
        run: RunId,
        finished: Timestamp,
        status: RunStatus,
    ) -> Result<(), StoreError> {
        let mut c = self.c()?;
        c.execute(
            "UPDATE runs SET finished = $2, status = $3 WHERE id = $1",
            &[&run.0, &finished.to_string(), &status.as_str()],
        )
        .map_err(self.err())?;
        c.execute("DELETE FROM leases WHERE run = $1", &[&run.0])
            .map_err(self.err())?;
        Ok(())
    }

    fn decided_since(&self, image: &ImageName, run: RunId) -> Result<Option<RunId>, StoreError> {
        let image = image.as_str();
        Ok(self
            .c()?
            .query_opt(
                "SELECT i.run FROM images i, runs r
                 WHERE r.id = $2 AND i.name = $1 AND i.run != $2 AND i.seq > r.mark
                 ORDER BY i.seq DESC LIMIT 1",
                &[&image, &run.0],
            )
            .map_err(self.err())?
            .map(|r| RunId(r.get(0))))
    }

    fn history(&self, image: &ImageName, version: Option<&str>) -> Result<History, StoreError> {
        let image = image.as_str();
        let mut c = self.c()?;
        fn pairs(
            c: &mut Client,
            sql: &str,
            image: &str,
        ) -> Result<Vec<(String, String)>, postgres::Error> {
            Ok(c.query(sql, &[&image])?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        }
        let mut rows = crate::HistoryRows::default();
        let promoted = c
            .query_opt(
                "SELECT digest, run, findings, version, inputs FROM promoted WHERE name = $1",
                &[&image],
            )
            .map_err(self.err())?;
        if let Some(r) = promoted {
            rows.promoted = Some(crate::PromotedRows {
                digest: r.get(0),
                run: r.get(1),
                findings: r.get(2),
                version: r.get(3),
                inputs: r.get(4),
                bases: pairs(
                    &mut c,
                    "SELECT reference, digest FROM promoted_bases WHERE name = $1 ORDER BY reference",
                    image,
                )
                .map_err(self.err())?,
                platforms: pairs(
                    &mut c,
                    "SELECT platform, digest FROM promoted_platforms WHERE name = $1 ORDER BY platform",
                    image,
                )
                .map_err(self.err())?,
            });
        }
        rows.platform_cache = c
            .query(
                "SELECT digest, platform, platform_digest FROM platform_digests",
                &[],
            )
            .map_err(self.err())?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        if let Some(v) = version {
            rows.promotions_of_version = Some(
                c.query_one(
                    "SELECT count(*) FROM promotions WHERE name = $1 AND version = $2",
                    &[&image, &v],
                )
                .map_err(self.err())?
                .get::<_, i64>(0),
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
        self.c()?
            .execute(
                "INSERT INTO platform_digests (digest, platform, platform_digest) VALUES ($1, $2, $3)
                 ON CONFLICT (digest, platform) DO UPDATE SET platform_digest = excluded.platform_digest",
                &[&digest.to_string(), &platform.to_string(), &platform_digest.to_string()],
            )
            .map_err(self.err())?;
        Ok(())
    }

    fn first_seen(
        &mut self,
        subject: &str,
        digest: &Digest,
        now: Timestamp,
    ) -> Result<Timestamp, StoreError> {
        let row = self
            .c()?
            .query_one(
                "WITH ins AS (
                   INSERT INTO seen_digests (subject, digest, first_seen) VALUES ($1, $2, $3)
                   ON CONFLICT (subject, digest) DO NOTHING RETURNING first_seen)
                 SELECT first_seen FROM ins
                 UNION ALL
                 SELECT first_seen FROM seen_digests WHERE subject = $1 AND digest = $2
                 LIMIT 1",
                &[&subject, &digest.to_string(), &now.0],
            )
            .map_err(self.err())?;
        Ok(Timestamp(row.get(0)))
    }

    fn tracked(
        &self,
        image: Option<&str>,
        with_fixed: bool,
    ) -> Result<Vec<crate::lifecycle::Tracked>, StoreError> {
        let sql = format!(
            "SELECT {} FROM findings WHERE ($1 = '' OR image = $1) AND ($2 OR fixed_at IS NULL)
             ORDER BY image, platform, advisory, package, occurrence",
            crate::lifecycle::COLUMNS
        );
        let rows = self
            .c()?
            .query(sql.as_str(), &[&image.unwrap_or(""), &with_fixed])
            .map_err(self.err())?;
        Ok(rows
            .iter()
            .map(|r| {
                let texts: Vec<Option<String>> = (0..r.len()).map(|i| r.get(i)).collect();
                crate::lifecycle::from_texts(&texts)
            })
            .collect())
    }

    fn promoted_inventories(&self) -> Result<Vec<crate::StoredInventory>, StoreError> {
        Ok(self
            .c()?
            .query(
                "SELECT name, platform, digest, inventory, fingerprint FROM promoted_inventories ORDER BY name, platform",
                &[],
            )
            .map_err(self.err())?
            .iter()
            .map(|r| crate::StoredInventory {
                image: r.get(0),
                platform: r.get(1),
                digest: r.get(2),
                inventory: r.get(3),
                fingerprint: r.get(4),
            })
            .collect())
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
        let shown = self.shown.clone();
        let e = move |x: postgres::Error| StoreError::Postgres {
            url: shown.clone(),
            message: x.to_string(),
        };
        let url = self.shown.clone();
        let mut c = self.c()?;
        let mut tx = c.transaction().map_err(&e)?;
        tx.batch_execute("SELECT pg_advisory_xact_lock(7284520)")
            .map_err(&e)?;
        let mut t = PgTx { tx, url: &url };
        decide::record_rematch(&mut t, image, digest, time, document, &text)?;
        t.tx.commit().map_err(&e)
    }

    fn security_issue(
        &self,
        image: &str,
    ) -> Result<Option<model::tracked::SecurityIssue>, StoreError> {
        let row = self
            .c()?
            .query_opt(
                "SELECT data FROM security_issues WHERE image = $1",
                &[&image],
            )
            .map_err(self.err())?;
        row.map(|r| {
            let d: String = r.get(0);
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
        self.c()?
            .execute(
                "INSERT INTO security_issues (image, data) VALUES ($1, $2)
                 ON CONFLICT (image) DO UPDATE SET data = excluded.data",
                &[&issue.image, &data],
            )
            .map_err(self.err())?;
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
        let shown = self.shown.clone();
        let e = move |x: postgres::Error| StoreError::Postgres {
            url: shown.clone(),
            message: x.to_string(),
        };
        let key = self.key.clone();
        let url = self.shown.clone();
        let mut c = self.c()?;
        let mut tx = c.transaction().map_err(&e)?;
        tx.batch_execute("SELECT pg_advisory_xact_lock(7284520)")
            .map_err(&e)?;
        let mut t = PgTx { tx, url: &url };
        decide::record_event(&mut t, image, fields, key.as_ref())?;
        t.tx.commit().map_err(&e)
    }

    fn image_summaries(&self) -> Result<Vec<crate::ImageSummary>, StoreError> {
        let mut out: std::collections::BTreeMap<String, crate::ImageSummary> = Default::default();
        let mut c = self.c()?;
        for r in c
            .query(
                "SELECT i.name, i.run, i.status, i.detail,
                        to_char(i.updated AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM images i
                 JOIN (SELECT name, MAX(seq) AS m FROM images GROUP BY name) l
                   ON l.name = i.name AND l.m = i.seq",
                &[],
            )
            .map_err(self.err())?
        {
            let name: String = r.get(0);
            out.entry(name.clone())
                .or_insert_with(|| crate::ImageSummary {
                    image: name,
                    last: None,
                    promoted: None,
                })
                .last = Some((RunId(r.get(1)), r.get(2), r.get(4), r.get(3)));
        }
        for r in c
            .query(
                "SELECT p.name, p.digest, COALESCE(i.detail, '') FROM promoted p
                 LEFT JOIN images i ON i.run = p.run AND i.name = p.name",
                &[],
            )
            .map_err(self.err())?
        {
            let name: String = r.get(0);
            out.entry(name.clone())
                .or_insert_with(|| crate::ImageSummary {
                    image: name,
                    last: None,
                    promoted: None,
                })
                .promoted = Some((r.get(1), r.get(2)));
        }
        Ok(out.into_values().collect())
    }

    fn runs(&self, limit: usize) -> Result<Vec<crate::RunSummary>, StoreError> {
        let rows = self
            .c()?
            .query(
                "SELECT id, started, finished, status, config FROM runs ORDER BY id DESC LIMIT $1",
                &[&(limit as i64)],
            )
            .map_err(self.err())?;
        Ok(rows
            .iter()
            .map(|r| crate::RunSummary {
                id: RunId(r.get(0)),
                started: r.get(1),
                finished: r.get(2),
                status: r.get(3),
                config: r.get(4),
            })
            .collect())
    }

    fn run_image(
        &self,
        run: RunId,
        image: &str,
    ) -> Result<Option<model::ImageOutcome>, StoreError> {
        let row = self
            .c()?
            .query_opt(
                "SELECT detail FROM images WHERE run = $1 AND name = $2",
                &[&run.0, &image],
            )
            .map_err(self.err())?;
        row.map(|r| r.get::<_, String>(0))
            .filter(|d| d.starts_with('{'))
            .map(|d| {
                serde_json::from_str(&d)
                    .map_err(|x| self.corrupt("image outcome", image, x.to_string()))
            })
            .transpose()
    }

    fn run_images(&self, run: RunId) -> Result<Vec<model::ImageOutcome>, StoreError> {
        let rows = self
            .c()?
            .query(
                "SELECT name, detail FROM images WHERE run = $1 ORDER BY name",
                &[&run.0],
            )
            .map_err(self.err())?;
        rows.iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
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
        let e = self.err();
        let mut c = self.c()?;
        let mut tx = c.transaction().map_err(&e)?;
        // claims of one job are serialised: the check and the insert hold together
        tx.execute(
            "SELECT pg_advisory_xact_lock(7284521, hashtext($1))",
            &[&job],
        )
        .map_err(&e)?;
        let n = tx
            .execute(
                "INSERT INTO jobs (job, tick, holder, started)
                 SELECT $1, $2, $3, $4
                 WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE job = $1 AND finished IS NULL AND started > $5)
                 ON CONFLICT (job, tick) DO NOTHING",
                &[&job, &tick.0, &holder, &now.0, &(now.0 - busy_secs)],
            )
            .map_err(&e)?;
        tx.commit().map_err(&e)?;
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
        self.c()?
            .execute(
                "UPDATE jobs SET finished = $3, ok = $4, log = $5 WHERE job = $1 AND tick = $2",
                &[&job, &tick.0, &now.0, &ok, &crate::log_tail(log)],
            )
            .map_err(self.err())?;
        Ok(())
    }

    fn jobs(&self, limit: usize) -> Result<Vec<crate::JobRecord>, StoreError> {
        let rows = self
            .c()?
            .query(
                "SELECT job, tick, holder, started, finished, ok, log FROM jobs
                 ORDER BY started DESC, job LIMIT $1",
                &[&(limit as i64)],
            )
            .map_err(self.err())?;
        Ok(rows
            .iter()
            .map(|r| crate::JobRecord {
                job: r.get(0),
                tick: Timestamp(r.get(1)),
                holder: r.get(2),
                started: Timestamp(r.get(3)),
                finished: r.get::<_, Option<i64>>(4).map(Timestamp),
                ok: r.get(5),
                log: r.get(6),
            })
            .collect())
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = self
            .c()?
            .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
            .map_err(self.err())?;
        Ok(row.map(|r| r.get(0)))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.c()?
            .execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, &value],
            )
            .map_err(self.err())?;
        Ok(())
    }

    fn time(&self) -> Result<Option<Timestamp>, StoreError> {
        let row = self
            .c()?
            .query_one(
                "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT)",
                &[],
            )
            .map_err(self.err())?;
        Ok(Some(Timestamp(row.get(0))))
    }

    fn mark_notified(
        &mut self,
        rows: &[crate::lifecycle::Tracked],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut c = self.c()?;
        let mut tx = c.transaction().map_err(self.err())?;
        for r in rows {
            tx.execute(
                "UPDATE findings SET notified_at = $1 WHERE image = $2 AND platform = $3
                   AND advisory = $4 AND package = $5 AND occurrence = $6",
                &[
                    &now.0,
                    &r.image,
                    &r.platform,
                    &r.advisory,
                    &r.package,
                    &r.occurrence,
                ],
            )
            .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())
    }

    fn audit_heads(&self) -> Result<Vec<AuditHead>, StoreError> {
        Ok(self
            .c()?
            .query(
                "SELECT image, seq, hash FROM audit_head ORDER BY image",
                &[],
            )
            .map_err(self.err())?
            .iter()
            .map(|r| AuditHead {
                image: r.get(0),
                seq: r.get::<_, i64>(1) as u64,
                hash: r.get(2),
            })
            .collect())
    }

    fn audit_log(&self, image: &str) -> Result<Option<Log>, StoreError> {
        let rows = self
            .c()?
            .query(
                "SELECT line FROM audit_log WHERE image = $1 ORDER BY seq",
                &[&image],
            )
            .map_err(self.err())?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut t = String::new();
        for r in rows {
            t.push_str(&r.get::<_, String>(0));
            t.push('\n');
        }
        let file = PathBuf::from(format!("{}#audit_log/{image}", self.shown));
        Ok(Some(Log {
            chain: audit::parse_chain(&t, &file),
            image: image.to_string(),
            file,
        }))
    }

    fn audit_logs(&self) -> Result<Vec<Log>, StoreError> {
        let rows = self
            .c()?
            .query("SELECT image, line FROM audit_log ORDER BY image, seq", &[])
            .map_err(self.err())?;
        let mut text: BTreeMap<String, String> = BTreeMap::new();
        for r in rows {
            let (image, line): (String, String) = (r.get(0), r.get(1));
            let t = text.entry(image).or_default();
            t.push_str(&line);
            t.push('\n');
        }
        Ok(text
            .into_iter()
            .map(|(image, t)| {
                let file = PathBuf::from(format!("{}#audit_log/{image}", self.shown));
                Log {
                    chain: audit::parse_chain(&t, &file),
                    image,
                    file,
                }
            })
            .collect())
    }

    fn audit_global(&self) -> Result<Option<(u64, String)>, StoreError> {
        Ok(self
            .c()?
            .query_opt("SELECT seq, mac FROM audit_global WHERE id = 1", &[])
            .map_err(self.err())?
            .map(|r| (r.get::<_, i64>(0) as u64, r.get(1))))
    }
}
