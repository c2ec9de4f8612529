//! Build with the engine from the pinned Dockerfile: bases by the digests
//! just resolved, always pulled, no cache. Registry credentials from the
//! environment reach the engine through a docker-config auth file created
//! exclusively (0600) in a private temp directory (0700) outside the
//! reports, removed as soon as the build ends.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use crate::cx::ImageCx;
use crate::engine::{BuildSpec, Built};
use crate::steps::StepError;
use crate::steps::dockerfile::Dockerfile;
use crate::steps::resolve::{Resolved, pin_dockerfile};

/// Temp directories holding engine credentials: `safeimage-auth-<pid>-…`.
const AUTH_PREFIX: &str = "safeimage-auth-";

/// Removes credential directories left by runs that were killed (their
/// process is gone); returns what was removed, for the run's notes.
pub fn remove_stale_authfiles() -> Vec<String> {
    let tmp = std::env::temp_dir();
    let Ok(rd) = std::fs::read_dir(&tmp) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(AUTH_PREFIX)
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        if !alive && std::fs::remove_dir_all(e.path()).is_ok() {
            out.push(format!(
                "removed registry credentials left in {} by a run that was killed (pid {pid})",
                e.path().display()
            ));
        }
    }
    out
}

/// A private directory holding `config.json` (docker's name, so the
/// BuildKit engine can point `DOCKER_CONFIG` at it) while it exists.
pub struct AuthFile {
    dir: tempfile::TempDir,
}

impl AuthFile {
    /// The file.
    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("config.json")
    }
}

/// Credentials as a docker config auth file; `None` when there are none.
pub fn write_authfile(opts: &oci::source::RegistryOptions) -> Result<Option<AuthFile>, StepError> {
    if opts.basic_auth.is_empty() {
        return Ok(None);
    }
    let work = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StepError::Work {
            path: path.clone(),
            source,
        }
    };
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::Builder::new()
        .prefix(&format!("{AUTH_PREFIX}{}-", std::process::id()))
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .map_err(work(&std::env::temp_dir()))?;
    let file = AuthFile { dir };
    let mut auths = serde_json::Map::new();
    for (host, (u, p)) in &opts.basic_auth {
        auths.insert(
            host.clone(),
            serde_json::json!({"auth": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{u}:{p}"))}),
        );
    }
    let path = file.path();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(work(&path))?;
    f.write_all(serde_json::json!({"auths": auths}).to_string().as_bytes())
        .map_err(work(&path))?;
    Ok(Some(file))
}

/// The step, for one platform.
pub fn run(
    cx: &ImageCx<'_>,
    df: &Dockerfile,
    resolved: &Resolved,
    platform: &oci::Platform,
) -> Result<Built, StepError> {
    let dir = cx.work.join(platform.to_string().replace('/', "-"));
    std::fs::create_dir_all(&dir).map_err(|source| StepError::Work {
        path: dir.clone(),
        source,
    })?;
    let log = dir.join("build.log");
    let _ = std::fs::remove_file(&log);
    let pinned = cx.work.join("Dockerfile.pinned");
    safefs::write(
        &pinned,
        pin_dockerfile(&df.src.text, &resolved.pins).as_bytes(),
        safefs::Mode::Public,
    )
    .map_err(|e| StepError::Work {
        path: e.path,
        source: e.source,
    })?;
    let mut spec = cx.spec.clone();
    spec.dockerfile = pinned;
    let auth = write_authfile(cx.registry_options)?;
    let auth_path = auth.as_ref().map(AuthFile::path);
    let built = cx.engine.build(&BuildSpec {
        image: &spec,
        platform,
        out: &dir.join("oci"),
        log: &log,
        insecure_pull: resolved.insecure_pull,
        authfile: auth_path.as_deref(),
    });
    drop(auth);
    Ok(built?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authfile_is_private_and_removed() {
        let mut o = oci::source::RegistryOptions::default();
        assert!(write_authfile(&o).unwrap().is_none());
        o.basic_auth
            .insert("r.example".into(), ("u".into(), "p".into()));
        let a = write_authfile(&o).unwrap().unwrap();
        let p = a.path();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(v["auths"]["r.example"]["auth"], "dTpw");
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&p), 0o600);
        assert_eq!(mode(p.parent().unwrap()), 0o700);
        drop(a);
        assert!(!p.exists());
        assert!(!p.parent().unwrap().exists());
    }
}
