//! rpm: every database format rpm has used, under `var/lib/rpm/` or
//! `usr/lib/sysimage/rpm/`: `rpmdb.sqlite` (rpm ≥ 4.16), NDB `Packages.db`
//! (SLES/openSUSE) and Berkeley DB `Packages` (RHEL/CentOS ≤ 8, Amazon Linux
//! 2), the last two read by [`super::rpmdb`]. Each record is an rpm header
//! blob: an index of `(tag, type, offset, count)` entries over a data store.
//! The source package comes from SOURCERPM. Azure Linux/Mariner distroless
//! images have no database, only `var/lib/rpmmanifest/container-manifest-2`
//! (one tab-separated `rpm -qa` line per package). A database that is present
//! but cannot be read is a note on the inventory, never an empty list.

use std::collections::HashMap;

use super::{Ctx, purl};
use crate::model::{Distro, Package, PackageType};

/// Every rpm database path, newest format first.
const ALL_DBS: &[(&str, Format)] = &[
    ("usr/lib/sysimage/rpm/rpmdb.sqlite", Format::Sqlite),
    ("var/lib/rpm/rpmdb.sqlite", Format::Sqlite),
    ("usr/lib/sysimage/rpm/Packages.db", Format::Ndb),
    ("var/lib/rpm/Packages.db", Format::Ndb),
    ("usr/lib/sysimage/rpm/Packages", Format::Bdb),
    ("var/lib/rpm/Packages", Format::Bdb),
];

/// The package list of Azure Linux/Mariner distroless images.
const MANIFEST: &str = "var/lib/rpmmanifest/container-manifest-2";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Sqlite,
    Ndb,
    Bdb,
}

const NAME: u32 = 1000;
const VERSION: u32 = 1001;
const RELEASE: u32 = 1002;
const EPOCH: u32 = 1003;
const LICENSE: u32 = 1014;
const ARCH: u32 = 1022;
const SOURCERPM: u32 = 1044;
const VENDOR: u32 = 1011;
const PACKAGER: u32 = 1015;
const PROVIDENAME: u32 = 1047;
const REQUIRENAME: u32 = 1049;

const T_INT32: u32 = 4;
const T_STRING: u32 = 6;
const T_STRING_ARRAY: u32 = 8;
const T_I18NSTRING: u32 = 9;

/// The fields we read from a header.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// NAME.
    pub name: String,
    /// VERSION.
    pub version: String,
    /// RELEASE.
    pub release: String,
    /// EPOCH.
    pub epoch: Option<u32>,
    /// ARCH.
    pub arch: Option<String>,
    /// LICENSE.
    pub license: Option<String>,
    /// SOURCERPM.
    pub source_rpm: Option<String>,
    /// VENDOR, else PACKAGER.
    pub vendor: Option<String>,
    /// REQUIRENAME.
    pub requires: Vec<String>,
    /// PROVIDENAME.
    pub provides: Vec<String>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parses a header blob as stored in rpmdb.sqlite; `None` when malformed.
pub fn parse_header(blob: &[u8]) -> Option<Header> {
    let il = be32(blob, 0)? as usize;
    let dl = be32(blob, 4)? as usize;
    let index_end = 8usize.checked_add(il.checked_mul(16)?)?;
    let data = blob.get(index_end..index_end.checked_add(dl)?)?;
    let mut h = Header::default();
    for i in 0..il {
        let e = 8 + i * 16;
        let (tag, ty, off, count) = (
            be32(blob, e)?,
            be32(blob, e + 4)?,
            be32(blob, e + 8)? as usize,
            be32(blob, e + 12)? as usize,
        );
        let strings = || -> Vec<String> {
            let mut out = Vec::new();
            let mut rest = data.get(off..).unwrap_or(&[]);
            for _ in 0..count.min(65536) {
                let Some(end) = rest.iter().position(|&b| b == 0) else {
                    break;
                };
                out.push(String::from_utf8_lossy(&rest[..end]).into_owned());
                rest = &rest[end + 1..];
            }
            out
        };
        let string = || -> Option<String> {
            let s = data.get(off..)?;
            let end = s.iter().position(|&b| b == 0)?;
            Some(String::from_utf8_lossy(&s[..end]).into_owned())
        };
        match (tag, ty) {
            (NAME, T_STRING) => h.name = string()?,
            (VERSION, T_STRING) => h.version = string()?,
            (RELEASE, T_STRING) => h.release = string()?,
            (EPOCH, T_INT32) => h.epoch = be32(data, off),
            (ARCH, T_STRING) => h.arch = string(),
            (LICENSE, T_STRING | T_I18NSTRING) => h.license = string(),
            (SOURCERPM, T_STRING) => h.source_rpm = string(),
            (VENDOR, T_STRING) => h.vendor = string(),
            (PACKAGER, T_STRING) if h.vendor.is_none() => h.vendor = string(),
            (REQUIRENAME, T_STRING_ARRAY) => h.requires = strings(),
            (PROVIDENAME, T_STRING_ARRAY) => h.provides = strings(),
            _ => {}
        }
    }
    (!h.name.is_empty()).then_some(h)
}

/// `openssl-3.0.7-27.el9.src.rpm` → (`openssl`, `3.0.7-27.el9`).
pub fn split_source_rpm(s: &str) -> Option<(String, String)> {
    let stem = s.strip_suffix(".rpm")?;
    let stem = stem.rsplit_once('.').map_or(stem, |(a, _)| a); // drop .src / .nosrc
    let (rest, release) = stem.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    Some((name.to_string(), format!("{version}-{release}")))
}

/// The header blobs of a sqlite database.
fn sqlite_blobs(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let tmp = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    std::fs::write(tmp.path(), bytes).map_err(|e| e.to_string())?;
    let conn = rusqlite::Connection::open_with_flags(
        tmp.path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .map_err(|e| e.to_string())?;
    let mut stmt = conn
        .prepare("SELECT blob FROM Packages")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .map_err(|e| e.to_string())?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

/// The headers of a database, or why it cannot be read. Headers that do
/// not parse are counted in the second value.
fn read_db(bytes: &[u8], format: Format) -> Result<(Vec<Header>, usize), String> {
    let blobs = match format {
        Format::Sqlite => sqlite_blobs(bytes)?,
        Format::Ndb => super::rpmdb::read_ndb(bytes).map_err(|e| e.to_string())?,
        Format::Bdb => super::rpmdb::read_bdb(bytes).map_err(|e| e.to_string())?,
    };
    let total = blobs.len();
    let headers: Vec<Header> = blobs.iter().filter_map(|b| parse_header(b)).collect();
    let bad = total - headers.len();
    Ok((headers, bad))
}

/// One line of `container-manifest-2`: NAME, VERSION-RELEASE, install
/// time, build time, VENDOR, EPOCH, SIZE, ARCH, EPOCHNUM, SOURCERPM.
fn manifest_line(line: &str) -> Option<Header> {
    let f: Vec<&str> = line.split('\t').collect();
    if f.len() < 10 {
        return None;
    }
    let (version, release) = f[1].rsplit_once('-')?;
    let epoch = f[8].parse::<u32>().ok().filter(|&e| e > 0);
    Some(Header {
        name: f[0].to_string(),
        version: version.to_string(),
        release: release.to_string(),
        epoch,
        arch: Some(f[7].to_string()).filter(|a| !a.is_empty()),
        license: None,
        source_rpm: Some(f[9].to_string()).filter(|s| s.ends_with(".rpm")),
        vendor: Some(f[4].to_string()).filter(|v| !v.is_empty() && v != "(none)"),
        requires: Vec::new(),
        provides: Vec::new(),
    })
}

pub(super) fn catalog(
    ctx: &Ctx<'_>,
    distro: Option<&Distro>,
) -> (Vec<Package>, HashMap<String, String>) {
    let tree = &ctx.analysis.tree;
    let found = ALL_DBS
        .iter()
        .find_map(|(p, f)| tree.read(p).map(|b| (*p, b, Some(*f))))
        .or_else(|| tree.read(MANIFEST).map(|b| (MANIFEST, b, None)));
    let Some((path, bytes, format)) = found else {
        return (vec![], HashMap::new());
    };
    let headers = match format {
        Some(format) => match read_db(bytes, format) {
            Ok((headers, bad)) => {
                if bad > 0 {
                    ctx.note(
                        path,
                        format!(
                            "{bad} of {} package headers in the rpm database could not be read; those packages are missing",
                            headers.len() + bad
                        ),
                    );
                }
                headers
            }
            Err(e) => {
                ctx.note(
                    path,
                    format!("the rpm database cannot be read ({e}); its packages are missing"),
                );
                return (vec![], HashMap::new());
            }
        },
        None => {
            let text = String::from_utf8_lossy(bytes);
            let mut headers = Vec::new();
            for (n, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match manifest_line(line) {
                    Some(h) => headers.push(h),
                    None => ctx.note(
                        path,
                        format!("line {} is not a package line; it was skipped", n + 1),
                    ),
                }
            }
            headers
        }
    };
    let location = ctx.location(path);
    // no distro, no namespace: which vendor's advisories apply is not known
    let (ns, distro_q) = match distro {
        Some(d) if d.version_id.is_empty() => (Some(d.id.clone()), String::new()),
        Some(d) => (Some(d.id.clone()), format!("{}-{}", d.id, d.version_id)),
        None => (None, String::new()),
    };
    let mut out = Vec::new();
    for h in headers {
        if h.name == "gpg-pubkey" {
            continue;
        }
        let evr = match h.epoch {
            Some(e) if e > 0 => format!("{e}:{}-{}", h.version, h.release),
            _ => format!("{}-{}", h.version, h.release),
        };
        let (source_name, source_version) = h
            .source_rpm
            .as_deref()
            .and_then(split_source_rpm)
            .unwrap_or_else(|| (h.name.clone(), evr.clone()));
        let epoch = h.epoch.map(|e| e.to_string()).unwrap_or_default();
        out.push(Package {
            kind: PackageType::Rpm,
            purl: purl(
                "rpm",
                ns.as_deref(),
                &h.name,
                &format!("{}-{}", h.version, h.release),
                &[
                    ("arch", h.arch.as_deref().unwrap_or("")),
                    ("distro", &distro_q),
                    ("epoch", &epoch),
                ],
            ),
            name: h.name,
            version: evr,
            source_name: Some(source_name),
            source_version: Some(source_version),
            arch: h.arch,
            licenses: h.license.into_iter().collect(),
            locations: vec![location.clone()],
            owned_by: None,
            supplier: h.vendor,
            relations: crate::model::Relations {
                // file paths and rpmlib() features are not packages
                wants: h
                    .requires
                    .into_iter()
                    .filter(|r| !r.starts_with('/') && !r.starts_with("rpmlib("))
                    .map(|r| vec![r])
                    .collect(),
                provides: h.provides,
                depends_on: Vec::new(),
            },
        });
    }
    (out, HashMap::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a header blob the way rpm stores it.
    pub(crate) fn header(fields: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, ty, value) in fields {
            if *ty == T_INT32 {
                while data.len() % 4 != 0 {
                    data.push(0);
                }
            }
            index.extend(tag.to_be_bytes());
            index.extend(ty.to_be_bytes());
            index.extend((data.len() as u32).to_be_bytes());
            index.extend(1u32.to_be_bytes());
            data.extend_from_slice(value);
        }
        let mut blob = Vec::new();
        blob.extend((fields.len() as u32).to_be_bytes());
        blob.extend((data.len() as u32).to_be_bytes());
        blob.extend(index);
        blob.extend(data);
        blob
    }

    #[test]
    fn parses_headers_from_a_sqlite_db() {
        let blob = header(&[
            (NAME, T_STRING, b"openssl-libs\0"),
            (VERSION, T_STRING, b"3.0.7\0"),
            (RELEASE, T_STRING, b"27.el9\0"),
            (EPOCH, T_INT32, &1u32.to_be_bytes()),
            (ARCH, T_STRING, b"x86_64\0"),
            (LICENSE, T_STRING, b"ASL 2.0\0"),
            (SOURCERPM, T_STRING, b"openssl-3.0.7-27.el9.src.rpm\0"),
        ]);
        let h = parse_header(&blob).unwrap();
        assert_eq!(
            (
                h.name.as_str(),
                h.version.as_str(),
                h.release.as_str(),
                h.epoch
            ),
            ("openssl-libs", "3.0.7", "27.el9", Some(1))
        );
        assert_eq!(
            split_source_rpm(h.source_rpm.as_deref().unwrap()),
            Some(("openssl".into(), "3.0.7-27.el9".into()))
        );
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("rpmdb.sqlite");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
        )
        .unwrap();
        conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [&blob])
            .unwrap();
        conn.execute(
            "INSERT INTO Packages (blob) VALUES (?1)",
            [&b"\x00\x00"[..]],
        )
        .unwrap();
        drop(conn);
        let (got, bad) = read_db(&std::fs::read(&db).unwrap(), Format::Sqlite).unwrap();
        assert_eq!((got.len(), bad), (1, 1), "malformed headers are counted");
        assert!(read_db(b"not a database", Format::Sqlite).is_err());
        assert_eq!(got[0].license.as_deref(), Some("ASL 2.0"));
        assert!(parse_header(&blob[..20]).is_none());
    }
}
