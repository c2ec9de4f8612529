//! What the dynamic loader needs to run an ELF file: its interpreter
//! (`PT_INTERP`), the libraries it names (`DT_NEEDED`), and where it asks
//! to find them (`DT_RPATH`, `DT_RUNPATH`), with its class and machine so a
//! library of another architecture is never taken for it.

use object::elf;
use object::read::elf::{Dyn as _, FileHeader, ProgramHeader as _};

/// The loader-relevant facts of one ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    /// 64-bit.
    pub is_64: bool,
    /// `e_machine`.
    pub machine: u16,
    /// `PT_INTERP`, e.g. `/lib64/ld-linux-x86-64.so.2`.
    pub interpreter: Option<String>,
    /// `DT_NEEDED`, in order.
    pub needed: Vec<String>,
    /// `DT_RPATH` entries (colon-separated in the file).
    pub rpath: Vec<String>,
    /// `DT_RUNPATH` entries.
    pub runpath: Vec<String>,
}

impl ElfInfo {
    /// Needs nothing but itself (no interpreter, no libraries).
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none() && self.needed.is_empty()
    }

    /// Whether a library with `other`'s class and machine can be loaded into
    /// this file.
    pub fn compatible(&self, other: &ElfInfo) -> bool {
        self.is_64 == other.is_64 && self.machine == other.machine
    }
}

/// `true` when `data` starts with the ELF magic.
pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

/// Parses an ELF file; `Ok(None)` when it is not ELF at all, `Err` with a
/// reason when it claims to be ELF and is malformed.
pub fn parse(data: &[u8]) -> Result<Option<ElfInfo>, String> {
    if !is_elf(data) {
        return Ok(None);
    }
    let r = match data.get(4) {
        Some(1) => read::<elf::FileHeader32<object::Endianness>>(data, false),
        Some(2) => read::<elf::FileHeader64<object::Endianness>>(data, true),
        _ => return Err("unknown ELF class".into()),
    };
    r.map(Some).map_err(|e| e.to_string())
}

/// A dynamic entry whose string offset is outside the string table.
#[derive(Debug)]
struct BadString;

enum ReadError {
    Object(object::read::Error),
    BadString,
}

impl From<object::read::Error> for ReadError {
    fn from(e: object::read::Error) -> Self {
        ReadError::Object(e)
    }
}

impl From<BadString> for ReadError {
    fn from(_: BadString) -> Self {
        ReadError::BadString
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Object(e) => e.fmt(f),
            ReadError::BadString => {
                f.write_str("a dynamic entry's string is outside the string table")
            }
        }
    }
}

fn read<H: FileHeader<Endian = object::Endianness>>(
    data: &[u8],
    is_64: bool,
) -> Result<ElfInfo, ReadError> {
    let header = H::parse(data)?;
    let endian = header.endian()?;
    let mut info = ElfInfo {
        is_64,
        machine: header.e_machine(endian).0,
        interpreter: None,
        needed: Vec::new(),
        rpath: Vec::new(),
        runpath: Vec::new(),
    };
    for ph in header.program_headers(endian, data)? {
        if let Some(i) = ph.interpreter(endian, data)? {
            let i = i.strip_suffix(&[0]).unwrap_or(i);
            info.interpreter = Some(String::from_utf8_lossy(i).into_owned());
        }
    }
    let sections = header.sections(endian, data)?;
    if let Some((dynamics, link)) = sections.dynamic(endian, data)? {
        let strings = sections.strings(endian, data, link)?;
        for d in dynamics {
            let tag = d.d_tag(endian);
            if tag == elf::DT_NULL {
                break;
            }
            let text = || -> Result<String, BadString> {
                let off: u64 = d.d_val(endian).into();
                let s = strings.get(off as u32).map_err(|()| BadString)?;
                Ok(String::from_utf8_lossy(s).into_owned())
            };
            if tag == elf::DT_NEEDED {
                info.needed.push(text()?);
            } else if tag == elf::DT_RPATH {
                info.rpath.extend(
                    text()?
                        .split(':')
                        .filter(|s| !s.is_empty())
                        .map(String::from),
                );
            } else if tag == elf::DT_RUNPATH {
                info.runpath.extend(
                    text()?
                        .split(':')
                        .filter(|s| !s.is_empty())
                        .map(String::from),
                );
            }
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_is_read_like_the_loader_reads_it() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let info = parse(&me).unwrap().unwrap();
        assert!(info.is_64);
        assert!(
            info.interpreter
                .as_deref()
                .is_some_and(|i| i.contains("ld-")),
            "{info:?}"
        );
        assert!(
            info.needed.iter().any(|n| n.starts_with("libc.so")),
            "{info:?}"
        );
    }

    #[test]
    fn not_elf_and_broken_elf_are_told_apart() {
        assert_eq!(parse(b"#!/bin/sh\necho hi\n").unwrap(), None);
        assert!(parse(b"\x7fELF\x02\x01\x01garbage").is_err());
        assert!(parse(b"\x7fELF\x09").is_err());
    }
}
