//! Reading a Debian binary package (`.deb`): the `ar` archive's control
//! member (the `control` stanza, `md5sums`, `conffiles` and the maintainer
//! scripts dpkg keeps under `info/`) and its data member (the files), with
//! gzip, xz, zstd or no compression. Nothing in it is run; paths are
//! normalised and anything leaving the root is refused, and sizes are capped.

use std::collections::BTreeMap;
use std::io::Read;

use crate::PatchError;
use crate::stanza::Stanza;

/// Largest decompressed data member read (a whole package is held in memory).
pub const MAX_DATA_BYTES: u64 = 2 << 30;
/// Most entries in one package.
pub const MAX_ENTRIES: usize = 500_000;

/// What one data entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File(std::sync::Arc<Vec<u8>>),
    /// A symbolic link.
    Symlink(String),
    /// A hard link to an earlier entry (normalised path).
    Hardlink(String),
}

/// One file of the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path without a leading `/` or `./` (`usr/lib/x86_64-linux-gnu/libssl.so.3`).
    pub path: String,
    /// Kind and contents.
    pub kind: Kind,
    /// Permission bits (and setuid/setgid/sticky).
    pub mode: u32,
    /// Numeric owner as stored.
    pub uid: u64,
    /// Numeric group as stored.
    pub gid: u64,
    /// Owner name as stored (dpkg prefers it when the system knows it).
    pub uname: String,
    /// Group name as stored.
    pub gname: String,
}

/// A package read from its `.deb`.
#[derive(Debug, Clone)]
pub struct Deb {
    /// The `control` stanza.
    pub control: Stanza,
    /// Every other control member by name (`md5sums`, `conffiles`,
    /// `postinst`, `triggers`, `shlibs`...).
    pub members: BTreeMap<String, Vec<u8>>,
    /// The files, in archive order.
    pub entries: Vec<Entry>,
}

impl Deb {
    /// `Package`.
    pub fn name(&self) -> &str {
        self.control.get("Package").unwrap_or("")
    }
    /// `Version`.
    pub fn version(&self) -> &str {
        self.control.get("Version").unwrap_or("")
    }
    /// `Architecture`.
    pub fn arch(&self) -> &str {
        self.control.get("Architecture").unwrap_or("")
    }
    /// The source package's version (`Source: name (version)`, else `Version`).
    pub fn source_version(&self) -> &str {
        self.control
            .get("Source")
            .and_then(|s| s.split_once('('))
            .and_then(|(_, v)| v.strip_suffix(')'))
            .map(str::trim)
            .unwrap_or_else(|| self.version())
    }
}

fn bad(what: &str, why: impl std::fmt::Display) -> PatchError {
    PatchError::Package {
        package: what.to_string(),
        reason: why.to_string(),
    }
}

/// Decompresses a member by the suffix of its name.
fn decompress(name: &str, raw: Vec<u8>, what: &str) -> Result<Vec<u8>, PatchError> {
    let capped = |r: &mut dyn Read| -> Result<Vec<u8>, PatchError> {
        let mut out = Vec::new();
        r.take(MAX_DATA_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| bad(what, format!("{name}: {e}")))?;
        if out.len() as u64 > MAX_DATA_BYTES {
            return Err(bad(what, format!("{name} is over {MAX_DATA_BYTES} bytes")));
        }
        Ok(out)
    };
    if name.ends_with(".gz") {
        capped(&mut flate2::read::GzDecoder::new(raw.as_slice()))
    } else if name.ends_with(".xz") {
        let mut out = Vec::new();
        let mut w = Capped {
            out: &mut out,
            left: MAX_DATA_BYTES,
        };
        lzma_rs::xz_decompress(&mut std::io::BufReader::new(raw.as_slice()), &mut w)
            .map_err(|e| bad(what, format!("{name}: {e}")))?;
        Ok(out)
    } else if name.ends_with(".zst") {
        let mut d = zstd::stream::read::Decoder::new(raw.as_slice())
            .map_err(|e| bad(what, format!("{name}: {e}")))?;
        capped(&mut d)
    } else if name.ends_with(".tar") {
        Ok(raw)
    } else {
        Err(bad(
            what,
            format!("{name}: a compression dpkg does not use"),
        ))
    }
}

/// A writer that refuses more than `left` bytes.
struct Capped<'a> {
    out: &'a mut Vec<u8>,
    left: u64,
}

impl std::io::Write for Capped<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(std::io::Error::other(format!(
                "over {MAX_DATA_BYTES} bytes decompressed"
            )));
        }
        self.left -= buf.len() as u64;
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `./usr/bin/x` → `usr/bin/x`; `None` for the root itself; an error for
/// anything that leaves it.
pub fn normalise(path: &str, what: &str) -> Result<Option<String>, PatchError> {
    let mut parts = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => return Err(bad(what, format!("`{path}` leaves the root"))),
            p => parts.push(p),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

fn tar_entries(data: &[u8], what: &str) -> Result<Vec<Entry>, PatchError> {
    let mut out = Vec::new();
    let mut ar = tar::Archive::new(data);
    for e in ar.entries().map_err(|e| bad(what, e))? {
        let mut e = e.map_err(|e| bad(what, e))?;
        if out.len() >= MAX_ENTRIES {
            return Err(bad(what, format!("more than {MAX_ENTRIES} files")));
        }
        let raw_path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let Some(path) = normalise(&raw_path, what)? else {
            continue;
        };
        let h = e.header();
        let mode = h.mode().map_err(|e| bad(what, e))? & 0o7777;
        let uid = h.uid().unwrap_or(0);
        let gid = h.gid().unwrap_or(0);
        let uname = h.username().ok().flatten().unwrap_or("").to_string();
        let gname = h.groupname().ok().flatten().unwrap_or("").to_string();
        let link = || -> Result<String, PatchError> {
            Ok(e.link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default())
        };
        let kind = match h.entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink(link()?),
            tar::EntryType::Link => {
                let target = link()?;
                match normalise(&target, what)? {
                    Some(t) => Kind::Hardlink(t),
                    None => return Err(bad(what, format!("`{path}` is a hard link to the root"))),
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut buf = Vec::with_capacity(e.size() as usize);
                e.read_to_end(&mut buf).map_err(|e| bad(what, e))?;
                Kind::File(std::sync::Arc::new(buf))
            }
            other => {
                return Err(bad(
                    what,
                    format!("`{path}`: a {other:?} entry, which packages do not ship"),
                ));
            }
        };
        out.push(Entry {
            path,
            kind,
            mode,
            uid,
            gid,
            uname,
            gname,
        });
    }
    Ok(out)
}

/// Reads a `.deb` from its bytes; `what` names it in errors (its file name).
pub fn read(bytes: &[u8], what: &str) -> Result<Deb, PatchError> {
    let mut archive = ar::Archive::new(bytes);
    let mut control = None;
    let mut data = None;
    let mut magic = false;
    while let Some(entry) = archive.next_entry() {
        let mut entry = entry.map_err(|e| bad(what, format!("not an ar archive: {e}")))?;
        let name = String::from_utf8_lossy(entry.header().identifier())
            .trim_end_matches('/')
            .to_string();
        let size = entry.header().size();
        if size > MAX_DATA_BYTES {
            return Err(bad(what, format!("{name} is over {MAX_DATA_BYTES} bytes")));
        }
        let mut raw = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut raw).map_err(|e| bad(what, e))?;
        if name == "debian-binary" {
            if !raw.starts_with(b"2.") {
                return Err(bad(what, "debian-binary is not format 2.x"));
            }
            magic = true;
        } else if name.starts_with("control.tar") {
            control = Some(decompress(&name, raw, what)?);
        } else if name.starts_with("data.tar") {
            data = Some(decompress(&name, raw, what)?);
        }
    }
    if !magic {
        return Err(bad(what, "no debian-binary member: not a .deb"));
    }
    let control = control.ok_or_else(|| bad(what, "no control member"))?;
    let data = data.ok_or_else(|| bad(what, "no data member"))?;
    let mut members = BTreeMap::new();
    let mut stanza = None;
    for e in tar_entries(&control, what)? {
        if let Kind::File(bytes) = e.kind {
            if e.path.contains('/') {
                continue;
            }
            if e.path == "control" {
                let text = String::from_utf8_lossy(&bytes);
                stanza = Some(
                    Stanza::parse_all(&text)
                        .into_iter()
                        .next()
                        .ok_or_else(|| bad(what, "an empty control file"))?,
                );
            } else {
                members.insert(e.path, bytes.to_vec());
            }
        }
    }
    let control = stanza.ok_or_else(|| bad(what, "no control file"))?;
    let entries = tar_entries(&data, what)?;
    let deb = Deb {
        control,
        members,
        entries,
    };
    if deb.name().is_empty() || deb.version().is_empty() {
        return Err(bad(what, "the control file has no Package or Version"));
    }
    Ok(deb)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])], dirs: &[&str], links: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for d in dirs {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            h.as_old_mut().name[..d.len()].copy_from_slice(d.as_bytes());
            h.set_cksum();
            b.append(&h, std::io::empty()).unwrap();
        }
        for (p, c) in files {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_size(c.len() as u64);
            // the name written raw: the tar crate refuses `..`, a hostile package need not
            h.as_old_mut().name[..p.len()].copy_from_slice(p.as_bytes());
            h.set_cksum();
            b.append(&h, *c).unwrap();
        }
        for (p, t) in links {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_mode(0o777);
            h.set_size(0);
            b.append_link(&mut h, p, t).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// A `.deb` as dpkg-deb lays it out: debian-binary, control.tar.gz, data.tar.zst.
    pub(crate) fn make_deb(
        control: &str,
        members: &[(&str, &[u8])],
        files: &[(&str, &[u8])],
        links: &[(&str, &str)],
    ) -> Vec<u8> {
        let mut cfiles: Vec<(&str, &[u8])> = vec![("./control", control.as_bytes())];
        cfiles.extend_from_slice(members);
        let ctl = gz(&tar_of(&cfiles, &["./"], &[]));
        let mut dirs = vec!["./".to_string()];
        for (p, _) in files
            .iter()
            .map(|(p, c)| (*p, *c))
            .chain(links.iter().map(|(p, _)| (*p, &b""[..])))
        {
            let mut acc = String::from(".");
            let parts: Vec<&str> = p.trim_start_matches("./").split('/').collect();
            for d in &parts[..parts.len() - 1] {
                acc = format!("{acc}/{d}");
                if !dirs.contains(&format!("{acc}/")) {
                    dirs.push(format!("{acc}/"));
                }
            }
        }
        let dirs: Vec<&str> = dirs.iter().map(String::as_str).collect();
        let data = zstd::encode_all(tar_of(files, &dirs, links).as_slice(), 3).unwrap();
        let mut out = Vec::new();
        {
            let mut b = ar::Builder::new(&mut out);
            for (name, bytes) in [
                ("debian-binary", b"2.0\n".to_vec()),
                ("control.tar.gz", ctl),
                ("data.tar.zst", data),
            ] {
                let h = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
                b.append(&h, bytes.as_slice()).unwrap();
            }
        }
        out
    }

    #[test]
    fn a_deb_is_read_with_its_control_members_and_files() {
        let deb = make_deb(
            "Package: libfoo1\nSource: foo (1.2-3)\nVersion: 1.2-3+b1\nArchitecture: amd64\n",
            &[
                ("./md5sums", b"abc  usr/lib/libfoo.so.1\n"),
                ("./postinst", b"#!/bin/sh\n"),
            ],
            &[("./usr/lib/libfoo.so.1.0", b"ELF")],
            &[("./usr/lib/libfoo.so.1", "libfoo.so.1.0")],
        );
        let d = read(&deb, "libfoo1.deb").unwrap();
        assert_eq!(
            (d.name(), d.version(), d.arch()),
            ("libfoo1", "1.2-3+b1", "amd64")
        );
        assert_eq!(d.source_version(), "1.2-3");
        assert_eq!(
            d.members.keys().collect::<Vec<_>>(),
            ["md5sums", "postinst"]
        );
        let paths: Vec<&str> = d.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "usr",
                "usr/lib",
                "usr/lib/libfoo.so.1.0",
                "usr/lib/libfoo.so.1"
            ]
        );
        assert_eq!(d.entries[3].kind, Kind::Symlink("libfoo.so.1.0".into()));
    }

    #[test]
    fn a_path_leaving_the_root_is_refused() {
        let deb = make_deb(
            "Package: evil\nVersion: 1\nArchitecture: all\n",
            &[],
            &[("./usr/../../etc/passwd", b"x")],
            &[],
        );
        let e = read(&deb, "evil.deb").unwrap_err().to_string();
        assert!(
            e.contains("evil.deb") && e.contains("leaves the root"),
            "{e}"
        );
    }

    #[test]
    fn something_that_is_not_a_deb_is_named() {
        let e = read(b"!<arch>\nnot really", "x.deb")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.deb"), "{e}");
        let e = read(b"PK\x03\x04", "y.deb").unwrap_err().to_string();
        assert!(
            e.contains("y.deb") && e.contains("not an ar archive"),
            "{e}"
        );
    }
}
