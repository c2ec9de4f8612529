//! Build engines behind one trait: buildah (default), BuildKit through
//! `docker buildx`, and podman. Every build pulls its bases afresh and uses
//! no cache; the result is an OCI layout directory the run pushes by digest
//! itself, so no engine ever writes a tag to the destination registry.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::config::{EngineKind, ImageSpec};

/// Engine failures.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine's binary is not installed.
    #[error("{engine} is not installed: {install}")]
    Missing {
        /// Engine.
        engine: &'static str,
        /// How to install it.
        install: &'static str,
    },
    /// The build failed.
    #[error("{engine} build of `{image}` failed ({status}); last lines of {log}:\n{tail}")]
    Failed {
        /// Engine.
        engine: &'static str,
        /// Image name.
        image: String,
        /// Exit status.
        status: String,
        /// Full log.
        log: String,
        /// Its last lines.
        tail: String,
    },
    /// Could not run it at all.
    #[error("{engine}: {message}")]
    Io {
        /// Engine.
        engine: &'static str,
        /// What.
        message: String,
    },
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildSpec<'a> {
    /// The image.
    pub image: &'a ImageSpec,
    /// Where to write the OCI layout.
    pub out: &'a Path,
    /// Where to write the build log.
    pub log: &'a Path,
    /// Pull bases over plain HTTP / without TLS checks (all bases are on
    /// loopback or declared insecure).
    pub insecure_pull: bool,
    /// A docker-config-format auth file for pulls (credentials from the
    /// fleet config's environment variables); mode 0600, removed after.
    pub authfile: Option<&'a Path>,
}

/// A finished build.
#[derive(Debug, Clone)]
pub struct Built {
    /// OCI layout directory (image tagged `latest` in it).
    pub layout: PathBuf,
    /// Seconds spent in the engine.
    pub seconds: f64,
}

/// A build engine.
pub trait Engine: Send + Sync {
    /// Its name.
    fn name(&self) -> &'static str;
    /// Check it is installed.
    fn available(&self) -> Result<(), EngineError>;
    /// Build to an OCI layout.
    fn build(&self, spec: &BuildSpec<'_>) -> Result<Built, EngineError>;
}

/// The engine for a config choice.
pub fn engine(kind: EngineKind) -> Box<dyn Engine> {
    match kind {
        EngineKind::Buildah => Box::new(Cli {
            name: "buildah",
            kind,
        }),
        EngineKind::Docker => Box::new(Cli {
            name: "docker",
            kind,
        }),
        EngineKind::Podman => Box::new(Cli {
            name: "podman",
            kind,
        }),
    }
}

struct Cli {
    name: &'static str,
    kind: EngineKind,
}

/// The last `n` lines of a build log, each at most 500 characters and all
/// together at most 4 KiB: they go into the audit log and notifications.
fn tail(log: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| {
            if l.chars().count() > 500 {
                l.chars().take(500).collect::<String>() + "…"
            } else {
                l.to_string()
            }
        })
        .collect();
    while out.iter().map(|l| l.len() + 1).sum::<usize>() > 4096 && out.len() > 1 {
        out.remove(0);
    }
    out.join("\n")
}

/// Process groups of the engine commands running now.
static RUNNING: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// Stops every running engine command: SIGTERM to its whole process group
/// (the engine and everything it started). Called on SIGINT/SIGTERM.
pub fn terminate_all() {
    let groups: Vec<u32> = RUNNING.lock().map(|g| g.clone()).unwrap_or_default();
    for pgid in groups {
        let _ = Command::new("kill")
            .args(["-s", "TERM", "--", &format!("-{pgid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Cli {
    fn run(&self, spec: &BuildSpec<'_>, cmd: &mut Command) -> Result<(), EngineError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(spec.log)
            .map_err(|e| EngineError::Io {
                engine: self.name,
                message: format!("{}: {e}", spec.log.display()),
            })?;
        let log2 = log.try_clone().map_err(|e| EngineError::Io {
            engine: self.name,
            message: e.to_string(),
        })?;
        use std::os::unix::process::CommandExt as _;
        // Its own process group, so a stop reaches everything it started.
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0)
            .spawn()
            .map_err(|e| EngineError::Io {
                engine: self.name,
                message: format!("cannot run {:?}: {e}", cmd.get_program()),
            })?;
        if let Ok(mut g) = RUNNING.lock() {
            g.push(child.id());
        }
        let status = child.wait();
        if let Ok(mut g) = RUNNING.lock() {
            g.retain(|p| *p != child.id());
        }
        let status = status.map_err(|e| EngineError::Io {
            engine: self.name,
            message: format!("waiting for {:?}: {e}", cmd.get_program()),
        })?;
        if status.success() {
            Ok(())
        } else {
            Err(EngineError::Failed {
                engine: self.name,
                image: spec.image.name.clone(),
                status: status.to_string(),
                log: spec.log.display().to_string(),
                tail: tail(spec.log, 20),
            })
        }
    }

    /// Removes the local image of a build (done or not).
    fn remove(&self, tag: &str) {
        let _ = Command::new(self.name)
            .args(["rmi", "-f", tag])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    fn common(&self, cmd: &mut Command, spec: &BuildSpec<'_>) {
        let img = spec.image;
        cmd.arg("-f").arg(&img.dockerfile);
        if let Some(t) = &img.target {
            cmd.args(["--target", t]);
        }
        for (k, v) in &img.build_args {
            cmd.arg("--build-arg").arg(format!("{k}={v}"));
        }
        for p in &img.platforms {
            cmd.arg("--platform").arg(p.to_string());
        }
        for s in &img.secrets {
            cmd.arg("--secret").arg(s);
        }
    }
}

impl Engine for Cli {
    fn name(&self) -> &'static str {
        self.name
    }

    fn available(&self) -> Result<(), EngineError> {
        let (bin, install) = match self.kind {
            EngineKind::Buildah => ("buildah", "apt-get install buildah"),
            EngineKind::Docker => (
                "docker",
                "apt-get install docker.io docker-buildx (BuildKit needs a running Docker daemon)",
            ),
            EngineKind::Podman => ("podman", "apt-get install podman"),
        };
        if settings::env::on_path(bin).is_some() {
            Ok(())
        } else {
            Err(EngineError::Missing {
                engine: self.name,
                install,
            })
        }
    }

    fn build(&self, spec: &BuildSpec<'_>) -> Result<Built, EngineError> {
        self.available()?;
        let start = Instant::now();
        let tag = format!(
            "localhost/safeimage-build/{}:{}",
            spec.image.name.to_ascii_lowercase(),
            std::process::id()
        );
        let layout = spec.out.to_path_buf();
        let _ = std::fs::remove_dir_all(&layout);
        match self.kind {
            EngineKind::Buildah | EngineKind::Podman => {
                let mut b = Command::new(self.name);
                if self.kind == EngineKind::Buildah {
                    // chroot isolation works without user namespaces (CI, containers).
                    b.args(["bud", "--isolation", "chroot", "--layers=false"]);
                } else {
                    b.arg("build");
                }
                b.args(["--pull=always", "--no-cache", "-t", &tag]);
                if spec.insecure_pull {
                    b.arg("--tls-verify=false");
                }
                if let Some(a) = spec.authfile {
                    b.arg("--authfile").arg(a);
                }
                self.common(&mut b, spec);
                b.arg(&spec.image.context);
                let built = self.run(spec, &mut b);
                if built.is_err() {
                    self.remove(&tag);
                }
                built?;
                let pushed = self.run(
                    spec,
                    Command::new(self.name)
                        .args(["push", "-q", &tag])
                        .arg(format!("oci:{}:latest", layout.display())),
                );
                self.remove(&tag);
                pushed?;
            }
            EngineKind::Docker => {
                let mut b = Command::new("docker");
                b.args(["buildx", "build", "--pull", "--no-cache"]);
                self.common(&mut b, spec);
                b.arg("--output").arg(format!(
                    "type=oci,dest={},tar=false,name=latest",
                    layout.display()
                ));
                b.arg(&spec.image.context);
                self.run(spec, &mut b)?;
            }
        }
        Ok(Built {
            layout,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}
