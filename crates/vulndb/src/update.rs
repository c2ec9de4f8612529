//! `db update`: download each feed, check it arrived whole (the announced
//! length, and the MD5 Google Cloud Storage states in `x-goog-hash`), import
//! it through the same importer as `db import`, and only then replace the
//! DB. A feed that fails, or holds no advisories, leaves the old DB in place.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine as _;
use findings::time::Timestamp;
use md5::Digest as _;

use crate::db::{DbBuilder, DbError, DbStatus, SourceInfo};
use crate::import::ImportError;

/// Feeds `db update` reads unless others are given.
pub const DEFAULT_FEEDS: &[&str] = &[
    "osv:Debian:11",
    "osv:Debian:12",
    "osv:Debian:13",
    "osv:Ubuntu:22.04:LTS",
    "osv:Ubuntu:24.04:LTS",
    "osv:Alpine:v3.19",
    "osv:Alpine:v3.20",
    "osv:Alpine:v3.21",
    "osv:Alpine:v3.22",
    "osv:PyPI",
    "osv:npm",
    "osv:Go",
    "osv:crates.io",
    "osv:Maven",
];

/// One feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// An OSV ecosystem's `all.zip`.
    Osv(String),
    /// The Debian security tracker's JSON dump.
    DebianTracker,
    /// One Alpine secdb file.
    Alpine {
        /// `v3.20`.
        release: String,
        /// `main`, `community`.
        repo: String,
    },
}

/// A feed name that is not one of the forms above.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown feed `{0}` (expected osv:ECOSYSTEM, debian-tracker or alpine:v3.NN[/REPO])")]
pub struct BadFeed(pub String);

impl FromStr for Feed {
    type Err = BadFeed;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(eco) = s.strip_prefix("osv:") {
            if eco.is_empty() {
                return Err(BadFeed(s.into()));
            }
            Ok(Feed::Osv(eco.into()))
        } else if s == "debian-tracker" {
            Ok(Feed::DebianTracker)
        } else if let Some(rest) = s.strip_prefix("alpine:") {
            let (rel, repo) = rest.split_once('/').unwrap_or((rest, "main"));
            if !rel.starts_with('v') || repo.is_empty() || repo.contains('/') {
                return Err(BadFeed(s.into()));
            }
            Ok(Feed::Alpine {
                release: rel.into(),
                repo: repo.into(),
            })
        } else {
            Err(BadFeed(s.into()))
        }
    }
}

impl fmt::Display for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Feed::Osv(e) => write!(f, "osv:{e}"),
            Feed::DebianTracker => f.write_str("debian-tracker"),
            Feed::Alpine { release, repo } => write!(f, "alpine:{release}/{repo}"),
        }
    }
}

/// Where the feeds live.
#[derive(Debug, Clone)]
pub struct Mirrors {
    /// Base URL of the OSV bucket.
    pub osv: String,
    /// URL of the Debian tracker's JSON dump.
    pub debian_tracker: String,
    /// Base URL of Alpine's secdb.
    pub alpine_secdb: String,
}

impl Default for Mirrors {
    fn default() -> Self {
        Mirrors {
            osv: "https://osv-vulnerabilities.storage.googleapis.com".into(),
            debian_tracker: "https://security-tracker.debian.org/tracker/data/json".into(),
            alpine_secdb: "https://secdb.alpinelinux.org".into(),
        }
    }
}

impl Mirrors {
    /// The URL of a feed.
    pub fn url(&self, feed: &Feed) -> String {
        match feed {
            Feed::Osv(eco) => {
                let enc: String = eco
                    .bytes()
                    .map(|b| {
                        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
                            (b as char).to_string()
                        } else {
                            format!("%{b:02X}")
                        }
                    })
                    .collect();
                format!("{}/{enc}/all.zip", self.osv.trim_end_matches('/'))
            }
            Feed::DebianTracker => self.debian_tracker.clone(),
            Feed::Alpine { release, repo } => format!(
                "{}/{release}/{repo}.json",
                self.alpine_secdb.trim_end_matches('/')
            ),
        }
    }
}

/// Why an update failed (the old DB is kept in every case).
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The request failed before a response.
    #[error("GET {url}: {message}")]
    Request {
        /// URL.
        url: String,
        /// What.
        message: String,
    },
    /// A response other than 2xx.
    #[error("GET {url}: HTTP {status}")]
    Status {
        /// URL.
        url: String,
        /// Status.
        status: u16,
    },
    /// Fewer or more bytes than announced.
    #[error("{url}: got {got} bytes, the server announced {announced} (truncated download)")]
    Truncated {
        /// URL.
        url: String,
        /// Received.
        got: u64,
        /// Content-Length.
        announced: u64,
    },
    /// The MD5 does not match.
    #[error("{url}: MD5 {got} does not match the server's x-goog-hash md5={stated}")]
    Md5 {
        /// URL.
        url: String,
        /// Computed.
        got: String,
        /// Stated.
        stated: String,
    },
    /// A feed with nothing in it.
    #[error("feed {feed} ({url}) holds no advisories; keeping the previous DB")]
    Empty {
        /// Feed.
        feed: Feed,
        /// URL.
        url: String,
    },
    /// A feed that did not import.
    #[error("feed {feed} ({url})")]
    Import {
        /// Feed.
        feed: Feed,
        /// URL.
        url: String,
        /// Cause.
        #[source]
        source: Box<ImportError>,
    },
    /// Local files.
    #[error("{}: {source}", path.display())]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The DB.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// One feed done.
#[derive(Debug, Clone)]
pub struct FeedDone {
    /// Which.
    pub feed: Feed,
    /// Advisories.
    pub records: u64,
    /// Bytes downloaded.
    pub bytes: u64,
}

fn client(url: &str) -> Result<reqwest::blocking::Client, UpdateError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .user_agent(concat!("safeimage/", env!("CARGO_PKG_VERSION")))
        .timeout(std::time::Duration::from_secs(600))
        .build()
        .map_err(|e| UpdateError::Request {
            url: url.into(),
            message: e.to_string(),
        })
}

/// Download to a file, checking the length and any MD5 the server states.
pub fn download(
    client: &reqwest::blocking::Client,
    url: &str,
    to: &Path,
) -> Result<u64, UpdateError> {
    let req = |e: reqwest::Error| UpdateError::Request {
        url: url.into(),
        message: if e.is_timeout() {
            "timed out".into()
        } else if e.is_connect() {
            "cannot connect".into()
        } else {
            e.to_string()
        },
    };
    let io = |source| UpdateError::Io {
        path: to.to_path_buf(),
        source,
    };
    let mut resp = client.get(url).send().map_err(req)?;
    if !resp.status().is_success() {
        return Err(UpdateError::Status {
            url: url.into(),
            status: resp.status().as_u16(),
        });
    }
    let announced = resp.content_length();
    let stated = resp
        .headers()
        .get_all("x-goog-hash")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix("md5=").map(str::to_string));
    let mut f = std::fs::File::create(to).map_err(io)?;
    let mut hasher = md5::Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total: u64 = 0;
    loop {
        let n = resp.read(&mut buf).map_err(|e| UpdateError::Request {
            url: url.into(),
            message: format!("reading the body: {e}"),
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        std::io::Write::write_all(&mut f, &buf[..n]).map_err(io)?;
        total += n as u64;
    }
    f.sync_all().map_err(io)?;
    if let Some(l) = announced
        && l != total
    {
        return Err(UpdateError::Truncated {
            url: url.into(),
            got: total,
            announced: l,
        });
    }
    if let Some(m) = stated {
        let got = base64::engine::general_purpose::STANDARD.encode(hasher.finalize());
        if got != m {
            return Err(UpdateError::Md5 {
                url: url.into(),
                got,
                stated: m,
            });
        }
    }
    Ok(total)
}

/// Download every feed, build a new DB at `dest` and move it into place.
pub fn update(
    dest: &Path,
    feeds: &[Feed],
    mirrors: &Mirrors,
    now: Timestamp,
    done: &mut dyn FnMut(&FeedDone),
) -> Result<DbStatus, UpdateError> {
    let urls: Vec<(Feed, String)> = feeds.iter().map(|f| (f.clone(), mirrors.url(f))).collect();
    let client = client(urls.first().map_or("", |u| u.1.as_str()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".safeimage-feeds-")
        .tempdir()
        .map_err(|source| UpdateError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    let mut b = DbBuilder::create(dest)?;
    for (i, (feed, url)) in urls.iter().enumerate() {
        let file = tmp.path().join(format!(
            "{i}.{}",
            if url.ends_with(".zip") { "zip" } else { "json" }
        ));
        let bytes = download(&client, url, &file)?;
        let st =
            crate::import::import_path(&mut b, &file).map_err(|source| UpdateError::Import {
                feed: feed.clone(),
                url: url.clone(),
                source: Box::new(source),
            })?;
        if st.records == 0 {
            return Err(UpdateError::Empty {
                feed: feed.clone(),
                url: url.clone(),
            });
        }
        b.add_source(SourceInfo {
            name: feed.to_string(),
            location: url.clone(),
            records: st.records,
        });
        done(&FeedDone {
            feed: feed.clone(),
            records: st.records,
            bytes,
        });
    }
    Ok(b.finish(now)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_names_and_urls() {
        let m = Mirrors {
            osv: "http://o/".into(),
            debian_tracker: "http://d/json".into(),
            alpine_secdb: "http://a".into(),
        };
        let f: Feed = "osv:Ubuntu:22.04:LTS".parse().unwrap();
        assert_eq!(m.url(&f), "http://o/Ubuntu:22.04:LTS/all.zip");
        let f: Feed = "osv:crates io".parse().unwrap();
        assert_eq!(m.url(&f), "http://o/crates%20io/all.zip");
        let f: Feed = "alpine:v3.20".parse().unwrap();
        assert_eq!(m.url(&f), "http://a/v3.20/main.json");
        assert_eq!(f.to_string(), "alpine:v3.20/main");
        assert_eq!("debian-tracker".parse::<Feed>(), Ok(Feed::DebianTracker));
        for bad in ["osv:", "alpine:3.20", "nvd", "alpine:v3.20/"] {
            assert!(bad.parse::<Feed>().is_err(), "{bad}");
        }
        assert!(DEFAULT_FEEDS.iter().all(|f| f.parse::<Feed>().is_ok()));
    }
}
