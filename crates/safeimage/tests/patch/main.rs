//! `safeimage patch` on real images built here: the stale nginx-light
//! image of the scan tests (bookworm main only) patched from a tooling
//! image of the same release with bookworm-security; the labeled fixable
//! CVEs gone in our scan and in Trivy's; `diff` shows only the upgrades;
//! the original layers kept byte for byte; the command still runs and
//! dpkg still agrees with every file. A distroless-style image (status.d
//! records, no apt, no dpkg, no shell); patching a patched image replaces
//! its patch layer; bad input stops before anything is written.

#[path = "../support/mod.rs"]
mod support;

mod images;
mod platforms;
mod signed;
mod slim;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use support::*;

/// The stale nginx-light image (bookworm main only), once per run.
pub fn stale_nginx() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        build_on(
            Base::Main,
            "patch-nginx-main",
            &repo().join("crates/safeimage/tests/images/nginx"),
            &[],
        )
    })
}

/// The tooling image: the same release, with bookworm-security.
pub fn tooling() -> &'static str {
    base_image(Base::Security)
}

/// `image` as an OCI layout in `dir`; returns `oci:DIR:v1`.
pub fn to_oci(image: &str, dir: &Path, name: &str) -> String {
    let p = dir.join(name);
    sh(Command::new("buildah")
        .args(["push", "-q", image])
        .arg(format!("oci:{}:v1", p.display())));
    format!("oci:{}:v1", p.display())
}

/// `db import` of `osv` into `dir/NAME`.
pub fn import(dir: &Path, name: &str, osv: &Path) -> PathBuf {
    let db = dir.join(name);
    let out = safeimage_in(
        dir,
        &[
            "db",
            "import",
            "--db",
            db.to_str().unwrap(),
            osv.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db
}

/// `safeimage patch ARGS -f json --db DB --tooling-image TOOLING`: (exit code, report or stderr).
pub fn patch(dir: &Path, db: &Path, args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["patch"];
    all.extend_from_slice(args);
    all.extend_from_slice(&[
        "-f",
        "json",
        "--db",
        db.to_str().unwrap(),
        "--db-max-age",
        "1000000",
        "--tooling-image",
        tooling(),
        "--cache-dir",
    ]);
    let cache = dir.join("cache");
    all.push(cache.to_str().unwrap());
    let out = safeimage_in(dir, &all, &[]);
    let code = out.status.code().unwrap_or(-1);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (code, v, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The manifest `oci:DIR:TAG` names.
pub fn manifest(layout_ref: &str) -> Value {
    let rest = layout_ref.strip_prefix("oci:").unwrap();
    let (dir, tag) = rest.rsplit_once(':').unwrap();
    let index: Value =
        serde_json::from_slice(&std::fs::read(Path::new(dir).join("index.json")).unwrap()).unwrap();
    let d = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let blob = |d: &str| Path::new(dir).join("blobs/sha256").join(&d[7..]);
    let mut m: Value = serde_json::from_slice(&std::fs::read(blob(&d)).unwrap()).unwrap();
    let config: Value = serde_json::from_slice(
        &std::fs::read(blob(m["config"]["digest"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    m["config_json"] = config;
    m
}

/// Layer digests of a manifest.
pub fn layer_digests(m: &Value) -> Vec<String> {
    m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

/// `(id, package)` of a JSON scan's live findings of type `deb`.
pub fn deb_findings(v: &Value) -> BTreeSet<(String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["package"]["type"] == "deb" && f["suppressed"].is_null())
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["package"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `safeimage scan SOURCE -f json`.
pub fn scan(dir: &Path, db: &Path, source: &str) -> Value {
    let out = safeimage_in(
        dir,
        &[
            "scan",
            source,
            "--db",
            db.to_str().unwrap(),
            "--db-max-age",
            "1000000",
            "-f",
            "json",
            "--cache-dir",
            dir.join("cache").to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.code().unwrap_or(-1) < 2,
        "scan {source}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
