//! The SQLite store's write transaction as `crate::decide` sees it.

use std::path::Path;

use rusqlite::{OptionalExtension, params_from_iter};
use serde_json::Value;

use crate::StoreError;
use crate::audit;
use crate::decide::{Arg, Tx};

/// A write transaction of this store, for [`crate::decide`]: `$n` become
/// `?n`, `{now}` SQLite's UTC time, and the audit log is the image's file.
pub(super) struct SqliteTx<'a> {
    pub(super) tx: rusqlite::Transaction<'a>,
    pub(super) path: &'a Path,
    pub(super) audit_dir: &'a Path,
}

fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
        .replace("{now}", "strftime('%Y-%m-%dT%H:%M:%SZ','now')")
}

fn sqlite_args(args: &[Arg<'_>]) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    args.iter()
        .map(|a| match a {
            Arg::Int(i) => V::Integer(*i),
            Arg::Text(t) => V::Text(t.to_string()),
            Arg::Opt(Some(t)) => V::Text(t.to_string()),
            Arg::Opt(None) | Arg::OptInt(None) => V::Null,
            Arg::OptInt(Some(i)) => V::Integer(*i),
        })
        .collect()
}

impl SqliteTx<'_> {
    fn e(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite {
            path: self.path.to_path_buf(),
            source,
        }
    }
}

impl Tx for SqliteTx<'_> {
    fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<(), StoreError> {
        self.tx
            .execute(&sqlite_sql(sql), params_from_iter(sqlite_args(args)))
            .map(|_| ())
            .map_err(self.e())
    }

    fn int_text(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<(i64, String)>, StoreError> {
        self.tx
            .query_row(&sqlite_sql(sql), params_from_iter(sqlite_args(args)), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(self.e())
    }

    fn int(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<i64>, StoreError> {
        self.tx
            .query_row(&sqlite_sql(sql), params_from_iter(sqlite_args(args)), |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.e())
    }

    fn texts(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        let e = self.e();
        let mut st = self.tx.prepare(&sqlite_sql(sql)).map_err(&e)?;
        let n = st.column_count();
        st.query_map(params_from_iter(sqlite_args(args)), |r| {
            (0..n).map(|i| r.get::<_, Option<String>>(i)).collect()
        })
        .map_err(&e)?
        .collect::<Result<_, _>>()
        .map_err(&e)
    }

    fn heads(&mut self) -> Result<Vec<(String, u64, String)>, StoreError> {
        let e = self.e();
        let mut st = self
            .tx
            .prepare("SELECT image, seq, hash FROM audit_head")
            .map_err(&e)?;
        st.query_map([], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?))
        })
        .map_err(&e)?
        .collect::<Result<_, _>>()
        .map_err(&e)
    }

    fn append_audit(
        &mut self,
        image: &str,
        seq: u64,
        prev: &str,
        fields: serde_json::Map<String, Value>,
        signing: Option<(&audit::AuditKey, u64)>,
    ) -> Result<String, StoreError> {
        audit::append(self.audit_dir, image, seq, prev, fields, signing).map_err(|source| {
            StoreError::Io {
                path: audit::file_for(self.audit_dir, image),
                source,
            }
        })
    }
}
