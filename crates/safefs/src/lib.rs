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
//!   [`Mode::Private`] (state, credentials) is 0600.

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

#[cfg(test)]
mod tests {
    use super::*;

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
