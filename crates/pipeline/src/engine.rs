//! Build engines behind one trait, all run the same way: the pinned
//! Dockerfile, build args, secrets, one platform per build, no cache, bases
//! always pulled; the result is an OCI layout the run reads and pushes by
//! digest itself, so no engine ever writes to the destination registry.
//!
//! - buildah (default): `buildah bud --isolation chroot`, then `buildah
//!   push` into an OCI layout;
//! - podman: `podman build --isolation chroot` likewise (its default OCI
//!   runtime needs cgroups that CI machines often lack);
//! - BuildKit: `docker buildx build --output type=oci` when the buildx
//!   plugin is there; otherwise `DOCKER_BUILDKIT=1 docker build` (the
//!   daemon's embedded BuildKit, `DOCKER_HOST` may be remote), `docker
//!   save`, and the archive turned into an OCI layout here
//!   ([`oci::write::docker_archive_to_layout`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use oci::Platform;

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
    /// Installed but not usable as configured.
    #[error("{engine}: {message}")]
    Unusable {
        /// Engine.
        engine: &'static str,
        /// Why, and what to do.
        message: String,
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
    /// The image (its Dockerfile is the pinned copy).
    pub image: &'a ImageSpec,
    /// The platform of this build.
    pub platform: &'a Platform,
    /// Where to write the OCI layout.
    pub out: &'a Path,
    /// Where to write the build log.
    pub log: &'a Path,
    /// Pull bases over plain HTTP / without TLS checks (all bases are on
    /// loopback or declared insecure).
    pub insecure_pull: bool,
    /// A docker `config.json` with credentials for pulls, in a private
    /// directory (mode 0600, removed after the build).
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
    /// Check it is installed and usable.
    fn available(&self) -> Result<(), EngineError>;
    /// Build one platform to an OCI layout.
    fn build(&self, spec: &BuildSpec<'_>) -> Result<Built, EngineError>;
}

/// The engine for a config choice; `program` overrides the binary.
pub fn engine(kind: EngineKind, program: Option<&Path>) -> Box<dyn Engine> {
    let (name, default) = match kind {
        EngineKind::Buildah => ("buildah", "buildah"),
        EngineKind::Docker => ("buildkit", "docker"),
        EngineKind::Podman => ("podman", "podman"),
    };
    Box::new(Cli {
        name,
        kind,
        program: program.map_or_else(|| PathBuf::from(default), Path::to_path_buf),
    })
}

struct Cli {
    name: &'static str,
    kind: EngineKind,
    program: PathBuf,
}

/// How a docker client builds with BuildKit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DockerMode {
    /// `docker buildx build --output type=oci`.
    Buildx,
    /// `DOCKER_BUILDKIT=1 docker build` + `docker save`.
    Embedded,
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
    fn cmd(&self) -> Command {
        Command::new(&self.program)
    }

    fn quiet(&self, args: &[&str]) -> Option<String> {
        let out = self
            .cmd()
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

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
                image: spec.image.name.to_string(),
                status: status.to_string(),
                log: spec.log.display().to_string(),
                tail: tail(spec.log, 20),
            })
        }
    }

    /// Removes the local image of a build (done or not).
    fn remove(&self, tag: &str) {
        let _ = self
            .cmd()
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
        cmd.arg("--platform").arg(spec.platform.to_string());
        for s in &img.secrets {
            cmd.arg("--secret").arg(s);
        }
    }

    fn docker_mode(&self) -> Result<DockerMode, EngineError> {
        if self.quiet(&["buildx", "version"]).is_some() {
            return Ok(DockerMode::Buildx);
        }
        let client = self
            .quiet(&["version", "--format", "{{.Client.Version}}"])
            .unwrap_or_default();
        let major: u32 = client
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if major >= 23 {
            return Err(EngineError::Unusable {
                engine: self.name,
                message: format!(
                    "{} is docker client {client}, which builds with BuildKit only through the buildx plugin, and buildx is not installed: install the buildx plugin, or give --engine-program (SAFEIMAGE_ENGINE_PROGRAM) a docker client that still has the embedded BuildKit path (20.10-22, e.g. Debian's /usr/bin/docker)",
                    self.program.display()
                ),
            });
        }
        Ok(DockerMode::Embedded)
    }

    fn tag(spec: &BuildSpec<'_>) -> String {
        format!(
            "localhost/safeimage-build/{}:{}-{}",
            spec.image.name.to_ascii_lowercase(),
            std::process::id(),
            spec.platform.to_string().replace('/', "-")
        )
    }

    fn build_containers(&self, spec: &BuildSpec<'_>, layout: &Path) -> Result<(), EngineError> {
        let tag = Self::tag(spec);
        let mut b = self.cmd();
        match self.kind {
            EngineKind::Buildah => b.args(["bud", "--layers=false"]),
            _ => b.arg("build"),
        };
        // chroot isolation works without user namespaces or cgroup
        // delegation (CI runners, containers).
        b.args([
            "--isolation",
            "chroot",
            "--pull=always",
            "--no-cache",
            "-t",
            &tag,
        ]);
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
            self.cmd()
                .args(["push", "-q", &tag])
                .arg(format!("oci:{}:latest", layout.display())),
        );
        self.remove(&tag);
        pushed
    }

    fn build_docker(&self, spec: &BuildSpec<'_>, layout: &Path) -> Result<(), EngineError> {
        let mut b = self.cmd();
        if let Some(a) = spec.authfile.and_then(Path::parent) {
            b.env("DOCKER_CONFIG", a);
        }
        match self.docker_mode()? {
            DockerMode::Buildx => {
                b.args(["buildx", "build", "--pull", "--no-cache", "--network=host"]);
                self.common(&mut b, spec);
                b.arg("--output").arg(format!(
                    "type=oci,dest={},tar=false,name=latest",
                    layout.display()
                ));
                b.arg(&spec.image.context);
                self.run(spec, &mut b)
            }
            DockerMode::Embedded => {
                let tag = Self::tag(spec);
                b.env("DOCKER_BUILDKIT", "1").args([
                    "build",
                    "--pull",
                    "--no-cache",
                    "--network=host",
                    "-t",
                    &tag,
                ]);
                self.common(&mut b, spec);
                b.arg(&spec.image.context);
                let built = self.run(spec, &mut b);
                if built.is_err() {
                    self.remove(&tag);
                }
                built?;
                let archive = layout.with_extension("docker-archive.tar");
                let saved = self.run(
                    spec,
                    self.cmd().arg("save").arg("-o").arg(&archive).arg(&tag),
                );
                self.remove(&tag);
                saved?;
                let converted = oci::write::docker_archive_to_layout(&archive, layout, "latest");
                let _ = std::fs::remove_file(&archive);
                converted.map(|_| ()).map_err(|e| EngineError::Io {
                    engine: self.name,
                    message: format!("turning `docker save` output into an OCI layout: {e}"),
                })
            }
        }
    }
}

impl Engine for Cli {
    fn name(&self) -> &'static str {
        self.name
    }

    fn available(&self) -> Result<(), EngineError> {
        let install = match self.kind {
            EngineKind::Buildah => "apt-get install buildah",
            EngineKind::Docker => {
                "apt-get install docker.io (BuildKit needs a running Docker daemon)"
            }
            EngineKind::Podman => "apt-get install podman",
        };
        let found = if self.program.components().count() > 1 {
            self.program.is_file()
        } else {
            settings::env::on_path(&self.program.to_string_lossy()).is_some()
        };
        if !found {
            return Err(EngineError::Missing {
                engine: self.name,
                install,
            });
        }
        if self.kind == EngineKind::Docker {
            if self
                .quiet(&["version", "--format", "{{.Server.Version}}"])
                .is_none()
            {
                return Err(EngineError::Unusable {
                    engine: self.name,
                    message: format!(
                        "{} cannot reach a Docker daemon (DOCKER_HOST: {})",
                        self.program.display(),
                        settings::env::DOCKER_HOST
                            .get()
                            .unwrap_or_else(|| "the default socket".into())
                    ),
                });
            }
            self.docker_mode()?;
        }
        Ok(())
    }

    fn build(&self, spec: &BuildSpec<'_>) -> Result<Built, EngineError> {
        let start = Instant::now();
        let layout = spec.out.to_path_buf();
        let _ = std::fs::remove_dir_all(&layout);
        match self.kind {
            EngineKind::Buildah | EngineKind::Podman => self.build_containers(spec, &layout)?,
            EngineKind::Docker => self.build_docker(spec, &layout)?,
        }
        Ok(Built {
            layout,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}
