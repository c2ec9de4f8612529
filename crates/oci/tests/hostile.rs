//! Hostile and broken images: every case ends in a clear error or a
//! documented skip, nothing is written outside the cache/work directory, and
//! memory stays bounded. Images are OCI layouts written by hand.

use std::io::Write;
use std::path::Path;

use oci::layer::Limits;
use oci::verify::sha256;
use oci::{Options, Source, Want, analyze};

struct Layout {
    dir: tempfile::TempDir,
}

impl Layout {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
        std::fs::write(
            dir.path().join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        Layout { dir }
    }
    fn blob(&self, bytes: &[u8]) -> String {
        let d = sha256(bytes);
        std::fs::write(
            self.dir.path().join("blobs/sha256").join(d.encoded()),
            bytes,
        )
        .unwrap();
        d.to_string()
    }
    /// Writes config, manifest and index for layers given as (blob bytes, diff id, media type).
    fn image(&self, layers: &[(Vec<u8>, String, &str)]) -> String {
        let diff_ids: Vec<&str> = layers.iter().map(|l| l.1.as_str()).collect();
        let config = serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}});
        let cbytes = serde_json::to_vec(&config).unwrap();
        let cd = self.blob(&cbytes);
        let ls: Vec<serde_json::Value> = layers
            .iter()
            .map(|(b, _, mt)| {
                let d = self.blob(b);
                serde_json::json!({"mediaType": mt, "digest": d, "size": b.len()})
            })
            .collect();
        self.manifest(serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cbytes.len()}, "layers": ls}))
    }
    fn manifest(&self, m: serde_json::Value) -> String {
        let mbytes = serde_json::to_vec(&m).unwrap();
        let md = self.blob(&mbytes);
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mbytes.len()}]});
        std::fs::write(
            self.dir.path().join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
        format!("oci:{}", self.dir.path().display())
    }
}

fn raw_tar(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, ty, link, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*ty);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        let name = &mut h.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        if !link.is_empty() {
            let l = &mut h.as_old_mut().linkname;
            l[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn run(src: &str, limits: Limits) -> Result<oci::Analysis, oci::AnalyzeError> {
    let source: Source = src.parse().unwrap();
    let want = Want {
        select: oci::Select::capture(&|_, _| true),
        key: "test",
    };
    analyze(
        &source,
        &Options {
            limits,
            ..Options::default()
        },
        &want,
        &|_| {},
    )
}

fn snapshot(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn traversal_links_and_devices_stay_inside_the_image() {
    let l = Layout::new();
    let outside = tempfile::tempdir().unwrap();
    let before = snapshot(outside.path());
    let escape = format!("../../../../..{}/pwned", outside.path().display());
    let t = raw_tar(&[
        (&escape, tar::EntryType::Regular, "", b"x"),
        ("/etc/absolute", tar::EntryType::Regular, "", b"abs"),
        (
            "etc/shadow-link",
            tar::EntryType::Symlink,
            "/etc/shadow",
            b"",
        ),
        ("up", tar::EntryType::Symlink, "../../../../../../etc", b""),
        ("hard", tar::EntryType::Link, "../../../../etc/passwd", b""),
        ("dev/sda", tar::EntryType::Block, "", b""),
        ("ok", tar::EntryType::Regular, "", b"fine"),
    ]);
    let src = l.image(&[(
        t.clone(),
        sha256(&t).to_string(),
        "application/vnd.oci.image.layer.v1.tar",
    )]);
    let a = run(&src, Limits::default()).unwrap();
    assert_eq!(snapshot(outside.path()), before, "nothing written outside");
    let notes: Vec<&str> = a.layers[0]
        .notes
        .iter()
        .map(|n| n.reason.as_str())
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("above the image root")),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| n.contains("hard link")), "{notes:?}");
    // absolute paths are taken relative to the image root
    assert_eq!(a.tree.read("etc/absolute"), Some(&b"abs"[..]));
    // links resolve inside the image only
    assert_eq!(a.tree.resolve("up/passwd").as_deref(), Some("etc/passwd"));
    assert_eq!(
        a.tree.read("etc/shadow-link"),
        None,
        "the host's /etc/shadow is never read"
    );
    assert!(a.tree.get("dev/sda").is_some());
    assert_eq!(a.tree.read("ok"), Some(&b"fine"[..]));
}

#[test]
fn gzip_bomb_is_stopped_with_bounded_memory() {
    let l = Layout::new();
    let zeros = vec![0u8; 64 << 20];
    let t = raw_tar(&[("big", tar::EntryType::Regular, "", &zeros)]);
    let gz = gzip(&t);
    assert!(
        gz.len() < 1 << 20,
        "64 MiB of zeros compress to {} bytes",
        gz.len()
    );
    let src = l.image(&[(
        gz,
        sha256(&t).to_string(),
        "application/vnd.oci.image.layer.v1.tar+gzip",
    )]);
    let e = run(
        &src,
        Limits {
            max_layer_bytes: 8 << 20,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("beyond the limit"), "{e}");
}

#[test]
fn truncated_layer_is_an_error_naming_the_layer() {
    let l = Layout::new();
    let t = raw_tar(&[("a", tar::EntryType::Regular, "", &[1u8; 100_000])]);
    let gz = gzip(&t);
    let cut = gz[..gz.len() / 2].to_vec();
    let digest = sha256(&cut).to_string();
    let src = l.image(&[(
        cut,
        sha256(&t).to_string(),
        "application/vnd.oci.image.layer.v1.tar+gzip",
    )]);
    let e = run(&src, Limits::default()).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!("layer {digest}:")),
        "{e}"
    );
}

#[test]
fn blob_that_does_not_match_its_digest() {
    let l = Layout::new();
    let t = raw_tar(&[("a", tar::EntryType::Regular, "", b"original")]);
    let src = l.image(&[(
        t.clone(),
        sha256(&t).to_string(),
        "application/vnd.oci.image.layer.v1.tar",
    )]);
    // tamper with the stored layer blob
    let path = l.dir.path().join("blobs/sha256").join(sha256(&t).encoded());
    let tampered = raw_tar(&[("a", tar::EntryType::Regular, "", b"tampered")]);
    std::fs::write(&path, &tampered).unwrap();
    let e = run(&src, Limits::default()).unwrap_err();
    assert!(e.to_string().contains("does not match its digest"), "{e}");
    assert!(e.to_string().contains(&sha256(&t).to_string()), "{e}");
}

#[test]
fn manifest_pointing_at_a_missing_blob() {
    let l = Layout::new();
    let t = raw_tar(&[("a", tar::EntryType::Regular, "", b"x")]);
    let src = l.image(&[(
        t.clone(),
        sha256(&t).to_string(),
        "application/vnd.oci.image.layer.v1.tar",
    )]);
    std::fs::remove_file(l.dir.path().join("blobs/sha256").join(sha256(&t).encoded())).unwrap();
    let e = run(&src, Limits::default()).unwrap_err();
    assert!(e.to_string().contains("is missing"), "{e}");
    assert!(e.to_string().contains(&sha256(&t).to_string()), "{e}");
}

#[test]
fn unknown_layer_media_type() {
    let l = Layout::new();
    let t = raw_tar(&[("a", tar::EntryType::Regular, "", b"x")]);
    let src = l.image(&[(
        t.clone(),
        sha256(&t).to_string(),
        "application/vnd.example.weird+lzma",
    )]);
    let e = run(&src, Limits::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("unsupported media type `application/vnd.example.weird+lzma`"),
        "{e}"
    );
}

#[test]
fn cache_is_shared_and_written_atomically() {
    let l = Layout::new();
    let t = raw_tar(&[("etc/os-release", tar::EntryType::Regular, "", b"ID=x\n")]);
    let src = l.image(&[(
        gzip(&t),
        sha256(&t).to_string(),
        "application/vnd.oci.image.layer.v1.tar+gzip",
    )]);
    let cache = tempfile::tempdir().unwrap();
    let source: Source = src.parse().unwrap();
    let want = Want {
        select: oci::Select::capture(&|_, _| true),
        key: "test",
    };
    let opts = Options {
        cache_dir: Some(cache.path().to_path_buf()),
        ..Options::default()
    };
    // several analyses at once share one cache directory without a lock
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| analyze(&source, &opts, &want, &|_| {}).unwrap());
        }
    });
    let a = analyze(&source, &opts, &want, &|_| {}).unwrap();
    assert_eq!(a.cached_layers, 1);
    assert_eq!(a.tree.read("etc/os-release"), Some(&b"ID=x\n"[..]));
    let files: Vec<_> = std::fs::read_dir(cache.path().join("layers"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 1, "one entry, no temp files left: {files:?}");
    assert!(files[0].starts_with("sha256-") && files[0].ends_with("-test.json"));
}

/// A one-layer layout whose config may lie about the diffID.
fn layout_with(files: &[(&str, &[u8])], claimed: Option<String>) -> (Layout, String, String) {
    let l = Layout::new();
    let entries: Vec<(&str, tar::EntryType, &str, &[u8])> = files
        .iter()
        .map(|(p, d)| (*p, tar::EntryType::Regular, "", *d))
        .collect();
    let t = raw_tar(&entries);
    let real = sha256(&t).to_string();
    let gz = gzip(&t);
    let blob = sha256(&gz).to_string();
    let src = l.image(&[(
        gz,
        claimed.unwrap_or(real),
        "application/vnd.oci.image.layer.v1.tar+gzip",
    )]);
    (l, src, blob)
}

fn status_packages(a: &oci::Analysis) -> usize {
    let text = a.tree.read("var/lib/dpkg/status").unwrap_or_default();
    String::from_utf8_lossy(text).matches("Package: ").count()
}

/// A real image whose status lists `real_status`, and a hostile one whose
/// config claims the real layer's diffID for a one-package status:
/// `(layouts, real source, real diffID, hostile source, hostile blob)`.
fn lying_pair(real_status: &[u8]) -> ((Layout, Layout), String, String, String, String) {
    let (real, real_src, _) = layout_with(&[("var/lib/dpkg/status", real_status)], None);
    let real_diff = {
        let t = raw_tar(&[(
            "var/lib/dpkg/status",
            tar::EntryType::Regular,
            "",
            real_status,
        )]);
        sha256(&t).to_string()
    };
    let (evil, evil_src, evil_blob) = layout_with(
        &[("var/lib/dpkg/status", b"Package: only\nVersion: 1\n")],
        Some(real_diff.clone()),
    );
    ((real, evil), real_src, real_diff, evil_src, evil_blob)
}

#[test]
fn a_lying_diff_id_is_an_error_and_cannot_poison_the_cache() {
    // The hostile image claims the real image's diffID for a one-package status.
    let (_layouts, real_src, real_diff, evil_src, evil_blob) =
        lying_pair(b"Package: a\nVersion: 1\n\nPackage: b\nVersion: 1\n\nPackage: c\nVersion: 1\n");
    let cache = tempfile::tempdir().unwrap();
    let want = Want {
        select: oci::Select::capture(&|_, _| true),
        key: "test",
    };
    let opts = Options {
        cache_dir: Some(cache.path().to_path_buf()),
        ..Options::default()
    };
    assert!(opts.verify_diff_ids, "the default");
    let go = |src: &str| analyze(&src.parse::<Source>().unwrap(), &opts, &want, &|_| {});
    // Hostile first: an error naming both digests, and nothing cached.
    let e = go(&evil_src).unwrap_err().to_string();
    assert!(e.contains(&evil_blob) && e.contains(&real_diff), "{e}");
    assert!(e.contains("claims"), "{e}");
    let a = go(&real_src).unwrap();
    assert_eq!((status_packages(&a), a.cached_layers), (3, 0));
    // Real first: the hostile image still misses the cache and fails.
    assert!(go(&evil_src).is_err());
    let a = go(&real_src).unwrap();
    assert_eq!((status_packages(&a), a.cached_layers), (3, 1));
}

#[test]
fn unverified_a_lying_diff_id_still_reads_the_blobs_own_content_and_cannot_poison_the_cache() {
    let (_layouts, real_src, _, evil_src, _) =
        lying_pair(b"Package: a\nVersion: 1\n\nPackage: b\nVersion: 1\n");
    let cache = tempfile::tempdir().unwrap();
    let want = Want {
        select: oci::Select::capture(&|_, _| true),
        key: "test",
    };
    let opts = Options {
        cache_dir: Some(cache.path().to_path_buf()),
        verify_diff_ids: false,
        ..Options::default()
    };
    let go = |src: &str| analyze(&src.parse::<Source>().unwrap(), &opts, &want, &|_| {});
    // the content is what the (verified) blob holds, cached under the blob
    for round in 0..2 {
        let evil = go(&evil_src).unwrap();
        assert_eq!((status_packages(&evil), evil.cached_layers), (1, round));
        let real = go(&real_src).unwrap();
        assert_eq!((status_packages(&real), real.cached_layers), (2, round));
    }
}

#[test]
fn a_plain_tar_layer_whose_diff_id_lies_is_an_error_even_unchecked() {
    let l = Layout::new();
    let t = raw_tar(&[("etc/os-release", tar::EntryType::Regular, "", b"ID=x\n")]);
    let lie = sha256(b"something else").to_string();
    let src = l.image(&[(t, lie.clone(), "application/vnd.oci.image.layer.v1.tar")]);
    let want = Want {
        select: oci::Select::capture(&|_, _| true),
        key: "test",
    };
    let unchecked = Options {
        verify_diff_ids: false,
        ..Options::default()
    };
    let e = analyze(&src.parse::<Source>().unwrap(), &unchecked, &want, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains(&lie) && e.contains("claims"), "{e}");
}

#[test]
fn a_path_repeated_in_a_layer_keeps_only_its_last_content() {
    let big = vec![b'x'; 3 << 20];
    let (_l, src, _) = layout_with(
        &[
            ("var/lib/dpkg/status", &big),
            ("var/lib/dpkg/status", &big),
            ("var/lib/dpkg/status", b"Package: last\n"),
        ],
        None,
    );
    let a = run(&src, Limits::default()).unwrap();
    let held: usize = a.layers[0]
        .entries
        .iter()
        .filter_map(|e| e.content.as_ref().map(Vec::len))
        .sum();
    assert_eq!(held, "Package: last\n".len());
    assert_eq!(
        a.tree.read("var/lib/dpkg/status"),
        Some(&b"Package: last\n"[..])
    );
}

#[test]
fn captured_bytes_are_capped_per_file_and_per_layer_with_a_note() {
    let big = vec![b'y'; 300_000];
    let (_l, src, _) = layout_with(
        &[("a", &big), ("b", &big), ("c", &big), ("d", b"small")],
        None,
    );
    let a = run(
        &src,
        Limits {
            max_file_bytes: 200_000,
            max_captured_bytes: 450_000,
            ..Limits::default()
        },
    )
    .unwrap();
    let notes: Vec<&str> = a.layers[0]
        .notes
        .iter()
        .map(|n| n.reason.as_str())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("capture limit exceeded: file larger than 200000")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("capture limit exceeded: more than 450000")),
        "{notes:?}"
    );
    assert_eq!(a.tree.read("a").map(<[u8]>::len), Some(200_000));
    assert_eq!(a.tree.read("b").map(<[u8]>::len), Some(200_000));
    assert_eq!(a.tree.read("c"), None);
    assert_eq!(
        a.tree.read("d"),
        None,
        "nothing more is captured once the limit is hit"
    );
}

#[test]
fn symlinks_resolve_within_the_kernel_limits() {
    let l = Layout::new();
    let long: String = std::iter::repeat_n("a", 40_000)
        .collect::<Vec<_>>()
        .join("/");
    let mut entries: Vec<(String, tar::EntryType, String, &[u8])> = vec![
        ("etc".into(), tar::EntryType::Symlink, long, b""),
        (
            "ok/os-release".into(),
            tar::EntryType::Regular,
            String::new(),
            b"ID=x\n",
        ),
    ];
    // A chain of 40 links resolves; 41 does not.
    for i in 0..41 {
        entries.push((
            format!("l{i}"),
            tar::EntryType::Symlink,
            format!("l{}", i + 1),
            b"",
        ));
    }
    entries.push(("l41".into(), tar::EntryType::Symlink, "ok".into(), b""));
    let refs: Vec<(&str, tar::EntryType, &str, &[u8])> = entries
        .iter()
        .map(|(p, t, l, d)| (p.as_str(), *t, l.as_str(), *d))
        .collect();
    let t = raw_tar_long(&refs);
    let src = l.image(&[(
        t.clone(),
        sha256(&t).to_string(),
        "application/vnd.oci.image.layer.v1.tar",
    )]);
    let a = run(&src, Limits::default()).unwrap();
    for _ in 0..1000 {
        assert_eq!(
            a.tree.resolve("etc/os-release"),
            None,
            "target longer than PATH_MAX"
        );
    }
    assert_eq!(
        a.tree.resolve("l2/os-release").as_deref(),
        Some("ok/os-release"),
        "40 links"
    );
    assert_eq!(a.tree.resolve("l1/os-release"), None, "41 links");
}

/// Like `raw_tar`, with GNU long names and long link targets.
fn raw_tar_long(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, ty, link, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*ty);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        if link.is_empty() {
            b.append_data(&mut h, path, *data).unwrap();
        } else {
            b.append_link(&mut h, path, link).unwrap();
        }
    }
    b.into_inner().unwrap()
}
