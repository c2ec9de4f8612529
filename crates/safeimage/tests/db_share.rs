//! One advisory DB for a fleet: `db push` to a real registry on loopback,
//! `db pull` and `--db oci://` on "runners" (separate folders and caches):
//! the round trip, the same digest for everyone, nothing downloaded twice,
//! and refusals that leave the DB in place — a tampered blob, another
//! schema version, an older build, a build time in the future, a zstd
//! bomb (with the puller's memory measured), an unsigned DB where keys
//! are required.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

mod support;
use support::*;

const T1: &str = "1790000000";
const T2: &str = "1790086400";

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn err(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// A DB of the OSV test data built at `epoch`, at `dir/name`.
fn build_db(dir: &Path, name: &str, epoch: &str) {
    ok(&safeimage_in(
        dir,
        &[
            "db",
            "import",
            "--db",
            name,
            osv_fixtures().to_str().unwrap(),
        ],
        &[("SOURCE_DATE_EPOCH", epoch)],
    ));
}

fn push(dir: &Path, db: &str, reference: &str) -> String {
    ok(&safeimage_in(
        dir,
        &["db", "push", reference, "--db", db],
        &[],
    ))
}

fn pull(dir: &Path, db: &str, reference: &str) -> Output {
    safeimage_in(dir, &["db", "pull", reference, "--db", db], &[])
}

#[test]
fn push_pull_round_trip_and_every_runner_gets_the_same_digest() {
    let reg = registry();
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    build_db(d, "built.db", T1);
    let reference = format!("{}/security/advisory-db:latest", reg.addr);
    let digest = push(d, "built.db", &reference);
    assert!(digest.starts_with("sha256:"), "{digest}");
    // the artifact: its type, one zstd layer, metadata in annotations
    let m: Value = serde_json::from_slice(&raw_manifest(&reference).unwrap()).unwrap();
    assert_eq!(
        m["artifactType"],
        "application/vnd.safeimage.advisory-db.v1"
    );
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.safeimage.advisory-db.layer.v1.sqlite+zstd"
    );
    let a = &m["annotations"];
    assert_eq!(a["dev.safeimage.advisory-db.schema-version"], "1");
    assert_eq!(
        a["dev.safeimage.advisory-db.built-at"],
        "2026-09-21T14:13:20Z"
    );
    let feeds: Value =
        serde_json::from_str(a["dev.safeimage.advisory-db.feeds"].as_str().unwrap()).unwrap();
    assert_eq!(feeds[0]["records"], 263);
    assert_eq!(remote_digest(&reference).unwrap(), digest);

    let original = std::fs::read(d.join("built.db")).unwrap();
    for runner in ["runner-1", "runner-2"] {
        let r = d.join(runner);
        std::fs::create_dir_all(&r).unwrap();
        let out = pull(&r, "advisories.db", &reference);
        assert_eq!(ok(&out), digest, "{runner}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("pulled"));
        assert_eq!(std::fs::read(r.join("advisories.db")).unwrap(), original);
        // again: nothing to download
        let again = pull(&r, "advisories.db", &reference);
        assert_eq!(ok(&again), digest);
        assert!(String::from_utf8_lossy(&again.stderr).contains("already in place"));
    }
    // by digest too
    let by_digest = format!("{}/security/advisory-db@{digest}", reg.addr);
    let r3 = d.join("runner-3");
    std::fs::create_dir_all(&r3).unwrap();
    assert_eq!(ok(&pull(&r3, "x.db", &by_digest)), digest);

    // scan straight from the registry: pulled once into the cache
    let sbom = d.join("app.cdx.json");
    std::fs::write(&sbom, serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "components": [{"type": "library", "name": "Django", "version": "3.2.0", "purl": "pkg:pypi/django@3.2.0"}]}).to_string()).unwrap();
    let cache = d.join("cache");
    let oci_db = format!("oci://{reference}");
    let env = [("SAFEIMAGE_CACHE_DIR", cache.to_str().unwrap())];
    let args = [
        "scan",
        sbom.to_str().unwrap(),
        "--db",
        &oci_db,
        "--db-max-age",
        "0",
        "-f",
        "json",
    ];
    let out = safeimage_in(d, &args, &env);
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert!(v["findings"].as_array().unwrap().len() > 5);
    assert!(String::from_utf8_lossy(&out.stderr).contains("pulled advisory DB"));
    let out = safeimage_in(d, &args, &env);
    ok(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("pulled advisory DB"));
}

#[test]
fn a_tampered_blob_is_refused_and_the_db_in_place_kept() {
    let reg = registry();
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    build_db(d, "built.db", T1);
    build_db(d, "local.db", T1);
    let reference = format!("{}/security/advisory-db:latest", reg.addr);
    push(d, "built.db", &reference);
    let m: Value = serde_json::from_slice(&raw_manifest(&reference).unwrap()).unwrap();
    let layer = m["layers"][0]["digest"].as_str().unwrap();
    let file = reg.blob_file(layer);
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let before = std::fs::read(d.join("local.db")).unwrap();
    let e = err(&pull(d, "local.db", &reference));
    assert!(
        e.contains(layer) && e.to_lowercase().contains("digest"),
        "{e}"
    );
    assert_eq!(std::fs::read(d.join("local.db")).unwrap(), before);
    assert!(!d.join("local.db.digest").exists());
}

#[test]
fn another_schema_version_is_refused() {
    let reg = registry();
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    build_db(d, "built.db", T1);
    let reference = format!("{}/security/advisory-db:latest", reg.addr);
    push(d, "built.db", &reference);
    // the same artifact, saying schema 99, under another tag
    let mut m: Value = serde_json::from_slice(&raw_manifest(&reference).unwrap()).unwrap();
    m["annotations"]["dev.safeimage.advisory-db.schema-version"] = "99".into();
    let url = format!("http://{}/v2/security/advisory-db/manifests/s99", reg.addr);
    sh(std::process::Command::new("curl").args([
        "-sf",
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/vnd.oci.image.manifest.v1+json",
        "--data-binary",
        &m.to_string(),
        &url,
    ]));
    let e = err(&pull(
        d,
        "pulled.db",
        &format!("{}/security/advisory-db:s99", reg.addr),
    ));
    assert!(
        e.contains("schema 99") && e.contains("this safeimage reads schema 1"),
        "{e}"
    );
    assert!(!d.join("pulled.db").exists());
}

#[test]
fn an_older_build_than_the_db_in_place_is_refused() {
    let reg = registry();
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    build_db(d, "new.db", T2);
    build_db(d, "old.db", T1);
    let reference = format!("{}/security/advisory-db:latest", reg.addr);
    push(d, "new.db", &reference);
    let runner = d.join("runner");
    std::fs::create_dir_all(&runner).unwrap();
    ok(&pull(&runner, "advisories.db", &reference));
    let before = std::fs::read(runner.join("advisories.db")).unwrap();
    // someone pushes an older DB to the same tag
    push(d, "old.db", &reference);
    let e = err(&pull(&runner, "advisories.db", &reference));
    assert!(
        e.contains("built 2026-09-21T14:13:20Z") && e.contains("older than the one at"),
        "{e}"
    );
    assert_eq!(std::fs::read(runner.join("advisories.db")).unwrap(), before);
}

#[test]
fn a_signed_db_is_verified_before_it_is_downloaded() {
    let reg = registry();
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    let pw = [("COSIGN_PASSWORD", "db-key-pw")];
    for k in ["ops", "other"] {
        ok(&safeimage_in(d, &["keygen", "--output-key-prefix", k], &pw));
    }
    build_db(d, "built.db", T1);
    let reference = format!("{}/security/advisory-db:latest", reg.addr);
    let out = safeimage_in(
        d,
        &[
            "db", "push", &reference, "--db", "built.db", "--key", "ops.key",
        ],
        &pw,
    );
    let digest = ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("signed {}", reg.addr)));
    // the right key: verified, then pulled by that digest
    let out = safeimage_in(
        d,
        &["db", "pull", &reference, "--db", "a.db", "--key", "ops.pub"],
        &[],
    );
    assert_eq!(ok(&out), digest);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("({digest}, signature verified")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // another key: refused, nothing written
    let e = err(&safeimage_in(
        d,
        &[
            "db",
            "pull",
            &reference,
            "--db",
            "b.db",
            "--key",
            "other.pub",
        ],
        &[],
    ));
    assert!(e.contains("is not verified, nothing pulled"), "{e}");
    assert!(!d.join("b.db").exists());
    // an unsigned DB pushed over the tag: refused too
    build_db(d, "unsigned.db", T2);
    push(d, "unsigned.db", &reference);
    let e = err(&safeimage_in(
        d,
        &["db", "pull", &reference, "--db", "c.db", "--key", "ops.pub"],
        &[],
    ));
    assert!(e.contains("no signature found"), "{e}");
    assert!(!d.join("c.db").exists());
}

#[test]
fn a_db_rebuilt_in_place_after_a_pull_is_not_taken_for_the_pulled_one() {
    let reg = registry();
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    build_db(d, "built.db", T1);
    let reference = format!("{}/security/advisory-db:latest", reg.addr);
    let digest = push(d, "built.db", &reference);
    ok(&pull(d, "advisories.db", &reference));
    // the runner rebuilds its DB from files, later than the pushed one
    build_db(d, "advisories.db", T2);
    // the registry's copy is older now: refused, not "already in place"
    let e = err(&pull(d, "advisories.db", &reference));
    assert!(e.contains("older than the one at"), "{e}");
    assert!(e.contains(&digest), "{e}");
}

/// Pushes a hand-made DB artifact: `layer` as its one layer, the manifest
/// saying the DB is `size` bytes with SHA-256 `sha`, built at `built`.
fn push_crafted(reference: &str, layer: &[u8], size: u64, sha: &str, built: &str) {
    let r: oci::ImageRef = reference.parse().unwrap();
    let repo = oci::push::Repo::connect(&r, &Default::default()).unwrap();
    let config = repo.push_blob(b"{}").unwrap();
    let blob = repo.push_blob(layer).unwrap();
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.safeimage.advisory-db.v1",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.safeimage.advisory-db.layer.v1.sqlite+zstd",
                    "digest": blob.to_string(), "size": layer.len()}],
        "annotations": {
            "dev.safeimage.advisory-db.schema-version": "1",
            "dev.safeimage.advisory-db.built-at": built,
            "dev.safeimage.advisory-db.feeds": "[]",
            "dev.safeimage.advisory-db.sha256": sha,
            "dev.safeimage.advisory-db.size": size.to_string(),
        },
    });
    repo.put_manifest_at(
        r.tag(),
        m.to_string().as_bytes(),
        "application/vnd.oci.image.manifest.v1+json",
    )
    .unwrap();
}

/// `n` zero bytes, zstd-compressed (a few KiB per GiB).
fn zstd_zeros(n: u64) -> Vec<u8> {
    use std::io::Write;
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..n / chunk.len() as u64 {
        e.write_all(&chunk).unwrap();
    }
    e.finish().unwrap()
}

/// Runs safeimage in `dir`, sampling its peak resident memory (VmHWM)
/// until it exits: (output, peak KiB).
fn measured(dir: &Path, args: &[&str]) -> (Output, u64) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Some(kib) = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        }) {
            peak = peak.max(kib);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    (child.wait_with_output().unwrap(), peak)
}

#[test]
#[allow(clippy::print_stderr)]
fn a_zstd_bomb_is_refused_with_bounded_memory() {
    let reg = registry();
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    // 1.5 GiB of zeros in a few KiB, the manifest saying it is a 1.5 GiB DB
    // (under the default cap): streamed to disk, found wrong, refused
    let n: u64 = 3 << 29;
    let layer = zstd_zeros(n);
    assert!(layer.len() < 256 << 10, "{} bytes", layer.len());
    let reference = format!("{}/security/advisory-db:bomb", reg.addr);
    push_crafted(
        &reference,
        &layer,
        n,
        &"a".repeat(64),
        "2026-01-01T00:00:00Z",
    );
    let (out, peak_kib) = measured(d, &["db", "pull", &reference, "--db", "bomb.db"]);
    let e = err(&out);
    assert!(e.contains("SHA-256"), "{e}");
    assert!(!d.join("bomb.db").exists());
    // no temp file left beside it either
    assert_eq!(std::fs::read_dir(d).unwrap().count(), 0);
    assert!(peak_kib > 0, "no memory sample was taken");
    eprintln!("db pull of a {n}-byte zstd bomb: peak resident memory {peak_kib} KiB");
    assert!(
        peak_kib < 200 << 10,
        "peak resident memory {peak_kib} KiB while inflating {n} bytes"
    );
    // a manifest claiming more than the cap is refused before any download
    let big = format!("{}/security/advisory-db:big", reg.addr);
    push_crafted(
        &big,
        &layer,
        3 << 30,
        &"a".repeat(64),
        "2026-01-01T00:00:00Z",
    );
    let e = err(&pull(d, "big.db", &big));
    assert!(e.contains("over the cap of 2147483648 bytes"), "{e}");
    // and the cap is a setting
    let e = err(&safeimage_in(
        d,
        &[
            "db",
            "pull",
            &reference,
            "--db",
            "small.db",
            "--max-mib",
            "64",
        ],
        &[],
    ));
    assert!(e.contains("over the cap of 67108864 bytes"), "{e}");
}

#[test]
fn a_db_built_in_the_future_is_refused_and_a_genuine_db_replaces_one_in_place() {
    let reg = registry();
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    let future = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 10 * 365 * 86_400)
        .to_string();
    build_db(d, "future.db", &future);
    let reference = format!("{}/security/advisory-db:latest", reg.addr);
    push(d, "future.db", &reference);
    let runner = d.join("runner");
    std::fs::create_dir_all(&runner).unwrap();
    let e = err(&pull(&runner, "advisories.db", &reference));
    assert!(e.contains("in the future"), "{e}");
    assert!(!runner.join("advisories.db").exists());
    // a runner that took such a DB before (an older safeimage did): the
    // genuine one still replaces it
    std::fs::copy(d.join("future.db"), runner.join("advisories.db")).unwrap();
    build_db(d, "genuine.db", T2);
    push(d, "genuine.db", &reference);
    ok(&pull(&runner, "advisories.db", &reference));
    assert_eq!(
        std::fs::read(runner.join("advisories.db")).unwrap(),
        std::fs::read(d.join("genuine.db")).unwrap()
    );
}

#[test]
fn an_unsigned_oci_db_is_refused_where_keys_are_required() {
    let reg = registry();
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    ok(&safeimage_in(
        d,
        &["keygen", "--output-key-prefix", "ops"],
        &[("COSIGN_PASSWORD", "pw")],
    ));
    // an empty DB (no advisories) pushed unsigned to the fleet's tag
    std::fs::create_dir_all(d.join("none")).unwrap();
    ok(&safeimage_in(
        d,
        &["db", "import", "--db", "empty.db", "none"],
        &[("SOURCE_DATE_EPOCH", T2)],
    ));
    let reference = format!("{}/security/advisory-db:latest", reg.addr);
    push(d, "empty.db", &reference);
    let sbom = d.join("app.cdx.json");
    std::fs::write(&sbom, serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "components": [{"type": "library", "name": "Django", "version": "3.2.0", "purl": "pkg:pypi/django@3.2.0"}]}).to_string()).unwrap();
    let cache = d.join("cache");
    let env = [("SAFEIMAGE_CACHE_DIR", cache.to_str().unwrap())];
    let oci_db = format!("oci://{reference}");
    let scan = |extra: &[&str]| {
        let mut a = vec![
            "scan",
            sbom.to_str().unwrap(),
            "--db",
            &oci_db,
            "--db-max-age",
            "0",
        ];
        a.extend_from_slice(extra);
        safeimage_in(d, &a, &env)
    };
    // with a key required (flag): nothing pulled, the scan does not run
    let e = err(&scan(&["--db-key", "ops.pub"]));
    assert!(e.contains("is not verified, nothing pulled"), "{e}");
    assert!(
        !cache.join("db").exists()
            || std::fs::read_dir(cache.join("db/oci")).map_or(true, |mut r| r.next().is_none())
    );
    // the same through the config's [scan] db_keys, in a fleet run
    std::fs::write(
        d.join("safeimage.toml"),
        format!("[scan]\ndb = \"{oci_db}\"\ndb_keys = [\"ops.pub\"]\nmax_age_hours = 0\n\n[[image]]\nname = \"x\"\ncontext = \"x\"\nrepository = \"{}/x\"\ntags = [\"latest\"]\n", reg.addr),
    )
    .unwrap();
    std::fs::create_dir_all(d.join("x")).unwrap();
    std::fs::write(d.join("x/Dockerfile"), "FROM scratch\n").unwrap();
    let e = err(&safeimage_in(
        d,
        &["run", "--config", "safeimage.toml"],
        &env,
    ));
    assert!(e.contains("is not verified, nothing pulled"), "{e}");
    // without keys the same DB is taken (and would report nothing)
    ok(&scan(&[]));
}
