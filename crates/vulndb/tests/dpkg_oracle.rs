//! The dpkg comparator agrees with `dpkg --compare-versions` on real
//! versions: 10,000 pairs drawn from this machine's Debian `Packages`
//! indices (read with `apt-helper cat-file`, which understands apt's
//! compressed lists), each checked in both directions.

use std::process::Command;

use vulndb::version::dpkg::DebVersion;

fn real_versions() -> Vec<String> {
    let lists =
        std::fs::read_dir("/var/lib/apt/lists").expect("/var/lib/apt/lists (run apt-get update)");
    let mut versions = Vec::new();
    for e in lists.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.contains("_Packages") {
            continue;
        }
        let out = Command::new("/usr/lib/apt/apt-helper")
            .arg("cat-file")
            .arg(e.path())
            .output()
            .expect("apt-helper");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(v) = line.strip_prefix("Version: ") {
                versions.push(v.to_string());
            }
        }
    }
    versions.sort();
    versions.dedup();
    versions
}

/// A small deterministic generator (no dependency needed for test sampling).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

fn dpkg_lt(a: &str, b: &str) -> bool {
    Command::new("dpkg")
        .args(["--compare-versions", a, "lt", b])
        .status()
        .expect("dpkg")
        .success()
}

#[test]
fn agrees_with_dpkg_on_10000_real_pairs() {
    let versions = real_versions();
    assert!(
        versions.len() > 5_000,
        "only {} versions in the apt lists (run apt-get update)",
        versions.len()
    );
    let mut rng = Lcg(0x5afe_1a6e);
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(10_000);
    while pairs.len() < 10_000 {
        let a = &versions[rng.next(versions.len())];
        // half the pairs share a prefix-sorted neighbour, where orderings are subtle
        let b = if pairs.len().is_multiple_of(2) {
            let i = versions.binary_search(a).unwrap();
            &versions[(i + 1 + rng.next(3)).min(versions.len() - 1)]
        } else {
            &versions[rng.next(versions.len())]
        };
        pairs.push((a.clone(), b.clone()));
    }
    let mismatches: Vec<String> = std::thread::scope(|s| {
        let chunks: Vec<_> = pairs
            .chunks(pairs.len().div_ceil(4))
            .map(|chunk| {
                s.spawn(move || {
                    let mut bad = Vec::new();
                    for (a, b) in chunk {
                        let (pa, pb) = (
                            a.parse::<DebVersion>().unwrap(),
                            b.parse::<DebVersion>().unwrap(),
                        );
                        for (x, y, px, py) in [(a, b, &pa, &pb), (b, a, &pb, &pa)] {
                            let (ours, theirs) = (px < py, dpkg_lt(x, y));
                            if ours != theirs {
                                bad.push(format!("{x} < {y}: ours {ours}, dpkg {theirs}"));
                            }
                        }
                    }
                    bad
                })
            })
            .collect();
        chunks.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(
        mismatches.is_empty(),
        "{} mismatches, e.g. {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(5)]
    );
}
