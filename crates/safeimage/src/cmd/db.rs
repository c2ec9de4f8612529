//! `safeimage db`: build the advisory DB from feeds (`update`, online) or
//! from files (`import`, offline), show what a DB holds (`status`), and
//! share one DB through a registry (`push`, `pull`; `--db oci://REF`).
//! Either way the new DB is built beside the old one and renamed over it,
//! so a failed update leaves the previous DB in place.

use std::path::PathBuf;
use std::process::ExitCode;

use vulndb::db::SourceInfo;
use vulndb::update::{Feed, Mirrors};
use vulndb::{Db, DbBuilder};

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
    /// Push the DB to a registry as an OCI artifact (for `db pull` and
    /// `--db oci://REF` on every runner).
    Push(ShareArgs),
    /// Pull a DB pushed with `db push`, verified, into place.
    Pull(ShareArgs),
}

/// `db push` / `db pull`.
#[derive(Debug, clap::Args)]
pub struct ShareArgs {
    /// REGISTRY/REPO:TAG (pull also takes @sha256:...).
    reference: oci::ImageRef,
    #[command(flatten)]
    db: crate::shared::db::DbArg,
    /// Plain HTTP to this registry (loopback always is).
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    insecure_registry: Vec<String>,
    /// push: sign the artifact with this private key (as `safeimage sign`;
    /// password from COSIGN_PASSWORD); pull: a public key one of whose
    /// signatures the artifact must carry before it is downloaded (repeatable).
    #[arg(long, value_name = "FILE")]
    key: Vec<PathBuf>,
    /// pull: the largest DB accepted, in MiB (checked before download and
    /// while inflating; default SAFEIMAGE_DB_MAX_MIB, else 2048).
    #[arg(long, value_name = "MIB")]
    max_mib: Option<u64>,
}

/// `db update`.
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    db: crate::shared::db::DbArg,
    /// Feeds: `osv:ECOSYSTEM` (a main OSV ecosystem's all.zip: osv:Debian,
    /// osv:PyPI...), `debian-tracker`, `alpine:v3.NN/REPO` (secdb),
    /// `nvd:YEAR|modified|recent` (NVD's CVSS scores, checked against its .meta),
    /// `kev` (CISA's Known Exploited Vulnerabilities), `epss` (FIRST's EPSS scores),
    /// `eol` (endoflife.date's release cycles: runtimes' and distributions' end of life);
    /// repeatable; default: Debian, Ubuntu, Alpine, PyPI, npm, Go,
    /// crates.io, Maven.
    #[arg(long = "feed", value_name = "FEED")]
    feeds: Vec<Feed>,
    /// Keep only these distribution releases' entries (DISTRO:VERSION,
    /// comma-separated: debian:12,alpine:3.20,ubuntu:22.04); ecosystems
    /// with no release named are kept whole.
    #[arg(long = "release", value_name = "DISTRO:VERSION", value_delimiter = ',')]
    releases: Vec<String>,
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
    /// Base URL of NVD's CVE JSON 2.0 feeds (`--feed nvd:2024`, `nvd:modified`).
    #[arg(long, default_value = "https://nvd.nist.gov/feeds/json/cve/2.0")]
    nvd_url: String,
    /// URL of CISA's KEV catalog (`--feed kev`).
    #[arg(long, default_value = vulndb::update::KEV_URL)]
    kev_url: String,
    /// URL of the day's EPSS scores (`--feed epss`; CSV, gzip or not).
    #[arg(long, default_value = vulndb::update::EPSS_URL)]
    epss_url: String,
    /// URL of endoflife.date's product list (`--feed eol`; API v1 JSON).
    #[arg(long, default_value = vulndb::update::EOL_URL)]
    eol_url: String,
}

/// `db import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Files, directories or zips to import (directories recursively).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Keep only these distribution releases' entries (as for `update`).
    #[arg(long = "release", value_name = "DISTRO:VERSION", value_delimiter = ',')]
    releases: Vec<String>,
    #[command(flatten)]
    db: crate::shared::db::DbArg,
}

/// `db status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    db: crate::shared::db::DbArg,
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
        Sub::Push(a) => push(a),
        Sub::Pull(a) => pull(a),
    }
}

fn import(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let path = a.db.path()?;
    let releases: vulndb::Releases = a.releases.join(",").parse()?;
    let mut b = DbBuilder::create(&path)?;
    for p in &a.paths {
        let st = vulndb::import::import_releases(&mut b, p, &releases)?;
        b.add_source(SourceInfo {
            name: "import".into(),
            location: p.display().to_string(),
            records: st.records,
            newest_record: st.newest_modified,
            fetched_at: None,
        });
        eprintln!(
            "imported {} advisories from {} documents in {}",
            st.records,
            st.documents,
            p.display()
        );
    }
    let st = b.finish(super::output_time())?;
    eprintln!(
        "wrote {} ({} advisories, {} affected-package rows)",
        path.display(),
        st.advisories,
        st.affected_rows
    );
    Ok(ExitCode::SUCCESS)
}

fn share_opts(a: &ShareArgs) -> oci::source::RegistryOptions {
    oci::source::RegistryOptions {
        insecure: a.insecure_registry.clone(),
        ..Default::default()
    }
}

fn push(a: ShareArgs) -> anyhow::Result<ExitCode> {
    let path = a.db.path()?;
    if a.key.len() > 1 {
        anyhow::bail!("db push signs with one --key");
    }
    let p = dbshare::push(&path, &a.reference, &share_opts(&a))?;
    eprintln!(
        "pushed {} to {} ({} bytes, {} compressed)",
        path.display(),
        a.reference,
        p.size,
        p.compressed
    );
    if let Some(k) = a.key.first() {
        let pw = crate::shared::keys::password(false)?;
        let key = provenance::keys::load_private(k, pw.as_bytes())?;
        drop(pw);
        let pinned: oci::ImageRef = format!("{}@{}", a.reference.full_name(), p.digest).parse()?;
        let (repo, digest, size, media_type) =
            crate::shared::keys::locate(&pinned, &a.insecure_registry)?;
        let repository = a.reference.full_name();
        let subject = provenance::sign::Subject {
            repository: &repository,
            digest: &digest,
            media_type: &media_type,
            size,
        };
        let s = provenance::sign::sign(&repo, &key, &subject, &Default::default())?;
        eprintln!("signed {repository}@{digest} ({})", s.tag);
    }
    super::write_output(None, &format!("{}\n", p.digest))?;
    Ok(ExitCode::SUCCESS)
}

fn pull(a: ShareArgs) -> anyhow::Result<ExitCode> {
    let path = a.db.path()?;
    let opts = crate::shared::db::pull_options(&a.insecure_registry, &a.key, a.max_mib)?;
    let p = dbshare::pull(&a.reference, &path, &opts)?;
    eprintln!(
        "{} {} ({}{}, built {})",
        if p.downloaded {
            "pulled"
        } else {
            "already in place:"
        },
        a.reference,
        p.digest,
        if a.key.is_empty() {
            ""
        } else {
            ", signature verified"
        },
        p.built_at
    );
    super::write_output(None, &format!("{}\n", p.digest))?;
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
    let now = findings::time::Timestamp::now();
    for s in &st.sources {
        out.push_str(&format!(
            "  {} {} ({} advisories)\n",
            s.name, s.location, s.records
        ));
        let newest = s.newest_record.map_or("unknown".to_string(), |t| {
            format!("{t} ({} days old)", now.since(t).max(0) / 86_400)
        });
        let fetched = s.fetched_at.map_or("imported offline".to_string(), |t| {
            format!("downloaded {t}")
        });
        out.push_str(&format!("    newest record {newest}; {fetched}\n"));
    }
    if let Some(k) = &st.kev {
        out.push_str(&format!(
            "KEV:         catalog {} of {} ({} entries)\n",
            k.version, k.date, k.entries
        ));
    }
    if let Some(e) = &st.epss {
        out.push_str(&format!(
            "EPSS:        model {}, scores of {} ({} CVEs)\n",
            e.version, e.date, e.entries
        ));
    }
    super::write_output(None, &out)?;
    Ok(ExitCode::SUCCESS)
}

fn update(a: UpdateArgs) -> anyhow::Result<ExitCode> {
    let path = a.db.path()?;
    let asked: Vec<Feed> = if a.feeds.is_empty() {
        vulndb::update::DEFAULT_FEEDS
            .iter()
            .map(|f| f.parse())
            .collect::<Result<_, _>>()?
    } else {
        a.feeds.clone()
    };
    let releases: vulndb::Releases = a.releases.join(",").parse()?;
    let (feeds, releases, warnings) = vulndb::update::resolve(&asked, &releases);
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let mirrors = Mirrors {
        osv: a.osv_url,
        debian_tracker: a.debian_tracker_url,
        alpine_secdb: a.alpine_secdb_url,
        nvd: a.nvd_url,
        kev: a.kev_url,
        eol: a.eol_url,
        epss: a.epss_url,
    };
    let st = vulndb::update::update(
        &path,
        &feeds,
        &releases,
        &mirrors,
        super::output_time(),
        &mut |d| {
            eprintln!(
                "{}: {} advisories ({} bytes{}; newest record {})",
                d.feed,
                d.records,
                d.bytes,
                if d.skipped > 0 {
                    format!(", {} for other releases left out", d.skipped)
                } else {
                    String::new()
                },
                d.newest_record
                    .map_or("unknown".to_string(), |t| t.to_string())
            )
        },
    )?;
    eprintln!(
        "wrote {} ({} advisories, {} affected-package rows)",
        path.display(),
        st.advisories,
        st.affected_rows
    );
    Ok(ExitCode::SUCCESS)
}
