//! End of life of what an image runs on: its distribution release and the
//! language runtimes found in it (python, node, go, java, ruby, php,
//! dotnet), looked up in the DB's end-of-life data (distro-info-data,
//! endoflife.date). A runtime is told only from evidence that names its
//! release cycle — a distribution package of the runtime (`python3.11`,
//! `nodejs 18.19.0`, `openjdk-17-jre-headless`), the `lib/pythonX.Y/`
//! directory Python packages are installed in, a Go binary's toolchain —
//! and a release the data does not know gets no claim, never a guess.

use std::collections::BTreeMap;

use inventory::{Inventory, PackageType};
use vulndb::feed::eol::EolStatus;
use vulndb::{Db, DbError};

/// A language runtime found in an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// endoflife.date's product name (`python`, `nodejs`, `go`,
    /// `eclipse-temurin`, `ruby`, `php`, `dotnet`).
    pub product: &'static str,
    /// Its release cycle (`3.11`, `18`, `1.22`, `17`, `8.0`).
    pub cycle: String,
    /// What it was told from.
    pub evidence: String,
}

/// The os-release `ID` → endoflife.date product, for distributions
/// distro-info-data does not cover.
fn distro_product(id: &str) -> &str {
    match id {
        "alpine" => "alpine-linux",
        "amzn" => "amazon-linux",
        "rocky" => "rocky-linux",
        "ol" => "oracle-linux",
        "sles" | "sle_bci" => "sles",
        "opensuse-leap" => "opensuse",
        "centos" => "centos",
        other => other,
    }
}

/// `3.11.2-6` → `3.11`; `18.19.0+dfsg` → `18` (`parts` numeric parts).
fn leading(version: &str, parts: usize) -> Option<String> {
    let v = version.split_once(':').map_or(version, |(_, v)| v);
    let nums: Vec<&str> = v
        .split(|c: char| !c.is_ascii_digit())
        .take_while(|s| !s.is_empty())
        .take(parts)
        .collect();
    (nums.len() == parts).then(|| nums.join("."))
}

/// `python3.11-minimal` → `3.11`: the X.Y right after `prefix`.
fn cycle_in_name(name: &str, prefix: &str) -> Option<String> {
    let rest = name.strip_prefix(prefix)?;
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let v = rest[..end].trim_end_matches('.');
    (v.contains('.') && v.split('.').all(|p| !p.is_empty())).then(|| v.to_string())
}

/// `openjdk-17-jre-headless`, `java-17-openjdk`, `openjdk17-jre`: `17`.
fn java_major(name: &str) -> Option<String> {
    let digits = |s: &str| -> Option<String> {
        let d: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
        (!d.is_empty()).then_some(d)
    };
    if let Some(rest) = name
        .strip_prefix("openjdk-")
        .or(name.strip_prefix("openjdk"))
    {
        return digits(rest);
    }
    if let Some(rest) = name.strip_prefix("java-")
        && rest.contains("openjdk")
    {
        // Java 8 is java-1.8.0-openjdk
        return match digits(rest).as_deref() {
            Some("1") => rest.strip_prefix("1.").and_then(digits),
            other => other.map(str::to_string),
        };
    }
    None
}

/// The runtimes an inventory shows, one per (product, cycle), each with the
/// first evidence found.
pub fn runtimes(inv: &Inventory) -> Vec<Runtime> {
    let mut found: BTreeMap<(&'static str, String), String> = BTreeMap::new();
    let mut add = |product: &'static str, cycle: Option<String>, evidence: String| {
        if let Some(c) = cycle {
            found.entry((product, c)).or_insert(evidence);
        }
    };
    for p in &inv.packages {
        let what = format!("{} {} {}", p.kind.as_str(), p.name, p.version);
        let n = p.name.as_str();
        match p.kind {
            PackageType::Deb | PackageType::Apk | PackageType::Rpm => {
                if let Some(c) = cycle_in_name(n, "python")
                    .or_else(|| cycle_in_name(n, "libpython"))
                    .filter(|c| c.starts_with('2') || c.starts_with('3'))
                {
                    add("python", Some(c), what);
                } else if n == "python3" && p.kind != PackageType::Deb {
                    // Alpine's and Fedora's python3 is the interpreter itself
                    add("python", leading(&p.version, 2), what);
                } else if n == "nodejs" || n == "nodejs-current" {
                    add("nodejs", leading(&p.version, 1), what);
                } else if let Some(c) = cycle_in_name(n, "golang-") {
                    add("go", Some(c), what);
                } else if n == "go" || n == "golang" {
                    add("go", leading(&p.version, 2), what);
                } else if let Some(c) = java_major(n) {
                    add("eclipse-temurin", Some(c), what);
                } else if let Some(c) = cycle_in_name(n, "ruby") {
                    add("ruby", Some(c), what);
                } else if n == "ruby" && p.kind != PackageType::Deb {
                    add("ruby", leading(&p.version, 2), what);
                } else if let Some(c) = cycle_in_name(n, "php") {
                    add("php", Some(c), what);
                } else if n == "php" && p.kind == PackageType::Rpm {
                    add("php", leading(&p.version, 2), what);
                } else if let Some(d) = n.strip_prefix("php").filter(|d| {
                    p.kind == PackageType::Apk
                        && d.len() == 2
                        && d.bytes().all(|b| b.is_ascii_digit())
                }) {
                    // Alpine names PHP 8.3 php83
                    add("php", Some(format!("{}.{}", &d[..1], &d[1..])), what);
                } else if let Some(c) = n
                    .strip_prefix("dotnet-runtime-")
                    .or(n.strip_prefix("aspnetcore-runtime-"))
                {
                    add("dotnet", leading(c, 2), what);
                }
            }
            PackageType::Python => {
                // site-packages of an interpreter built from source
                // (the official python images): lib/python3.9/site-packages
                for l in &p.locations {
                    if let Some(i) = l.path.find("lib/python") {
                        let dir = &l.path[i..];
                        let cycle = cycle_in_name(dir.trim_start_matches("lib/"), "python");
                        // shown up to the packages directory
                        let tail: Vec<&str> = dir.splitn(4, '/').take(3).collect();
                        add(
                            "python",
                            cycle,
                            format!("{}{}", &l.path[..i], tail.join("/")),
                        );
                    }
                }
            }
            PackageType::Go if n == "stdlib" => {
                add(
                    "go",
                    leading(p.version.trim_start_matches("go"), 2),
                    format!(
                        "Go toolchain of {}",
                        p.locations.first().map_or("a binary", |l| l.path.as_str())
                    ),
                );
            }
            _ => {}
        }
    }
    found
        .into_iter()
        .map(|((product, cycle), evidence)| Runtime {
            product,
            cycle,
            evidence,
        })
        .collect()
}

/// Where the image's distribution release and runtimes stand on `today`
/// (`YYYY-MM-DD`): the distribution first, then the runtimes the data
/// knows. Nothing for what the data does not cover.
pub fn check(db: &Db, inv: &Inventory, today: &str) -> Result<Vec<EolStatus>, DbError> {
    let mut out = Vec::new();
    if let Some(d) = &inv.distro {
        let c = match db.eol(&d.id, &d.version_id)? {
            Some(c) => Some(c),
            None => db.eol(distro_product(&d.id), &d.version_id)?,
        };
        if let Some(c) = c {
            out.push(c.status(today));
        }
    }
    for r in runtimes(inv) {
        if let Some(c) = db.eol(r.product, &r.cycle)?
            && c.cycle == r.cycle
        {
            let mut s = c.status(today);
            s.evidence = Some(r.evidence);
            out.push(s);
        }
    }
    Ok(out)
}

/// The DB's end-of-life data as lint's base-image policy reads it.
pub fn lint_table(cycles: &[vulndb::feed::eol::Cycle], today: &str) -> dockerfile::release::Table {
    dockerfile::release::Table {
        cycles: cycles
            .iter()
            .map(|c| dockerfile::release::Cycle {
                product: c.product.clone(),
                cycle: c.cycle.clone(),
                codename: c.codename.clone(),
                release: c.release.clone(),
                end: c.end().map(str::to_string),
                ended: c.ended,
                lts: c.lts,
            })
            .collect(),
        today: today.to_string(),
    }
}

/// The gate's reasons: every release past its end or ending within `days`.
pub fn blocking(statuses: &[EolStatus], days: i64) -> Vec<String> {
    statuses
        .iter()
        .filter(|s| s.eol || s.days_left.is_some_and(|d| d < days.max(0)))
        .map(EolStatus::text)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use inventory::{Location, Package};

    fn pkg(kind: PackageType, name: &str, version: &str, path: &str) -> Package {
        Package {
            kind,
            name: name.into(),
            version: version.into(),
            source_name: None,
            source_version: None,
            arch: None,
            purl: String::new(),
            licenses: vec![],
            locations: vec![Location {
                path: path.into(),
                layer: None,
            }],
            owned_by: None,
            supplier: None,
            relations: Default::default(),
        }
    }

    #[test]
    fn runtimes_are_told_from_packages_site_packages_and_go_binaries() {
        let inv = Inventory::new(
            None,
            vec![
                pkg(
                    PackageType::Deb,
                    "python3.11-minimal",
                    "3.11.2-6+deb12u6",
                    "var/lib/dpkg/status",
                ),
                pkg(
                    PackageType::Deb,
                    "python3",
                    "3.11.2-1+b1",
                    "var/lib/dpkg/status",
                ),
                pkg(
                    PackageType::Python,
                    "pip",
                    "23.0.1",
                    "usr/local/lib/python3.9/site-packages/pip-23.0.1.dist-info/METADATA",
                ),
                pkg(
                    PackageType::Deb,
                    "nodejs",
                    "18.19.0+dfsg-6~deb12u2",
                    "var/lib/dpkg/status",
                ),
                pkg(
                    PackageType::Deb,
                    "openjdk-17-jre-headless",
                    "17.0.13+11-2~deb12u1",
                    "var/lib/dpkg/status",
                ),
                pkg(
                    PackageType::Rpm,
                    "java-21-openjdk-headless",
                    "21.0.5.0.11-1.el9",
                    "var/lib/rpm/rpmdb.sqlite",
                ),
                pkg(PackageType::Go, "stdlib", "go1.22.5", "usr/bin/app"),
                pkg(
                    PackageType::Apk,
                    "php83",
                    "8.3.14-r0",
                    "lib/apk/db/installed",
                ),
                pkg(
                    PackageType::Deb,
                    "ruby3.1",
                    "3.1.2-7+deb12u1",
                    "var/lib/dpkg/status",
                ),
                pkg(
                    PackageType::Rpm,
                    "dotnet-runtime-8.0",
                    "8.0.11-1.el9",
                    "var/lib/rpm/rpmdb.sqlite",
                ),
                pkg(
                    PackageType::Rpm,
                    "java-1.8.0-openjdk-headless",
                    "1.8.0.432.b06-2.el9",
                    "var/lib/rpm/rpmdb.sqlite",
                ),
                pkg(
                    PackageType::Rpm,
                    "php",
                    "8.1.27-1.el9",
                    "var/lib/rpm/rpmdb.sqlite",
                ),
                pkg(
                    PackageType::Deb,
                    "python3-yaml",
                    "6.0-3+b2",
                    "var/lib/dpkg/status",
                ),
                pkg(
                    PackageType::Deb,
                    "libpython3-stdlib",
                    "3.11.2-1+b1",
                    "var/lib/dpkg/status",
                ),
            ],
        );
        let got: Vec<(&str, String, String)> = runtimes(&inv)
            .into_iter()
            .map(|r| (r.product, r.cycle, r.evidence))
            .collect();
        let want = [
            ("dotnet", "8.0", "rpm dotnet-runtime-8.0 8.0.11-1.el9"),
            (
                "eclipse-temurin",
                "17",
                "deb openjdk-17-jre-headless 17.0.13+11-2~deb12u1",
            ),
            (
                "eclipse-temurin",
                "21",
                "rpm java-21-openjdk-headless 21.0.5.0.11-1.el9",
            ),
            (
                "eclipse-temurin",
                "8",
                "rpm java-1.8.0-openjdk-headless 1.8.0.432.b06-2.el9",
            ),
            ("go", "1.22", "Go toolchain of usr/bin/app"),
            ("nodejs", "18", "deb nodejs 18.19.0+dfsg-6~deb12u2"),
            ("php", "8.1", "rpm php 8.1.27-1.el9"),
            ("php", "8.3", "apk php83 8.3.14-r0"),
            ("python", "3.11", "deb python3.11-minimal 3.11.2-6+deb12u6"),
            ("python", "3.9", "usr/local/lib/python3.9/site-packages"),
            ("ruby", "3.1", "deb ruby3.1 3.1.2-7+deb12u1"),
        ];
        let want: Vec<(&str, String, String)> = want
            .iter()
            .map(|(a, b, c)| (*a, b.to_string(), c.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn names_without_a_release_cycle_are_not_runtimes() {
        assert_eq!(cycle_in_name("php8.2-cli", "php").as_deref(), Some("8.2"));
        assert_eq!(cycle_in_name("python3-yaml", "python"), None);
        assert_eq!(cycle_in_name("python3", "python"), None);
    }

    #[test]
    fn the_gate_blocks_what_ended_or_ends_within_the_days() {
        let s = |days: Option<i64>, eol: bool| EolStatus {
            release: "x 1".into(),
            evidence: None,
            end: days.map(|_| "2027-01-01".into()),
            days_left: days,
            eol,
            source: "t".into(),
        };
        let all = [
            s(Some(-3), true),
            s(Some(10), false),
            s(Some(400), false),
            s(None, false),
            s(None, true),
        ];
        assert_eq!(blocking(&all, 30).len(), 3);
        assert_eq!(blocking(&all, 0).len(), 2);
    }
}
