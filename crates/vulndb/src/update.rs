//! `db update`: download each feed, check it arrived whole (the announced
//! length, and the MD5 Google Cloud Storage states in `x-goog-hash`), import
//! it through the same importer as `db import`, and only then replace the
//! DB. A feed that fails, or holds no advisories, leaves the old DB in place.
//!
//! OSV feeds are main ecosystems (`osv:Debian`, `osv:PyPI`): OSV.dev exports
//! one `<Ecosystem>/all.zip` per main ecosystem, its records naming the
//! releases they affect (`Debian:12`), and stopped exporting per-release
//! directories (`Debian:12/all.zip`) in October 2024. The bucket's
//! `ecosystems.txt` is read first to check the names. An old per-release
//! name is read as its main ecosystem, keeping that release ([`resolve`]).

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine as _;
use findings::time::Timestamp;
use md5::Digest as _;

use crate::db::{DbBuilder, DbError, DbStatus, SourceInfo};
use crate::import::ImportError;
use crate::releases::{Releases, main_ecosystem};

/// Feeds `db update` reads unless others are given: OSV's main ecosystems.
pub const DEFAULT_FEEDS: &[&str] = &[
    "osv:Debian",
    "osv:Ubuntu",
    "osv:Alpine",
    "osv:PyPI",
    "osv:npm",
    "osv:Go",
    "osv:crates.io",
    "osv:Maven",
];

/// The feeds to read and the releases to keep, from what was asked for:
/// an old per-release OSV name (`osv:Debian:12`) becomes its main ecosystem
/// (`osv:Debian`) with a warning, and, unless `releases` names some
/// already, keeps that release's entries only. Duplicates are read once.
pub fn resolve(asked: &[Feed], releases: &Releases) -> (Vec<Feed>, Releases, Vec<String>) {
    let mut feeds: Vec<Feed> = Vec::new();
    let mut implied = Releases::all();
    let mut warnings = Vec::new();
    for f in asked {
        let f = match f {
            Feed::Osv(eco) if eco.contains(':') => {
                let main = main_ecosystem(eco).to_string();
                warnings.push(format!(
                    "feed `osv:{eco}`: OSV.dev no longer exports per-release directories (since \
                     October 2024); reading `osv:{main}` and keeping its `{eco}` records"
                ));
                implied.insert_ecosystem(eco);
                Feed::Osv(main)
            }
            other => other.clone(),
        };
        if !feeds.contains(&f) {
            feeds.push(f);
        }
    }
    let releases = if releases.is_all() {
        implied
    } else {
        releases.clone()
    };
    (feeds, releases, warnings)
}

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
    /// One of NVD's CVE JSON 2.0 feed files (`2024`, `modified`, `recent`):
    /// CVSS scores for CVE findings.
    Nvd(String),
    /// CISA's Known Exploited Vulnerabilities catalog.
    Kev,
    /// FIRST's EPSS scores of the day.
    Epss,
    /// endoflife.date's release cycles of every product (API v1, full).
    Eol,
}

/// A feed name that is not one of the forms above.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "unknown feed `{0}` (expected osv:ECOSYSTEM, debian-tracker, alpine:v3.NN[/REPO], nvd:YEAR|modified|recent, kev, epss or eol)"
)]
pub struct BadFeed(pub String);

impl FromStr for Feed {
    type Err = BadFeed;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(eco) = s.strip_prefix("osv:") {
            if eco.is_empty() {
                return Err(BadFeed(s.into()));
            }
            Ok(Feed::Osv(eco.into()))
        } else if let Some(which) = s.strip_prefix("nvd:") {
            let ok = which == "modified"
                || which == "recent"
                || (which.len() == 4 && which.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                return Err(BadFeed(s.into()));
            }
            Ok(Feed::Nvd(which.into()))
        } else if s == "debian-tracker" {
            Ok(Feed::DebianTracker)
        } else if s == "kev" {
            Ok(Feed::Kev)
        } else if s == "epss" {
            Ok(Feed::Epss)
        } else if s == "eol" {
            Ok(Feed::Eol)
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
            Feed::Nvd(w) => write!(f, "nvd:{w}"),
            Feed::Kev => f.write_str("kev"),
            Feed::Epss => f.write_str("epss"),
            Feed::Eol => f.write_str("eol"),
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
    /// Base URL of NVD's JSON 2.0 feeds.
    pub nvd: String,
    /// URL of CISA's KEV catalog (JSON).
    pub kev: String,
    /// URL of the current EPSS scores (CSV, gzip).
    pub epss: String,
    /// URL of endoflife.date's full product list (API v1 JSON).
    pub eol: String,
}

/// Where CISA publishes the KEV catalog.
pub const KEV_URL: &str =
    "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json";
/// Where FIRST's EPSS scores of the day are published.
pub const EPSS_URL: &str = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz";
/// Where endoflife.date publishes every product's release cycles.
pub const EOL_URL: &str = "https://endoflife.date/api/v1/products/full/";

impl Default for Mirrors {
    fn default() -> Self {
        Mirrors {
            osv: "https://osv-vulnerabilities.storage.googleapis.com".into(),
            debian_tracker: "https://security-tracker.debian.org/tracker/data/json".into(),
            alpine_secdb: "https://secdb.alpinelinux.org".into(),
            nvd: "https://nvd.nist.gov/feeds/json/cve/2.0".into(),
            kev: KEV_URL.into(),
            epss: EPSS_URL.into(),
            eol: EOL_URL.into(),
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
            Feed::Nvd(w) => format!("{}/nvdcve-2.0-{w}.json.gz", self.nvd.trim_end_matches('/')),
            Feed::Kev => self.kev.clone(),
            Feed::Epss => self.epss.clone(),
            Feed::Eol => self.eol.clone(),
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
    /// An NVD feed file that is not what its `.meta` file says.
    #[error("{url}: the feed's SHA-256 is {got}, its .meta file says {stated}")]
    NvdMeta {
        /// URL.
        url: String,
        /// Computed.
        got: String,
        /// Stated.
        stated: String,
    },
    /// An OSV feed the bucket does not export.
    #[error("feed {feed}: `{ecosystem}` is not an ecosystem OSV exports ({url} lists {known})")]
    UnknownEcosystem {
        /// Feed.
        feed: Feed,
        /// Its ecosystem.
        ecosystem: String,
        /// The list's URL.
        url: String,
        /// Some of what it lists.
        known: String,
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
    /// Advisories left out (no release kept).
    pub skipped: u64,
    /// The newest record's `modified` time.
    pub newest_record: Option<Timestamp>,
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

/// NVD publishes, beside each `.json.gz`, a `.meta` file with the SHA-256
/// of the uncompressed JSON: checked before the file is imported.
fn check_nvd_meta(
    client: &reqwest::blocking::Client,
    url: &str,
    file: &Path,
    dir: &Path,
) -> Result<(), UpdateError> {
    use sha2::Digest as _;
    let meta_url = format!("{}.meta", url.trim_end_matches(".json.gz"));
    let meta = dir.join("nvd.meta");
    download(client, &meta_url, &meta)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| UpdateError::Io {
            path: path.clone(),
            source,
        }
    };
    let text = std::fs::read_to_string(&meta).map_err(io(&meta))?;
    let stated = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("sha256:"))
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let f = std::fs::File::open(file).map_err(io(file))?;
    let mut gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(f));
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = gz.read(&mut buf).map_err(io(file))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let got = hex::encode(h.finalize());
    if got != stated {
        return Err(UpdateError::NvdMeta {
            url: url.into(),
            got,
            stated: if stated.is_empty() {
                "nothing".into()
            } else {
                stated
            },
        });
    }
    Ok(())
}

/// Checks every OSV feed against the bucket's `ecosystems.txt`.
fn check_ecosystems(
    client: &reqwest::blocking::Client,
    feeds: &[Feed],
    mirrors: &Mirrors,
    dir: &Path,
) -> Result<(), UpdateError> {
    if !feeds.iter().any(|f| matches!(f, Feed::Osv(_))) {
        return Ok(());
    }
    let url = format!("{}/ecosystems.txt", mirrors.osv.trim_end_matches('/'));
    let file = dir.join("ecosystems.txt");
    download(client, &url, &file)?;
    let text = std::fs::read_to_string(&file).map_err(|source| UpdateError::Io {
        path: file.clone(),
        source,
    })?;
    let known: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    for f in feeds {
        if let Feed::Osv(eco) = f
            && !known.contains(&eco.as_str())
        {
            // names that start like the one asked for, else the first few
            let head: String = eco.to_lowercase().chars().take(3).collect();
            let mut near: Vec<&str> = known
                .iter()
                .copied()
                .filter(|k| k.to_lowercase().starts_with(&head))
                .take(5)
                .collect();
            if near.is_empty() {
                near = known.iter().copied().take(8).collect();
            }
            return Err(UpdateError::UnknownEcosystem {
                feed: f.clone(),
                ecosystem: eco.clone(),
                url,
                known: format!("{} ecosystems, e.g. {}", known.len(), near.join(", ")),
            });
        }
    }
    Ok(())
}

/// Download every feed, build a new DB at `dest` (keeping `releases`) and
/// move it into place.
pub fn update(
    dest: &Path,
    feeds: &[Feed],
    releases: &Releases,
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
    check_ecosystems(&client, feeds, mirrors, tmp.path())?;
    let mut b = DbBuilder::create(dest)?;
    for (i, (feed, url)) in urls.iter().enumerate() {
        let file = tmp.path().join(format!(
            "{i}.{}",
            if url.ends_with(".zip") {
                "zip"
            } else if url.ends_with(".gz") {
                "json.gz"
            } else {
                "json"
            }
        ));
        let bytes = download(&client, url, &file)?;
        if let Feed::Nvd(_) = feed {
            check_nvd_meta(&client, url, &file, tmp.path())?;
        }
        let fetched_at = now;
        let st = crate::import::import_releases(&mut b, &file, releases).map_err(|source| {
            UpdateError::Import {
                feed: feed.clone(),
                url: url.clone(),
                source: Box::new(source),
            }
        })?;
        if st.records == 0 && st.skipped == 0 {
            return Err(UpdateError::Empty {
                feed: feed.clone(),
                url: url.clone(),
            });
        }
        b.add_source(SourceInfo {
            name: feed.to_string(),
            location: url.clone(),
            records: st.records,
            newest_record: st.newest_modified,
            fetched_at: Some(fetched_at),
        });
        done(&FeedDone {
            feed: feed.clone(),
            records: st.records,
            bytes,
            skipped: st.skipped,
            newest_record: st.newest_modified,
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
            nvd: "http://n/feeds".into(),
            kev: "http://k/kev.json".into(),
            epss: "http://e/epss.csv.gz".into(),
            eol: "http://l/full/".into(),
        };
        assert_eq!(m.url(&"eol".parse().unwrap()), "http://l/full/");
        assert_eq!(m.url(&"kev".parse().unwrap()), "http://k/kev.json");
        assert_eq!(m.url(&"epss".parse().unwrap()), "http://e/epss.csv.gz");
        let f: Feed = "nvd:2024".parse().unwrap();
        assert_eq!(m.url(&f), "http://n/feeds/nvdcve-2.0-2024.json.gz");
        assert!("nvd:24".parse::<Feed>().is_err());
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
        assert!(
            DEFAULT_FEEDS
                .iter()
                .all(|f| !f["osv:".len()..].contains(':'))
        );
    }

    #[test]
    fn old_release_feeds_become_main_ecosystems() {
        let asked: Vec<Feed> = ["osv:Debian:12", "osv:Debian:11", "osv:PyPI", "osv:Debian"]
            .iter()
            .map(|f| f.parse().unwrap())
            .collect();
        let (feeds, releases, warnings) = resolve(&asked, &Releases::all());
        assert_eq!(
            feeds,
            vec![Feed::Osv("Debian".into()), Feed::Osv("PyPI".into())]
        );
        assert_eq!(releases.to_string(), "Debian:11,Debian:12");
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].contains("osv:Debian:12") && warnings[0].contains("October 2024"));
        // releases asked for explicitly win
        let r: Releases = "debian:13".parse().unwrap();
        assert_eq!(resolve(&asked, &r).1.to_string(), "Debian:13");
        assert!(
            resolve(&[Feed::Osv("npm".into())], &Releases::all())
                .1
                .is_all()
        );
    }
}
