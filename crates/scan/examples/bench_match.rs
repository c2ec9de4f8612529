//! Matching benchmark: generates an advisory DB of realistic size (≥ 300,000
//! affected-package rows: Debian source packages with many CVEs each, PyPI
//! records with explicit version lists as the PyPA database has them, npm
//! SEMVER ranges), an inventory of 1,000 packages, and times DB open and
//! matching. Run: `cargo run --release -p scan --example bench_match`.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use inventory::{Distro, Inventory, Location, Package, PackageType};
use vulndb::feed::Record;
use vulndb::model::{
    Advisory, Affected, CvssVector, Event, Range, RangeKind, Rating, Severity, Status,
};
use vulndb::{Db, DbBuilder};

/// A fixed-seed xorshift.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn main() {
    let rows_wanted: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(320_000);
    let dir = tempfile::tempdir().unwrap();
    // BENCH_DB=FILE keeps the generated DB there (and reuses it if present).
    let keep = std::env::var_os("BENCH_DB").map(std::path::PathBuf::from);
    let path = keep.clone().unwrap_or_else(|| dir.path().join("bench.db"));
    let reuse = keep.as_ref().is_some_and(|p| p.exists());
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let t = Instant::now();
    let mut b = if reuse {
        None
    } else {
        Some(DbBuilder::create(&path).unwrap())
    };
    let mut n = 0u64;
    let mut adv = 0u64;
    // Debian: 30,000 source packages; rows per package skewed (most have a
    // few CVEs, some hundreds).
    let deb_pkgs = 30_000u64;
    let py_pkgs = 15_000u64;
    let npm_pkgs = 15_000u64;
    while n < rows_wanted {
        let Some(builder) = b.as_mut() else { break };
        adv += 1;
        let kind = rng.below(10);
        let (eco, name, ranges, versions, rating) = if kind < 5 {
            let p = (rng.below(deb_pkgs) as f64).powf(1.0) as u64;
            let p = if rng.below(4) == 0 { p % 300 } else { p };
            let fixed = format!(
                "{}.{}.{}-{}+deb12u{}",
                rng.below(5),
                rng.below(30),
                rng.below(20),
                rng.below(9) + 1,
                rng.below(9) + 1
            );
            (
                "Debian:12".to_string(),
                format!("src{p}"),
                vec![Range {
                    kind: RangeKind::Ecosystem,
                    events: vec![Event::Introduced("0".into()), Event::Fixed(fixed)],
                }],
                vec![],
                Some(Rating {
                    source: "debian".into(),
                    severity: Severity::High,
                    label: Some("high".into()),
                }),
            )
        } else if kind < 8 {
            let p = rng.below(py_pkgs);
            let maj = rng.below(5);
            let versions: Vec<String> = (0..20)
                .map(|i| format!("{maj}.{}.{}", i / 4, i % 4))
                .collect();
            (
                "PyPI".to_string(),
                format!("py-pkg-{p}"),
                vec![Range {
                    kind: RangeKind::Ecosystem,
                    events: vec![
                        Event::Introduced(format!("{maj}.0")),
                        Event::Fixed(format!("{maj}.5.0")),
                    ],
                }],
                versions,
                None,
            )
        } else {
            let p = rng.below(npm_pkgs);
            let maj = rng.below(8);
            (
                "npm".to_string(),
                format!("npm-pkg-{p}"),
                vec![Range {
                    kind: RangeKind::Semver,
                    events: vec![
                        Event::Introduced(format!("{maj}.0.0")),
                        Event::Fixed(format!("{maj}.{}.{}", rng.below(20), rng.below(10))),
                    ],
                }],
                vec![],
                None,
            )
        };
        let id = format!("BENCH-{adv}");
        builder
            .add(&Record {
                advisory: Advisory {
                    id: id.parse().unwrap(),
                    aliases: vec![format!("CVE-2099-{adv}").parse().unwrap()],
                    summary: format!(
                        "synthetic advisory {adv} with a summary of typical length for a CVE"
                    ),
                    cvss: vec![CvssVector {
                        kind: "CVSS_V3".into(),
                        vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into(),
                        source: None,
                    }],
                    references: vec![format!(
                        "https://security-tracker.debian.org/tracker/CVE-2099-{adv}"
                    )],
                    ..Advisory::default()
                },
                affected: vec![Affected {
                    ecosystem: eco,
                    name,
                    ranges,
                    versions,
                    status: Status::Affected,
                    rating,
                }],
            })
            .unwrap();
        n += 1;
    }
    if let Some(b) = b {
        b.finish("2026-11-23T00:00:00Z".parse().unwrap()).unwrap();
    }
    let st = Db::open(&path).unwrap().status().clone();
    let build = t.elapsed();
    let size = std::fs::metadata(&path).unwrap().len();

    // 1,000 packages: 600 Debian binaries from 300 sources (several binaries
    // per source, as real images have), 300 PyPI, 100 npm.
    let mut packages = Vec::new();
    for i in 0..600u64 {
        let src = format!("src{}", (i / 2) * 97 % deb_pkgs);
        packages.push(pkg(
            PackageType::Deb,
            &format!("bin{i}"),
            "1.2.3-4",
            Some(src),
        ));
    }
    for i in 0..300u64 {
        packages.push(pkg(
            PackageType::Python,
            &format!("Py_Pkg.{}", i * 41 % py_pkgs),
            &format!("{}.1.2", i % 5),
            None,
        ));
    }
    for i in 0..100u64 {
        packages.push(pkg(
            PackageType::Npm,
            &format!("npm-pkg-{}", i * 131 % npm_pkgs),
            &format!("{}.3.1", i % 8),
            None,
        ));
    }
    let inv = Inventory {
        notes: Vec::new(),
        distro: Some(Distro {
            id: "debian".into(),
            version_id: "12".into(),
            codename: None,
            detected_from: "bench".into(),
        }),
        packages,
    };
    let opts = scan::Options::default();
    let mut opens = Vec::new();
    let mut matches = Vec::new();
    let mut found = 0;
    for _ in 0..15 {
        let t = Instant::now();
        let db = Db::open(&path).unwrap();
        opens.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let m = scan::match_inventory(&inv, &db, &opts).unwrap();
        matches.push(t.elapsed().as_secs_f64() * 1e3);
        found = m.findings.len();
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let first_match = matches[0];
    let first_open = opens[0];
    println!(
        "DB: {} affected rows, {} advisories, {:.0} MB, built in {:.1} s",
        st.affected_rows,
        st.advisories,
        size as f64 / 1e6,
        build.as_secs_f64()
    );
    println!(
        "inventory: {} packages; findings: {found}",
        inv.packages.len()
    );
    println!(
        "open:  first {first_open:.2} ms, median {:.2} ms",
        med(&mut opens)
    );
    println!(
        "match: first {first_match:.1} ms, median {:.1} ms",
        med(&mut matches)
    );
}

fn pkg(kind: PackageType, name: &str, version: &str, src: Option<String>) -> Package {
    Package {
        kind,
        name: name.into(),
        version: version.into(),
        source_version: src.as_ref().map(|_| version.to_string()),
        source_name: src,
        arch: None,
        purl: format!("pkg:{}/{name}@{version}", kind.as_str()),
        licenses: vec![],
        locations: vec![Location {
            path: "var/lib/dpkg/status".into(),
            layer: None,
        }],
        owned_by: None,
        supplier: None,
        relations: inventory::Relations::default(),
    }
}
