//! The registry of environment variables safeimage reads: name, meaning,
//! default. Nothing else in the workspace calls `std::env::var`; variables
//! whose names the config chooses (registry credentials, notifier secrets)
//! are read through [`named`]. The README's table lists [`ALL`] (a test
//! checks both ways).

use std::ffi::OsString;
use std::path::PathBuf;

/// One environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var {
    /// Its name.
    pub name: &'static str,
    /// What it does.
    pub meaning: &'static str,
    /// What applies when it is unset.
    pub default: &'static str,
}

impl Var {
    /// Its value, when set and not empty.
    pub fn get(&self) -> Option<String> {
        std::env::var(self.name).ok().filter(|v| !v.is_empty())
    }

    /// Its raw value, when set and not empty.
    pub fn get_os(&self) -> Option<OsString> {
        std::env::var_os(self.name).filter(|v| !v.is_empty())
    }
}

/// The fleet or lint config file.
pub const SAFEIMAGE_CONFIG: Var = Var {
    name: "SAFEIMAGE_CONFIG",
    meaning: "config file for `lint`, `run` and `audit` (`--config`)",
    default: "./safeimage.toml",
};
/// The cache directory.
pub const SAFEIMAGE_CACHE_DIR: Var = Var {
    name: "SAFEIMAGE_CACHE_DIR",
    meaning: "cache directory: per-layer inventories, ShellCheck results, the default advisory DB (`--cache-dir`)",
    default: "$XDG_CACHE_HOME/safeimage, else $HOME/.cache/safeimage",
};
/// The advisory DB.
pub const SAFEIMAGE_DB: Var = Var {
    name: "SAFEIMAGE_DB",
    meaning: "advisory DB file (`--db`)",
    default: "<cache dir>/db/advisories.db",
};
/// A PostgreSQL store.
pub const SAFEIMAGE_STORE_URL: Var = Var {
    name: "SAFEIMAGE_STORE_URL",
    meaning: "a `postgres://` URL: keep the run's state and audit log in PostgreSQL (wins over `[store] url`)",
    default: "the SQLite file of `[store] path`",
};
/// Refuse an older advisory DB.
pub const SAFEIMAGE_DB_MAX_AGE_HOURS: Var = Var {
    name: "SAFEIMAGE_DB_MAX_AGE_HOURS",
    meaning: "`scan` refuses an advisory DB built longer ago than this (`--db-max-age`; 0: no limit)",
    default: "120",
};
/// Refuse a stale feed.
pub const SAFEIMAGE_MAX_FEED_AGE_DAYS: Var = Var {
    name: "SAFEIMAGE_MAX_FEED_AGE_DAYS",
    meaning: "`scan` refuses an advisory DB one of whose downloaded feeds has no record newer than this many days (`--max-feed-age-days`; `[scan] max_feed_age_days` for `run`)",
    default: "unset (a feed older than 14 days is only warned about)",
};
/// Test hook for the kill-between-push-and-tag test.
pub const SAFEIMAGE_TEST_PAUSE_BEFORE_TAG: Var = Var {
    name: "SAFEIMAGE_TEST_PAUSE_BEFORE_TAG",
    meaning: "tests only: a FIFO that `run` opens and reads to its end after the gate and before moving tags",
    default: "unset (no pause)",
};
/// Test hook: where the test data is.
pub const SAFEIMAGE_TEST_DATA: Var = Var {
    name: "SAFEIMAGE_TEST_DATA",
    meaning: "tests only: the folder with the test data (`corpus/dockerfiles`, `fixtures/osv`); `scripts/test` sets it",
    default: "../shared beside the repository",
};
/// XDG cache base.
pub const XDG_CACHE_HOME: Var = Var {
    name: "XDG_CACHE_HOME",
    meaning: "base of the default cache directory",
    default: "$HOME/.cache",
};
/// Home directory.
pub const HOME: Var = Var {
    name: "HOME",
    meaning: "base of the default cache directory when XDG_CACHE_HOME is unset",
    default: "none",
};
/// Reproducible timestamps.
pub const SOURCE_DATE_EPOCH: Var = Var {
    name: "SOURCE_DATE_EPOCH",
    meaning: "Unix time written into SBOMs, scan reports and advisory DBs (their build time) instead of now (reproducible output)",
    default: "now",
};
/// No colour.
pub const NO_COLOR: Var = Var {
    name: "NO_COLOR",
    meaning: "no colour in terminal output when set",
    default: "colour on a terminal",
};
/// Program search path.
pub const PATH: Var = Var {
    name: "PATH",
    meaning: "where the build engine (buildah, docker, podman), shellcheck and git are found",
    default: "the process's",
};
/// Docker client config.
pub const DOCKER_CONFIG: Var = Var {
    name: "DOCKER_CONFIG",
    meaning: "directory of the docker `config.json` whose auths and credential helpers give registry credentials",
    default: "$HOME/.docker",
};

/// The Docker daemon.
pub const DOCKER_HOST: Var = Var {
    name: "DOCKER_HOST",
    meaning: "the Docker daemon the BuildKit engine (`[engine] kind = \"docker\"`) builds on; may be remote",
    default: "the docker client's default socket",
};
/// Temp directory.
pub const TMPDIR: Var = Var {
    name: "TMPDIR",
    meaning: "where private temp files go: the engine's registry credentials (a 0700 directory, removed after each build), feed downloads, sandbox roots (must let other users through: the sandbox's user resolves its root there)",
    default: "/tmp",
};

/// The password of a cosign private key (`keygen`, `sign`, `[sign]`).
pub const COSIGN_PASSWORD: Var = Var {
    name: "COSIGN_PASSWORD",
    meaning: "the password sealing the signing key (`keygen`, `sign`, `run` with `[sign]`); set and empty means an empty password, as with cosign",
    default: "asked on the terminal; without one, an error",
};

/// The cap on a pulled advisory DB.
pub const SAFEIMAGE_DB_MAX_MIB: Var = Var {
    name: "SAFEIMAGE_DB_MAX_MIB",
    meaning: "the largest advisory DB `db pull` and `oci://` DB locations accept, in MiB (`db pull --max-mib`, `[scan] db_max_mib`); checked before download and while inflating",
    default: "2048",
};
/// The sandbox helper.
pub const SAFEIMAGE_BWRAP: Var = Var {
    name: "SAFEIMAGE_BWRAP",
    meaning: "absolute path of bubblewrap, the sandbox image code runs in (`harden` smoke checks, `[image.harden] checks`)",
    default: "/usr/bin/bwrap",
};
/// The tooling image of `patch`.
pub const SAFEIMAGE_TOOLING_IMAGE: Var = Var {
    name: "SAFEIMAGE_TOOLING_IMAGE",
    meaning: "the tooling image `patch` downloads packages with (`--tooling-image`): the patched image's distribution and release, with its package manager",
    default: "docker.io/library/ID:CODENAME from the image's os-release",
};
/// The build engine's program.
pub const SAFEIMAGE_ENGINE_PROGRAM: Var = Var {
    name: "SAFEIMAGE_ENGINE_PROGRAM",
    meaning: "the build engine's program for `run` (`--engine-program`; never read from the fleet config)",
    default: "buildah, docker or podman on PATH, by `[engine] kind`",
};
/// GitLab CI's API root.
pub const CI_API_V4_URL: Var = Var {
    name: "CI_API_V4_URL",
    meaning: "the GitLab API `update` opens merge requests through when `[update] forge = \"gitlab\"` names no `api_url` (GitLab CI sets it)",
    default: "https://gitlab.com/api/v4",
};
/// The token `safeimage serve` requires for state changes (unless
/// `[serve] token_env` or `token_file` names another source).
pub const SAFEIMAGE_SERVE_TOKEN: Var = Var {
    name: "SAFEIMAGE_SERVE_TOKEN",
    meaning: "the bearer token `safeimage serve` requires to trigger runs and ignore findings",
    default: "none: the service is read-only, and only on loopback",
};

/// Every variable safeimage reads by a fixed name.
pub const ALL: &[Var] = &[
    SAFEIMAGE_CONFIG,
    SAFEIMAGE_CACHE_DIR,
    SAFEIMAGE_DB,
    SAFEIMAGE_DB_MAX_AGE_HOURS,
    SAFEIMAGE_MAX_FEED_AGE_DAYS,
    SAFEIMAGE_STORE_URL,
    SAFEIMAGE_TEST_PAUSE_BEFORE_TAG,
    SAFEIMAGE_TEST_DATA,
    XDG_CACHE_HOME,
    HOME,
    SOURCE_DATE_EPOCH,
    NO_COLOR,
    PATH,
    DOCKER_CONFIG,
    DOCKER_HOST,
    TMPDIR,
    COSIGN_PASSWORD,
    SAFEIMAGE_DB_MAX_MIB,
    SAFEIMAGE_BWRAP,
    SAFEIMAGE_TOOLING_IMAGE,
    SAFEIMAGE_ENGINE_PROGRAM,
    CI_API_V4_URL,
    SAFEIMAGE_SERVE_TOKEN,
];

/// A variable the config names (`username_env`, `secret_env`...): its
/// value, when set.
pub fn named(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The cache directory: `SAFEIMAGE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/safeimage`, else `$HOME/.cache/safeimage`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(d) = SAFEIMAGE_CACHE_DIR.get_os() {
        return Some(PathBuf::from(d));
    }
    let base = XDG_CACHE_HOME
        .get_os()
        .map(PathBuf::from)
        .or_else(|| HOME.get_os().map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("safeimage"))
}

/// The default advisory DB: `<cache dir>/db/advisories.db`.
pub fn default_db_path() -> Option<PathBuf> {
    default_cache_dir().map(|d| d.join("db").join("advisories.db"))
}

/// `SOURCE_DATE_EPOCH` as Unix seconds, when set and valid.
pub fn source_date_epoch() -> Option<i64> {
    SOURCE_DATE_EPOCH.get().and_then(|s| s.trim().parse().ok())
}

/// Whether colour is switched off.
pub fn no_color() -> bool {
    std::env::var_os(NO_COLOR.name).is_some()
}

/// Whether `program` is an executable file on `PATH`.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = PATH.get_os()?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_documented() {
        let mut names: Vec<&str> = ALL.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert!(
            ALL.iter()
                .all(|v| !v.meaning.is_empty() && !v.default.is_empty())
        );
    }
}
