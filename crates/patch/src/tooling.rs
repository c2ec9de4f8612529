//! The tooling container: a configured image of the same distribution and
//! release as the one patched (trusted configuration, never the patched
//! image) whose package manager resolves and downloads the fixed packages
//! into a work directory bound at `/work`. It is behind [`Tooling`] so the
//! planning logic is tested with a recording double; the real ones run it
//! with buildah (chroot isolation), podman or Docker.

use std::path::Path;
use std::process::Command;

use crate::PatchError;

/// How a script in the tooling container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// Exit code (-1 when killed).
    pub code: i32,
    /// What it printed on stderr (the last part).
    pub stderr: String,
}

/// Runs scripts in the tooling container.
pub trait Tooling {
    /// The image it runs (for messages).
    fn image(&self) -> &str;
    /// Runs `sh -c script sh args...` with `env`, the host directory
    /// `work` bound read-write at `/work`.
    fn run(
        &self,
        script: &str,
        args: &[String],
        env: &[(String, String)],
        work: &Path,
    ) -> Result<Ran, PatchError>;
}

/// Which engine runs the tooling container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// buildah with chroot isolation: one working container for the patch.
    Buildah,
    /// `podman run --rm`.
    Podman,
    /// `docker run --rm` (BuildKit's daemon), optionally at `DOCKER_HOST`.
    Docker {
        /// `-H` value.
        host: Option<String>,
    },
}

/// The real tooling container.
pub struct Container {
    engine: Engine,
    image: String,
    /// buildah's working container.
    id: Option<String>,
}

fn tool_failed(what: &str, out: &std::process::Output) -> PatchError {
    PatchError::Tooling {
        reason: format!(
            "{what}: {}",
            tail(&String::from_utf8_lossy(&out.stderr), 2000).trim()
        ),
    }
}

/// The last `n` bytes of `s` (at a character boundary).
pub fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut at = s.len() - n;
    while !s.is_char_boundary(at) {
        at += 1;
    }
    &s[at..]
}

fn spawn(cmd: &mut Command, what: &str) -> Result<std::process::Output, PatchError> {
    cmd.output().map_err(|e| PatchError::Tooling {
        reason: format!("{what}: {e}"),
    })
}

impl Container {
    /// Starts using `image` with `engine` (buildah makes its working
    /// container here; the image must be pullable or in local storage).
    pub fn start(engine: Engine, image: &str) -> Result<Container, PatchError> {
        let mut c = Container {
            engine,
            image: image.to_string(),
            id: None,
        };
        if c.engine == Engine::Buildah {
            let out = spawn(
                Command::new("buildah").args(["from", "--quiet", "--pull=missing", image]),
                "buildah from",
            )?;
            if !out.status.success() {
                return Err(tool_failed(&format!("tooling image {image}"), &out));
            }
            c.id = Some(String::from_utf8_lossy(&out.stdout).trim().to_string());
        }
        Ok(c)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if let Some(id) = &self.id {
            let _ = Command::new("buildah").args(["rm", id]).output();
        }
    }
}

impl Tooling for Container {
    fn image(&self) -> &str {
        &self.image
    }

    fn run(
        &self,
        script: &str,
        args: &[String],
        env: &[(String, String)],
        work: &Path,
    ) -> Result<Ran, PatchError> {
        let bind = format!("{}:/work", work.display());
        let mut cmd = match &self.engine {
            Engine::Buildah => {
                let mut c = Command::new("buildah");
                c.args(["run", "--isolation", "chroot", "-v", &bind]);
                for (k, v) in env {
                    c.arg("--env").arg(format!("{k}={v}"));
                }
                c.arg(self.id.as_deref().unwrap_or_default()).arg("--");
                c
            }
            Engine::Podman | Engine::Docker { .. } => {
                let mut c = match &self.engine {
                    Engine::Docker { host: Some(h) } => {
                        let mut c = Command::new("docker");
                        c.args(["-H", h]);
                        c
                    }
                    Engine::Docker { host: None } => Command::new("docker"),
                    _ => Command::new("podman"),
                };
                c.args(["run", "--rm", "--network", "host", "-v", &bind]);
                for (k, v) in env {
                    c.arg("-e").arg(format!("{k}={v}"));
                }
                c.arg(&self.image);
                c
            }
        };
        cmd.args(["/bin/sh", "-c", script, "sh"]).args(args);
        let out = spawn(&mut cmd, "the tooling container")?;
        Ok(Ran {
            code: out.status.code().unwrap_or(-1),
            stderr: tail(&String::from_utf8_lossy(&out.stderr), 4000).to_string(),
        })
    }
}

/// One recorded call: script, args, env.
#[cfg(test)]
pub type Call = (String, Vec<String>, Vec<(String, String)>);

/// A double that records each script and answers from a closure (which
/// may write files into the work directory as the real one would).
#[cfg(test)]
pub struct Recording<F> {
    /// Every call.
    pub calls: std::sync::Mutex<Vec<Call>>,
    answer: F,
}

#[cfg(test)]
impl<F> Recording<F>
where
    F: Fn(&str, &[String], &Path) -> Ran,
{
    /// A double answering with `answer(script, args, work)`.
    pub fn new(answer: F) -> Self {
        Recording {
            calls: Default::default(),
            answer,
        }
    }
}

#[cfg(test)]
impl<F> Tooling for Recording<F>
where
    F: Fn(&str, &[String], &Path) -> Ran,
{
    fn image(&self) -> &str {
        "recording"
    }
    fn run(
        &self,
        script: &str,
        args: &[String],
        env: &[(String, String)],
        work: &Path,
    ) -> Result<Ran, PatchError> {
        self.calls
            .lock()
            .unwrap()
            .push((script.to_string(), args.to_vec(), env.to_vec()));
        Ok((self.answer)(script, args, work))
    }
}
