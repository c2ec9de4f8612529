//! The squashed filesystem of an image: layers applied in order with OCI and
//! Docker whiteouts, each path remembering the layer it came from. Links are
//! resolved inside the tree only (never on the host), clamped to the root.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::layer::{EntryKind, LayerRecord};

/// A file in the squashed view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Index of the layer that last wrote it.
    pub layer: usize,
    /// Kind.
    pub kind: EntryKind,
    /// Size.
    pub size: u64,
    /// Mode bits.
    pub mode: u32,
    /// Captured contents.
    pub content: Option<Arc<Vec<u8>>>,
    /// An extractor's summary of the file.
    pub extract: Option<Arc<str>>,
}

/// Most symbolic links followed in one lookup (the kernel's limit).
pub const MAX_HOPS: usize = 40;
/// Longest path or link target, in bytes (the kernel's `PATH_MAX`).
pub const MAX_PATH: usize = 4096;

/// The squashed view.
#[derive(Debug, Default, Clone)]
pub struct FileTree {
    files: BTreeMap<String, Node>,
}

fn remove_subtree(files: &mut BTreeMap<String, Node>, dir: &str, keep_layer: Option<usize>) {
    let prefix = format!("{dir}/");
    let victims: Vec<String> = if dir.is_empty() {
        files.keys().cloned().collect()
    } else {
        files
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect()
    };
    for k in victims {
        if keep_layer.is_none_or(|l| files[&k].layer != l) {
            files.remove(&k);
        }
    }
}

impl FileTree {
    /// Applies a layer on top.
    pub fn apply(&mut self, layer: usize, rec: &LayerRecord) {
        // opaque directories hide lower layers' contents, not this layer's
        for e in rec.entries.iter().filter(|e| e.kind == EntryKind::Opaque) {
            remove_subtree(&mut self.files, &e.path, Some(layer));
        }
        for e in &rec.entries {
            match &e.kind {
                EntryKind::Opaque => {}
                EntryKind::Whiteout => {
                    self.files.remove(&e.path);
                    remove_subtree(&mut self.files, &e.path, None);
                }
                kind => {
                    // a non-directory replaces a directory's whole subtree
                    if *kind != EntryKind::Dir
                        && self
                            .files
                            .get(&e.path)
                            .is_some_and(|n| n.kind == EntryKind::Dir)
                    {
                        remove_subtree(&mut self.files, &e.path, None);
                    }
                    let (content, extract) = match kind {
                        EntryKind::Hardlink { target } => self
                            .files
                            .get(target)
                            .map_or((None, None), |n| (n.content.clone(), n.extract.clone())),
                        _ => (
                            e.content.clone().map(Arc::new),
                            e.extract.as_deref().map(Arc::from),
                        ),
                    };
                    self.files.insert(
                        e.path.clone(),
                        Node {
                            layer,
                            kind: kind.clone(),
                            size: e.size,
                            mode: e.mode,
                            content,
                            extract,
                        },
                    );
                }
            }
        }
    }

    /// Builds a tree from layers in order.
    pub fn from_layers<'a>(layers: impl IntoIterator<Item = &'a LayerRecord>) -> Self {
        let mut t = FileTree::default();
        for (i, r) in layers.into_iter().enumerate() {
            t.apply(i, r);
        }
        t
    }

    /// The node at a path, without following links.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.files.get(path.trim_start_matches('/'))
    }

    /// Resolves symlinks (in every path component) inside the tree; absolute
    /// targets are relative to the image root and `..` stops at the root.
    /// Like the kernel: at most [`MAX_HOPS`] links, and a link target or a
    /// resolved path longer than [`MAX_PATH`] bytes fails; the work is linear
    /// in what is walked.
    pub fn resolve(&self, path: &str) -> Option<String> {
        if path.len() > MAX_PATH {
            return None;
        }
        let mut pending: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).rev().collect();
        // The resolved prefix, and where each of its components starts.
        let mut cur = String::new();
        let mut starts: Vec<usize> = Vec::new();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            match part {
                "." => continue,
                ".." => {
                    if let Some(s) = starts.pop() {
                        cur.truncate(s.saturating_sub(1));
                    }
                    continue;
                }
                _ => {}
            }
            starts.push(if cur.is_empty() { 0 } else { cur.len() + 1 });
            if !cur.is_empty() {
                cur.push('/');
            }
            cur.push_str(part);
            if cur.len() > MAX_PATH {
                return None;
            }
            if let Some(Node {
                kind: EntryKind::Symlink { target },
                ..
            }) = self.files.get(cur.as_str())
            {
                hops += 1;
                if hops > MAX_HOPS || target.len() > MAX_PATH {
                    return None;
                }
                let s = starts.pop().unwrap_or(0);
                cur.truncate(s.saturating_sub(1));
                if target.starts_with('/') {
                    cur.clear();
                    starts.clear();
                }
                pending.extend(target.split('/').filter(|s| !s.is_empty()).rev());
            }
        }
        Some(cur)
    }

    /// Contents of a file, following links.
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        let p = self.resolve(path)?;
        self.files
            .get(&p)
            .and_then(|n| n.content.as_deref())
            .map(Vec::as_slice)
    }

    /// All paths with their nodes.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.files.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Entries directly or indirectly under `dir`.
    pub fn under<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a str, &'a Node)> + 'a {
        let prefix = format!("{}/", dir.trim_matches('/'));
        self.files
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Number of paths.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::Entry;

    fn file(p: &str, c: &str) -> Entry {
        Entry {
            path: p.into(),
            kind: EntryKind::File,
            size: c.len() as u64,
            mode: 0o644,
            content: Some(c.as_bytes().to_vec()),
            extract: None,
        }
    }
    fn special(p: &str, kind: EntryKind) -> Entry {
        Entry {
            path: p.into(),
            kind,
            size: 0,
            mode: 0,
            content: None,
            extract: None,
        }
    }

    #[test]
    fn whiteouts_opaque_and_layer_origin() {
        let l0 = LayerRecord {
            entries: vec![
                file("etc/a", "1"),
                file("etc/b", "2"),
                file("var/lib/x/1", "x"),
                file("var/lib/x/2", "y"),
            ],
            notes: vec![],
        };
        let l1 = LayerRecord {
            entries: vec![
                special("etc/a", EntryKind::Whiteout),
                special("var/lib/x", EntryKind::Opaque),
                file("var/lib/x/3", "z"),
                file("etc/b", "22"),
            ],
            notes: vec![],
        };
        let t = FileTree::from_layers([&l0, &l1]);
        assert!(t.get("etc/a").is_none());
        assert_eq!(t.read("etc/b"), Some(&b"22"[..]));
        assert_eq!(t.get("etc/b").unwrap().layer, 1);
        assert!(t.get("var/lib/x/1").is_none() && t.get("var/lib/x/2").is_none());
        assert_eq!(t.read("var/lib/x/3"), Some(&b"z"[..]));
    }

    #[test]
    fn symlinks_resolve_inside_the_root_only() {
        let l = LayerRecord {
            entries: vec![
                file("etc/os-release", "ID=x"),
                special(
                    "usr/lib/os-release",
                    EntryKind::Symlink {
                        target: "../../etc/os-release".into(),
                    },
                ),
                special(
                    "escape",
                    EntryKind::Symlink {
                        target: "../../../../etc/os-release".into(),
                    },
                ),
                special(
                    "abs",
                    EntryKind::Symlink {
                        target: "/etc/os-release".into(),
                    },
                ),
                special(
                    "loop",
                    EntryKind::Symlink {
                        target: "loop".into(),
                    },
                ),
                special(
                    "lib",
                    EntryKind::Symlink {
                        target: "usr/lib".into(),
                    },
                ),
            ],
            notes: vec![],
        };
        let t = FileTree::from_layers([&l]);
        assert_eq!(t.read("usr/lib/os-release"), Some(&b"ID=x"[..]));
        // `..` above the root stays at the image root, never the host's
        assert_eq!(t.resolve("escape").as_deref(), Some("etc/os-release"));
        assert_eq!(t.read("abs"), Some(&b"ID=x"[..]));
        assert_eq!(t.read("lib/os-release"), Some(&b"ID=x"[..]));
        assert_eq!(t.resolve("loop"), None);
    }
}
