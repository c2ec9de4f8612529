//! The PEP 440 scheme agrees with Python's `packaging.version` on real
//! PyPI versions: every version named in the PyPA advisories under
//! `../shared/fixtures/osv/PyPI` plus a set of spelling variants PEP 440
//! normalises. Python ranks the versions; we check validity, the order of
//! every adjacent pair and of 20,000 random pairs.

use std::cmp::Ordering;
use std::io::Write;
use std::process::{Command, Stdio};

use vulndb::version::pep440;

fn fixture_versions() -> Vec<String> {
    let dir = testkit::data_dir().join("fixtures/osv/PyPI");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        for a in v["affected"].as_array().into_iter().flatten() {
            for x in a["versions"].as_array().into_iter().flatten() {
                out.push(x.as_str().unwrap().to_string());
            }
            for r in a["ranges"].as_array().into_iter().flatten() {
                if r["type"] != "ECOSYSTEM" {
                    continue;
                }
                for ev in r["events"].as_array().into_iter().flatten() {
                    for (_, x) in ev.as_object().unwrap() {
                        out.push(x.as_str().unwrap().to_string());
                    }
                }
            }
        }
    }
    out
}

fn variants() -> Vec<String> {
    [
        "1.0",
        "1.0.0",
        "1",
        "v1.0",
        "V1.0",
        "1.0a1",
        "1.0-a1",
        "1.0.a1",
        "1.0alpha1",
        "1.0-alpha.1",
        "1.0b2",
        "1.0beta2",
        "1.0c1",
        "1.0pre1",
        "1.0preview1",
        "1.0rc1",
        "1.0-RC1",
        "1.0.post1",
        "1.0-1",
        "1.0post",
        "1.0.rev1",
        "1.0r1",
        "1.0.dev",
        "1.0dev1",
        "1.0-dev1",
        "1!1.0",
        "2!0.1",
        "0!1.0",
        "1.0+local",
        "1.0+local.7",
        "1.0+Local-7",
        "1.0+local_7",
        "1.0+5",
        "1.0+abc.5",
        "1.0+abc.7",
        "1.0a1.post2.dev3",
        "1.0.post1.dev2",
        "1.0rc1.post1",
        "  1.0  ",
        "1.01",
        "1.1",
        "01.1",
        "1.0.0.0.0",
        "1.0a",
        "1.0-",
        "1..0",
        "a1.0",
        "1.0+",
        "1.0+-x",
        "1.0.x",
        "2024.1.1",
        "0.0.0.dev0",
        "1.0_post1",
        "1.0-post_1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

const PY: &str = r#"
import sys
from packaging.version import Version, InvalidVersion
vs = [l.rstrip("\n") for l in sys.stdin]
ok = []
for v in vs:
    try:
        ok.append((Version(v), v))
    except InvalidVersion:
        print("INVALID\t" + v)
ok.sort(key=lambda t: t[0])
rank = 0
prev = None
for parsed, v in ok:
    if prev is not None and parsed != prev:
        rank += 1
    prev = parsed
    print(f"{rank}\t{v}")
"#;

#[test]
fn agrees_with_python_packaging() {
    let mut versions = fixture_versions();
    versions.extend(variants());
    versions.sort();
    versions.dedup();
    assert!(versions.len() > 1000, "only {} versions", versions.len());

    let mut child = Command::new("python3")
        .args(["-c", PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    {
        let mut stdin = child.stdin.take().unwrap();
        for v in &versions {
            writeln!(stdin, "{v}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python packaging: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut ranked: Vec<(u64, String)> = Vec::new();
    let mut mismatches = Vec::new();
    for line in text.lines() {
        let (k, v) = line.split_once('\t').unwrap();
        if k == "INVALID" {
            if pep440::parse(v).is_some() {
                mismatches.push(format!("{v:?}: Python rejects it, we accept it"));
            }
        } else {
            if pep440::parse(v).is_none() {
                mismatches.push(format!("{v:?}: Python accepts it, we reject it"));
                continue;
            }
            ranked.push((k.parse().unwrap(), v.to_string()));
        }
    }
    assert!(ranked.len() > 1000);
    let parsed: Vec<_> = ranked
        .iter()
        .map(|(_, v)| pep440::parse(v).unwrap())
        .collect();
    let mut check = |i: usize, j: usize| {
        let want = ranked[i].0.cmp(&ranked[j].0);
        let got = parsed[i].cmp(&parsed[j]);
        if want != got {
            mismatches.push(format!(
                "{} vs {}: Python {want:?}, we {got:?}",
                ranked[i].1, ranked[j].1
            ));
        }
    };
    for i in 1..ranked.len() {
        check(i - 1, i);
        check(i, i - 1);
    }
    // A fixed-seed xorshift for random pairs.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = (x % ranked.len() as u64) as usize;
        let j = ((x >> 32) % ranked.len() as u64) as usize;
        check(i, j);
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches with packaging.version:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(30)].join("\n")
    );
    // Sanity: the oracle is not trivially constant.
    assert!(ranked.last().unwrap().0 > 500);
    assert_eq!(
        pep440::compare("1.0rc1", "1.0"),
        Some(Ordering::Less),
        "sanity"
    );
}
