//! Offline import: files, directories (recursively, sorted) and zips (OSV's
//! per-ecosystem `all.zip`, read entry by entry, never whole) of feed
//! documents into a [`DbBuilder`], keeping only the [`Releases`] asked for.
//! Every error names the file and, inside a zip, the entry. The newest
//! `modified` time seen is counted, so a stale feed can be told from a
//! fresh download.

use std::io::Read;
use std::path::{Path, PathBuf};

use findings::time::Timestamp;

use crate::db::{DbBuilder, DbError};
use crate::feed::{FeedError, parse_bytes};
use crate::releases::Releases;

/// Largest single JSON document read (the Debian tracker dump is ~70 MB).
pub const MAX_DOCUMENT: u64 = 512 << 20;

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A document did not parse.
    #[error("{}{}: {source}", path.display(), entry.as_ref().map(|e| format!(" (entry {e})")).unwrap_or_default())]
    Feed {
        /// File.
        path: PathBuf,
        /// Zip entry.
        entry: Option<String>,
        /// Cause.
        source: FeedError,
    },
    /// Reading failed.
    #[error("{}: {message}", path.display())]
    Read {
        /// File.
        path: PathBuf,
        /// What.
        message: String,
    },
    /// The DB failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Counts from one import.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportStats {
    /// Documents read.
    pub documents: u64,
    /// Advisories added.
    pub records: u64,
    /// Advisories left out: none of their entries is a release kept.
    pub skipped: u64,
    /// The newest `modified` time among the advisories read.
    pub newest_modified: Option<Timestamp>,
}

struct Ctx<'a> {
    releases: &'a Releases,
    stats: ImportStats,
}

fn read_err(path: &Path, message: impl ToString) -> ImportError {
    ImportError::Read {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Import a file, directory or zip (the caller records the source).
pub fn import_path(b: &mut DbBuilder, path: &Path) -> Result<ImportStats, ImportError> {
    import_releases(b, path, &Releases::all())
}

/// [`import_path`], keeping only the entries of `releases`.
pub fn import_releases(
    b: &mut DbBuilder,
    path: &Path,
    releases: &Releases,
) -> Result<ImportStats, ImportError> {
    let mut ctx = Ctx {
        releases,
        stats: ImportStats::default(),
    };
    let meta = std::fs::metadata(path).map_err(|e| read_err(path, e))?;
    if meta.is_dir() {
        walk(b, path, &mut ctx)?;
    } else {
        file(b, path, &mut ctx)?;
    }
    Ok(ctx.stats)
}

fn walk(b: &mut DbBuilder, dir: &Path, stats: &mut Ctx<'_>) -> Result<(), ImportError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| read_err(dir, e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| read_err(dir, e))?;
    entries.sort();
    for p in entries {
        let ft = std::fs::symlink_metadata(&p).map_err(|e| read_err(&p, e))?;
        if ft.is_dir() {
            walk(b, &p, stats)?;
        } else if ft.is_file()
            && p.extension().is_some_and(|e| {
                e.eq_ignore_ascii_case("json")
                    || e.eq_ignore_ascii_case("zip")
                    || e.eq_ignore_ascii_case("gz")
                    || e.eq_ignore_ascii_case("csv")
            })
        {
            file(b, &p, stats)?;
        } else if ft.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("md")) {
            // of Markdown files only endoflife.date's product files are data
            // (a README beside the feeds is not)
            let bytes = std::fs::read(&p).map_err(|e| read_err(&p, e))?;
            if crate::feed::eol::sniff_endoflife(&bytes) {
                file(b, &p, stats)?;
            }
        }
    }
    Ok(())
}

fn add_all(
    b: &mut DbBuilder,
    bytes: &[u8],
    path: &Path,
    entry: Option<&str>,
    ctx: &mut Ctx<'_>,
) -> Result<(), ImportError> {
    let feed_err = |source| ImportError::Feed {
        path: path.to_path_buf(),
        entry: entry.map(str::to_string),
        source,
    };
    // the day's date of a KEV release or an EPSS file, for the stale-feed rules
    let day = |s: &str| {
        s.get(..10)
            .and_then(|d| format!("{d}T00:00:00Z").parse::<Timestamp>().ok())
    };
    if crate::feed::eol::sniff(bytes) {
        // distro-info-data's files are named after their product
        let name = entry
            .map(|e| e.rsplit('/').next().unwrap_or(e).to_string())
            .or_else(|| path.file_name().map(|f| f.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let product = match name.as_str() {
            "debian.csv" => "debian",
            "ubuntu.csv" => "ubuntu",
            _ => {
                return Err(feed_err(crate::feed::FeedError::Invalid(format!(
                    "a distro-info-data CSV is named debian.csv or ubuntu.csv, not `{name}`"
                ))));
            }
        };
        let cycles = crate::feed::eol::parse_distro_info(bytes, product).map_err(feed_err)?;
        ctx.stats.documents += 1;
        ctx.stats.records += b.add_eol(&cycles)?;
        return Ok(());
    }
    if crate::feed::eol::sniff_endoflife(bytes) {
        let cycles = if bytes.starts_with(b"---") {
            // a product file of endoflife.date's repository: products/NAME.md
            let name = entry
                .map(|e| e.rsplit('/').next().unwrap_or(e).to_string())
                .or_else(|| path.file_name().map(|f| f.to_string_lossy().into_owned()))
                .unwrap_or_default();
            let Some(product) = name.strip_suffix(".md").filter(|p| !p.is_empty()) else {
                return Err(feed_err(crate::feed::FeedError::Invalid(format!(
                    "an endoflife.date product file is named PRODUCT.md, not `{name}`"
                ))));
            };
            crate::feed::eol::parse_endoflife_md(bytes, product).map_err(feed_err)?
        } else {
            // the API says when it was generated: the feed's age
            let generated = serde_json::from_slice::<serde_json::Value>(bytes)
                .ok()
                .and_then(|v| v["generated_at"].as_str().and_then(day));
            ctx.stats.newest_modified = ctx.stats.newest_modified.max(generated);
            crate::feed::eol::parse_endoflife_api(bytes).map_err(feed_err)?
        };
        ctx.stats.documents += 1;
        ctx.stats.records += b.add_eol(&cycles)?;
        return Ok(());
    }
    if crate::feed::epss::sniff(bytes) {
        let e = crate::feed::epss::parse(bytes).map_err(feed_err)?;
        ctx.stats.documents += 1;
        ctx.stats.records += b.add_epss(&e)?;
        ctx.stats.newest_modified = ctx.stats.newest_modified.max(day(&e.date));
        return Ok(());
    }
    let head = &bytes[..bytes.len().min(4096)];
    if head.windows(16).any(|w| w == b"\"catalogVersion\"") {
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| feed_err(crate::feed::FeedError::from(e)))?;
        // a document that names a catalog version is read as the catalog,
        // so one of the wrong shape is told as such
        if v.get("catalogVersion").is_some() {
            let k = crate::feed::kev::parse(v).map_err(feed_err)?;
            ctx.stats.documents += 1;
            ctx.stats.records += b.add_kev(&k)?;
            ctx.stats.newest_modified = ctx.stats.newest_modified.max(day(&k.released));
            return Ok(());
        }
    }
    let recs = parse_bytes(bytes).map_err(feed_err)?;
    ctx.stats.documents += 1;
    for r in recs {
        if let Some(m) = r
            .advisory
            .modified
            .as_deref()
            .and_then(|m| m.parse::<Timestamp>().ok())
        {
            ctx.stats.newest_modified = ctx.stats.newest_modified.max(Some(m));
        }
        match ctx.releases.filter(r) {
            Some(r) => {
                b.add(&r)?;
                ctx.stats.records += 1;
            }
            None => ctx.stats.skipped += 1,
        }
    }
    Ok(())
}

fn file(b: &mut DbBuilder, path: &Path, stats: &mut Ctx<'_>) -> Result<(), ImportError> {
    let f = std::fs::File::open(path).map_err(|e| read_err(path, e))?;
    let mut head = [0u8; 4];
    let n = (&f)
        .take(4)
        .read(&mut head)
        .map_err(|e| read_err(path, e))?;
    drop(f);
    if n == 4 && head == *b"PK\x03\x04" {
        return zip_file(b, path, stats);
    }
    if n >= 2 && head[..2] == [0x1f, 0x8b] {
        // one gzip-compressed document (NVD's nvdcve-2.0-YEAR.json.gz)
        let f = std::fs::File::open(path).map_err(|e| read_err(path, e))?;
        let mut bytes = Vec::new();
        flate2::read::MultiGzDecoder::new(std::io::BufReader::new(f))
            .take(MAX_DOCUMENT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| read_err(path, format!("not readable gzip: {e}")))?;
        if bytes.len() as u64 > MAX_DOCUMENT {
            return Err(read_err(
                path,
                format!("inflates past {MAX_DOCUMENT} bytes"),
            ));
        }
        return add_all(b, &bytes, path, None, stats);
    }
    let len = std::fs::metadata(path)
        .map_err(|e| read_err(path, e))?
        .len();
    if len > MAX_DOCUMENT {
        return Err(read_err(path, format!("larger than {MAX_DOCUMENT} bytes")));
    }
    let bytes = std::fs::read(path).map_err(|e| read_err(path, e))?;
    add_all(b, &bytes, path, None, stats)
}

fn zip_file(b: &mut DbBuilder, path: &Path, stats: &mut Ctx<'_>) -> Result<(), ImportError> {
    let f = std::fs::File::open(path).map_err(|e| read_err(path, e))?;
    let mut z = zip::ZipArchive::new(std::io::BufReader::new(f))
        .map_err(|e| read_err(path, format!("not a readable zip: {e}")))?;
    let mut buf = Vec::new();
    for i in 0..z.len() {
        let mut e = z
            .by_index(i)
            .map_err(|x| read_err(path, format!("zip entry {i}: {x}")))?;
        let name = e
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| format!("#{i}"));
        if e.is_dir() || !name.to_ascii_lowercase().ends_with(".json") {
            continue;
        }
        buf.clear();
        // Never trust the declared size: read at most the cap plus one byte.
        (&mut e)
            .take(MAX_DOCUMENT + 1)
            .read_to_end(&mut buf)
            .map_err(|x| read_err(path, format!("entry {name}: {x}")))?;
        if buf.len() as u64 > MAX_DOCUMENT {
            return Err(read_err(
                path,
                format!("entry {name} inflates past {MAX_DOCUMENT} bytes"),
            ));
        }
        add_all(b, &buf, path, Some(&name), stats)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn zip_and_dir_errors_name_the_place() {
        let dir = tempfile::tempdir().unwrap();
        let zp = dir.path().join("all.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zp).unwrap());
        let o = zip::write::SimpleFileOptions::default();
        w.start_file("GOOD-1.json", o).unwrap();
        w.write_all(br#"{"id":"GOOD-1","modified":"x","affected":[{"package":{"ecosystem":"PyPI","name":"a"},"versions":["1"]}]}"#).unwrap();
        w.start_file("BAD-2.json", o).unwrap();
        w.write_all(b"{\"id\": \"BAD-2\",\n \"affected\": [}")
            .unwrap();
        w.finish().unwrap();
        let mut b = DbBuilder::create(&dir.path().join("db")).unwrap();
        let err = import_path(&mut b, &zp).unwrap_err().to_string();
        assert!(err.contains("all.zip (entry BAD-2.json): line 2"), "{err}");

        let sub = dir.path().join("feeds/PyPI");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(
            sub.join("X-1.json"),
            br#"{"id":"X-1","modified":"x","affected":[]}"#,
        )
        .unwrap();
        std::fs::write(sub.join("notes.txt"), b"ignored").unwrap();
        let mut b = DbBuilder::create(&dir.path().join("db2")).unwrap();
        let st = import_path(&mut b, &dir.path().join("feeds")).unwrap();
        assert_eq!((st.documents, st.records), (1, 1));
        std::fs::write(sub.join("weird.json"), br#"{"hello": 1}"#).unwrap();
        let err = import_path(&mut b, &dir.path().join("feeds"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("weird.json") && err.contains("not an OSV record"),
            "{err}"
        );
    }
}
