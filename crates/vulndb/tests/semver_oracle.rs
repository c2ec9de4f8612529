//! The semver scheme and npm ranges agree with npm's own `semver` package
//! (the copy bundled with npm on this machine). Versions come from every
//! package.json npm ships plus pre-release variants; ranges are the real
//! dependency ranges in those package.json files plus a set covering every
//! range form. Node decides validity, order and `satisfies` for every
//! (range, version) pair; we must agree on all of them.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use vulndb::version::semver::{Range, Version};

fn npm_semver() -> PathBuf {
    let out = Command::new("npm")
        .args(["root", "-g"])
        .output()
        .expect("npm");
    let root = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let p = root.join("npm/node_modules/semver");
    assert!(
        p.join("package.json").exists(),
        "no semver under {}",
        p.display()
    );
    p
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.file_name().is_some_and(|n| n == "package.json") {
            out.push(p);
        }
    }
}

fn corpus(npm_root: &Path) -> (Vec<String>, Vec<String>) {
    let mut files = Vec::new();
    walk(npm_root, &mut files);
    let mut versions = BTreeSet::new();
    let mut ranges = BTreeSet::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if let Some(s) = v["version"].as_str() {
            versions.insert(s.to_string());
        }
        for key in [
            "dependencies",
            "devDependencies",
            "peerDependencies",
            "optionalDependencies",
        ] {
            if let Some(m) = v[key].as_object() {
                for r in m.values().filter_map(|x| x.as_str()) {
                    ranges.insert(r.to_string());
                }
            }
        }
        if let Some(e) = v["engines"]["node"].as_str() {
            ranges.insert(e.to_string());
        }
    }
    let real: Vec<String> = versions.iter().cloned().collect();
    for v in real.iter().take(150) {
        for pre in [
            "-0", "-alpha", "-alpha.1", "-beta.2", "-rc.1", "+build.5", "-rc.1+b",
        ] {
            versions.insert(format!("{v}{pre}"));
        }
    }
    for v in [
        "0.0.0",
        "0.0.1",
        "0.1.0",
        "0.2.3",
        "0.2.4",
        "0.3.0",
        "1.2.3",
        "1.2.3-alpha.3",
        "1.2.3-alpha.7",
        "1.2.4",
        "1.3.0",
        "2.0.0",
        "2.0.0-0",
        "3.4.5-alpha.9",
        "v1.2.3",
        "=1.2.3",
        "01.2.3",
        "1.2",
        "1.2.3.4",
        "1.2.3-",
        "1.2.3-01",
        "1.2.3-0a",
        "1.2.3+",
        " 1.2.3 ",
        "9007199254740991.0.0",
        "9007199254740992.0.0",
    ] {
        versions.insert(v.to_string());
    }
    for r in [
        "*",
        "",
        "x",
        "1.x",
        "1.2.x",
        "1.X",
        "1.*",
        "1",
        "1.2",
        "=1.2.3",
        "v1.2.3",
        "1.2.3",
        ">1",
        ">1.2",
        ">1.2.3",
        ">=1",
        ">=1.2",
        "<1",
        "<1.2",
        "<=1",
        "<=1.2",
        "<=1.2.3",
        "~1",
        "~1.2",
        "~1.2.3",
        "~0.2.3",
        "~>1.2",
        "~1.2.3-beta.2",
        "^1",
        "^1.2",
        "^1.2.3",
        "^0.2.3",
        "^0.0.3",
        "^0.0",
        "^0.x",
        "^0.0.x",
        "^1.2.3-beta.2",
        "^0.0.3-beta",
        "1.2.3 - 2.3.4",
        "1.2 - 2.3.4",
        "1.2.3 - 2.3",
        "1.2.3 - 2",
        "* - 2",
        "1 - *",
        ">=1.2.7 <1.3.0",
        "1.2.7 || >=1.2.9 <2.0.0",
        ">1.2.3-alpha.3",
        ">= 1.2.3",
        "< 2",
        ">=1.2.3 <=2.0.0-0",
        "<0.0.0-0",
        ">*",
        "<*",
        ">=*",
        "1.x || >=2.5.0 || 5.0.0 - 7.2.3",
        "~ 1.2",
        "^ 1.2",
        ">= 1.2.3 < 2",
        "1.2.3 ||",
        "|| 1.2.3",
        ">",
        "1.2.3 - ",
        "nonsense",
        ">=1.0.0-rc.1 <1.0.0",
        "^1.2.3+build",
        "1.2.3-alpha.1 - 1.2.3-alpha.5",
        ">=0.0.0",
    ] {
        ranges.insert(r.to_string());
    }
    (versions.into_iter().collect(), ranges.into_iter().collect())
}

const JS: &str = r#"
const semver = require(process.argv[1]);
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const valid = input.versions.map(v => semver.valid(v) !== null);
const good = input.versions.filter((v, i) => valid[i]);
const sorted = good.slice().sort(semver.compare);
const rangeValid = input.ranges.map(r => semver.validRange(r) !== null);
const sat = input.ranges.map((r, i) => rangeValid[i]
  ? good.map(v => semver.satisfies(v, r) ? '1' : '0').join('') : '');
process.stdout.write(JSON.stringify({valid, sorted, rangeValid, sat,
  eq: sorted.slice(1).map((v, i) => semver.eq(v, sorted[i]))}));
"#;

#[test]
fn agrees_with_npm_semver() {
    let semver = npm_semver();
    let npm_root = semver.parent().unwrap().parent().unwrap().to_path_buf();
    let (versions, ranges) = corpus(&npm_root);
    assert!(
        versions.len() > 500 && ranges.len() > 200,
        "{} {}",
        versions.len(),
        ranges.len()
    );
    let mut child = Command::new("node")
        .args(["-e", JS, semver.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            serde_json::json!({"versions": versions, "ranges": ranges})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let o: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut bad = Vec::new();

    let mut good = Vec::new();
    for (v, ok) in versions.iter().zip(o["valid"].as_array().unwrap()) {
        let ours = Version::parse(v);
        if ours.is_some() != ok.as_bool().unwrap() {
            bad.push(format!(
                "version {v:?}: npm valid={ok}, ours {}",
                ours.is_some()
            ));
        }
        if let (Some(p), true) = (ours, ok.as_bool().unwrap()) {
            good.push(p);
        }
    }
    // Order: npm's sorted list must be non-decreasing under our order, and
    // npm's equalities must be ours.
    let sorted: Vec<&str> = o["sorted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    for (i, w) in sorted.windows(2).enumerate() {
        let (a, b) = (Version::parse(w[0]).unwrap(), Version::parse(w[1]).unwrap());
        let eq = o["eq"][i].as_bool().unwrap();
        let ord = a.cmp(&b);
        if (eq && ord != std::cmp::Ordering::Equal) || (!eq && ord != std::cmp::Ordering::Less) {
            bad.push(format!(
                "order {} vs {}: npm eq={eq}, ours {ord:?}",
                w[0], w[1]
            ));
        }
    }
    let mut pairs = 0;
    for (i, r) in ranges.iter().enumerate() {
        let npm_ok = o["rangeValid"][i].as_bool().unwrap();
        let ours = Range::parse(r);
        if ours.is_ok() != npm_ok {
            bad.push(format!(
                "range {r:?}: npm valid={npm_ok}, ours {}",
                ours.is_ok()
            ));
            continue;
        }
        let Ok(range) = ours else { continue };
        let bits = o["sat"][i].as_str().unwrap().as_bytes();
        for (v, bit) in good.iter().zip(bits) {
            pairs += 1;
            if range.satisfies(v) != (*bit == b'1') {
                bad.push(format!(
                    "{v} in {r:?}: npm {}, ours {}",
                    *bit == b'1',
                    range.satisfies(v)
                ));
            }
        }
    }
    assert!(pairs > 100_000, "only {pairs} pairs");
    assert!(
        bad.is_empty(),
        "{} disagreements with npm semver:\n{}",
        bad.len(),
        bad[..bad.len().min(40)].join("\n")
    );
}
