//! The advisory DB on the command line: `--db` (a file or `oci://REF`,
//! pulled and verified through `dbshare`) and `--db-key`, shared by `scan`
//! and `db`, and used by `run` for `[scan] db`.

use std::path::PathBuf;

use anyhow::Context;
use settings::env;

/// The `--db` option, shared with `scan`.
#[derive(Debug, clap::Args, Clone)]
pub struct DbArg {
    /// Advisory DB file, or `oci://REGISTRY/REPO:TAG` (pulled by digest into
    /// the cache; see `db push`); default: $XDG_CACHE_HOME/safeimage/db/advisories.db.
    #[arg(long, env = env::SAFEIMAGE_DB.name, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// For `--db oci://REF`: a public key one of whose signatures the DB
    /// artifact must carry before it is pulled (repeatable; as `db pull --key`).
    #[arg(long = "db-key", value_name = "FILE")]
    pub db_key: Vec<PathBuf>,
}

impl DbArg {
    /// The DB path.
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        self.db
            .clone()
            .or_else(env::default_db_path)
            .context("no --db given and neither XDG_CACHE_HOME nor HOME is set")
    }

    /// The DB file to read: the path, or for `oci://REF` the cached copy,
    /// pulled first when the tag has moved.
    pub fn resolve(&self, insecure: &[String]) -> anyhow::Result<PathBuf> {
        let p = self.path()?;
        resolve_location(&p, insecure, &self.db_key, None)
    }
}

/// The cap on a pulled DB: the flag or config, else `SAFEIMAGE_DB_MAX_MIB`,
/// else the default.
pub fn max_bytes(mib: Option<u64>) -> anyhow::Result<u64> {
    let mib = match mib {
        Some(m) => Some(m),
        None => env::SAFEIMAGE_DB_MAX_MIB
            .get()
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|m| *m > 0)
                    .with_context(|| format!("SAFEIMAGE_DB_MAX_MIB=`{v}`: not a number of MiB"))
            })
            .transpose()?,
    };
    Ok(mib.map_or(dbshare::DEFAULT_MAX_BYTES, |m| m.saturating_mul(1 << 20)))
}

pub fn pull_options(
    insecure: &[String],
    keys: &[PathBuf],
    max_mib: Option<u64>,
) -> anyhow::Result<dbshare::PullOptions> {
    Ok(dbshare::PullOptions {
        registry: oci::source::RegistryOptions {
            insecure: insecure.to_vec(),
            ..Default::default()
        },
        max_bytes: max_bytes(max_mib)?,
        keys: keys
            .iter()
            .map(|p| provenance::keys::load_public(p))
            .collect::<Result<Vec<_>, _>>()?,
    })
}

/// A DB location (`oci://REF` or a file) as a file to read; an `oci://`
/// one is pulled (verified with `keys` when there are any).
pub fn resolve_location(
    p: &std::path::Path,
    insecure: &[String],
    keys: &[PathBuf],
    max_mib: Option<u64>,
) -> anyhow::Result<PathBuf> {
    let Some(r) = p.to_str().and_then(dbshare::oci_location) else {
        return Ok(p.to_path_buf());
    };
    let reference: oci::ImageRef = r
        .parse()
        .with_context(|| format!("advisory DB {}", p.display()))?;
    let cache = env::default_cache_dir()
        .context("an oci:// DB is cached in the cache directory; set SAFEIMAGE_CACHE_DIR, XDG_CACHE_HOME or HOME")?;
    let dest = dbshare::cached_path(&cache, &reference);
    let opts = pull_options(insecure, keys, max_mib)?;
    let pulled = dbshare::pull(&reference, &dest, &opts)?;
    if pulled.downloaded {
        eprintln!(
            "pulled advisory DB {reference} ({}{}, built {})",
            pulled.digest,
            if keys.is_empty() {
                ""
            } else {
                ", signature verified"
            },
            pulled.built_at
        );
    }
    Ok(dest)
}
