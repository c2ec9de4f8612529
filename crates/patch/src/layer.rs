//! The patch layer: what it adds or replaces and what it deletes, written
//! as one tar (paths in order so parents come first, mtime 0 and
//! deterministic headers, so the same packages on the same image give the
//! same diffID; deletions as OCI whiteouts).

use std::collections::BTreeMap;
use std::sync::Arc;

/// One path of the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A directory the image does not have yet.
    Dir {
        /// Mode.
        mode: u32,
        /// Owner.
        owner: (u64, u64),
    },
    /// A file, new or replacing the image's.
    File {
        /// Mode.
        mode: u32,
        /// Owner.
        owner: (u64, u64),
        /// Contents.
        data: Arc<Vec<u8>>,
    },
    /// A symbolic link.
    Symlink {
        /// Target as the package ships it.
        target: String,
        /// Owner.
        owner: (u64, u64),
    },
    /// Deleted from the image (`.wh.NAME`).
    Whiteout,
}

/// Every path the patch layer writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layer {
    /// Path (no leading `/`) → what is there.
    pub items: BTreeMap<String, Item>,
}

fn header(kind: tar::EntryType, mode: u32, size: u64, owner: (u64, u64)) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(owner.0);
    h.set_gid(owner.1);
    h.set_mtime(0);
    h
}

impl Layer {
    /// Files and links written (not directories or deletions).
    pub fn files(&self) -> usize {
        self.items
            .values()
            .filter(|i| matches!(i, Item::File { .. } | Item::Symlink { .. }))
            .count()
    }

    /// Paths deleted.
    pub fn deleted(&self) -> usize {
        self.items
            .values()
            .filter(|i| matches!(i, Item::Whiteout))
            .count()
    }

    /// The layer as an uncompressed tar.
    pub fn tar(&self) -> std::io::Result<Vec<u8>> {
        let mut b = tar::Builder::new(Vec::new());
        b.mode(tar::HeaderMode::Deterministic);
        for (path, item) in &self.items {
            match item {
                Item::Dir { mode, owner } => {
                    let mut h = header(tar::EntryType::Directory, *mode, 0, *owner);
                    b.append_data(&mut h, format!("{path}/"), std::io::empty())?;
                }
                Item::File { mode, owner, data } => {
                    let mut h = header(tar::EntryType::Regular, *mode, data.len() as u64, *owner);
                    b.append_data(&mut h, path, data.as_slice())?;
                }
                Item::Symlink { target, owner } => {
                    let mut h = header(tar::EntryType::Symlink, 0o777, 0, *owner);
                    b.append_link(&mut h, path, target)?;
                }
                Item::Whiteout => {
                    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
                    let wh = if dir.is_empty() {
                        format!(".wh.{name}")
                    } else {
                        format!("{dir}/.wh.{name}")
                    };
                    let mut h = header(tar::EntryType::Regular, 0o644, 0, (0, 0));
                    b.append_data(&mut h, wh, std::io::empty())?;
                }
            }
        }
        b.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tar_has_parents_first_whiteouts_and_no_times() {
        let mut l = Layer::default();
        l.items.insert(
            "usr/lib/x/libfoo.so.1".into(),
            Item::File {
                mode: 0o644,
                owner: (0, 0),
                data: Arc::new(b"new".to_vec()),
            },
        );
        l.items.insert(
            "usr/lib/x".into(),
            Item::Dir {
                mode: 0o755,
                owner: (0, 0),
            },
        );
        l.items.insert("usr/lib/old.so".into(), Item::Whiteout);
        let tar = l.tar().unwrap();
        assert_eq!(
            l.tar().unwrap(),
            tar,
            "the same layer twice is the same bytes"
        );
        let mut a = tar::Archive::new(tar.as_slice());
        let got: Vec<(String, u64)> = a
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mtime().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("usr/lib/.wh.old.so".to_string(), 0),
                ("usr/lib/x/".to_string(), 0),
                ("usr/lib/x/libfoo.so.1".to_string(), 0)
            ]
        );
        assert_eq!((l.files(), l.deleted()), (1, 1));
    }
}
