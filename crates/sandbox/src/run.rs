//! Starting, reaching and stopping a program in a bubblewrap sandbox.
//!
//! bubblewrap (`/usr/bin/bwrap`, or `SAFEIMAGE_BWRAP`) is started by
//! absolute path with an empty environment, as the host id of the image's
//! user ([`crate::Ids`]), with `--unshare-all` (user, mount, PID, network,
//! IPC, UTS, cgroup), `--disable-userns`, `--die-with-parent` and
//! `--new-session`. The root is bound read-only at `/` and entered with
//! `pivot_root`; directories the image's user may write are bound writable
//! over it; `/dev` is bubblewrap's minimal one, `/proc` the new PID
//! namespace's (with `/proc/sys` and friends read-only), `/tmp` a tmpfs of
//! [`Limits::tmp_bytes`]. It reports the sandbox's first process on an
//! info pipe and waits on a block pipe; meanwhile the rlimits are set on
//! that process (inherited by the program), then it is let go: the seccomp
//! filters are loaded and the program executed with the image's
//! environment, which only ever exists in bubblewrap's own process and
//! the sandbox.
//!
//! Stopping kills bubblewrap and the sandbox's first process: the kernel
//! then kills everything else in the PID namespace, and the network
//! namespace (with whatever sockets the program opened) goes with it.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use command_fds::{CommandFdExt, FdMapping};
use rustix::process::{Pid, Resource, Rlimit, Signal};

use crate::{SandboxError, Scratch, seccomp};

/// Where bubblewrap is unless `SAFEIMAGE_BWRAP` says.
pub const DEFAULT_BWRAP: &str = "/usr/bin/bwrap";

/// Resource limits of everything in the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open files per process (RLIMIT_NOFILE).
    pub open_files: u64,
    /// Processes of the sandbox's user (RLIMIT_NPROC; its host id is its own).
    pub processes: u64,
    /// Largest file written (RLIMIT_FSIZE).
    pub file_bytes: u64,
    /// Address space per process (RLIMIT_AS).
    pub address_space: u64,
    /// CPU seconds per process (RLIMIT_CPU).
    pub cpu_seconds: u64,
    /// Size of the `/tmp` tmpfs.
    pub tmp_bytes: u64,
}

impl Default for Limits {
    /// 1024 files, 512 processes, 1 GiB files, half the machine's memory
    /// (at least 2 GiB: a JVM reserves a quarter for its heap), 10 CPU
    /// minutes, a 512 MiB `/tmp`.
    fn default() -> Self {
        let mem = rustix::system::sysinfo();
        let total = mem.totalram.saturating_mul(u64::from(mem.mem_unit));
        Limits {
            open_files: 1024,
            processes: 512,
            file_bytes: 1 << 30,
            address_space: (total / 2).max(2 << 30),
            cpu_seconds: 600,
            tmp_bytes: 512 << 20,
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    /// uid and gid inside.
    pub user: (u32, u32),
    /// The image's environment (`K=V`); nothing else is set.
    pub env: Vec<String>,
    /// Working directory, as [`Scratch::working_dir`] returned it.
    pub workdir: String,
    /// The program and its arguments (a name without `/` is looked up in
    /// the image's `PATH`, inside).
    pub argv: Vec<String>,
    /// Absolute directories of the root bound writable (the rest is
    /// read-only); each must be a directory reached without links.
    pub writable: Vec<String>,
    /// Limits.
    pub limits: Limits,
}

/// The sandbox helper.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
}

/// How a sandboxed program ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Its exit code; `None` when it was stopped (timeout, or asked).
    pub code: Option<i32>,
    /// What it wrote (the first MiB).
    pub stdout: String,
    /// What it wrote on stderr (the first MiB).
    pub stderr: String,
}

impl Sandbox {
    /// bubblewrap at `SAFEIMAGE_BWRAP` (absolute) or [`DEFAULT_BWRAP`].
    pub fn locate() -> Result<Sandbox, SandboxError> {
        let path = settings::env::SAFEIMAGE_BWRAP
            .get_os()
            .map_or_else(|| PathBuf::from(DEFAULT_BWRAP), PathBuf::from);
        let shown = path.display().to_string();
        if !path.is_absolute() {
            return Err(SandboxError::NoBwrap {
                path: format!("{shown} (not an absolute path)"),
            });
        }
        if !path.is_file() {
            return Err(SandboxError::NoBwrap { path: shown });
        }
        Ok(Sandbox { bwrap: path })
    }

    /// bubblewrap's arguments for `spec` in `scratch` (fds 3: info,
    /// 4: block, 5 and 6: seccomp programs).
    fn args(scratch: &Scratch, spec: &Spec) -> Result<Vec<String>, SandboxError> {
        let root = scratch.root();
        let mut a: Vec<String> = [
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend([
            "--uid".into(),
            spec.user.0.to_string(),
            "--gid".into(),
            spec.user.1.to_string(),
        ]);
        a.extend(["--ro-bind".into(), path_arg(root)?, "/".into()]);
        for w in outermost(&spec.writable) {
            let rel = w.trim_start_matches('/');
            if rel.is_empty() || !no_links(root, rel) {
                continue;
            }
            a.extend(["--bind".into(), path_arg(&root.join(rel))?, w.clone()]);
        }
        a.extend([
            "--dev".into(),
            "/dev".into(),
            "--proc".into(),
            "/proc".into(),
        ]);
        a.extend([
            "--perms".into(),
            "1777".into(),
            "--size".into(),
            spec.limits.tmp_bytes.to_string(),
            "--tmpfs".into(),
            "/tmp".into(),
        ]);
        a.extend(["--chdir".into(), spec.workdir.clone()]);
        for e in &spec.env {
            if let Some((k, v)) = e.split_once('=')
                && !k.is_empty()
            {
                a.extend(["--setenv".into(), k.to_string(), v.to_string()]);
            }
        }
        a.extend([
            "--info-fd".into(),
            "3".into(),
            "--block-fd".into(),
            "4".into(),
            "--add-seccomp-fd".into(),
            "5".into(),
            "--add-seccomp-fd".into(),
            "6".into(),
            "--".into(),
        ]);
        a.extend(spec.argv.iter().cloned());
        Ok(a)
    }

    /// Starts `spec` in `scratch`'s root.
    pub fn spawn(&self, scratch: &Scratch, spec: &Spec) -> Result<Running, SandboxError> {
        let start = |m: String| SandboxError::Start(m);
        if spec.argv.is_empty() {
            return Err(start("nothing to run".into()));
        }
        let ids = scratch.ids();
        let args = Self::args(scratch, spec)?;
        let pipe = || {
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(|e| start(format!("pipe: {e}")))
        };
        let (info_r, info_w) = pipe()?;
        let (block_r, block_w) = pipe()?;
        let mut filters = Vec::new();
        for p in seccomp::programs() {
            let (r, w) = pipe()?;
            let mut w = std::fs::File::from(w);
            w.write_all(&p)
                .map_err(|e| start(format!("seccomp program: {e}")))?;
            drop(w);
            filters.push(r);
        }
        let [f5, f6]: [OwnedFd; 2] = filters
            .try_into()
            .map_err(|_| start("two seccomp programs".into()))?;
        let mut cmd = Command::new(&self.bwrap);
        cmd.args(&args)
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if ids.shifted() {
            cmd.uid(ids.host_uid(spec.user.0)?)
                .gid(ids.host_gid(spec.user.1)?);
        }
        cmd.fd_mappings(vec![
            FdMapping {
                parent_fd: info_w,
                child_fd: 3,
            },
            FdMapping {
                parent_fd: block_r,
                child_fd: 4,
            },
            FdMapping {
                parent_fd: f5,
                child_fd: 5,
            },
            FdMapping {
                parent_fd: f6,
                child_fd: 6,
            },
        ])
        .map_err(|e| start(format!("fd mapping: {e}")))?;
        let mut child = cmd
            .spawn()
            .map_err(|e| start(format!("cannot run {}: {e}", self.bwrap.display())))?;
        // The command keeps the child's ends until it is dropped.
        drop(cmd);
        let out = capture(child.stdout.take());
        let err = capture(child.stderr.take());
        let mut info = String::new();
        let _ = std::fs::File::from(info_r)
            .take(64 << 10)
            .read_to_string(&mut info);
        let pid = serde_json::from_str::<serde_json::Value>(&info)
            .ok()
            .and_then(|v| v["child-pid"].as_i64())
            .and_then(|p| i32::try_from(p).ok())
            .and_then(Pid::from_raw);
        let mut running = Running {
            child,
            pid,
            out: Some(out),
            err: Some(err),
            done: false,
        };
        let Some(pid) = pid else {
            let f = running.stop();
            return Err(start(format!(
                "bubblewrap reported no process: {}",
                f.stderr.trim()
            )));
        };
        let host = if ids.shifted() {
            Some((ids.host_uid(spec.user.0)?, ids.host_gid(spec.user.1)?))
        } else {
            None
        };
        if let Err(e) = limit(pid, &spec.limits, host) {
            let _ = running.stop();
            return Err(start(format!("rlimits: {e}")));
        }
        let mut block = std::fs::File::from(block_w);
        if let Err(e) = block.write_all(b"x") {
            let f = running.stop();
            return Err(start(format!("{e}: {}", f.stderr.trim())));
        }
        Ok(running)
    }
}

/// A path as an argument (bubblewrap takes UTF-8 paths only here).
fn path_arg(p: &Path) -> Result<String, SandboxError> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| SandboxError::Start(format!("{}: not a UTF-8 path", p.display())))
}

/// The directories not inside another one of the list.
fn outermost(dirs: &[String]) -> Vec<String> {
    let mut d: Vec<String> = dirs
        .iter()
        .map(|s| format!("/{}", s.trim_matches('/')))
        .collect();
    d.sort();
    d.dedup();
    let mut out: Vec<String> = Vec::new();
    for x in d {
        if !out
            .iter()
            .any(|o| o == "/" || x.starts_with(&format!("{o}/")))
        {
            out.push(x);
        }
    }
    out
}

/// `rel` is a directory under `root` reached without any link (bubblewrap
/// resolves a bind's source on the host, where a link would lead out).
fn no_links(root: &Path, rel: &str) -> bool {
    let Ok(r) = std::fs::File::open(root) else {
        return false;
    };
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    rustix::fs::openat2(
        &r,
        rel,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::NO_SYMLINKS | ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
    )
    .is_ok()
}

/// Sets the limits on the sandbox's first process. prlimit(2) on another
/// process needs CAP_SYS_RESOURCE or the same ids as the target; a
/// container's root often lacks the first, so the call is made from a
/// short-lived thread that takes the sandbox's host ids (a thread's
/// credentials are its own at the system-call level) and ends after it.
fn limit(pid: Pid, l: &Limits, host: Option<(u32, u32)>) -> std::io::Result<()> {
    let l = *l;
    std::thread::scope(|s| {
        s.spawn(move || {
            if let Some((u, g)) = host {
                let g = rustix::process::Gid::from_raw(g);
                let u = rustix::process::Uid::from_raw(u);
                rustix::thread::set_thread_res_gid(g, g, g)?;
                rustix::thread::set_thread_res_uid(u, u, u)?;
            }
            let set = |r: Resource, v: u64| {
                rustix::process::prlimit(
                    Some(pid),
                    r,
                    Rlimit {
                        current: Some(v),
                        maximum: Some(v),
                    },
                )
                .map(|_| ())
                .map_err(|e| std::io::Error::other(format!("{r:?}: {e}")))
            };
            set(Resource::Nofile, l.open_files)?;
            set(Resource::Nproc, l.processes)?;
            set(Resource::Fsize, l.file_bytes)?;
            set(Resource::As, l.address_space)?;
            set(Resource::Cpu, l.cpu_seconds)?;
            set(Resource::Core, 0)?;
            Ok(())
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the limiting thread panicked")))
    })
}

fn capture<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(r) = r {
            let _ = r.take(1 << 20).read_to_end(&mut s);
        }
        String::from_utf8_lossy(&s).into_owned()
    })
}

/// A started sandbox; stopped (with everything in it) when dropped.
#[derive(Debug)]
pub struct Running {
    child: Child,
    /// The sandbox's first process, as the host numbers it.
    pid: Option<Pid>,
    out: Option<std::thread::JoinHandle<String>>,
    err: Option<std::thread::JoinHandle<String>>,
    /// Ended and waited for: nothing left to kill (its PID may be reused).
    done: bool,
}

impl Running {
    /// The sandbox's first process (host PID).
    pub fn pid(&self) -> Option<i32> {
        self.pid.map(Pid::as_raw_nonzero).map(|p| p.get())
    }

    /// Whether the program has ended (bubblewrap exits with it).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// A TCP connection to `127.0.0.1:port` inside the sandbox's network
    /// namespace: made from a thread that joins that namespace (and ends
    /// with the connect), so the host's own loopback is never involved.
    pub fn connect(&self, port: u16, timeout: Duration) -> std::io::Result<TcpStream> {
        let pid = self
            .pid
            .ok_or_else(|| std::io::Error::other("the sandbox has no process"))?;
        let ns = std::fs::File::open(format!("/proc/{}/ns/net", pid.as_raw_nonzero()))?;
        std::thread::scope(|s| {
            s.spawn(|| {
                rustix::thread::move_into_link_name_space(
                    ns.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .map_err(std::io::Error::from)?;
                TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), timeout)
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the connecting thread panicked")))
        })
    }

    /// Waits up to `timeout` for the program to end; stops it after that.
    pub fn wait(mut self, timeout: Duration) -> Finished {
        let start = Instant::now();
        loop {
            if let Some(st) = self.try_wait() {
                return self.finish(Some(st.code().unwrap_or(128)));
            }
            if start.elapsed() >= timeout {
                return self.stop();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops everything in the sandbox.
    pub fn stop(&mut self) -> Finished {
        self.kill();
        self.finish(None)
    }

    fn finish(&mut self, code: Option<i32>) -> Finished {
        let _ = self.child.wait();
        self.done = true;
        let join = |h: Option<std::thread::JoinHandle<String>>| {
            h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
        };
        Finished {
            code,
            stdout: join(self.out.take()),
            stderr: join(self.err.take()),
        }
    }

    fn kill(&mut self) {
        if self.done {
            return;
        }
        if let Some(pid) = self.pid {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // the kernel tears the PID namespace down asynchronously
        if let Some(pid) = self.pid {
            let proc = format!("/proc/{}", pid.as_raw_nonzero());
            let start = Instant::now();
            while Path::new(&proc).exists() && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_outermost_writable_directories_are_bound() {
        let d = outermost(&[
            "/var/tmp".into(),
            "/var/tmp/x".into(),
            "/var/cache/nginx/".into(),
            "/var/cache/nginxx".into(),
        ]);
        assert_eq!(d, vec!["/var/cache/nginx", "/var/cache/nginxx", "/var/tmp"]);
    }

    #[test]
    fn a_writable_directory_reached_through_a_link_is_left_read_only() {
        let s = Scratch::new().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(s.root().join("data")).unwrap();
        std::os::unix::fs::symlink(outside.path(), s.root().join("cache")).unwrap();
        let spec = Spec {
            user: (1, 1),
            env: vec!["A=b".into(), "=x".into()],
            workdir: "/".into(),
            argv: vec!["/x".into()],
            writable: vec!["/data".into(), "/cache".into()],
            limits: Limits::default(),
        };
        let a = Sandbox::args(&s, &spec).unwrap().join(" ");
        assert!(a.contains("/root/data /data"), "{a}");
        assert!(!a.contains("/cache"), "{a}");
        assert!(a.contains("--setenv A b"), "{a}");
        assert!(!a.contains("--setenv  x"), "{a}");
    }
}
