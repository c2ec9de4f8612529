//! `[store]` in the config file, read here because this crate owns the
//! state: the SQLite file and audit directory (or a PostgreSQL URL), the
//! audit key's variable and how long a lease lasts; and opening the store
//! those settings name.

use std::path::{Path, PathBuf};

use settings::{Reader, Span, Value};

use crate::{Postgres, Sqlite, StateStore, StoreError, audit};

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// SQLite state file.
    pub path: PathBuf,
    /// Where `path` was set (for messages about it).
    pub path_span: Span,
    /// PostgreSQL URL (`url`); `SAFEIMAGE_STORE_URL` wins.
    pub url: Option<String>,
    /// Audit log directory.
    pub audit_dir: PathBuf,
    /// Where `audit_dir` was set.
    pub audit_dir_span: Span,
    /// Environment variable holding the audit log's HMAC key.
    pub audit_key_env: Option<String>,
    /// How long an image's lease lasts without a heartbeat (seconds).
    pub lease_seconds: u64,
}

impl StoreSettings {
    /// The defaults for a config in `dir`: `.safeimage/state.db` and
    /// `.safeimage/audit`, 15-minute leases.
    pub fn defaults(dir: &Path) -> StoreSettings {
        StoreSettings {
            path: dir.join(".safeimage/state.db"),
            path_span: Span::new(0, 0),
            url: None,
            audit_dir: dir.join(".safeimage/audit"),
            audit_dir_span: Span::new(0, 0),
            audit_key_env: None,
            lease_seconds: 900,
        }
    }

    /// Reads `[store]` over the defaults for `dir`.
    pub fn read(v: &mut Reader<'_>, dir: &Path, val: Option<&Value<'_>>) -> StoreSettings {
        const KEYS: &[&str] = &[
            "kind",
            "path",
            "url",
            "audit_dir",
            "audit_key_env",
            "lease_seconds",
        ];
        let mut s = StoreSettings::defaults(dir);
        let Some(val) = val else { return s };
        let Some(t) = v.table(val, "store") else {
            return s;
        };
        for (k, x) in t {
            let what = format!("store.{}", k.name);
            match k.name.as_ref() {
                "url" => {
                    if let Some(u) = v.string(x, &what) {
                        if u.starts_with("postgres://") || u.starts_with("postgresql://") {
                            s.url = Some(u);
                        } else {
                            v.err(
                                x.span,
                                "`store.url` must be a postgres:// URL (SQLite uses `path`)",
                            );
                        }
                    }
                }
                "lease_seconds" => match v.integer(x, &what) {
                    Some(n) if (3..=86_400).contains(&n) => s.lease_seconds = n as u64,
                    Some(_) => v.err(x.span, "`store.lease_seconds` must be 3 to 86400"),
                    None => {}
                },
                "audit_key_env" => s.audit_key_env = v.string(x, &what),
                "path" => {
                    if let Some(p) = v.string(x, &what) {
                        s.path = settings::resolve_path(dir, &p);
                        s.path_span = x.span;
                    }
                }
                "audit_dir" => {
                    if let Some(p) = v.string(x, &what) {
                        s.audit_dir = settings::resolve_path(dir, &p);
                        s.audit_dir_span = x.span;
                    }
                }
                "kind" => match v.string(x, &what).as_deref() {
                    Some("sqlite" | "postgres") | None => {}
                    Some(k) => v.err(
                        x.span,
                        format!("`store.kind`: `{k}` (expected sqlite or postgres)"),
                    ),
                },
                other => v.unknown(k.span, "store", other, KEYS),
            }
        }
        s
    }

    /// The PostgreSQL URL, if the state lives in PostgreSQL.
    pub fn postgres_url(&self) -> Option<String> {
        settings::env::SAFEIMAGE_STORE_URL
            .get()
            .or_else(|| self.url.clone())
    }

    /// The audit key, when `audit_key_env` names one.
    pub fn audit_key(&self) -> Result<Option<audit::AuditKey>, AuditKeyError> {
        let Some(var) = &self.audit_key_env else {
            return Ok(None);
        };
        let value = settings::env::named(var).ok_or_else(|| {
            AuditKeyError(format!(
                "[store] audit_key_env: environment variable {var} is not set"
            ))
        })?;
        audit::AuditKey::new(value.into_bytes())
            .map(Some)
            .ok_or_else(|| {
                AuditKeyError(format!(
                    "[store] audit_key_env: {var} must hold at least 16 bytes"
                ))
            })
    }

    /// Opens the store: PostgreSQL when `SAFEIMAGE_STORE_URL` or `url`
    /// gives one, else the SQLite file; with the audit key.
    pub fn open(&self) -> Result<Box<dyn StateStore>, OpenStoreError> {
        let key = self.audit_key()?;
        Ok(match self.postgres_url() {
            Some(url) => Box::new(Postgres::connect(&url)?.with_audit_key(key)),
            None => Box::new(Sqlite::open(&self.path, &self.audit_dir)?.with_audit_key(key)),
        })
    }

    /// The store to verify, opened without changing it.
    pub fn open_read_only(&self) -> Result<Box<dyn StateStore>, OpenStoreError> {
        Ok(match self.postgres_url() {
            Some(url) => Box::new(Postgres::connect(&url)?),
            None => Box::new(Sqlite::open_read_only(&self.path, &self.audit_dir)?),
        })
    }
}

/// The store cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenStoreError {
    /// The audit key.
    #[error(transparent)]
    Key(#[from] AuditKeyError),
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The audit key cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuditKeyError(pub String);
