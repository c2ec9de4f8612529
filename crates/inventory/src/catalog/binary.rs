//! Binaries: Go modules from a Go binary's build info (`.go.buildinfo`:
//! main module, dependencies with replacements, and the Go version as
//! `stdlib`), in both layouts: Go ≥ 1.18 writes the two strings inline,
//! older Go writes two pointers to Go string headers (data pointer, length)
//! that are read through the ELF sections holding those addresses. Rust
//! crates come from cargo-auditable's `.dep-v0` section (zlib-compressed
//! JSON).
//!
//! While a layer streams, [`probe`] picks executables and [`extract`] keeps
//! only a short summary (never the binary) in the layer record and cache.

use std::io::Read;

use object::{Object, ObjectSection};
use serde::Deserialize;

use super::{Ctx, purl};
use crate::model::{Package, PackageType};

/// Files worth opening: executables and Java archives.
pub fn probe(path: &str, mode: u32, size: u64) -> bool {
    (mode & 0o111 != 0 || super::java::is_archive(path)) && (64..=1 << 30).contains(&size)
}

const GO_MAGIC: &[u8] = b"\xff Go buildinf:";

fn uvarint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut x = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *data.get(*pos)?;
        *pos += 1;
        x |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(x);
        }
    }
    None
}

fn varint_bytes<'a>(data: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let n = uvarint(data, pos)? as usize;
    let s = data.get(*pos..pos.checked_add(n)?)?;
    *pos += n;
    Some(s)
}

/// Parses `.go.buildinfo`: `(go version, module info text)`.
pub fn go_buildinfo(section: &[u8]) -> Option<(String, String)> {
    if !section.starts_with(GO_MAGIC) || section.len() < 32 {
        return None;
    }
    let flags = section[15];
    if flags & 2 == 0 {
        return None; // pre-1.18 pointer format: see go_buildinfo_pointers
    }
    let mut pos = 32;
    let version = std::str::from_utf8(varint_bytes(section, &mut pos)?)
        .ok()?
        .to_string();
    let mut modinfo = varint_bytes(section, &mut pos)?;
    // module info is framed by 16-byte binary sentinels (not UTF-8)
    if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        modinfo = &modinfo[16..modinfo.len() - 16];
    }
    Some((version, String::from_utf8_lossy(modinfo).into_owned()))
}

/// Reads `len` bytes at virtual address `addr` from the section holding it.
fn read_va<'a>(file: &'a object::File<'_>, addr: u64, len: u64) -> Option<&'a [u8]> {
    if len > 64 << 20 {
        return None;
    }
    file.sections().find_map(|s| {
        let start = s.address();
        let end = start.checked_add(s.size())?;
        if addr < start || addr.checked_add(len)? > end {
            return None;
        }
        let data = s.data().ok()?;
        let off = usize::try_from(addr - start).ok()?;
        data.get(off..off.checked_add(usize::try_from(len).ok()?)?)
    })
}

/// The build info of Go < 1.18: after the 14-byte magic, the pointer size
/// and byte order, then pointers to the version and module-info strings.
fn go_buildinfo_pointers(file: &object::File<'_>, section: &[u8]) -> Option<(String, String)> {
    if !section.starts_with(GO_MAGIC) || section.len() < 32 {
        return None;
    }
    let ptr_size = usize::from(section[14]);
    let big = section[15] & 1 != 0;
    let word = |b: &[u8]| -> Option<u64> {
        Some(match (ptr_size, big) {
            (8, false) => u64::from_le_bytes(b.get(..8)?.try_into().ok()?),
            (8, true) => u64::from_be_bytes(b.get(..8)?.try_into().ok()?),
            (4, false) => u64::from(u32::from_le_bytes(b.get(..4)?.try_into().ok()?)),
            (4, true) => u64::from(u32::from_be_bytes(b.get(..4)?.try_into().ok()?)),
            _ => return None,
        })
    };
    // a Go string header: data pointer, length
    let string = |ptr: u64| -> Option<&[u8]> {
        let header = read_va(file, ptr, 2 * ptr_size as u64)?;
        let data = word(header)?;
        let len = word(header.get(ptr_size..)?)?;
        read_va(file, data, len)
    };
    let version = string(word(section.get(16..)?)?)?;
    let modinfo = string(word(section.get(16 + ptr_size..)?)?).unwrap_or(b"");
    let version = std::str::from_utf8(version).ok()?.to_string();
    let mut modinfo = modinfo;
    if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        modinfo = &modinfo[16..modinfo.len() - 16];
    }
    Some((version, String::from_utf8_lossy(modinfo).into_owned()))
}

/// Summarises an ELF binary: `go\n<version>\n<modinfo>` or `rust-audit\n<json>`.
pub fn extract(path: &str, bytes: &[u8]) -> Option<String> {
    if super::java::is_archive(path) {
        return super::java::extract(path, bytes);
    }
    if !bytes.starts_with(b"\x7fELF") {
        return None;
    }
    let file = object::File::parse(bytes).ok()?;
    if let Some(data) = file
        .section_by_name(".go.buildinfo")
        .and_then(|s| s.data().ok())
    {
        let (v, m) = go_buildinfo(data).or_else(|| go_buildinfo_pointers(&file, data))?;
        return Some(format!("go\n{v}\n{m}"));
    }
    if let Some(data) = file.section_by_name(".dep-v0").and_then(|s| s.data().ok()) {
        let mut json = String::new();
        flate2::read::ZlibDecoder::new(data)
            .take(16 << 20)
            .read_to_string(&mut json)
            .ok()?;
        return Some(format!("rust-audit\n{json}"));
    }
    None
}

#[derive(Deserialize)]
struct Audit {
    packages: Vec<AuditPackage>,
}

#[derive(Deserialize)]
struct AuditPackage {
    name: String,
    version: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    kind: String,
}

fn go_packages(ctx: &Ctx<'_>, path: &str, version: &str, modinfo: &str) -> Vec<Package> {
    let loc = ctx.location(path);
    let owned = ctx.owner(path);
    let pkg = |name: &str, ver: &str| Package {
        kind: PackageType::Go,
        name: name.to_string(),
        version: ver.to_string(),
        source_name: None,
        source_version: None,
        arch: None,
        purl: go_purl(name, ver),
        licenses: vec![],
        locations: vec![loc.clone()],
        owned_by: owned.clone(),
        supplier: None,
        relations: crate::model::Relations::default(),
    };
    let mut out: Vec<Package> = Vec::new();
    for line in modinfo.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["mod", name, ver, ..] => out.push(pkg(name, ver)),
            ["dep", name, ver, ..] => out.push(pkg(name, ver)),
            ["=>", name, ver, ..] => {
                // replaces the dependency just before it
                if let Some(last) = out.last_mut() {
                    *last = pkg(name, ver);
                }
            }
            _ => {}
        }
    }
    // `go1.22.1 X:loopvar`: the experiments are not part of the version
    let version = version.split_whitespace().next().unwrap_or("");
    if let Some(v) = version.strip_prefix("go") {
        let mut std = pkg("stdlib", version);
        std.purl = purl("golang", None, "stdlib", v, &[]);
        out.push(std);
    }
    out
}

/// A Go module's purl: the path up to the last `/` is the namespace, each
/// of its segments encoded on its own (`pkg:golang/github.com/a/b@v1.0.0`).
fn go_purl(module: &str, version: &str) -> String {
    match module.rsplit_once('/') {
        Some((ns, name)) => purl("golang", Some(ns), name, version, &[]),
        None => purl("golang", None, module, version, &[]),
    }
}

pub(super) fn catalog(ctx: &Ctx<'_>) -> Vec<Package> {
    let mut out = Vec::new();
    for (path, node) in ctx.analysis.tree.iter() {
        let Some(summary) = node.extract.as_deref() else {
            continue;
        };
        if let Some(rest) = summary.strip_prefix("go\n") {
            let (version, modinfo) = rest.split_once('\n').unwrap_or((rest, ""));
            out.extend(go_packages(ctx, path, version, modinfo));
        } else if let Some(json) = summary.strip_prefix("java\n") {
            out.extend(super::java::packages(ctx, path, json));
        } else if let Some(json) = summary.strip_prefix("rust-audit\n") {
            let Ok(a) = serde_json::from_str::<Audit>(json) else {
                continue;
            };
            let loc = ctx.location(path);
            for p in a.packages.into_iter().filter(|p| p.kind != "build") {
                out.push(Package {
                    kind: PackageType::Rust,
                    purl: purl("cargo", None, &p.name, &p.version, &[]),
                    source_name: (!p.source.is_empty()).then(|| p.source.clone()),
                    name: p.name,
                    version: p.version,
                    source_version: None,
                    arch: None,
                    licenses: vec![],
                    locations: vec![loc.clone()],
                    owned_by: ctx.owner(path),
                    supplier: None,
                    relations: crate::model::Relations::default(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn elf_with(section: &str, data: &[u8]) -> Vec<u8> {
        use object::write;
        let mut obj = write::Object::new(
            object::BinaryFormat::Elf,
            object::Architecture::X86_64,
            object::Endianness::Little,
        );
        let id = obj.add_section(
            Vec::new(),
            section.as_bytes().to_vec(),
            object::SectionKind::ReadOnlyData,
        );
        obj.append_section_data(id, data, 16);
        obj.write().unwrap()
    }

    fn uv(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut n = n as u64;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    #[test]
    fn go_build_info() {
        // Go frames the module info with these 16-byte binary sentinels
        let head = [
            0x30u8, 0x77, 0xaf, 0x0c, 0x92, 0x74, 0x08, 0x02, 0x41, 0xe1, 0xc1, 0x07, 0xe6, 0xd6,
            0x18, 0xe6,
        ];
        let tail = [
            0xf9u8, 0x32, 0x43, 0x31, 0x86, 0x18, 0x20, 0x72, 0x00, 0x82, 0x42, 0x10, 0x41, 0x16,
            0xd8, 0xf2,
        ];
        let text = "path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\ndep\tgolang.org/x/text\tv0.3.0\th1:x\ndep\tgithub.com/a/b\tv1.0.0\th1:y\n=>\tgithub.com/fork/b\tv1.0.1\th1:z\nbuild\tGOOS=linux\n";
        let modinfo: Vec<u8> = head
            .iter()
            .chain(text.as_bytes())
            .chain(tail.iter())
            .copied()
            .collect();
        let mut sec = GO_MAGIC.to_vec();
        sec.push(8);
        sec.push(2);
        sec.resize(32, 0);
        sec.extend(uv(8));
        sec.extend(b"go1.19.8");
        sec.extend(uv(modinfo.len()));
        sec.extend(&modinfo);
        let elf = elf_with(".go.buildinfo", &sec);
        let s = extract("app", &elf).unwrap();
        assert!(
            s.starts_with("go\ngo1.19.8\npath\texample.com/hello\n"),
            "{s}"
        );
        assert!(
            s.ends_with("GOOS=linux\n") && !s.contains('\u{fffd}'),
            "sentinels stripped: {s:?}"
        );
        let (version, modinfo) = s["go\n".len()..].split_once('\n').unwrap();
        let lines: Vec<&str> = modinfo.lines().collect();
        assert_eq!(version, "go1.19.8");
        assert!(lines.contains(&"=>\tgithub.com/fork/b\tv1.0.1\th1:z"));
    }

    #[test]
    fn go_purls_are_canonical() {
        assert_eq!(
            go_purl("github.com/aquasecurity/test", "v1.0.0"),
            "pkg:golang/github.com/aquasecurity/test@v1.0.0"
        );
        assert_eq!(
            go_purl("golang.org/x/text", "v0.3.0"),
            "pkg:golang/golang.org/x/text@v0.3.0"
        );
        assert_eq!(go_purl("stdlib", "1.22.1"), "pkg:golang/stdlib@1.22.1");
    }

    #[test]
    fn rust_auditable_section() {
        let json = r#"{"packages":[{"name":"app","version":"0.1.0","source":"local","kind":"runtime","root":true},{"name":"itoa","version":"1.0.11","source":"crates.io","kind":"runtime"},{"name":"cc","version":"1.0.0","source":"crates.io","kind":"build"}]}"#;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(json.as_bytes()).unwrap();
        let elf = elf_with(".dep-v0", &z.finish().unwrap());
        assert_eq!(extract("app", &elf).unwrap(), format!("rust-audit\n{json}"));
        assert!(extract("x", b"#!/bin/sh\necho").is_none());
    }
}
