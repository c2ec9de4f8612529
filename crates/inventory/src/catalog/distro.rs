//! Distro detection: `etc/os-release` (or `usr/lib/os-release`), then
//! `etc/debian_version` / `etc/alpine-release`, then — for distroless images
//! with no os-release — the dpkg records themselves (`base-files`' version, or
//! the `+debNN` suffix Debian security updates carry).

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
    let mut versions: Vec<(String, String)> = Vec::new();
    for (path, bytes) in ctx.files() {
        if path == "var/lib/dpkg/status" || path.starts_with("var/lib/dpkg/status.d/") {
            for p in paragraphs(&String::from_utf8_lossy(bytes)) {
                if let (Some(n), Some(v)) = (field(&p, "Package"), field(&p, "Version")) {
                    versions.push((n.to_string(), v.to_string()));
                }
            }
        }
    }
    let from_base_files = versions
        .iter()
        .find(|(n, _)| n == "base-files")
        .and_then(|(_, v)| {
            let major: String = v.chars().take_while(|c| c.is_ascii_digit()).collect();
            (!major.is_empty()).then_some(major)
        });
    let major = from_base_files.or_else(|| versions.iter().find_map(|(_, v)| deb_major(v)))?;
    let codename = DEBIAN_CODENAMES
        .iter()
        .find(|(m, _)| *m == major)
        .map(|(_, c)| c.to_string());
    Some(Distro {
        id: "debian".into(),
        version_id: major,
        codename,
        detected_from: "dpkg records".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
