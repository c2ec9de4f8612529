//! The two rpm database formats before SQLite, read without rpm or libdb:
//! both only hold header blobs, which [`super::rpm::parse_header`] reads.
//!
//! - Berkeley DB hash files (`var/lib/rpm/Packages`: RHEL/CentOS ≤ 8,
//!   Amazon Linux 2). Page 0 is the hash metadata (magic `0x061561`, in the
//!   byte order of the machine that wrote it, and the page size); every
//!   hash page holds key/data items, and rpm's headers, too big for a page,
//!   are "off-page" items: the first page and total length of a chain of
//!   overflow pages, each with its used length in the header's
//!   `hf_offset` field.
//! - NDB (`Packages.db`: SLES/openSUSE): a header (`RpmP`, version 0, the
//!   number of slot pages), slots of 16 bytes (`Slot`, package index, block
//!   offset, block count) and, at `offset × 16`, each blob (`BlbS`, package
//!   index, generation, length, the header blob).
//!
//! Every offset and length is checked against the file; a file that is not
//! what it claims is an error, never an empty list. (rpm's Berkeley DB also
//! holds its next instance number under key 0, which is skipped.)

use thiserror::Error;

/// Why a database could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RpmDbError {
    /// Not the format it was expected to be.
    #[error("not a {0} file")]
    NotThisFormat(&'static str),
    /// Encrypted Berkeley DB.
    #[error("the Berkeley DB is encrypted")]
    Encrypted,
    /// A structure points outside the file or is inconsistent.
    #[error("corrupt {0}: {1}")]
    Corrupt(&'static str, String),
}

const BDB_HASH_MAGIC: u32 = 0x0006_1561;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;
const PAGE_HEADER: usize = 26;

/// Reads a u32 in the file's byte order.
#[derive(Clone, Copy)]
struct Endian {
    big: bool,
}

impl Endian {
    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big {
            u32::from_be_bytes(s)
        } else {
            u32::from_le_bytes(s)
        })
    }

    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.big {
            u16::from_be_bytes(s)
        } else {
            u16::from_le_bytes(s)
        })
    }
}

/// Whether the bytes start like a Berkeley DB hash file.
pub fn is_bdb(bytes: &[u8]) -> bool {
    let e = |big| Endian { big }.u32(bytes, 12) == Some(BDB_HASH_MAGIC);
    e(false) || e(true)
}

/// Whether the bytes start like an NDB `Packages.db`.
pub fn is_ndb(bytes: &[u8]) -> bool {
    bytes.starts_with(b"RpmP")
}

/// The header blobs of a Berkeley DB hash `Packages` file.
pub fn read_bdb(file: &[u8]) -> Result<Vec<Vec<u8>>, RpmDbError> {
    const F: &str = "Berkeley DB";
    let corrupt = |what: String| RpmDbError::Corrupt(F, what);
    const LE: Endian = Endian { big: false };
    const BE: Endian = Endian { big: true };
    let e = if LE.u32(file, 12) == Some(BDB_HASH_MAGIC) {
        LE
    } else if BE.u32(file, 12) == Some(BDB_HASH_MAGIC) {
        BE
    } else {
        return Err(RpmDbError::NotThisFormat("Berkeley DB hash"));
    };
    let page_size = e.u32(file, 20).unwrap_or(0) as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(corrupt(format!("page size {page_size}")));
    }
    if file.get(24) != Some(&0) {
        return Err(RpmDbError::Encrypted);
    }
    if file.get(25) != Some(&P_HASHMETA) {
        return Err(corrupt("page 0 is not hash metadata".into()));
    }
    let pages = file.len() / page_size;
    let last = e.u32(file, 32).unwrap_or(0) as usize;
    if last >= pages || !file.len().is_multiple_of(page_size) {
        return Err(corrupt(format!(
            "the file holds {} bytes, the metadata says {} pages of {page_size}",
            file.len(),
            last + 1
        )));
    }
    let page = |n: usize| file.get(n * page_size..(n + 1) * page_size);
    let mut blobs = Vec::new();
    for n in 1..pages {
        let Some(p) = page(n) else { break };
        if !matches!(p[25], P_HASH | P_HASH_UNSORTED) {
            continue;
        }
        let entries = e.u16(p, 20).unwrap_or(0) as usize;
        if PAGE_HEADER + entries * 2 > page_size {
            return Err(corrupt(format!("page {n} claims {entries} entries")));
        }
        // items alternate key, data; item i spans inp[i] up to inp[i-1]
        // (or the page end): they are stored from the end of the page down
        for i in (1..entries).step_by(2) {
            let off = e.u16(p, PAGE_HEADER + i * 2).unwrap_or(0) as usize;
            let end = e.u16(p, PAGE_HEADER + (i - 1) * 2).unwrap_or(0) as usize;
            if off < PAGE_HEADER || off >= page_size || end > page_size || end <= off {
                return Err(corrupt(format!("page {n} item {i} at {off}")));
            }
            // rpm keeps its next instance number under key 0: not a package
            let key = e.u16(p, PAGE_HEADER + (i - 1) * 2).unwrap_or(0) as usize;
            let key_end = if i >= 2 {
                e.u16(p, PAGE_HEADER + (i - 2) * 2).unwrap_or(0) as usize
            } else {
                page_size
            };
            if p.get(key) == Some(&H_KEYDATA) && p.get(key + 1..key_end) == Some(&[0u8; 4][..]) {
                continue;
            }
            match p[off] {
                H_OFFPAGE => {
                    let first = e.u32(p, off + 4).unwrap_or(0) as usize;
                    let total = e.u32(p, off + 8).unwrap_or(0) as usize;
                    blobs.push(overflow_chain(file, page_size, e, first, total)?);
                }
                H_KEYDATA => blobs.push(p[off + 1..end].to_vec()),
                _ => {}
            }
        }
    }
    Ok(blobs)
}

/// The bytes of an overflow chain starting at page `first`, `total` long.
fn overflow_chain(
    file: &[u8],
    page_size: usize,
    e: Endian,
    first: usize,
    total: usize,
) -> Result<Vec<u8>, RpmDbError> {
    let corrupt = |what: String| RpmDbError::Corrupt("Berkeley DB", what);
    let pages = file.len() / page_size;
    if total > file.len() {
        return Err(corrupt(format!("an item of {total} bytes")));
    }
    let mut out = Vec::with_capacity(total);
    let mut n = first;
    // a chain visits each page at most once
    for _ in 0..pages {
        if n == 0 || n >= pages {
            return Err(corrupt(format!("overflow chain points to page {n}")));
        }
        let p = &file[n * page_size..(n + 1) * page_size];
        if p[25] != P_OVERFLOW {
            return Err(corrupt(format!(
                "page {n} in a chain is not an overflow page"
            )));
        }
        let used = e.u16(p, 22).unwrap_or(0) as usize;
        if PAGE_HEADER + used > page_size {
            return Err(corrupt(format!("overflow page {n} uses {used} bytes")));
        }
        out.extend_from_slice(&p[PAGE_HEADER..PAGE_HEADER + used]);
        if out.len() >= total {
            out.truncate(total);
            return Ok(out);
        }
        n = e.u32(p, 16).unwrap_or(0) as usize;
    }
    Err(corrupt("overflow chain does not end".into()))
}

/// The header blobs of an NDB `Packages.db`.
pub fn read_ndb(file: &[u8]) -> Result<Vec<Vec<u8>>, RpmDbError> {
    const F: &str = "NDB";
    const PAGE: usize = 4096;
    const SLOT: usize = 16;
    const BLOCK: usize = 16;
    let corrupt = |what: String| RpmDbError::Corrupt(F, what);
    let le = Endian { big: false };
    if !is_ndb(file) {
        return Err(RpmDbError::NotThisFormat("NDB Packages.db"));
    }
    let version = le.u32(file, 4).unwrap_or(u32::MAX);
    if version != 0 {
        return Err(corrupt(format!("version {version}")));
    }
    let slot_pages = le.u32(file, 12).unwrap_or(0) as usize;
    let slots_end = slot_pages
        .checked_mul(PAGE)
        .filter(|&e| e <= file.len() && e > 0)
        .ok_or_else(|| corrupt(format!("{slot_pages} slot pages")))?;
    let mut blobs = Vec::new();
    // the file header takes the first two slots
    for at in (2 * SLOT..slots_end).step_by(SLOT) {
        if &file[at..at + 4] != b"Slot" {
            return Err(corrupt(format!("slot at {at}")));
        }
        let index = le.u32(file, at + 4).unwrap_or(0);
        if index == 0 {
            continue;
        }
        let offset = le.u32(file, at + 8).unwrap_or(0) as usize * BLOCK;
        let blocks = le.u32(file, at + 12).unwrap_or(0) as usize;
        let end = offset
            .checked_add(blocks * BLOCK)
            .filter(|&e| e <= file.len())
            .ok_or_else(|| corrupt(format!("package {index} lies outside the file")))?;
        let blob = &file[offset..end];
        if !blob.starts_with(b"BlbS") || le.u32(blob, 4) != Some(index) {
            return Err(corrupt(format!("package {index}: no blob at {offset}")));
        }
        let len = le.u32(blob, 12).unwrap_or(0) as usize;
        let data = blob
            .get(16..16 + len)
            .ok_or_else(|| corrupt(format!("package {index}: {len} bytes claimed")))?;
        blobs.push(data.to_vec());
    }
    Ok(blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_bytes_are_refused_not_read_as_empty() {
        assert_eq!(
            read_bdb(b"SQLite format 3\0"),
            Err(RpmDbError::NotThisFormat("Berkeley DB hash"))
        );
        assert_eq!(
            read_ndb(&[0u8; 64]),
            Err(RpmDbError::NotThisFormat("NDB Packages.db"))
        );
        let mut ndb = b"RpmP".to_vec();
        ndb.extend([0u8; 28]);
        assert!(matches!(read_ndb(&ndb), Err(RpmDbError::Corrupt(..))));
    }

    #[test]
    fn a_hand_built_bdb_with_one_overflow_item() {
        let ps = 512usize;
        let mut file = vec![0u8; ps * 3];
        file[12..16].copy_from_slice(&BDB_HASH_MAGIC.to_le_bytes());
        file[20..24].copy_from_slice(&(ps as u32).to_le_bytes());
        file[25] = P_HASHMETA;
        file[32..36].copy_from_slice(&2u32.to_le_bytes());
        // page 1: a hash page with key (inline) and data (off-page)
        let p1 = ps;
        file[p1 + 25] = P_HASH;
        file[p1 + 20..p1 + 22].copy_from_slice(&2u16.to_le_bytes());
        let key_at = ps - 5;
        let data_at = key_at - 12;
        file[p1 + 26..p1 + 28].copy_from_slice(&(key_at as u16).to_le_bytes());
        file[p1 + 28..p1 + 30].copy_from_slice(&(data_at as u16).to_le_bytes());
        file[p1 + key_at] = H_KEYDATA;
        file[p1 + key_at + 1] = 7; // instance 7 (key 0 is rpm's counter)
        file[p1 + data_at] = H_OFFPAGE;
        file[p1 + data_at + 4..p1 + data_at + 8].copy_from_slice(&2u32.to_le_bytes());
        file[p1 + data_at + 8..p1 + data_at + 12].copy_from_slice(&5u32.to_le_bytes());
        // page 2: the overflow page
        let p2 = 2 * ps;
        file[p2 + 25] = P_OVERFLOW;
        file[p2 + 22..p2 + 24].copy_from_slice(&5u16.to_le_bytes());
        file[p2 + 26..p2 + 31].copy_from_slice(b"hello");
        assert_eq!(read_bdb(&file).unwrap(), vec![b"hello".to_vec()]);
        // a chain pointing at itself forever is an error
        file[p2 + 22..p2 + 24].copy_from_slice(&1u16.to_le_bytes());
        file[p2 + 16..p2 + 20].copy_from_slice(&2u32.to_le_bytes());
        assert!(matches!(read_bdb(&file), Err(RpmDbError::Corrupt(..))));
        // cut short: fewer pages than the metadata says
        assert!(matches!(
            read_bdb(&file[..ps * 2]),
            Err(RpmDbError::Corrupt(..))
        ));
    }
}
