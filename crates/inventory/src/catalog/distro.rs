//! Distro detection: `etc/os-release` (or `usr/lib/os-release`), then
//! `etc/lsb-release`, `etc/debian_version` / `etc/alpine-release`, then — for
//! distroless images with no os-release — the dpkg records themselves.
//!
//! From dpkg records: Ubuntu's packages say so (`base-files` versions like
//! `12ubuntu4.6`, maintainers at `lists.ubuntu.com`), and its release comes
//! from `base-files` (each Ubuntu release has its own major version); Debian's
//! `base-files` version is the Debian major (`12.4+deb12u5`), or the
//! `+debNN` suffix of security updates says it. Records of another
//! derivative, or an Ubuntu `base-files` we do not know, are not guessed: the
//! inventory gets a note and no (or no release of the) distro.

use super::{Ctx, field, paragraphs};
use crate::model::Distro;

fn os_release(text: &str) -> Option<(String, String, Option<String>)> {
    let mut id = None;
    let mut version = None;
    let mut codename = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches(['"', '\'']).to_string();
        match k.trim() {
            "ID" => id = Some(v),
            "VERSION_ID" => version = Some(v),
            "VERSION_CODENAME" => codename = Some(v).filter(|s| !s.is_empty()),
            _ => {}
        }
    }
    Some((id?, version.unwrap_or_default(), codename))
}

/// Debian major version from a version string containing `debNN` (`+deb12u1`).
fn deb_major(version: &str) -> Option<String> {
    let i = version.find("deb")?;
    let digits: String = version[i + 3..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    (!digits.is_empty()).then_some(digits)
}

/// Ubuntu releases by the major version of their `base-files` package.
const UBUNTU_BASE_FILES: &[(&str, &str, &str)] = &[
    ("10.1ubuntu", "18.04", "bionic"),
    ("11ubuntu", "20.04", "focal"),
    ("11.1ubuntu", "21.04", "hirsute"),
    ("12ubuntu", "22.04", "jammy"),
    ("12.3ubuntu", "23.04", "lunar"),
    ("13ubuntu", "24.04", "noble"),
];

const DEBIAN_CODENAMES: &[(&str, &str)] = &[
    ("10", "buster"),
    ("11", "bullseye"),
    ("12", "bookworm"),
    ("13", "trixie"),
    ("14", "forky"),
];

pub(super) fn detect(ctx: &Ctx<'_>) -> Option<Distro> {
    let tree = &ctx.analysis.tree;
    for path in ["etc/os-release", "usr/lib/os-release"] {
        if let Some((id, version_id, codename)) = tree
            .read(path)
            .and_then(|b| os_release(&String::from_utf8_lossy(b)))
        {
            return Some(Distro {
                id,
                version_id,
                codename,
                detected_from: path.to_string(),
            });
        }
    }
    if let Some(b) = tree.read("etc/lsb-release") {
        let text = String::from_utf8_lossy(b);
        let get = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().trim_matches('"').to_string())
                .filter(|v| !v.is_empty())
        };
        if let (Some(id), Some(version_id)) = (get("DISTRIB_ID="), get("DISTRIB_RELEASE=")) {
            return Some(Distro {
                id: id.to_ascii_lowercase(),
                version_id,
                codename: get("DISTRIB_CODENAME="),
                detected_from: "etc/lsb-release".into(),
            });
        }
    }
    if let Some(b) = tree.read("etc/debian_version") {
        let v = String::from_utf8_lossy(b).trim().to_string();
        let major = v.split('.').next().unwrap_or("").to_string();
        if major.chars().all(|c| c.is_ascii_digit()) && !major.is_empty() {
            let codename = DEBIAN_CODENAMES
                .iter()
                .find(|(m, _)| *m == major)
                .map(|(_, c)| c.to_string());
            return Some(Distro {
                id: "debian".into(),
                version_id: major,
                codename,
                detected_from: "etc/debian_version".into(),
            });
        }
    }
    if let Some(b) = tree.read("etc/alpine-release") {
        let v = String::from_utf8_lossy(b).trim().to_string();
        return Some(Distro {
            id: "alpine".into(),
            version_id: v,
            codename: None,
            detected_from: "etc/alpine-release".into(),
        });
    }
    // distroless: only dpkg records
    let mut records: Vec<Record> = Vec::new();
    let mut path = "var/lib/dpkg/status";
    for (p, bytes) in ctx.files() {
        if p == "var/lib/dpkg/status" || p.starts_with("var/lib/dpkg/status.d/") {
            path = if p == "var/lib/dpkg/status" {
                p
            } else {
                "var/lib/dpkg/status.d"
            };
            for para in paragraphs(&String::from_utf8_lossy(bytes)) {
                if let (Some(n), Some(v)) = (field(&para, "Package"), field(&para, "Version")) {
                    records.push(Record {
                        name: n.to_string(),
                        version: v.to_string(),
                        maintainer: field(&para, "Maintainer").unwrap_or("").to_string(),
                    });
                }
            }
        }
    }
    if records.is_empty() {
        return None;
    }
    match from_dpkg(&records) {
        Ok(d) => Some(d),
        Err((distro, why)) => {
            ctx.note(path, why);
            distro
        }
    }
}

/// The Debian major of a Debian `base-files` version: `12.4+deb12u5`,
/// `11.1+deb11u9`, `13.8`, `12`; `None` for any other shape.
fn debian_base_files(v: &str) -> Option<String> {
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let (release, update) = match v.split_once("+deb") {
        Some((r, u)) => (r, Some(u)),
        None => (v, None),
    };
    let (major, minor) = release.split_once('.').unwrap_or((release, "0"));
    let update_ok = update.is_none_or(|u| {
        u.split_once('u')
            .is_some_and(|(m, n)| m == major && digits(n))
    });
    (digits(major) && digits(minor) && update_ok).then(|| major.to_string())
}

/// The fields of a dpkg record that tell the distro.
struct Record {
    name: String,
    version: String,
    maintainer: String,
}

/// The distro that dpkg records come from; `Err` with what can be said
/// (maybe the distro without its release) and why no more.
fn from_dpkg(records: &[Record]) -> Result<Distro, (Option<Distro>, String)> {
    let base = records.iter().find(|r| r.name == "base-files");
    let ubuntu = base.is_some_and(|b| b.version.contains("ubuntu"))
        || records
            .iter()
            .any(|r| r.maintainer.contains("lists.ubuntu.com"));
    if ubuntu {
        let known = base.and_then(|b| {
            let stem: String = b
                .version
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            UBUNTU_BASE_FILES
                .iter()
                .find(|(prefix, _, _)| b.version.starts_with(prefix) && prefix.starts_with(&stem))
        });
        return match known {
            Some((_, version, codename)) => Ok(Distro {
                id: "ubuntu".into(),
                version_id: version.to_string(),
                codename: Some(codename.to_string()),
                detected_from: "dpkg records (base-files)".into(),
            }),
            None => Err((
                Some(Distro {
                    id: "ubuntu".into(),
                    version_id: String::new(),
                    codename: None,
                    detected_from: "dpkg records".into(),
                }),
                format!(
                    "the packages are Ubuntu's but the release cannot be told from them (base-files {}); no os-release",
                    base.map_or("missing", |b| b.version.as_str())
                ),
            )),
        };
    }
    let debian = |major: String, from: &str| Distro {
        codename: DEBIAN_CODENAMES
            .iter()
            .find(|(m, _)| *m == major)
            .map(|(_, c)| c.to_string()),
        id: "debian".into(),
        version_id: major,
        detected_from: from.into(),
    };
    if let Some(b) = base {
        if let Some(major) = debian_base_files(&b.version) {
            return Ok(debian(major, "dpkg records (base-files)"));
        }
        return Err((
            None,
            format!(
                "the distro cannot be told from the dpkg records (base-files {} by {}); no os-release",
                b.version,
                if b.maintainer.is_empty() {
                    "no maintainer"
                } else {
                    &b.maintainer
                }
            ),
        ));
    }
    match records.iter().find_map(|r| deb_major(&r.version)) {
        Some(major) => Ok(debian(major, "dpkg records")),
        None => Err((
            None,
            "the distro cannot be told from the dpkg records (no base-files, no os-release)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_and_ubuntu_from_dpkg_records() {
        let rec = |name: &str, version: &str, maintainer: &str| Record {
            name: name.into(),
            version: version.into(),
            maintainer: maintainer.into(),
        };
        let d = from_dpkg(&[rec(
            "base-files",
            "12.4+deb12u5",
            "Santiago Vila <sanvila@debian.org>",
        )])
        .unwrap();
        assert_eq!((d.id.as_str(), d.version_id.as_str()), ("debian", "12"));
        let ubuntu = "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>";
        let u = from_dpkg(&[rec("base-files", "10.1ubuntu2.2", ubuntu)]).unwrap();
        assert_eq!(
            (u.id.as_str(), u.version_id.as_str(), u.codename.as_deref()),
            ("ubuntu", "18.04", Some("bionic"))
        );
        let u = from_dpkg(&[rec("base-files", "12ubuntu4.6", ubuntu)]).unwrap();
        assert_eq!(u.version_id, "22.04");
        // an Ubuntu base-files we do not know: Ubuntu, release unknown, said so
        let (d, why) = from_dpkg(&[rec("base-files", "14ubuntu1", ubuntu)]).unwrap_err();
        assert_eq!(d.unwrap().version_id, "");
        assert!(why.contains("cannot be told"), "{why}");
        // another derivative is not guessed to be Debian
        let (d, _) = from_dpkg(&[rec(
            "base-files",
            "1:2024.1.0",
            "Kali Developers <devel@kali.org>",
        )])
        .unwrap_err();
        assert!(d.is_none());
        assert_eq!(debian_base_files("11.1+deb11u9").as_deref(), Some("11"));
        assert_eq!(debian_base_files("13.8").as_deref(), Some("13"));
        assert_eq!(debian_base_files("10.1ubuntu2.2"), None);
        // no base-files: the +debNN of security updates
        let d = from_dpkg(&[rec("libc6", "2.36-9+deb12u7", "")]).unwrap();
        assert_eq!(d.version_id, "12");
    }

    #[test]
    fn parses_os_release_and_suffixes() {
        let (id, v, c) = os_release("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n").unwrap();
        assert_eq!(
            (id.as_str(), v.as_str(), c.as_deref()),
            ("debian", "12", Some("bookworm"))
        );
        assert_eq!(deb_major("2.36-9+deb12u7").as_deref(), Some("12"));
        assert_eq!(deb_major("1.0-1"), None);
    }
}
