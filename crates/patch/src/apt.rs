//! apt in the tooling container: the tooling image's own sources (never the
//! patched image's, which could point anywhere) and keys, the patched
//! image's package records as apt's `status`, the target architecture as
//! apt's native one (so one amd64 tooling container serves an arm64 image
//! without emulation). The resolver's simulation is read back here and
//! refused when it would install new packages, remove any, or change a held
//! one; then `apt-get download` fetches exactly the versions planned (apt
//! checks them against the signed Release files).

use std::path::Path;

use crate::PatchError;
use crate::tooling::{Tooling, tail};

/// The options every apt-get call gets: state, cache and status in /work.
const APT_OPTS: &str = r#"A="-q -o Dir::State=/work/apt/state -o Dir::State::status=/work/status -o Dir::Cache=/work/apt/cache -o Debug::NoLocking=1 -o APT::Architecture=$ARCH -o APT::Architectures=$ARCH -o Acquire::Languages=none -o APT::Install-Recommends=0 -o APT::Sandbox::User=root -o APT::Get::AllowUnauthenticated=0""#;

/// The tooling's release, and whether it has apt.
const RELEASE: &str = r#"set -u
( . /etc/os-release 2>/dev/null || . /usr/lib/os-release; printf '%s\n%s\n%s\n' "${ID:-}" "${VERSION_CODENAME:-}" "${VERSION_ID:-}" ) > /work/tooling-os || exit 19
command -v apt-get >/dev/null || exit 18
"#;

/// Lists and the plan, once the release is known to match.
const RESOLVE: &str = r#"set -u
mkdir -p /work/apt/state/lists/partial /work/apt/cache/archives/partial || exit 17
@OPTS@
apt-get $A update > /work/update.log 2>&1 || exit 20
if [ "$MODE" = policy ]; then
  apt-cache $A policy "$@" > /work/policy.log 2>&1 || exit 21
elif [ "$MODE" = all ]; then
  apt-get $A -s -y upgrade > /work/sim.log 2>&1 || exit 21
else
  apt-get $A -s -y --only-upgrade install "$@" > /work/sim.log 2>&1 || exit 21
fi
"#;

/// Candidates again, the lists already there.
const POLICY: &str = r#"set -u
@OPTS@
apt-cache $A policy "$@" > /work/policy.log 2>&1 || exit 21
"#;

/// Downloads the planned versions into /work/debs.
const DOWNLOAD: &str = r#"set -u
@OPTS@
mkdir -p /work/debs && cd /work/debs || exit 17
apt-get $A download "$@" > /work/download.log 2>&1 || exit 22
"#;

/// A Debian package name (policy §5.6.1), optionally `:arch`.
pub fn valid_name(s: &str) -> bool {
    let (n, a) = s.split_once(':').unwrap_or((s, "a"));
    n.len() >= 2
        && n.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
        && !a.is_empty()
        && a.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A Debian version (policy §5.6.12).
pub fn valid_version(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.~:".contains(&b))
}

/// Debian's architecture name for an OCI platform.
pub fn debian_arch(p: &oci::Platform) -> Option<&'static str> {
    Some(match (p.architecture.as_str(), p.variant.as_deref()) {
        ("amd64", _) => "amd64",
        ("arm64", _) => "arm64",
        ("arm", Some("v5")) => "armel",
        ("arm", _) => "armhf",
        ("386", _) => "i386",
        ("ppc64le", _) => "ppc64el",
        ("s390x", _) => "s390x",
        ("riscv64", _) => "riscv64",
        ("mips64le", _) => "mips64el",
        _ => return None,
    })
}

/// One line of apt's simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `Inst NAME [OLD] (NEW ...)`; `old` is `None` for a new package.
    Inst {
        /// Name (as apt prints it; `:arch` when qualified).
        name: String,
        /// Installed version.
        old: Option<String>,
        /// Version to install.
        new: String,
    },
    /// `Remv NAME [OLD]`.
    Remv {
        /// Name.
        name: String,
    },
}

/// The `Inst`/`Remv` lines of `apt-get -s` output.
pub fn parse_simulation(text: &str) -> Vec<Action> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("Inst") => {
                let Some(name) = words.next() else { continue };
                let rest: Vec<&str> = words.collect();
                let mut i = 0;
                let mut old = None;
                if let Some(w) = rest.first()
                    && let Some(v) = w.strip_prefix('[').and_then(|v| v.strip_suffix(']'))
                {
                    old = Some(v.to_string());
                    i = 1;
                }
                let Some(new) = rest.get(i).and_then(|w| w.strip_prefix('(')) else {
                    continue;
                };
                out.push(Action::Inst {
                    name: name.to_string(),
                    old,
                    new: new.trim_end_matches(')').to_string(),
                });
            }
            Some("Remv") => {
                if let Some(name) = words.next() {
                    out.push(Action::Remv {
                        name: name.to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// Package → (installed, candidate) versions; `(none)` is `None`.
pub type Policy = std::collections::BTreeMap<String, (Option<String>, Option<String>)>;

/// `apt-cache policy` output.
pub fn parse_policy(text: &str) -> Policy {
    let mut out = std::collections::BTreeMap::new();
    let mut cur: Option<String> = None;
    let v = |s: &str| {
        let s = s.trim();
        (s != "(none)" && !s.is_empty()).then(|| s.to_string())
    };
    for line in text.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            let name = line.trim_end_matches(':').to_string();
            out.insert(name.clone(), (None, None));
            cur = Some(name);
        } else if let Some(c) = &cur
            && let Some(e) = out.get_mut(c)
        {
            if let Some(i) = line.trim().strip_prefix("Installed:") {
                e.0 = v(i);
            } else if let Some(c) = line.trim().strip_prefix("Candidate:") {
                e.1 = v(c);
            }
        }
    }
    out
}

/// The candidates of `names` from the lists [`resolve`] fetched.
pub fn policy(
    tooling: &dyn Tooling,
    work: &Path,
    arch: &str,
    names: &[String],
) -> Result<Policy, PatchError> {
    for a in names {
        if !valid_name(a) {
            return Err(PatchError::Package {
                package: a.clone(),
                reason: "not a Debian package name".into(),
            });
        }
    }
    let env = vec![("ARCH".to_string(), arch.to_string())];
    let ran = tooling.run(&POLICY.replace("@OPTS@", APT_OPTS), names, &env, work)?;
    if ran.code != 0 {
        return Err(PatchError::Tooling {
            reason: format!("apt-cache policy: {}", why(&read_log(work, "policy.log"))),
        });
    }
    Ok(parse_policy(&read_log(work, "policy.log")))
}

/// What to ask apt for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// Upgrade these packages (and what they need).
    Packages(Vec<String>),
    /// Upgrade everything upgradable.
    All,
    /// Only the candidates of these (for package records that are a
    /// subset, as distroless and hardened images keep: apt's resolver
    /// would see their dependencies as broken).
    Candidates(Vec<String>),
}

/// The tooling's release as it says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Release {
    /// `ID`.
    pub id: String,
    /// `VERSION_CODENAME`.
    pub codename: String,
    /// `VERSION_ID`.
    pub version: String,
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.id)?;
        if !self.version.is_empty() {
            write!(f, " {}", self.version)?;
        }
        if !self.codename.is_empty() {
            write!(f, " ({})", self.codename)?;
        }
        Ok(())
    }
}

fn read_log(work: &Path, name: &str) -> String {
    std::fs::read_to_string(work.join(name)).unwrap_or_default()
}

/// The lines of a log that say what went wrong (`E:`/`W:`/`Err:`), else its end.
fn why(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("E:") || l.starts_with("Err:") || l.starts_with("W:"))
        .collect();
    if lines.is_empty() {
        tail(log, 800).trim().to_string()
    } else {
        lines.join("; ")
    }
}

/// Runs the resolution: writes the image's `status` to `work`, checks the
/// tooling's release is `image_release`, updates the lists and simulates.
pub fn resolve(
    tooling: &dyn Tooling,
    work: &Path,
    status: &str,
    arch: &str,
    ask: &Ask,
    image_release: &Release,
) -> Result<Vec<Action>, PatchError> {
    let io = |e: std::io::Error| PatchError::Io {
        path: work.display().to_string(),
        source: e,
    };
    std::fs::write(work.join("status"), status).map_err(io)?;
    let (mode, args) = match ask {
        Ask::All => ("all", Vec::new()),
        Ask::Packages(p) => ("packages", p.clone()),
        Ask::Candidates(p) => ("policy", p.clone()),
    };
    for a in &args {
        if !valid_name(a) {
            return Err(PatchError::Package {
                package: a.clone(),
                reason: "not a Debian package name".into(),
            });
        }
    }
    let env = vec![
        ("ARCH".to_string(), arch.to_string()),
        ("MODE".to_string(), mode.to_string()),
    ];
    let ran = tooling.run(RELEASE, &[], &env, work)?;
    let os = read_log(work, "tooling-os");
    let mut lines = os.lines();
    let tooling_release = Release {
        id: lines.next().unwrap_or("").to_string(),
        codename: lines.next().unwrap_or("").to_string(),
        version: lines.next().unwrap_or("").to_string(),
    };
    if ran.code == 18 || ran.code == 19 {
        return Err(PatchError::Tooling {
            reason: format!(
                "the tooling image {} has no apt-get or no os-release: it must be a {image_release} image with apt",
                tooling.image()
            ),
        });
    }
    let same = tooling_release.id == image_release.id
        && if image_release.codename.is_empty() || tooling_release.codename.is_empty() {
            tooling_release.version == image_release.version
        } else {
            tooling_release.codename == image_release.codename
        };
    if !same {
        return Err(PatchError::Tooling {
            reason: format!(
                "the tooling image {} is {tooling_release}, the image is {image_release}: packages must come from the image's release (--tooling-image)",
                tooling.image()
            ),
        });
    }
    if ran.code != 0 {
        return Err(PatchError::Tooling {
            reason: format!(
                "the tooling container exited {}: {}",
                ran.code,
                ran.stderr.trim()
            ),
        });
    }
    let script = RESOLVE.replace("@OPTS@", APT_OPTS);
    let ran = tooling.run(&script, &args, &env, work)?;
    match ran.code {
        0 => {}
        20 => {
            let log = read_log(work, "update.log");
            let gone = log.contains("404") || log.contains("does not have a Release file");
            return Err(if gone {
                PatchError::ReleaseGone {
                    release: image_release.to_string(),
                    detail: why(&log),
                }
            } else {
                PatchError::Tooling {
                    reason: format!("apt-get update: {}", why(&log)),
                }
            });
        }
        21 => {
            let log = read_log(work, "sim.log");
            if log.contains("Held packages were changed") {
                return Err(PatchError::Held { detail: why(&log) });
            }
            return Err(PatchError::Tooling {
                reason: format!("apt-get could not plan the upgrade: {}", why(&log)),
            });
        }
        c => {
            return Err(PatchError::Tooling {
                reason: format!("the tooling container exited {c}: {}", ran.stderr.trim()),
            });
        }
    }
    if let Ask::Candidates(_) = ask {
        let p = parse_policy(&read_log(work, "policy.log"));
        return Ok(p
            .into_iter()
            .filter_map(|(name, (old, new))| {
                let (old, new) = (old?, new?);
                let newer = vulndb::version::Scheme::Dpkg.compare(&new, &old)
                    == Some(std::cmp::Ordering::Greater);
                newer.then_some(Action::Inst {
                    name,
                    old: Some(old),
                    new,
                })
            })
            .collect());
    }
    Ok(parse_simulation(&read_log(work, "sim.log")))
}

/// Downloads `name=version` for each package into `work/debs`; returns the files.
pub fn download(
    tooling: &dyn Tooling,
    work: &Path,
    arch: &str,
    wanted: &[(String, String)],
) -> Result<Vec<std::path::PathBuf>, PatchError> {
    let mut args = Vec::new();
    for (n, v) in wanted {
        if !valid_name(n) || !valid_version(v) {
            return Err(PatchError::Package {
                package: format!("{n}={v}"),
                reason: "not a Debian package name and version".into(),
            });
        }
        let n = if n.contains(':') {
            n.clone()
        } else {
            format!("{n}:{arch}")
        };
        args.push(format!("{n}={v}"));
    }
    let env = vec![("ARCH".to_string(), arch.to_string())];
    let script = DOWNLOAD.replace("@OPTS@", APT_OPTS);
    let ran = tooling.run(&script, &args, &env, work)?;
    if ran.code != 0 {
        let log = read_log(work, "download.log");
        return Err(PatchError::Tooling {
            reason: format!("apt-get download: {}", why(&log)),
        });
    }
    let dir = work.join("debs");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| PatchError::Io {
            path: dir.display().to_string(),
            source: e,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulation_lines_are_read() {
        let text = "NOTE: This is only a simulation!\nInst libssl3 [3.0.11-1~deb12u2] (3.0.17-1~deb12u2 Debian-Security:12/stable-security [amd64])\nInst libnew1 (1.0-1 Debian:12.12/stable [amd64])\nRemv oldthing [2.0]\nConf libssl3 (3.0.17-1~deb12u2 Debian-Security:12/stable-security [amd64])\n";
        assert_eq!(
            parse_simulation(text),
            [
                Action::Inst {
                    name: "libssl3".into(),
                    old: Some("3.0.11-1~deb12u2".into()),
                    new: "3.0.17-1~deb12u2".into()
                },
                Action::Inst {
                    name: "libnew1".into(),
                    old: None,
                    new: "1.0-1".into()
                },
                Action::Remv {
                    name: "oldthing".into()
                }
            ]
        );
    }

    use crate::tooling::{Ran, Recording};

    /// A tooling double: a bookworm image whose update and simulation
    /// end as `code` says, with `log` as the simulation's or update's log.
    fn double(code: i32, log: &'static str) -> impl Fn(&str, &[String], &Path) -> Ran {
        move |script, _, work| {
            std::fs::write(work.join("tooling-os"), "debian\nbookworm\n12\n").unwrap();
            let ran = |c| Ran {
                code: c,
                stderr: String::new(),
            };
            if script.contains("os-release") {
                return ran(0);
            }
            let name = if code == 20 { "update.log" } else { "sim.log" };
            std::fs::write(work.join(name), log).unwrap();
            ran(code)
        }
    }

    fn bookworm() -> Release {
        Release {
            id: "debian".into(),
            codename: "bookworm".into(),
            version: "12".into(),
        }
    }

    #[test]
    fn the_release_is_checked_before_any_list_is_fetched() {
        let dir = tempfile::tempdir().unwrap();
        let t = Recording::new(double(0, ""));
        let trixie = Release {
            id: "debian".into(),
            codename: "trixie".into(),
            version: "13".into(),
        };
        let e = resolve(&t, dir.path(), "", "amd64", &Ask::All, &trixie)
            .unwrap_err()
            .to_string();
        assert!(e.contains("bookworm") && e.contains("trixie"), "{e}");
        assert_eq!(
            t.calls.lock().unwrap().len(),
            1,
            "only the release was asked"
        );
    }

    #[test]
    fn a_release_whose_repositories_are_gone_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let t = Recording::new(double(
            20,
            "Err:1 http://deb.debian.org/debian bookworm Release\n  404  Not Found\nE: The repository 'http://deb.debian.org/debian bookworm Release' does not have a Release file.\n",
        ));
        let e = resolve(&t, dir.path(), "", "amd64", &Ask::All, &bookworm()).unwrap_err();
        assert!(matches!(e, PatchError::ReleaseGone { .. }), "{e}");
        assert!(e.to_string().contains("debian 12 (bookworm)"), "{e}");
    }

    #[test]
    fn held_packages_and_the_plan_come_back_from_the_simulation() {
        let dir = tempfile::tempdir().unwrap();
        let t = Recording::new(double(
            21,
            "E: Held packages were changed and -y was used without --allow-change-held-packages.\n",
        ));
        let ask = Ask::Packages(vec!["libssl3".into()]);
        let e = resolve(&t, dir.path(), "", "amd64", &ask, &bookworm()).unwrap_err();
        assert!(matches!(e, PatchError::Held { .. }), "{e}");
        let t = Recording::new(double(
            0,
            "Inst libssl3 [1] (2 Debian-Security:12/stable-security [amd64])\n",
        ));
        let got = resolve(
            &t,
            dir.path(),
            "Package: libssl3\n",
            "arm64",
            &ask,
            &bookworm(),
        )
        .unwrap();
        assert_eq!(
            got,
            [Action::Inst {
                name: "libssl3".into(),
                old: Some("1".into()),
                new: "2".into()
            }]
        );
        let calls = t.calls.lock().unwrap();
        // the package names go as arguments, never into the script; the
        // target architecture is apt's native one
        assert_eq!(calls[1].1, ["libssl3"]);
        assert!(!calls[1].0.contains("libssl3"));
        assert!(
            calls[1]
                .2
                .contains(&("ARCH".to_string(), "arm64".to_string()))
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("status")).unwrap(),
            "Package: libssl3\n"
        );
    }

    #[test]
    fn policy_output_is_read() {
        let text = "libssl3:\n  Installed: 3.0.11-1~deb12u2\n  Candidate: 3.0.17-1~deb12u2\n  Version table:\n     3.0.17-1~deb12u2 500\n        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages\nlibgone:\n  Installed: 1.0\n  Candidate: (none)\n";
        let p = parse_policy(text);
        assert_eq!(
            p["libssl3"],
            (
                Some("3.0.11-1~deb12u2".to_string()),
                Some("3.0.17-1~deb12u2".to_string())
            )
        );
        assert_eq!(p["libgone"], (Some("1.0".to_string()), None));
    }

    #[test]
    fn names_and_versions_that_could_be_options_or_shell_are_refused() {
        for ok in ["libssl3", "libstdc++6", "libc6:amd64", "g++-12"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "-o",
            "--allow-unauthenticated",
            "a;b",
            "A",
            "x",
            "a b",
            "libc6:",
            "$(id)",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(valid_version("1:2.3~rc1-4+deb12u1"));
        for bad in ["", "-1", "1 2", "1;2"] {
            assert!(!valid_version(bad), "{bad}");
        }
    }

    #[test]
    fn platforms_map_to_debian_architectures() {
        let p = |a: &str, v: Option<&str>| oci::Platform {
            os: "linux".into(),
            architecture: a.into(),
            variant: v.map(str::to_string),
        };
        assert_eq!(debian_arch(&p("amd64", None)), Some("amd64"));
        assert_eq!(debian_arch(&p("arm64", Some("v8"))), Some("arm64"));
        assert_eq!(debian_arch(&p("arm", Some("v7"))), Some("armhf"));
        assert_eq!(debian_arch(&p("ppc64le", None)), Some("ppc64el"));
        assert_eq!(debian_arch(&p("wasm", None)), None);
    }
}
