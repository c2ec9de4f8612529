//! Re-match benchmark (issue 27): a generated fleet of IMAGES promoted
//! images (default 1,000) on 50 bases, each image's kept inventory ~300
//! Debian packages (250 of its base's, 50 of its own), in a SQLite store;
//! the advisory DB is the one `scan`'s `bench_match` example generates
//! (BENCH_DB). Times ROUNDS re-matches: the first finds every finding new
//! (the generated promotions recorded none), the others nothing.
//! Run: `scripts/bench-rematch`.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use inventory::{Distro, Inventory, Location, Package, PackageType};
use model::{ImageOutcome, Outcome, PlatformOutcome, Timestamp};
use pipeline::deps::{Clock, DbFile};
use pipeline::rematch::{RematchDeps, rematch};
use store::Decision;

struct At(Timestamp);
impl Clock for At {
    fn now(&self) -> Timestamp {
        self.0
    }
}

fn deb(name: String, source: String, path: &str) -> Package {
    Package {
        kind: PackageType::Deb,
        purl: format!("pkg:deb/debian/{name}@1.2.3-4?distro=debian-12"),
        name,
        version: "1.2.3-4".into(),
        source_name: Some(source),
        source_version: Some("1.2.3-4".into()),
        arch: None,
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

fn main() {
    let db = std::env::var("BENCH_DB").expect("BENCH_DB: the generated advisory DB");
    let mut args = std::env::args().skip(1);
    let images: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("app")).unwrap();
    std::fs::write(d.join("app/Dockerfile"), "FROM scratch\n").unwrap();
    let mut toml = String::new();
    for i in 0..images {
        toml.push_str(&format!(
            "[[image]]\nname = \"app{i}\"\ncontext = \"app\"\nrepository = \"r.example/fleet/app{i}\"\n\n"
        ));
    }
    toml.push_str(&format!("[scan]\ndb = \"{db}\"\n"));
    std::fs::write(d.join("fleet.toml"), toml).unwrap();
    let cfg = pipeline::FleetConfig::load_fleet(&d.join("fleet.toml")).unwrap();
    let mut st = cfg.open_store().unwrap();

    let t = Instant::now();
    let run = st
        .begin_run(Timestamp(0), "fleet.toml", &"".into())
        .unwrap();
    let mut packages_total = 0;
    for i in 0..images {
        let base = i % 50;
        let mut pkgs: Vec<Package> = (0..250)
            .map(|j| {
                let n = base * 250 + j;
                deb(
                    format!("bin{n}"),
                    format!("src{}", n * 7 % 30_000),
                    "var/lib/dpkg/status",
                )
            })
            .collect();
        pkgs.extend((0..50).map(|j| {
            let n = 20_000 + i * 50 + j;
            deb(
                format!("bin{n}"),
                format!("src{}", n * 13 % 30_000),
                "var/lib/dpkg/status",
            )
        }));
        packages_total += pkgs.len();
        let inv = Inventory::new(
            Some(Distro {
                id: "debian".into(),
                version_id: "12".into(),
                codename: None,
                detected_from: "bench".into(),
            }),
            pkgs,
        );
        let digest: oci::Digest = format!("sha256:{:064x}", i + 1).parse().unwrap();
        let mut o = ImageOutcome::new(
            &format!("app{i}"),
            &format!("r.example/fleet/app{i}").parse().unwrap(),
            None,
        );
        o.outcome = Outcome::Promoted;
        o.digest = Some(digest.clone());
        o.platforms.push(PlatformOutcome {
            platform: "linux/amd64".parse().unwrap(),
            digest: Some(digest),
            rebuilt: true,
            counts: Default::default(),
            fixable: 0,
            baseline: None,
            reasons: vec![],
            findings: vec![],
            hardened: None,
            inventory: Some(serde_json::to_string(&inv).unwrap()),
            eol: Vec::new(),
        });
        st.decide(&Decision {
            run,
            time: Timestamp(0),
            outcome: &o,
            version: None,
        })
        .unwrap();
    }
    println!(
        "fleet: {images} promoted images, {packages_total} packages kept, stored in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let advisories = DbFile {
        path: db.into(),
        max_age_hours: 0,
        max_feed_age_days: None,
    };
    for round in 1..=rounds {
        let t = Instant::now();
        let r = rematch(
            &cfg,
            RematchDeps {
                store: &mut *st,
                advisories: &advisories,
                clock: &At(Timestamp(86_400 * round as i64)),
                notifier: &notify::Live,
            },
        )
        .unwrap();
        let new: usize = r.changed.iter().map(|c| c.new.len()).sum();
        println!(
            "rematch {round}: {:.2} s, {} platforms matched, {} changed, {new} new findings",
            t.elapsed().as_secs_f64(),
            r.matched,
            r.changed.len()
        );
    }
}
