//! `[serve]` in the fleet config, read here (the `pipeline` loader leaves
//! the section to this crate): where to listen, the token state changes
//! need, and the schedules of the jobs, in one time zone.
//!
//! ```toml
//! [serve]
//! listen = "127.0.0.1:8080"
//! schedule = "0 6 * * *"        # the fleet run
//! update = "0 7 * * 1"          # base-image update proposals
//! db_update = "0 5 * * *"       # the advisory DB (a re-match follows when it changed)
//! weekly = "0 8 * * 1"          # the weekly summary, sent
//! timezone = "Europe/Berlin"    # default UTC
//! token_env = "SAFEIMAGE_SERVE_TOKEN"   # or token_file = "/run/secrets/safeimage"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use croner::Cron;

/// A job the service runs on a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    /// `safeimage run` over the fleet.
    Run,
    /// `safeimage update`.
    Update,
    /// `safeimage db update`.
    DbUpdate,
    /// `safeimage rematch` (after a DB update).
    Rematch,
    /// `safeimage report weekly --send`.
    Weekly,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 5] = [
        JobKind::Run,
        JobKind::Update,
        JobKind::DbUpdate,
        JobKind::Rematch,
        JobKind::Weekly,
    ];

    /// Its name (in the store, the API and metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Run => "run",
            JobKind::Update => "update",
            JobKind::DbUpdate => "db-update",
            JobKind::Rematch => "rematch",
            JobKind::Weekly => "weekly",
        }
    }
}

/// A job's schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The job.
    pub kind: JobKind,
    /// The cron expression as written.
    pub text: String,
    /// Parsed (5 fields, or 6 with seconds first).
    pub cron: Cron,
}

/// Where the token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// An environment variable.
    Env(String),
    /// A file (its first line).
    File(PathBuf),
}

/// `[serve]`.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The schedules (none: the service only serves).
    pub schedules: Vec<Schedule>,
    /// Their time zone.
    pub timezone: chrono_tz::Tz,
    /// The token for state changes.
    pub token: TokenSource,
}

impl Default for ServeSettings {
    fn default() -> Self {
        ServeSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            schedules: Vec::new(),
            timezone: chrono_tz::UTC,
            token: TokenSource::Env(settings::env::SAFEIMAGE_SERVE_TOKEN.name.into()),
        }
    }
}

/// The config could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Its `[serve]` section.
    #[error(transparent)]
    Config(#[from] settings::ConfigErrors),
}

/// Parses a cron expression (5 fields, or 6 with seconds first).
pub fn parse_cron(text: &str) -> Result<Cron, String> {
    let fields = text.split_whitespace().count();
    if !(5..=6).contains(&fields) {
        return Err(format!(
            "`{text}` is not a cron expression (5 fields, or 6 with seconds first)"
        ));
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .year(croner::parser::Year::Disallowed)
        .build()
        .parse(text)
        .map_err(|e| format!("`{text}`: {e}"))
}

impl ServeSettings {
    /// Reads `[serve]` of the config at `path` (absent: the defaults);
    /// relative paths against the config's directory.
    pub fn load(path: &Path) -> Result<ServeSettings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let shown = path.display().to_string();
        let mut doc = settings::Document::parse(&shown, &text);
        let dir = path.parent().unwrap_or(Path::new("."));
        let s = match doc.take("serve") {
            Some(val) => read(&mut doc.reader, &val, dir),
            None => ServeSettings::default(),
        };
        doc.finish_taken()?;
        Ok(s)
    }
}

fn read(v: &mut settings::Reader<'_>, val: &settings::Value<'_>, dir: &Path) -> ServeSettings {
    const KEYS: &[&str] = &[
        "listen",
        "schedule",
        "update",
        "db_update",
        "weekly",
        "timezone",
        "token_env",
        "token_file",
    ];
    let mut s = ServeSettings::default();
    let Some(t) = v.table(val, "serve") else {
        return s;
    };
    let mut token_env = None;
    let mut token_file = None;
    for (k, x) in t {
        let what = format!("serve.{}", k.name);
        let kind = match k.name.as_ref() {
            "schedule" => Some(JobKind::Run),
            "update" => Some(JobKind::Update),
            "db_update" => Some(JobKind::DbUpdate),
            "weekly" => Some(JobKind::Weekly),
            _ => None,
        };
        if let Some(kind) = kind {
            if let Some(text) = v.string(x, &what) {
                match parse_cron(&text) {
                    Ok(cron) => s.schedules.push(Schedule { kind, text, cron }),
                    Err(e) => v.err(x.span, format!("`{what}`: {e}")),
                }
            }
            continue;
        }
        match k.name.as_ref() {
            "listen" => {
                if let Some(text) = v.string(x, &what) {
                    match text.parse::<SocketAddr>() {
                        Ok(a) => s.listen = a,
                        Err(_) => v.err(
                            x.span,
                            format!("`{what}`: `{text}` is not an address and port (`127.0.0.1:8080`, `[::1]:8080`)"),
                        ),
                    }
                }
            }
            "timezone" => {
                if let Some(text) = v.string(x, &what) {
                    match text.parse::<chrono_tz::Tz>() {
                        Ok(tz) => s.timezone = tz,
                        Err(_) => v.err(
                            x.span,
                            format!("`{what}`: `{text}` is not an IANA time zone (`UTC`, `Europe/Berlin`)"),
                        ),
                    }
                }
            }
            "token_env" => token_env = v.string(x, &what).map(|e| (e, x.span)),
            "token_file" => token_file = v.string(x, &what).map(|f| (f, x.span)),
            other => v.unknown(k.span, "serve", other, KEYS),
        }
    }
    match (token_env, token_file) {
        (Some(_), Some((_, span))) => {
            v.err(span, "`serve`: give `token_env` or `token_file`, not both")
        }
        (Some((e, _)), None) => s.token = TokenSource::Env(e),
        (None, Some((f, _))) => s.token = TokenSource::File(dir.join(f)),
        (None, None) => {}
    }
    s.schedules.sort_by_key(|x| x.kind);
    s
}

/// The token, when one is configured and set.
pub fn token(source: &TokenSource) -> Result<Option<String>, String> {
    let value = match source {
        TokenSource::Env(name) => settings::env::named(name),
        TokenSource::File(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("[serve] token_file {}: {e}", path.display()))?
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        ),
    };
    Ok(value
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<ServeSettings, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fleet.toml");
        std::fs::write(&p, text).unwrap();
        ServeSettings::load(&p).map_err(|e| e.to_string())
    }

    #[test]
    fn schedules_zone_and_token_are_read_and_other_sections_left_alone() {
        let s = load(
            "[[image]]\nname = \"x\"\n\n[serve]\nlisten = \"127.0.0.1:9000\"\nschedule = \"0 6 * * *\"\nweekly = \"0 8 * * 1\"\ntimezone = \"Europe/Berlin\"\ntoken_file = \"token\"\n",
        )
        .unwrap();
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.timezone, chrono_tz::Europe::Berlin);
        let kinds: Vec<JobKind> = s.schedules.iter().map(|x| x.kind).collect();
        assert_eq!(kinds, [JobKind::Run, JobKind::Weekly]);
        assert!(matches!(&s.token, TokenSource::File(p) if p.ends_with("token")));
    }

    #[test]
    fn bad_values_are_named_with_their_line() {
        let e = load("[serve]\nschedule = \"every day\"\ntimezone = \"Mars/Olympus\"\nlisten = \"localhost\"\ncolour = 1\n")
            .unwrap_err();
        assert!(e.contains(":2:") && e.contains("`serve.schedule`"), "{e}");
        assert!(
            e.contains(":3:") && e.contains("not an IANA time zone"),
            "{e}"
        );
        assert!(
            e.contains(":4:") && e.contains("not an address and port"),
            "{e}"
        );
        assert!(e.contains("unknown key `colour`"), "{e}");
    }
}
