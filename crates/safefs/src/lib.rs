//! Writing files safely. Every file safeimage writes (`-o`, reports, the
//! advisory DB, caches, state) goes through here:
//!
//! - it is written *into* what the user named: a symlink is followed (the
//!   link stays, its target gets the content), and an existing non-regular
//!   file (`/dev/null`, `/dev/stdout`, a FIFO from `-o >(jq ...)`) is opened
//!   and written in place, never replaced;
//! - a regular file is written to an exclusive, randomly named temp file
//!   beside its final path (`O_EXCL`, so a planted symlink cannot redirect
//!   it), synced, then renamed over the destination: readers see the old
//!   content or the new, never half;
//! - [`Mode::Public`] data (DB, SBOMs, reports) follows the umask;
//!   [`Mode::Private`] (state, credentials) is 0600;
//! - into a tree we do not trust (a repository `init` sets up),
//!   [`write_beneath`] follows no link at all: every directory is opened
//!   with `RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH` from the root, a link at
//!   the destination is refused, and the file is made and renamed relative
//!   to its directory's descriptor.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Who may read what is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 0666 minus the umask.
    Public,
    /// 0600.
    Private,
}

impl Mode {
    fn bits(self) -> u32 {
        match self {
            Mode::Public => 0o666,
            Mode::Private => 0o600,
        }
    }
}

/// A write failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct WriteError {
    /// What the user named.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

fn err(path: &Path) -> impl Fn(std::io::Error) -> WriteError + '_ {
    move |source| WriteError {
        path: path.to_path_buf(),
        source,
    }
}

/// Where content for a path really goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A regular file (existing or not) at this path, symlinks resolved:
    /// written through a temp file and a rename.
    Regular(PathBuf),
    /// An existing device, FIFO or socket: opened and written in place.
    Special(PathBuf),
}

impl Target {
    /// The resolved path.
    pub fn path(&self) -> &Path {
        match self {
            Target::Regular(p) | Target::Special(p) => p,
        }
    }
}

/// Follows symlinks in the last component (at most 40, like the kernel)
/// and says what kind of file the content goes to. A directory is an error.
pub fn resolve(path: &Path) -> std::io::Result<Target> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p)?;
                p = if link.is_absolute() {
                    link
                } else {
                    p.parent().unwrap_or(Path::new(".")).join(link)
                };
            }
            Ok(m) if m.is_dir() => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::IsADirectory,
                    "is a directory",
                ));
            }
            Ok(m) if m.is_file() => return Ok(Target::Regular(p)),
            Ok(m) => {
                let ft = m.file_type();
                debug_assert!(
                    ft.is_char_device() || ft.is_block_device() || ft.is_fifo() || ft.is_socket()
                );
                return Ok(Target::Special(p));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Target::Regular(p)),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        "too many levels of symbolic links",
    ))
}

fn dir_of(p: &Path) -> &Path {
    p.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// An exclusive, randomly named temp file beside `dest` (already resolved),
/// with `mode`'s permission bits.
pub fn temp_beside(dest: &Path, mode: Mode) -> std::io::Result<tempfile::NamedTempFile> {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(mode.bits()))
        .tempfile_in(dir_of(dest))
}

fn write_special(p: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).open(p)?;
    f.write_all(bytes)?;
    f.flush()
}

/// Writes `bytes` to `path` by the rules above.
pub fn write(path: &Path, bytes: &[u8], mode: Mode) -> Result<(), WriteError> {
    let e = err(path);
    match resolve(path).map_err(&e)? {
        Target::Special(p) => write_special(&p, bytes).map_err(&e),
        Target::Regular(p) => {
            let mut tmp = temp_beside(&p, mode).map_err(&e)?;
            tmp.write_all(bytes).map_err(&e)?;
            tmp.as_file().sync_all().map_err(&e)?;
            tmp.persist(&p).map_err(|pe| e(pe.error))?;
            Ok(())
        }
    }
}

/// Installs a finished file (`built`, made beside `resolve(dest)`'s path)
/// at `dest`: renamed over a regular file, or copied into a device or FIFO
/// (then removed).
pub fn install(built: &Path, dest: &Path) -> Result<(), WriteError> {
    let e = err(dest);
    match resolve(dest).map_err(&e)? {
        Target::Regular(p) => std::fs::rename(built, &p).map_err(&e),
        Target::Special(p) => {
            let bytes = std::fs::read(built).map_err(&e)?;
            let r = write_special(&p, &bytes).map_err(&e);
            let _ = std::fs::remove_file(built);
            r
        }
    }
}

/// A private directory (0700), created if missing; an existing one is
/// tightened to 0700.
pub fn private_dir(path: &Path) -> Result<(), WriteError> {
    let e = err(path);
    std::fs::create_dir_all(path).map_err(&e)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(&e)
}

/// Why [`write_beneath`] refused.
#[derive(Debug, thiserror::Error)]
pub enum BeneathError {
    /// The file is there and overwriting was not asked for.
    #[error("{} already exists", path.display())]
    Exists {
        /// Where.
        path: PathBuf,
    },
    /// A link where a directory or the file should be.
    #[error(
        "{} is a symbolic link (or has one on its way); nothing is written through links here",
        path.display()
    )]
    Link {
        /// Where.
        path: PathBuf,
    },
    /// Anything else.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Writes `bytes` at `rel` under the directory `root` without following any
/// link: directories on the way are created (0755) or opened without
/// links, an existing destination is replaced only with `overwrite` and
/// never when it is a link or not a regular file; temp file and rename are
/// relative to the directory's descriptor.
pub fn write_beneath(
    root: &Path,
    rel: &Path,
    bytes: &[u8],
    mode: Mode,
    overwrite: bool,
) -> Result<(), BeneathError> {
    use rustix::fs::{AtFlags, FileType, Mode as M, OFlags, ResolveFlags};
    let shown = root.join(rel);
    let e = |source: std::io::Error| WriteError {
        path: shown.clone(),
        source,
    };
    let link = || BeneathError::Link {
        path: shown.clone(),
    };
    let no_links = ResolveFlags::NO_SYMLINKS | ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    let dir_flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY;
    let mut dir = rustix::fs::open(root, dir_flags, M::empty()).map_err(|x| e(x.into()))?;
    let comps: Vec<_> = rel
        .components()
        .map(|c| match c {
            std::path::Component::Normal(n) => Ok(n.to_os_string()),
            _ => Err(e(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a plain relative path",
            ))),
        })
        .collect::<Result<_, _>>()?;
    let Some((name, parents)) = comps.split_last() else {
        return Err(e(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no file name",
        ))
        .into());
    };
    for c in parents {
        match rustix::fs::openat2(&dir, c.as_os_str(), dir_flags, M::empty(), no_links) {
            Ok(d) => dir = d,
            Err(rustix::io::Errno::NOENT) => {
                rustix::fs::mkdirat(&dir, c.as_os_str(), M::from_raw_mode(0o755))
                    .map_err(|x| e(x.into()))?;
                dir = rustix::fs::openat2(&dir, c.as_os_str(), dir_flags, M::empty(), no_links)
                    .map_err(|x| e(x.into()))?;
            }
            Err(rustix::io::Errno::LOOP | rustix::io::Errno::XDEV | rustix::io::Errno::NOTDIR) => {
                return Err(link());
            }
            Err(x) => return Err(e(x.into()).into()),
        }
    }
    match rustix::fs::statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => {
            let ft = FileType::from_raw_mode(st.st_mode);
            if ft == FileType::Symlink {
                return Err(link());
            }
            if !overwrite {
                return Err(BeneathError::Exists { path: shown });
            }
            if ft != FileType::RegularFile {
                return Err(e(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "not a regular file",
                ))
                .into());
            }
        }
        Err(rustix::io::Errno::NOENT) => {}
        Err(x) => return Err(e(x.into()).into()),
    }
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    let random = {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.finish()
    };
    tmp_name.push(format!(".{random:016x}.tmp"));
    let fd = rustix::fs::openat(
        &dir,
        tmp_name.as_os_str(),
        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        M::from_raw_mode(mode.bits()),
    )
    .map_err(|x| e(x.into()))?;
    let mut f = std::fs::File::from(fd);
    let written = f.write_all(bytes).and_then(|()| f.sync_all());
    if let Err(x) = written {
        let _ = rustix::fs::unlinkat(&dir, tmp_name.as_os_str(), AtFlags::empty());
        return Err(e(x).into());
    }
    rustix::fs::renameat(&dir, tmp_name.as_os_str(), &dir, name.as_os_str()).map_err(|x| {
        let _ = rustix::fs::unlinkat(&dir, tmp_name.as_os_str(), AtFlags::empty());
        e(x.into())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_beneath_follows_no_link_on_the_way_or_at_the_end() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = d.path();
        // a plain write, directories made
        write_beneath(
            root,
            Path::new(".github/workflows/x.yml"),
            b"a",
            Mode::Public,
            false,
        )
        .unwrap();
        assert_eq!(
            std::fs::read(root.join(".github/workflows/x.yml")).unwrap(),
            b"a"
        );
        assert!(matches!(
            write_beneath(
                root,
                Path::new(".github/workflows/x.yml"),
                b"b",
                Mode::Public,
                false
            ),
            Err(BeneathError::Exists { .. })
        ));
        write_beneath(
            root,
            Path::new(".github/workflows/x.yml"),
            b"b",
            Mode::Public,
            true,
        )
        .unwrap();
        // a dangling link at the file, and a link as a directory on the way
        std::os::unix::fs::symlink(outside.path().join("t.toml"), root.join("safeimage.toml"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("linked")).unwrap();
        for rel in ["safeimage.toml", "linked/x.yml", "linked/sub/x.yml"] {
            for overwrite in [false, true] {
                let r = write_beneath(root, Path::new(rel), b"x", Mode::Public, overwrite);
                assert!(matches!(r, Err(BeneathError::Link { .. })), "{rel}: {r:?}");
            }
        }
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        assert!(write_beneath(root, Path::new("../x"), b"x", Mode::Public, true).is_err());
    }

    fn mode_of(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn ordinary_path_and_modes() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.json");
        write(&p, b"one", Mode::Public).unwrap();
        write(&p, b"two", Mode::Public).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        // The umask of a test process is 022 or stricter.
        assert_eq!(mode_of(&p) & 0o600, 0o600);
        assert_eq!(mode_of(&p) & 0o022, 0);
        let s = d.path().join("state");
        write(&s, b"secret", Mode::Private).unwrap();
        assert_eq!(mode_of(&s), 0o600);
        // No temp file is left behind.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 2);
    }

    #[test]
    fn symlink_is_followed_and_kept() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real.json");
        std::fs::write(&real, "old").unwrap();
        let link = d.path().join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        write(&link, b"new", Mode::Public).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        // A dangling link gets its target created.
        let dangling = d.path().join("dangling");
        std::os::unix::fs::symlink(d.path().join("made.json"), &dangling).unwrap();
        write(&dangling, b"x", Mode::Public).unwrap();
        assert_eq!(std::fs::read(d.path().join("made.json")).unwrap(), b"x");
    }

    #[test]
    fn fifo_is_written_in_place() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("pipe");
        let st = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(st.success());
        let f2 = fifo.clone();
        let reader = std::thread::spawn(move || std::fs::read(&f2).unwrap());
        write(&fifo, b"through the pipe", Mode::Public).unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo()
        );
    }

    #[test]
    fn a_planted_temp_name_cannot_redirect_the_write() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        // The old predictable names: `.out.json.tmp<pid>`.
        std::os::unix::fs::symlink(
            &victim,
            d.path()
                .join(format!(".out.json.tmp{}", std::process::id())),
        )
        .unwrap();
        write(&d.path().join("out.json"), b"data", Mode::Public).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }

    #[test]
    fn directory_is_an_error_naming_the_path() {
        let d = tempfile::tempdir().unwrap();
        let e = write(d.path(), b"x", Mode::Public).unwrap_err();
        assert!(e.to_string().contains(&d.path().display().to_string()));
    }
}
