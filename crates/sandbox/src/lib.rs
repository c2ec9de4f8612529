//! Containing what safeimage does not trust.
//!
//! Images, repositories, registries and configs from pull requests are
//! hostile until proven otherwise. Two kinds of their content would run on
//! the host, and both go through here:
//!
//! - **Image code** (`harden`'s smoke checks, `[image.harden] checks`):
//!   [`Sandbox`] runs it with Debian's bubblewrap in new user, mount, PID,
//!   network, IPC, UTS and cgroup namespaces; the prepared root ([`Scratch`])
//!   is bound read-only and entered with `pivot_root`, with a size-capped
//!   tmpfs `/tmp`, a minimal `/dev`, the new PID namespace's `/proc`, and
//!   only the directories the image's user may write bound writable;
//!   `no_new_privs`; the seccomp filters of [`seccomp`]; rlimits set
//!   before the program starts; a private loopback-only network, which
//!   [`Running::connect`] reaches from a thread that joins it. Run by root,
//!   the sandbox's ids are shifted out of the host's range ([`Ids`]): the
//!   image's uid 0 is host uid 2,000,000,000, so nothing it does is done
//!   as a host user. bubblewrap is started by absolute path with an empty
//!   environment; the image's environment exists only inside.
//! - **Repositories** ([`git`]): git with every repository-configured
//!   command switched off.

pub mod git;
pub mod ids;
pub mod run;
pub mod seccomp;

pub use ids::{Ids, Scratch};
pub use run::{Finished, Limits, Running, Sandbox, Spec};

/// Why something could not be run contained.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// bubblewrap is not there.
    #[error(
        "{path}: bubblewrap is needed to run image code in a sandbox (apt-get install bubblewrap, or set SAFEIMAGE_BWRAP to its absolute path)"
    )]
    NoBwrap {
        /// Where it was looked for.
        path: String,
    },
    /// The image's working directory cannot be used.
    #[error("WorkingDir `{dir}`: {reason}")]
    WorkingDir {
        /// As the image gives it.
        dir: String,
        /// Why not.
        reason: String,
    },
    /// An id outside the range the sandbox maps.
    #[error("uid/gid {id} is over {max}: the sandbox maps ids below it only")]
    Id {
        /// The id.
        id: u32,
        /// The limit.
        max: u32,
    },
    /// bubblewrap did not start the program.
    #[error("the sandbox did not start: {0}")]
    Start(String),
    /// The scratch directory.
    #[error("{}: {source}", path.display())]
    Io {
        /// Where.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

fn io(path: &std::path::Path) -> impl Fn(std::io::Error) -> SandboxError + '_ {
    move |source| SandboxError::Io {
        path: path.to_path_buf(),
        source,
    }
}
