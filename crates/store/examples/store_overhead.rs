//! What the state store costs per image in a run, SQLite against
//! PostgreSQL, measured the way the run uses it: per image a lease
//! (acquire), the overlap check, the history, three stages, the decision
//! (audit record + state in one transaction), a heartbeat and the release.
//! Rounds alternate the stores (A B A B ...) on fresh state; the median per
//! image is printed. Used by `scripts/bench-fleet`.
//!
//! `cargo run --release -p store --example store_overhead -- DIR POSTGRES_URL [IMAGES] [ROUNDS]`

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use dockerfile::BaseRefKind;
use model::{BaseDigest, ImageOutcome, Outcome, Stage, Timestamp};
use store::{Decision, Postgres, Sqlite, StateStore};

fn outcome(name: &str, i: usize) -> ImageOutcome {
    let d = |c: usize| -> oci::Digest { format!("sha256:{:064x}", c).parse().expect("digest") };
    let mut o = ImageOutcome::new(
        name,
        &format!("r.example/fleet/{name}")
            .parse()
            .expect("reference"),
        None,
    );
    o.outcome = Outcome::Promoted;
    o.digest = Some(d(i + 1));
    o.tags = vec!["latest".into(), "20261129".into()];
    o.bases.push(BaseDigest {
        reference: "r.example/base/debian:12".parse().expect("reference"),
        kind: BaseRefKind::From,
        digest: d(1_000_000),
        platforms: vec![],
        previous: None,
    });
    o
}

/// Seconds per image for one pass of `images` images on `s`.
fn pass(s: &mut dyn StateStore, images: usize, round: usize) -> f64 {
    let t0 = Instant::now();
    let now = Timestamp(1_800_000_000 + round as i64 * 100_000);
    let run = s.begin_run(now, "fleet.toml", &"".into()).expect("begin");
    for i in 0..images {
        let name = model::ImageName::new(format!("img{i:03}"));
        s.acquire(&name, run, &"bench:1".into(), now, 900)
            .expect("acquire");
        s.decided_since(&name, run).expect("decided_since");
        s.history(&name, None).expect("history");
        for st in [Stage::Checked, Stage::Pushed, Stage::Gated] {
            s.stage(run, &name, st, None).expect("stage");
        }
        let o = outcome(name.as_str(), i + round * images);
        s.decide(&Decision {
            run,
            time: now,
            outcome: &o,
            version: None,
        })
        .expect("decide");
        s.heartbeat(run, now).expect("heartbeat");
        s.release(&name, run).expect("release");
    }
    s.finish_run(run, now, store::RunStatus::Completed)
        .expect("finish");
    t0.elapsed().as_secs_f64() / images as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(url)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: store_overhead DIR POSTGRES_URL [IMAGES] [ROUNDS]");
        std::process::exit(2);
    };
    let images: usize = args.get(3).map_or(20, |s| s.parse().expect("IMAGES"));
    let rounds: usize = args.get(4).map_or(5, |s| s.parse().expect("ROUNDS"));
    let dir = std::path::Path::new(dir);
    let mut sqlite = Sqlite::open(&dir.join("state.db"), &dir.join("audit")).expect("sqlite");
    let mut pg = Postgres::connect(url).expect("postgres");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        a.push(pass(&mut sqlite, images, r));
        b.push(pass(&mut pg, images, r));
    }
    println!("| store | per image (median of {rounds} rounds of {images} images) | rounds |");
    println!("|---|---:|---|");
    let ms = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{:.2}", x * 1000.0))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "| SQLite (WAL, synchronous=FULL, audit file fsync'd) | {:.2} ms | {} |",
        median(a.clone()) * 1000.0,
        ms(&a)
    );
    println!(
        "| PostgreSQL 15 (loopback TCP) | {:.2} ms | {} |",
        median(b.clone()) * 1000.0,
        ms(&b)
    );
}
