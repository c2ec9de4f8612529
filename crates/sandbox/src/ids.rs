//! Whose files a sandbox's root holds, and where that root lives.
//!
//! Run by root, a sandbox maps its ids 0..100,000,000 to host ids from
//! [`HOST_ID_BASE`] on: bubblewrap itself is started as the host id of the
//! image's user, so the sandboxed process has no host identity at all (not
//! root's, not a login's), and the root is written with each entry's owner
//! shifted the same way, so inside it the image's owners are what the
//! image says. Run by another user, the only id a user namespace can map
//! is that user's own: the root is that user's and the sandbox's user maps
//! to it.
//!
//! [`Scratch`] is the private directory a root is prepared in: under the
//! system temp directory (every ancestor must let others through, as
//! bubblewrap resolves the root as the sandbox's host id), mode 0711, with
//! a random name; removed with everything in it when dropped.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::{SandboxError, io};

/// The host id the sandbox's id 0 is.
pub const HOST_ID_BASE: u32 = 2_000_000_000;
/// Ids the sandbox maps: 0 to this, exclusive.
pub const MAX_ID: u32 = 100_000_000;

/// How the sandbox's ids land on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    /// Root runs it: shifted by [`HOST_ID_BASE`].
    shifted: bool,
    /// The caller's own ids (when not root).
    own: (u32, u32),
}

impl Ids {
    /// For this process.
    pub fn current() -> Ids {
        let uid = rustix::process::geteuid().as_raw();
        let gid = rustix::process::getegid().as_raw();
        Ids {
            shifted: uid == 0,
            own: (uid, gid),
        }
    }

    /// Whether ids are shifted (the caller is root).
    pub fn shifted(&self) -> bool {
        self.shifted
    }

    fn map(&self, id: u32, own: u32) -> Result<u32, SandboxError> {
        if !self.shifted {
            return Ok(own);
        }
        if id >= MAX_ID {
            return Err(SandboxError::Id { id, max: MAX_ID });
        }
        Ok(HOST_ID_BASE + id)
    }

    /// The host uid of the sandbox's `uid`.
    pub fn host_uid(&self, uid: u32) -> Result<u32, SandboxError> {
        self.map(uid, self.own.0)
    }

    /// The host gid of the sandbox's `gid`.
    pub fn host_gid(&self, gid: u32) -> Result<u32, SandboxError> {
        self.map(gid, self.own.1)
    }

    /// Gives `path` (not following a link) the host ids of `owner`; a
    /// no-op when ids are not shifted.
    pub fn chown(&self, path: &Path, owner: (u32, u32)) -> Result<(), SandboxError> {
        if !self.shifted {
            return Ok(());
        }
        let (u, g) = (self.host_uid(owner.0)?, self.host_gid(owner.1)?);
        std::os::unix::fs::lchown(path, Some(u), Some(g)).map_err(io(path))
    }
}

/// A private directory holding one sandbox root.
#[derive(Debug)]
pub struct Scratch {
    dir: tempfile::TempDir,
    root: PathBuf,
    ids: Ids,
}

/// The mount points every sandbox needs in its root.
pub const MOUNT_POINTS: [&str; 3] = ["dev", "proc", "tmp"];

impl Scratch {
    /// A new empty root (owned by the sandbox's root, 0755) in a 0711
    /// directory under the system temp directory.
    pub fn new() -> Result<Scratch, SandboxError> {
        let ids = Ids::current();
        let base = std::env::temp_dir();
        if ids.shifted() {
            reachable(&base)?;
        }
        let dir = tempfile::Builder::new()
            .prefix("safeimage-sandbox-")
            .tempdir_in(&base)
            .map_err(io(&base))?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))
            .map_err(io(dir.path()))?;
        let root = dir.path().join("root");
        std::fs::create_dir(&root).map_err(io(&root))?;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))
            .map_err(io(&root))?;
        ids.chown(&root, (0, 0))?;
        Ok(Scratch { dir, root, ids })
    }

    /// The root to fill.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// How ids map.
    pub fn ids(&self) -> Ids {
        self.ids
    }

    /// Makes `/dev`, `/proc` and `/tmp` plain directories of the root (an
    /// image's link or file there is replaced in this copy: the sandbox
    /// mounts its own there). Returns what was replaced.
    pub fn mount_points(&self) -> Result<Vec<String>, SandboxError> {
        let mut replaced = Vec::new();
        for m in MOUNT_POINTS {
            let p = self.root.join(m);
            match std::fs::symlink_metadata(&p) {
                Ok(md) if md.is_dir() => continue,
                Ok(_) => {
                    std::fs::remove_file(&p).map_err(io(&p))?;
                    replaced.push(format!("/{m}"));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&p)(e)),
            }
            std::fs::create_dir(&p).map_err(io(&p))?;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).map_err(io(&p))?;
            self.ids.chown(&p, (0, 0))?;
        }
        Ok(replaced)
    }

    /// The image's working directory checked and made usable: absolute,
    /// no `..`, and a directory of the root with links resolved inside the
    /// root; a missing one is created (as runtimes do), owned by root.
    pub fn working_dir(&self, wd: &str) -> Result<String, SandboxError> {
        let bad = |reason: &str| SandboxError::WorkingDir {
            dir: wd.to_string(),
            reason: reason.to_string(),
        };
        if wd.is_empty() {
            return Ok("/".into());
        }
        if !wd.starts_with('/') {
            return Err(bad(
                "not an absolute path (a relative working directory is refused: it would be resolved outside the image's root)",
            ));
        }
        if wd.split('/').any(|c| c == "..") {
            return Err(bad("has a `..` component"));
        }
        if wd.bytes().any(|b| b == 0 || b == b'\n') {
            return Err(bad("has a NUL or newline"));
        }
        let rel = wd.trim_start_matches('/');
        if rel.is_empty() {
            return Ok("/".into());
        }
        let root = std::fs::File::open(&self.root).map_err(io(&self.root))?;
        use rustix::fs::{Mode, OFlags, ResolveFlags};
        match rustix::fs::openat2(
            &root,
            rel,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT,
        ) {
            Ok(_) => return Ok(wd.to_string()),
            Err(rustix::io::Errno::NOTDIR) => return Err(bad("not a directory in the image")),
            Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(bad(&format!("cannot be resolved in the image: {e}"))),
        }
        // created component by component, never through a link
        let mut at = self.root.clone();
        for c in rel.split('/').filter(|c| !c.is_empty() && *c != ".") {
            at.push(c);
            match std::fs::symlink_metadata(&at) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(bad(
                        "a component is a link or a file in the image; it is not created through it",
                    ));
                }
                Err(_) => {
                    std::fs::create_dir(&at).map_err(io(&at))?;
                    std::fs::set_permissions(&at, std::fs::Permissions::from_mode(0o755))
                        .map_err(io(&at))?;
                    self.ids.chown(&at, (0, 0))?;
                }
            }
        }
        Ok(wd.to_string())
    }

    /// The directory holding the root (for tests: nothing else is in it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Every ancestor of `dir` lets others through (the sandbox's host id
/// resolves the root's path).
fn reachable(dir: &Path) -> Result<(), SandboxError> {
    let mut p = Some(dir);
    while let Some(d) = p {
        let m = std::fs::metadata(d).map_err(io(d))?;
        if m.permissions().mode() & 0o001 == 0 {
            return Err(SandboxError::Io {
                path: d.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "other users cannot pass through it, so the sandbox's user could not reach its root; set TMPDIR to a directory they can (o+x), such as /tmp",
                ),
            });
        }
        p = d.parent();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_shifts_ids_into_their_own_range() {
        let ids = Ids {
            shifted: true,
            own: (0, 0),
        };
        assert_eq!(ids.host_uid(0).unwrap(), HOST_ID_BASE);
        assert_eq!(ids.host_uid(65532).unwrap(), HOST_ID_BASE + 65532);
        assert!(ids.host_gid(MAX_ID).is_err());
        let user = Ids {
            shifted: false,
            own: (1000, 1000),
        };
        assert_eq!(user.host_uid(0).unwrap(), 1000);
        assert_eq!(user.host_uid(65532).unwrap(), 1000);
    }

    #[test]
    fn relative_and_dotdot_working_dirs_are_refused() {
        let s = Scratch::new().unwrap();
        for wd in [".", "app", "/app/../..", "/../etc"] {
            let e = s.working_dir(wd).unwrap_err().to_string();
            assert!(e.starts_with(&format!("WorkingDir `{wd}`")), "{e}");
        }
        assert_eq!(s.working_dir("").unwrap(), "/");
        assert_eq!(s.working_dir("/srv/app").unwrap(), "/srv/app");
        assert!(s.root().join("srv/app").is_dir());
    }

    #[test]
    fn a_working_dir_through_a_link_to_the_host_is_not_created() {
        let s = Scratch::new().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), s.root().join("app")).unwrap();
        // resolved inside the root, the link's absolute target is missing
        let e = s.working_dir("/app/x").unwrap_err().to_string();
        assert!(e.contains("link or a file"), "{e}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn mount_points_replace_links_in_the_copy() {
        let s = Scratch::new().unwrap();
        std::os::unix::fs::symlink("/etc", s.root().join("tmp")).unwrap();
        assert_eq!(s.mount_points().unwrap(), vec!["/tmp"]);
        for m in MOUNT_POINTS {
            assert!(
                std::fs::symlink_metadata(s.root().join(m))
                    .unwrap()
                    .is_dir()
            );
        }
    }
}
