//! Smoke checks of a hardened root before it is accepted. The image is
//! hostile until proven otherwise, so its code runs only in the sandbox
//! (`sandbox` crate: bubblewrap with every namespace, `pivot_root` into
//! the root bound read-only, no_new_privs, seccomp, rlimits, ids shifted
//! out of the host's range, a private loopback-only network). The root is
//! written into the sandbox's scratch directory with the image's owners;
//! the directories the image's user may write are bound writable (as a
//! runtime with a read-only root and volumes would), `/tmp` is a fresh
//! tmpfs. The entrypoint runs as the image's user with the image's
//! environment only, in its `WorkingDir` (absolute, no `..`, resolved in
//! the root). An HTTP check reaches the service through the sandbox's own
//! network namespace.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::HardenError;
use crate::plan::{Kept, Plan};

/// One check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Run the entrypoint with these arguments; it must exit 0.
    Cmd(Vec<String>),
    /// Start the image's command and fetch `http://127.0.0.1:PORT/PATH`;
    /// any 2xx or 3xx answer passes.
    Http {
        /// Port.
        port: u16,
        /// Path, starting with `/`.
        path: String,
    },
}

impl std::str::FromStr for Check {
    type Err = String;
    /// `cmd:ARGS` or `http:PORT[/PATH]`.
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(args) = s.strip_prefix("cmd:") {
            return Check::cmd(args);
        }
        if let Some(h) = s.strip_prefix("http:") {
            return Check::http(h);
        }
        Err(format!(
            "`{s}`: a check is `cmd:ARGS` or `http:PORT[/PATH]`"
        ))
    }
}

impl Check {
    /// `--check-cmd ARGS` (split like a shell would, no expansion).
    pub fn cmd(args: &str) -> Result<Check, String> {
        shlex::split(args)
            .map(Check::Cmd)
            .ok_or_else(|| format!("`{args}`: unbalanced quotes"))
    }

    /// `--check-http PORT[/PATH]`.
    pub fn http(spec: &str) -> Result<Check, String> {
        let (port, path) = match spec.find('/') {
            Some(i) => (&spec[..i], spec[i..].to_string()),
            None => (spec, "/".to_string()),
        };
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("`{spec}`: expected PORT[/PATH]"))?;
        if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "`{spec}`: the path has spaces or control characters"
            ));
        }
        Ok(Check::Http { port, path })
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Cmd(a) => write!(
                f,
                "cmd:{}",
                shlex::try_join(a.iter().map(String::as_str)).unwrap_or_default()
            ),
            Check::Http { port, path } => write!(f, "http:{port}{path}"),
        }
    }
}

/// Writes the plan's tree into `scratch`'s root (empty, private): directories
/// and files first, links last, so nothing is ever written through a link;
/// every entry gets its owner's host ids (files and links root's), and the
/// sandbox's mount points are made. Returns the directories the image's
/// user may write.
pub fn materialize(
    plan: &Plan,
    scratch: &sandbox::Scratch,
) -> Result<Vec<String>, sandbox::SandboxError> {
    let dir = scratch.root();
    let ids = scratch.ids();
    let io = |p: &Path| {
        let path = p.to_path_buf();
        move |source| sandbox::SandboxError::Io { path, source }
    };
    let mut dirs = Vec::new();
    for (p, k) in &plan.entries {
        let at = dir.join(p);
        match k {
            Kept::Dir { mode, owner } => {
                std::fs::create_dir(&at).map_err(io(&at))?;
                dirs.push((p.clone(), at, *mode, *owner));
            }
            Kept::File { mode, data } => {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&at)
                    .map_err(io(&at))?;
                f.write_all(data).map_err(io(&at))?;
                f.set_permissions(std::fs::Permissions::from_mode(*mode))
                    .map_err(io(&at))?;
                ids.chown(&at, (0, 0))?;
            }
            Kept::Symlink { .. } => {}
        }
    }
    for (p, k) in &plan.entries {
        if let Kept::Symlink { target } = k {
            let at = dir.join(p);
            std::os::unix::fs::symlink(target, &at).map_err(io(&at))?;
            ids.chown(&at, (0, 0))?;
        }
    }
    let (uid, gid) = plan.user;
    let mut writable = Vec::new();
    for (p, at, mode, owner) in dirs {
        ids.chown(&at, owner)?;
        std::fs::set_permissions(&at, std::fs::Permissions::from_mode(mode)).map_err(io(&at))?;
        let may = (owner.0 == uid && mode & 0o200 != 0)
            || (owner.1 == gid && mode & 0o020 != 0)
            || mode & 0o002 != 0;
        if may && uid != 0 {
            writable.push(format!("/{p}"));
        }
    }
    scratch.mount_points()?;
    Ok(writable)
}

/// How a check runs the hardened root.
pub struct Runner<'a> {
    /// The sandbox helper.
    pub sandbox: &'a sandbox::Sandbox,
    /// The materialised root.
    pub scratch: &'a sandbox::Scratch,
    /// Directories bound writable.
    pub writable: &'a [String],
    /// uid and gid.
    pub user: (u32, u32),
    /// The image's environment (`K=V`).
    pub env: &'a [String],
    /// The image's working directory, as the image gives it.
    pub workdir: &'a str,
    /// How long a check may take.
    pub timeout: Duration,
}

impl Runner<'_> {
    fn spawn(&self, argv: &[String], check: &Check) -> Result<sandbox::Running, HardenError> {
        let failed = |e: sandbox::SandboxError| HardenError::Check {
            check: check.to_string(),
            reason: e.to_string(),
        };
        let workdir = self.scratch.working_dir(self.workdir).map_err(failed)?;
        let spec = sandbox::Spec {
            user: self.user,
            env: self.env.to_vec(),
            workdir,
            argv: argv.to_vec(),
            writable: self.writable.to_vec(),
            limits: sandbox::Limits {
                cpu_seconds: self.timeout.as_secs().saturating_add(5),
                ..Default::default()
            },
        };
        self.sandbox.spawn(self.scratch, &spec).map_err(failed)
    }

    /// Runs one check; `command` is the image's command for HTTP checks
    /// (the entrypoint runs command checks).
    pub fn run(
        &self,
        check: &Check,
        entrypoint: &str,
        command: &[String],
    ) -> Result<String, HardenError> {
        let fail = |reason: String| HardenError::Check {
            check: check.to_string(),
            reason,
        };
        match check {
            Check::Cmd(args) => {
                let mut argv = vec![format!("/{}", entrypoint.trim_start_matches('/'))];
                argv.extend(args.iter().cloned());
                let f = self.spawn(&argv, check)?.wait(self.timeout);
                match f.code {
                    Some(0) => Ok(tail(&f.stdout)),
                    Some(code) => Err(fail(format!(
                        "exit code {code}: {}",
                        tail(&(f.stderr + &f.stdout))
                    ))),
                    None => Err(fail(format!(
                        "still running after {} s (stopped)",
                        self.timeout.as_secs()
                    ))),
                }
            }
            Check::Http { port, path } => {
                if command.is_empty() {
                    return Err(fail("the image has no command to start".into()));
                }
                let mut running = self.spawn(command, check)?;
                let start = Instant::now();
                let result = loop {
                    if let Some(st) = running.try_wait() {
                        let f = running.stop();
                        break Err(format!(
                            "the service exited ({st}) before answering: {}",
                            tail(&(f.stderr + &f.stdout))
                        ));
                    }
                    match probe(&running, *port, path) {
                        Ok(status) if (200..400).contains(&status) => {
                            break Ok(format!("HTTP {status}"));
                        }
                        Ok(status) => {
                            break Err(format!("http://127.0.0.1:{port}{path} answered {status}"));
                        }
                        Err(_) if start.elapsed() < self.timeout => {
                            std::thread::sleep(Duration::from_millis(200));
                        }
                        Err(e) => {
                            break Err(format!(
                                "nothing answered on 127.0.0.1:{port} within {} s ({e})",
                                self.timeout.as_secs()
                            ));
                        }
                    }
                };
                running.stop();
                result.map_err(fail)
            }
        }
    }
}

/// `GET path` on the service's port, inside the sandbox's network.
fn probe(running: &sandbox::Running, port: u16, path: &str) -> std::io::Result<u16> {
    let mut s = running.connect(port, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes())?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf)?;
    let line = String::from_utf8_lossy(&buf[..n]);
    line.strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer"))
}

/// The last lines of a program's output, for messages.
fn tail(s: &str) -> String {
    let t: Vec<&str> = s.trim().lines().rev().take(5).collect();
    t.into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join(" | ")
        .chars()
        .take(600)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_parse() {
        assert_eq!(
            Check::cmd("--version 'a b'").unwrap(),
            Check::Cmd(vec!["--version".into(), "a b".into()])
        );
        assert_eq!(
            Check::http("8080/health").unwrap(),
            Check::Http {
                port: 8080,
                path: "/health".into()
            }
        );
        assert_eq!(
            Check::http("80").unwrap(),
            Check::Http {
                port: 80,
                path: "/".into()
            }
        );
        assert!(Check::http("x/").is_err());
        assert!(Check::http("0").is_err());
        assert!(Check::cmd("'open").is_err());
        assert_eq!(
            "http:81/x".parse::<Check>().unwrap().to_string(),
            "http:81/x"
        );
    }
}
