//! The README's test command on a clone without `../shared`: its test data
//! comes from the origins pinned in `testdata/origins.tsv` (through a local
//! mirror here: tests talk only to loopback), byte for byte what `../shared`
//! holds; offline it stops at once naming what it needs and where, before
//! building or installing anything; a file that is not what was pinned is
//! never written.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;
use support::{Background, free_port, repo, serve_dir, sh};

/// A clone of just what the data fetch needs, in `root/clone` (so `root/shared`
/// is where `../shared` would be, and is absent).
fn bare_clone(root: &Path) -> PathBuf {
    let clone = root.join("clone");
    let manifest = std::fs::read_to_string(repo().join("testdata/origins.tsv")).unwrap();
    // The files kept in this repository (method `committed`) are checked by
    // the fetch too, so they come along with the scripts.
    let committed = manifest
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols.len() == 4 && cols[2] == "committed")
                .then(|| cols[3].split(' ').next().unwrap().to_owned())
        })
        .collect::<Vec<_>>();
    assert!(!committed.is_empty(), "origins.tsv names no committed file");
    let scripts = [
        "scripts/test",
        "scripts/fetch-test-data",
        "scripts/derive-debian-osv",
        "testdata/origins.tsv",
    ];
    for f in scripts.iter().map(|s| s.to_string()).chain(committed) {
        std::fs::create_dir_all(clone.join(&f).parent().unwrap()).unwrap();
        std::fs::copy(repo().join(&f), clone.join(&f)).unwrap();
    }
    clone
}

struct Mirror {
    url: String,
    _server: Background,
    root: tempfile::TempDir,
}

/// Lays out every origin of `origins.tsv` under HOST/PATH, made from the
/// shared test data the way the origins serve it: the Dockerfiles as they
/// are, PyPA's advisories as YAML (the JSON records, which YAML reads), and
/// for each Debian .deb a real package (dpkg-deb) whose changelog has one
/// security entry per fixed version naming its CVEs, over an entry at the
/// version of bookworm main. Served by Python's http.server on loopback.
fn mirror() -> Mirror {
    let root = tempfile::tempdir().unwrap();
    let script = r#"
import json, os, subprocess, sys, gzip, urllib.parse, collections
manifest, data, out = sys.argv[1:4]
debs = collections.defaultdict(list)
for line in open(manifest):
    if line.startswith('#') or not line.strip():
        continue
    path, digest, method, origin = line.rstrip('\n').split('\t')
    args = origin.split(' ')
    if method == 'committed':
        continue
    u = urllib.parse.urlsplit(args[0])
    dest = os.path.join(out, u.netloc, urllib.parse.unquote(u.path).lstrip('/'))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if method in ('get', 'pypa-yaml'):
        open(dest, 'wb').write(open(os.path.join(data, path), 'rb').read())
    elif method == 'debian-changelog':
        debs[(dest, args[1])].append(json.load(open(os.path.join(data, path))))
for (dest, main), records in debs.items():
    source = records[0]['affected'][0]['package']['name']
    by = collections.defaultdict(list)
    urg = {}
    for r in records:
        v = r['affected'][0]['ranges'][0]['events'][1]['fixed']
        by[v].append(r['upstream'][0])
        urg[v] = r['database_specific']['urgency']
    def newer(a, b):
        return subprocess.run(['dpkg', '--compare-versions', a, 'gt', b]).returncode == 0
    versions = list(by)
    versions.sort(key=lambda v: sum(newer(v, w) for w in versions), reverse=True)
    text = ''
    for v in versions + [main]:
        text += f'{source} ({v}) bookworm-security; urgency={urg.get(v, "medium")}\n\n'
        for c in by.get(v, []):
            text += f'  * Fix {c}.\n'
        text += '\n -- Test <test@example.invalid>  Mon, 30 Nov 2026 12:00:00 +0000\n\n'
    pkg = os.path.join(out, 'build', os.path.basename(dest))
    doc = os.path.join(pkg, 'usr/share/doc', source)
    os.makedirs(doc)
    os.makedirs(os.path.join(pkg, 'DEBIAN'))
    with gzip.open(os.path.join(doc, 'changelog.Debian.gz'), 'wt') as f:
        f.write(text)
    open(os.path.join(pkg, 'DEBIAN/control'), 'w').write(
        f'Package: {source}-test\nVersion: {versions[0]}\nArchitecture: all\nMaintainer: Test <test@example.invalid>\nDescription: test\n')
    subprocess.run(['dpkg-deb', '--build', '--root-owner-group', pkg, dest], check=True, stdout=subprocess.DEVNULL)
"#;
    sh(Command::new("python3")
        .args(["-c", script])
        .arg(repo().join("testdata/origins.tsv"))
        .arg(testkit::data_dir())
        .arg(root.path().join("www")));
    let (server, url) = serve_dir(&root.path().join("www"));
    Mirror {
        url,
        _server: server,
        root,
    }
}

fn fetch(clone: &Path, mirror: &str, args: &[&str]) -> std::process::Output {
    Command::new(clone.join("scripts/fetch-test-data"))
        .args(args)
        .env("SAFEIMAGE_TEST_DATA_MIRROR", mirror)
        .output()
        .unwrap()
}

#[test]
fn offline_without_shared_the_test_command_names_what_it_needs() {
    let root = tempfile::tempdir().unwrap();
    let clone = bare_clone(root.path());
    // nothing listens there: as offline as this machine is for GitHub
    let closed = format!("http://127.0.0.1:{}", free_port());
    let out = Command::new("bash")
        .arg(clone.join("scripts/test"))
        .env("SAFEIMAGE_TEST_DATA_MIRROR", &closed)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let shared = root.path().canonicalize().unwrap().join("shared");
    assert!(err.contains(&shared.display().to_string()), "{err}");
    for host in ["raw.githubusercontent.com", "deb.debian.org"] {
        assert!(err.contains(host), "{host}: {err}");
    }
    assert!(err.contains("412 of the files"), "{err}");
    assert!(
        err.contains("corpus/dockerfiles") && err.contains("fixtures/osv"),
        "{err}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "nothing ran"
    );
    assert!(!clone.join("target/test-data/corpus").exists());
}

#[test]
fn without_shared_the_data_comes_from_the_pinned_origins() {
    let m = mirror();
    let root = tempfile::tempdir().unwrap();
    let clone = bare_clone(root.path());
    let out = fetch(&clone, &m.url, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dest = clone.join("target/test-data");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        dest.display().to_string()
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("fetched 412 test-data files"));
    // byte for byte what ../shared holds, every file pinned
    let check = fetch(&clone, &m.url, &["--check", dest.to_str().unwrap()]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // once: a second run fetches nothing
    let again = fetch(&clone, &m.url, &[]);
    assert!(again.status.success());
    assert!(!String::from_utf8_lossy(&again.stderr).contains("fetched"));

    // an origin that changed is refused and its file not written
    let victim = "corpus/dockerfiles/docker-library+redis";
    let row = std::fs::read_to_string(repo().join("testdata/origins.tsv"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with(victim))
        .unwrap()
        .to_string();
    let mut f = row.split('\t');
    let path = f.next().unwrap();
    let url = f.nth(2).unwrap();
    let served = m
        .root
        .path()
        .join("www")
        .join(url.trim_start_matches("https://"));
    std::fs::write(&served, "FROM scratch\n").unwrap();
    std::fs::remove_file(dest.join(path)).unwrap();
    let tampered = fetch(&clone, &m.url, &[]);
    assert_eq!(tampered.status.code(), Some(2));
    let err = String::from_utf8_lossy(&tampered.stderr);
    assert!(err.contains(path) && err.contains("pinned"), "{err}");
    assert!(!dest.join(path).exists());
}

#[test]
fn the_pinned_origins_are_the_shared_data() {
    let data = testkit::data_dir();
    let out = Command::new(repo().join("scripts/fetch-test-data"))
        .args(["--check", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
