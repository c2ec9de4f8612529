//! The real side effects a fleet command builds from its config: the
//! engine, the registry, the advisory DB (pulled and verified when it is an
//! `oci://` reference), and registry lookups for update planning. Shared by
//! `update` and `diff`'s check mode.

use anyhow::Context as _;
use pipeline::FleetConfig;
use pipeline::deps::{DbFile, OciRegistry};
use settings::env;

/// What evaluations and planning use.
pub struct Parts {
    /// Build engine.
    pub engine: Box<dyn pipeline::engine::Engine>,
    /// Registry for pushes by digest.
    pub registry: OciRegistry,
    /// Registry questions for planning.
    pub lookup: update::registry::Registries,
    /// Advisory DB.
    pub advisories: DbFile,
}

/// Builds them; with `pull_db` an `oci://` DB is pulled (verified) now.
pub fn parts(cfg: &FleetConfig, pull_db: bool) -> anyhow::Result<Parts> {
    let opts = cfg.registry_options()?;
    let db_location = (cfg.scan.db.clone())
        .or_else(env::default_db_path)
        .context("no [scan] db and neither XDG_CACHE_HOME nor HOME is set")?;
    let path = if pull_db {
        crate::shared::db::resolve_location(
            &db_location,
            &opts.insecure,
            &cfg.scan.db_keys,
            cfg.scan.db_max_mib,
        )?
    } else {
        db_location
    };
    Ok(Parts {
        engine: pipeline::engine::engine(cfg.engine, cfg.engine_program.as_deref()),
        registry: OciRegistry { opts: opts.clone() },
        lookup: update::registry::Registries::new(opts),
        advisories: DbFile {
            path,
            max_age_hours: cfg.scan.max_age_hours,
            max_feed_age_days: cfg.scan.max_feed_age_days,
        },
    })
}
