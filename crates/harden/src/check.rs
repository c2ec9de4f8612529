//! Smoke checks of a hardened root before it is accepted: the root is
//! written to a private directory and the entrypoint is run in it as the
//! image's user (`unshare --pid --fork --kill-child --root --setuid
//! --setgid`: a new PID namespace, so a check never leaves a process
//! behind), with the image's environment only.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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

/// Writes the plan's tree under `dir` (which must be empty and private):
/// directories and files first, links last, so nothing is ever written
/// through a link.
pub fn materialize(plan: &Plan, dir: &Path) -> std::io::Result<()> {
    let mut dirs = Vec::new();
    for (p, k) in &plan.entries {
        let at = dir.join(p);
        match k {
            Kept::Dir { mode, owner } => {
                std::fs::create_dir(&at)?;
                dirs.push((at, *mode, *owner));
            }
            Kept::File { mode, data } => {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&at)?;
                f.write_all(data)?;
                f.set_permissions(std::fs::Permissions::from_mode(*mode))?;
            }
            Kept::Symlink { .. } => {}
        }
    }
    for (p, k) in &plan.entries {
        if let Kept::Symlink { target } = k {
            std::os::unix::fs::symlink(target, dir.join(p))?;
        }
    }
    for (at, mode, (uid, gid)) in dirs {
        if (uid, gid) != (0, 0) {
            std::os::unix::fs::chown(&at, Some(uid), Some(gid))?;
        }
        std::fs::set_permissions(&at, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// How a check runs the hardened root.
pub struct Runner<'a> {
    /// The materialised root.
    pub root: &'a Path,
    /// uid and gid.
    pub user: (u32, u32),
    /// The image's environment (`K=V`).
    pub env: &'a [String],
    /// Working directory inside the root.
    pub workdir: &'a str,
    /// How long a check may take.
    pub timeout: Duration,
}

impl Runner<'_> {
    fn command(&self, argv: &[String]) -> Command {
        let mut c = Command::new("unshare");
        c.args(["--pid", "--fork", "--kill-child"])
            .arg(format!("--root={}", self.root.display()))
            .arg(format!(
                "--wd={}",
                if self.workdir.is_empty() {
                    "/"
                } else {
                    self.workdir
                }
            ))
            .arg(format!("--setgid={}", self.user.1))
            .arg(format!("--setuid={}", self.user.0))
            .arg("--")
            .args(argv)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for e in self.env {
            if let Some((k, v)) = e.split_once('=') {
                c.env(k, v);
            }
        }
        c
    }

    fn spawn(&self, argv: &[String], check: &Check) -> Result<Child, HardenError> {
        self.command(argv).spawn().map_err(|e| HardenError::Check {
            check: check.to_string(),
            reason: format!("cannot run unshare (util-linux): {e}"),
        })
    }

    /// Runs one check; `argv` is the image's command for HTTP checks and
    /// the entrypoint for command checks.
    pub fn run(
        &self,
        check: &Check,
        entrypoint: &str,
        command: &[String],
    ) -> Result<String, HardenError> {
        match check {
            Check::Cmd(args) => {
                let mut argv = vec![format!("/{}", entrypoint.trim_start_matches('/'))];
                argv.extend(args.iter().cloned());
                let child = self.spawn(&argv, check)?;
                let (status, out, err) = wait_with_timeout(child, self.timeout);
                match status {
                    Some(0) => Ok(tail(&out)),
                    Some(code) => Err(HardenError::Check {
                        check: check.to_string(),
                        reason: format!("exit code {code}: {}", tail(&(err + &out))),
                    }),
                    None => Err(HardenError::Check {
                        check: check.to_string(),
                        reason: format!(
                            "still running after {} s (stopped)",
                            self.timeout.as_secs()
                        ),
                    }),
                }
            }
            Check::Http { port, path } => {
                if command.is_empty() {
                    return Err(HardenError::Check {
                        check: check.to_string(),
                        reason: "the image has no command to start".into(),
                    });
                }
                let mut child = self.spawn(command, check)?;
                let start = Instant::now();
                let result = loop {
                    if let Ok(Some(st)) = child.try_wait() {
                        let mut err = String::new();
                        if let Some(mut e) = child.stderr.take() {
                            let _ = e.read_to_string(&mut err);
                        }
                        break Err(format!(
                            "the service exited ({st}) before answering: {}",
                            tail(&err)
                        ));
                    }
                    match probe(*port, path) {
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
                stop(&mut child);
                result.map_err(|reason| HardenError::Check {
                    check: check.to_string(),
                    reason,
                })
            }
        }
    }
}

/// Stops a check and everything it started. `unshare --kill-child` cannot
/// be relied on once the child changed its uid (the kernel clears the
/// parent-death signal then), so the namespace's first process is killed
/// directly: when it dies, the kernel kills the whole PID namespace.
fn stop(child: &mut Child) {
    let pid = child.id();
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let namespaces: Vec<PathBuf> = children
        .split_whitespace()
        .filter_map(|c| std::fs::read_link(format!("/proc/{c}/ns/pid")).ok())
        .filter(|ns| std::fs::read_link("/proc/self/ns/pid").ok().as_ref() != Some(ns))
        .collect();
    for c in children.split_whitespace() {
        let _ = Command::new("kill")
            .args(["-KILL", c])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
    // The kernel tears the namespace down asynchronously: wait until none
    // of its processes is left, so the ports they held are free again.
    let start = Instant::now();
    while !namespaces.is_empty() && start.elapsed() < Duration::from_secs(10) {
        let alive = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    && std::fs::read_link(e.path().join("ns/pid"))
                        .is_ok_and(|l| namespaces.contains(&l))
            });
        if !alive {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn probe(port: u16, path: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
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

fn wait_with_timeout(mut child: Child, timeout: Duration) -> (Option<i32>, String, String) {
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let o = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(r) = out.as_mut() {
            let _ = r.take(1 << 20).read_to_end(&mut s);
        }
        String::from_utf8_lossy(&s).into_owned()
    });
    let e = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(r) = err.as_mut() {
            let _ = r.take(1 << 20).read_to_end(&mut s);
        }
        String::from_utf8_lossy(&s).into_owned()
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st.code().unwrap_or(128)),
            Ok(None) if start.elapsed() < timeout => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                stop(&mut child);
                break None;
            }
        }
    };
    (
        status,
        o.join().unwrap_or_default(),
        e.join().unwrap_or_default(),
    )
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
