//! `safeimage sbom` on OCI layouts written here, run twice over one cache
//! directory: the image-level cache answers the second run with the same
//! document (dependency graph and layer notes included), a damaged entry
//! is a miss and is rewritten, a second image of the same layers shares the
//! entry; and the diffID check, on by default and off with
//! `--no-verify-diff-ids` (whose records are kept apart).

use std::path::Path;
use std::process::{Command, Output};

use oci::write::{Entry, LayoutWriter, tar_of};
use serde_json::Value;

fn file(path: &str, data: &str) -> Entry {
    Entry::File {
        path: path.into(),
        mode: 0o644,
        data: data.as_bytes().to_vec(),
    }
}

const STATUS: &str = "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nArchitecture: amd64\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\n\nPackage: bash\nStatus: install ok installed\nVersion: 5.2.15-2\nArchitecture: amd64\nPre-Depends: libc6 (>= 2.36)\nMaintainer: Matthias Klose <doko@debian.org>\n\n";

fn layers() -> (Vec<u8>, Vec<u8>) {
    let base = tar_of(&[
        file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
        file("var/lib/dpkg/status", STATUS),
    ])
    .unwrap();
    // a second layer: an npm package, and an entry the reader must skip
    // with a note (its name set raw: the tar crate refuses to write `..`)
    let mut b = tar::Builder::new(Vec::new());
    let data = br#"{"name":"left-pad","version":"1.3.0"}"#;
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    let name = b"../outside/x.json";
    h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
    h.set_cksum();
    b.append(&h, &data[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "app/node_modules/left-pad/package.json", &data[..])
        .unwrap();
    (base, b.into_inner().unwrap())
}

/// A layout of the two layers; `label` changes only the config.
fn layout(dir: &Path, label: &str) {
    let (base, app) = layers();
    let mut w = LayoutWriter::create(dir).unwrap();
    w.add_layer(&base).unwrap();
    w.add_layer(&app).unwrap();
    w.finish(
        serde_json::json!({"architecture": "amd64", "os": "linux", "config": {"Labels": {"l": label}}}),
        "t",
    )
    .unwrap();
}

fn sbom(dir: &Path, cache: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .args([
            "sbom",
            &format!("oci:{}:t", dir.display()),
            "-f",
            "cyclonedx-json",
        ])
        .arg("--cache-dir")
        .arg(cache)
        .args(extra)
        .env("SOURCE_DATE_EPOCH", "1795478400")
        .output()
        .unwrap()
}

fn doc(o: &Output) -> Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_object_mut().unwrap().remove("serialNumber");
    v
}

fn image_entries(cache: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(cache.join("images"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

#[test]
fn an_image_seen_before_is_answered_from_the_image_cache_with_the_same_document() {
    let (img, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    layout(img.path(), "a");
    let cold = sbom(img.path(), cache.path(), &[]);
    let first = doc(&cold);
    let deps = first["dependencies"].as_array().unwrap();
    let bash = deps
        .iter()
        .find(|d| d["ref"].as_str().unwrap().contains("/bash@"))
        .expect("bash in the graph");
    assert_eq!(bash["dependsOn"].as_array().unwrap().len(), 1, "{bash}");
    assert_eq!(image_entries(cache.path()).len(), 1);
    let cold_err = String::from_utf8_lossy(&cold.stderr).into_owned();
    assert!(cold_err.contains("note: ../outside/x.json"), "{cold_err}");
    // the layer cache is not what answers: without it the image cache must
    std::fs::remove_dir_all(cache.path().join("layers")).unwrap();
    let warm = sbom(img.path(), cache.path(), &[]);
    assert_eq!(doc(&warm), first);
    assert_eq!(
        String::from_utf8_lossy(&warm.stderr),
        cold_err,
        "layer notes kept"
    );
    assert!(!cache.path().join("layers").exists(), "no layer was read");
}

#[test]
fn a_damaged_image_cache_entry_is_a_miss_and_is_rewritten() {
    let (img, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    layout(img.path(), "a");
    let first = doc(&sbom(img.path(), cache.path(), &[]));
    let entry = image_entries(cache.path()).remove(0);
    std::fs::write(&entry, b"{\"inventory\":{\"packages\":[").unwrap();
    assert_eq!(doc(&sbom(img.path(), cache.path(), &[])), first);
    let back: Value = serde_json::from_slice(&std::fs::read(&entry).unwrap()).unwrap();
    assert!(back["inventory"]["packages"].as_array().unwrap().len() >= 3);
}

#[test]
fn images_of_the_same_layers_share_one_entry_and_other_layers_do_not() {
    let cache = tempfile::tempdir().unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    layout(a.path(), "a");
    layout(b.path(), "b");
    let da = doc(&sbom(a.path(), cache.path(), &[]));
    let db = doc(&sbom(b.path(), cache.path(), &[]));
    assert_eq!(image_entries(cache.path()).len(), 1);
    assert_eq!(da["components"], db["components"]);
    // one layer only: another entry
    let c = tempfile::tempdir().unwrap();
    let (base, _) = layers();
    let mut w = LayoutWriter::create(c.path()).unwrap();
    w.add_layer(&base).unwrap();
    w.finish(
        serde_json::json!({"architecture": "amd64", "os": "linux"}),
        "t",
    )
    .unwrap();
    let dc = doc(&sbom(c.path(), cache.path(), &[]));
    assert_eq!(image_entries(cache.path()).len(), 2);
    assert!(
        dc["components"].as_array().unwrap().len() < da["components"].as_array().unwrap().len()
    );
}

#[test]
fn a_lying_diff_id_fails_and_without_the_check_the_blob_is_read_as_it_is() {
    let (img, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (base, _) = layers();
    let mut w = LayoutWriter::create(img.path()).unwrap();
    let real = w.add_layer(&base).unwrap();
    let lie = format!("sha256:{}", "0".repeat(64));
    let config = serde_json::json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [lie]}});
    w.finish_raw(&serde_json::to_vec(&config).unwrap(), "t")
        .unwrap();
    let checked = sbom(img.path(), cache.path(), &[]);
    assert!(!checked.status.success());
    let err = String::from_utf8_lossy(&checked.stderr);
    assert!(
        err.contains(&lie) && err.contains(&real.to_string()),
        "{err}"
    );
    // without the check: the (verified) blob's own packages
    let v = doc(&sbom(img.path(), cache.path(), &["--no-verify-diff-ids"]));
    let names: Vec<&str> = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(
        names.contains(&"bash") && names.contains(&"libc6"),
        "{names:?}"
    );
    // and the checked run is still not served that unchecked result
    assert!(!sbom(img.path(), cache.path(), &[]).status.success());
    assert!(
        image_entries(cache.path()).is_empty(),
        "unchecked runs keep no image entry"
    );
}
