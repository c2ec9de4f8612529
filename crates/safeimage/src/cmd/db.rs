//! `safeimage db`: build the advisory DB from feeds (`update`, online) or
//! from files (`import`, offline), and show what a DB holds (`status`).
//! Either way the new DB is built beside the old one and renamed over it,
//! so a failed update leaves the previous DB in place.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use base64::Engine;
use md5::Digest;
use vulndb::db::SourceInfo;
use vulndb::{Db, DbBuilder};

/// Feeds `db update` reads unless `--feed` is given.
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

/// The `--db` option, shared with `scan`.
#[derive(Debug, clap::Args, Clone)]
pub struct DbArg {
    /// Advisory DB file; default: $XDG_CACHE_HOME/safeimage/db/advisories.db.
    #[arg(long, env = "SAFEIMAGE_DB", value_name = "FILE")]
    pub db: Option<PathBuf>,
}

impl DbArg {
    /// The DB path.
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        match &self.db {
            Some(p) => Ok(p.clone()),
            None => super::default_cache_dir()
                .map(|d| d.join("db").join("advisories.db"))
                .context("no --db given and neither XDG_CACHE_HOME nor HOME is set"),
        }
    }
}

/// Arguments of `safeimage db`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Download the feeds, verify them and build a new DB.
    Update(UpdateArgs),
    /// Build a new DB offline from OSV JSON files, directories, all.zip
    /// files, Debian tracker dumps and Alpine secdb files.
    Import(ImportArgs),
    /// Show what the DB holds and when it was built.
    Status(StatusArgs),
}

/// `db update`.
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    db: DbArg,
    /// Feeds: `osv:ECOSYSTEM` (OSV all.zip), `debian-tracker`,
    /// `alpine:v3.NN/REPO` (secdb); repeatable; default: a standard set.
    #[arg(long = "feed", value_name = "FEED")]
    feeds: Vec<String>,
    /// Base URL of the OSV bucket.
    #[arg(
        long,
        default_value = "https://osv-vulnerabilities.storage.googleapis.com"
    )]
    osv_url: String,
    /// URL of the Debian security tracker's JSON dump.
    #[arg(
        long,
        default_value = "https://security-tracker.debian.org/tracker/data/json"
    )]
    debian_tracker_url: String,
    /// Base URL of Alpine's secdb.
    #[arg(long, default_value = "https://secdb.alpinelinux.org")]
    alpine_secdb_url: String,
}

/// `db import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Files, directories or zips to import (directories recursively).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    db: DbArg,
}

/// `db status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    db: DbArg,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Sub::Import(a) => import(a),
        Sub::Update(a) => update(a),
        Sub::Status(a) => status(a),
    }
}

fn import(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let path = a.db.path()?;
    let mut b = DbBuilder::create(&path)?;
    for p in &a.paths {
        let st = vulndb::import::import_path(&mut b, p)?;
        b.add_source(SourceInfo {
            name: "import".into(),
            location: p.display().to_string(),
            records: st.records,
        });
        eprintln!(
            "imported {} advisories from {} documents in {}",
            st.records,
            st.documents,
            p.display()
        );
    }
    let st = b.finish(&super::now_rfc3339())?;
    eprintln!(
        "wrote {} ({} advisories, {} affected-package rows)",
        path.display(),
        st.advisories,
        st.affected_rows
    );
    Ok(ExitCode::SUCCESS)
}

fn status(a: StatusArgs) -> anyhow::Result<ExitCode> {
    let db = Db::open(&a.db.path()?)?;
    let st = db.status();
    if a.json {
        super::write_output(None, &serde_json::to_string_pretty(st)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = format!(
        "DB:          {}\nschema:      {}\nbuilt:       {}\nadvisories:  {}\nrows:        {}\necosystems:\n",
        st.path.display(),
        st.schema_version,
        st.built_at,
        st.advisories,
        st.affected_rows
    );
    for (e, n) in &st.ecosystems {
        out.push_str(&format!("  {e:<24} {n}\n"));
    }
    out.push_str("sources:\n");
    for s in &st.sources {
        out.push_str(&format!(
            "  {} {} ({} advisories)\n",
            s.name, s.location, s.records
        ));
    }
    super::write_output(None, &out)?;
    Ok(ExitCode::SUCCESS)
}

/// Where a feed lives.
fn feed_url(a: &UpdateArgs, feed: &str) -> anyhow::Result<String> {
    if let Some(eco) = feed.strip_prefix("osv:") {
        if eco.is_empty() {
            bail!("feed `{feed}`: no ecosystem after `osv:`");
        }
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
        Ok(format!("{}/{enc}/all.zip", a.osv_url.trim_end_matches('/')))
    } else if feed == "debian-tracker" {
        Ok(a.debian_tracker_url.clone())
    } else if let Some(rest) = feed.strip_prefix("alpine:") {
        let (rel, repo) = rest.split_once('/').unwrap_or((rest, "main"));
        if !rel.starts_with('v') {
            bail!("feed `{feed}`: expected alpine:v3.NN[/REPO]");
        }
        Ok(format!(
            "{}/{rel}/{repo}.json",
            a.alpine_secdb_url.trim_end_matches('/')
        ))
    } else {
        bail!("unknown feed `{feed}` (expected osv:ECOSYSTEM, debian-tracker or alpine:v3.NN/REPO)")
    }
}

/// Download to a file, checking the length and any MD5 the server states
/// (Google Cloud Storage sends `x-goog-hash: md5=...`).
fn download(client: &reqwest::blocking::Client, url: &str, to: &Path) -> anyhow::Result<u64> {
    let mut resp = client
        .get(url)
        .send()
        .with_context(|| format!("GET {url}"))?;
    if !resp.status().is_success() {
        bail!("GET {url}: HTTP {}", resp.status());
    }
    let want_len = resp.content_length();
    let want_md5 = resp
        .headers()
        .get_all("x-goog-hash")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix("md5=").map(str::to_string));
    let mut f =
        std::fs::File::create(to).with_context(|| format!("cannot write {}", to.display()))?;
    let mut hasher = md5::Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total: u64 = 0;
    loop {
        let n = resp
            .read(&mut buf)
            .with_context(|| format!("reading {url}"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        std::io::Write::write_all(&mut f, &buf[..n])?;
        total += n as u64;
    }
    f.sync_all()?;
    if let Some(l) = want_len
        && l != total
    {
        bail!("{url}: got {total} bytes, the server announced {l} (truncated download)");
    }
    if let Some(m) = want_md5 {
        let got = base64::engine::general_purpose::STANDARD.encode(hasher.finalize());
        if got != m {
            bail!("{url}: MD5 {got} does not match the server's x-goog-hash md5={m}");
        }
    }
    Ok(total)
}

fn update(a: UpdateArgs) -> anyhow::Result<ExitCode> {
    let path = a.db.path()?;
    let feeds: Vec<String> = if a.feeds.is_empty() {
        DEFAULT_FEEDS.iter().map(|s| s.to_string()).collect()
    } else {
        a.feeds.clone()
    };
    let urls: Vec<(String, String)> = feeds
        .iter()
        .map(|f| Ok((f.clone(), feed_url(&a, f)?)))
        .collect::<anyhow::Result<_>>()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::blocking::Client::builder()
        .user_agent(concat!("safeimage/", env!("CARGO_PKG_VERSION")))
        .timeout(std::time::Duration::from_secs(600))
        .build()?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    std::fs::create_dir_all(&dir)?;
    let tmp = tempfile::Builder::new()
        .prefix(".safeimage-feeds-")
        .tempdir_in(&dir)?;
    let mut b = DbBuilder::create(&path)?;
    for (i, (feed, url)) in urls.iter().enumerate() {
        let file = tmp.path().join(format!(
            "{i}.{}",
            if url.ends_with(".zip") { "zip" } else { "json" }
        ));
        let bytes = download(&client, url, &file)?;
        let st = vulndb::import::import_path(&mut b, &file)
            .with_context(|| format!("feed {feed} ({url})"))?;
        if st.records == 0 {
            bail!("feed {feed} ({url}) holds no advisories; keeping the previous DB");
        }
        b.add_source(SourceInfo {
            name: feed.clone(),
            location: url.clone(),
            records: st.records,
        });
        eprintln!("{feed}: {} advisories ({bytes} bytes)", st.records);
    }
    let st = b.finish(&super::now_rfc3339())?;
    eprintln!(
        "wrote {} ({} advisories, {} affected-package rows)",
        path.display(),
        st.advisories,
        st.affected_rows
    );
    Ok(ExitCode::SUCCESS)
}
