//! A directory tree: every text file, skipping what `.gitignore` (and
//! `.ignore`, `.git/info/exclude`) ignores unless told not to, the `.git`
//! directory itself, binary files (a NUL byte in the first 8 KiB) and files
//! larger than a limit. Dotfiles are scanned: `.env` is where secrets live.
//!
//! The tree may be hostile (a build context a config points anywhere):
//! only regular files are read, opened without following a link and
//! without blocking (a FIFO, a device or a socket is skipped, with a
//! note); directories on kernel pseudo filesystems (`/proc`, `/sys`,
//! devpts, debugfs, cgroup...) are not entered, where a file such as
//! `/proc/kmsg` would block a read forever; and the walk stops between
//! files once its cancel flag is set (the run's SIGINT/SIGTERM).

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::engine::Engine;
use crate::found::{Found, Place};

/// How to walk.
#[derive(Debug, Clone)]
pub struct DirOptions {
    /// Honour `.gitignore` and friends.
    pub gitignore: bool,
    /// Skip files larger than this.
    pub max_file_bytes: u64,
    /// More ignore files to honour, by name (`.dockerignore` for a build
    /// context: what it excludes never reaches the builder).
    pub ignore_files: Vec<String>,
    /// Set from elsewhere to stop the walk between files.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for DirOptions {
    fn default() -> Self {
        DirOptions {
            gitignore: true,
            max_file_bytes: 32 << 20,
            ignore_files: Vec::new(),
            cancel: None,
        }
    }
}

/// What a walk saw.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Scanned {
    /// Files read.
    pub files: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Files skipped (binary, too large, unreadable, not regular), with why.
    pub skipped: Vec<(String, String)>,
    /// The walk was stopped by its cancel flag before the end.
    pub cancelled: bool,
}

/// Kernel pseudo filesystems a scan never enters, by `statfs` magic.
const PSEUDO_FS: &[(u64, &str)] = &[
    (0x9fa0, "proc"),
    (0x6265_6572, "sysfs"),
    (0x1cd1, "devpts"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
    (0x7363_6673, "securityfs"),
    (0x0027_e0eb, "cgroup"),
    (0x6367_7270, "cgroup2"),
    (0xcafe_4a11, "bpf"),
    (0x6165_676c, "pstore"),
    (0x6265_6570, "configfs"),
    (0xde5e_81e4, "efivarfs"),
    (0x4249_4e4d, "binfmt_misc"),
    (0x6573_5543, "fusectl"),
    (0x1980_0202, "mqueue"),
    (0x0187, "autofs"),
    (0x958458f6, "hugetlbfs"),
];

/// The pseudo filesystem `dir` is on, if it is on one.
pub fn pseudo_fs(dir: &Path) -> Option<&'static str> {
    let st = rustix::fs::statfs(dir).ok()?;
    #[allow(clippy::unnecessary_cast)]
    let magic = st.f_type as u64 & 0xffff_ffff;
    PSEUDO_FS.iter().find(|(m, _)| *m == magic).map(|(_, n)| *n)
}

/// Reads a regular file without following a link or blocking on it:
/// `Ok(None)` when it is not a regular file.
fn read_regular(path: &Path, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let st = rustix::fs::fstat(&fd)?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return Ok(None);
    }
    let mut data = Vec::new();
    std::fs::File::from(fd)
        .take(max + 1)
        .read_to_end(&mut data)?;
    Ok(Some(data))
}

/// `true` for content that looks binary.
pub fn is_binary(data: &[u8]) -> bool {
    data.iter().take(8192).any(|b| *b == 0)
}

/// Scans every file under `root`.
pub fn scan(root: &Path, engine: &Engine, opts: &DirOptions) -> (Vec<Found>, Scanned) {
    let mut found = Vec::new();
    let mut seen = Scanned::default();
    let mut walker = ignore::WalkBuilder::new(root);
    for name in &opts.ignore_files {
        walker.add_custom_ignore_filename(name);
    }
    let pseudo = Arc::new(std::sync::Mutex::new(Vec::new()));
    let pseudo_in = pseudo.clone();
    let walker = walker
        .hidden(false)
        .git_ignore(opts.gitignore)
        .git_exclude(opts.gitignore)
        .git_global(false)
        .ignore(opts.gitignore)
        .parents(opts.gitignore)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |e| {
            if e.file_name() == ".git" {
                return false;
            }
            if e.file_type().is_some_and(|t| t.is_dir())
                && let Some(fs) = pseudo_fs(e.path())
            {
                if let Ok(mut p) = pseudo_in.lock() {
                    p.push((e.path().to_path_buf(), fs));
                }
                return false;
            }
            true
        })
        .build();
    let stopped = || {
        opts.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::SeqCst))
    };
    if let Some(fs) = pseudo_fs(root) {
        seen.skipped.push((
            root.display().to_string(),
            format!("on a {fs} pseudo filesystem: not read"),
        ));
        return (found, seen);
    }
    let rel_of = |path: &Path| {
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned();
        if rel.is_empty() {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            rel
        }
    };
    for entry in walker {
        if stopped() {
            seen.cancelled = true;
            break;
        }
        let Ok(entry) = entry else { continue };
        let Some(ft) = entry.file_type() else {
            continue;
        };
        if ft.is_dir() || ft.is_symlink() {
            continue;
        }
        let path = entry.path();
        let rel = rel_of(path);
        if !ft.is_file() {
            seen.skipped
                .push((rel, "not a regular file (device, FIFO or socket)".into()));
            continue;
        }
        if entry
            .metadata()
            .is_ok_and(|m| m.len() > opts.max_file_bytes)
        {
            seen.skipped.push((rel, "larger than the limit".into()));
            continue;
        }
        let data = match read_regular(path, opts.max_file_bytes) {
            Ok(Some(d)) if d.len() as u64 > opts.max_file_bytes => {
                seen.skipped.push((rel, "larger than the limit".into()));
                continue;
            }
            Ok(Some(d)) => d,
            Ok(None) => {
                seen.skipped.push((rel, "not a regular file".into()));
                continue;
            }
            Err(e) => {
                seen.skipped.push((rel, e.to_string()));
                continue;
            }
        };
        if is_binary(&data) {
            continue;
        }
        seen.files += 1;
        seen.bytes += data.len() as u64;
        for hit in engine.scan(&rel, &data) {
            found.push(Found {
                place: Place::File { path: rel.clone() },
                hit,
            });
        }
    }
    let pseudo = std::mem::take(&mut *pseudo.lock().unwrap_or_else(|e| e.into_inner()));
    for (p, fs) in pseudo {
        seen.skipped
            .push((rel_of(&p), format!("on a {fs} pseudo filesystem: not read")));
    }
    (found, seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::builtin().unwrap()
    }

    #[test]
    fn fifos_are_skipped_with_a_note_and_never_opened_for_reading() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.txt"), "hello\n").unwrap();
        let fifo = d.path().join("pipe");
        let st = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(st.success());
        // a reader would block here forever: nothing ever writes to it
        let (_, seen) = scan(d.path(), &engine(), &DirOptions::default());
        assert_eq!(seen.files, 1);
        assert!(
            seen.skipped
                .iter()
                .any(|(p, why)| p == "pipe" && why.contains("not a regular file")),
            "{:?}",
            seen.skipped
        );
    }

    #[test]
    fn a_procfs_root_is_not_read() {
        let (_, seen) = scan(Path::new("/proc/self"), &engine(), &DirOptions::default());
        assert_eq!(seen.files, 0);
        assert!(
            seen.skipped[0].1.contains("proc pseudo filesystem"),
            "{:?}",
            seen.skipped
        );
    }

    #[test]
    fn a_set_cancel_flag_stops_the_walk_before_any_file() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..10 {
            std::fs::write(d.path().join(format!("{i}.txt")), "x\n").unwrap();
        }
        let opts = DirOptions {
            cancel: Some(Arc::new(AtomicBool::new(true))),
            ..Default::default()
        };
        let (_, seen) = scan(d.path(), &engine(), &opts);
        assert!(seen.cancelled);
        assert_eq!(seen.files, 0);
    }
}
