//! The hardened image as an OCI layout: one layer with every kept path
//! (owner root unless the plan says otherwise, mtime 0, so the same input
//! gives the same digest), the source's config with the user, command and
//! labels set, and for the `-debug` sibling a second layer with a static
//! busybox under `/busybox`.

use std::collections::BTreeMap;
use std::path::Path;

use oci::image::{History, ImageConfig};
use oci::write::LayoutWriter;

use crate::plan::{Kept, Plan};

/// Busybox applets linked in the debug sibling's `/busybox`.
pub const APPLETS: &[&str] = &[
    "sh", "ls", "cat", "cp", "mv", "rm", "mkdir", "ps", "top", "env", "id", "grep", "find", "wget",
    "vi", "less", "head", "tail", "du", "df", "netstat", "nslookup", "ping", "kill", "sleep",
    "echo", "stat", "which", "tar",
];

fn header(kind: tar::EntryType, mode: u32, size: u64, owner: (u32, u32)) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(owner.0 as u64);
    h.set_gid(owner.1 as u64);
    h.set_mtime(0);
    h
}

/// The layer tar of a set of entries (in path order: parents first).
pub fn layer_tar(entries: &BTreeMap<String, Kept>) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    b.mode(tar::HeaderMode::Deterministic);
    for (path, k) in entries {
        match k {
            Kept::Dir { mode, owner } => {
                let mut h = header(tar::EntryType::Directory, *mode, 0, *owner);
                b.append_data(&mut h, format!("{path}/"), std::io::empty())?;
            }
            Kept::File { mode, data } => {
                let mut h = header(tar::EntryType::Regular, *mode, data.len() as u64, (0, 0));
                b.append_data(&mut h, path, data.as_slice())?;
            }
            Kept::Symlink { target } => {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0, (0, 0));
                b.append_link(&mut h, path, target)?;
            }
        }
    }
    b.into_inner()
}

/// The debug layer: `busybox/busybox` and its applets as links.
pub fn debug_tar(busybox: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = BTreeMap::new();
    e.insert(
        "busybox".to_string(),
        Kept::Dir {
            mode: 0o755,
            owner: (0, 0),
        },
    );
    e.insert(
        "busybox/busybox".to_string(),
        Kept::File {
            mode: 0o755,
            data: std::sync::Arc::new(busybox.to_vec()),
        },
    );
    for a in APPLETS {
        e.insert(
            format!("busybox/{a}"),
            Kept::Symlink {
                target: "busybox".into(),
            },
        );
    }
    layer_tar(&e)
}

/// What the output config says about the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Entrypoint.
    pub entrypoint: Vec<String>,
    /// Cmd.
    pub cmd: Vec<String>,
}

/// The source config made into the hardened one.
pub fn config(
    source: &ImageConfig,
    plan: &Plan,
    command: &Command,
    labels: &BTreeMap<String, String>,
    created_by: &str,
    debug: bool,
) -> serde_json::Value {
    let mut cfg = source.clone();
    let c = cfg.config.get_or_insert_with(Default::default);
    c.user = Some(format!("{}:{}", plan.user.0, plan.user.1));
    c.entrypoint = (!command.entrypoint.is_empty()).then(|| command.entrypoint.clone());
    c.cmd = (!command.cmd.is_empty()).then(|| command.cmd.clone());
    let mut l = c.labels.clone().unwrap_or_default();
    l.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    c.labels = Some(l);
    // A healthcheck that runs a shell cannot work without one.
    if c.other
        .get("Healthcheck")
        .and_then(|h| h["Test"][0].as_str())
        == Some("CMD-SHELL")
        && !debug
    {
        c.other.remove("Healthcheck");
    }
    if debug {
        let env = c.env.get_or_insert_with(Vec::new);
        match env.iter_mut().find(|e| e.starts_with("PATH=")) {
            Some(p) => p.push_str(":/busybox"),
            None => env.push(
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/busybox".into(),
            ),
        }
    }
    cfg.history = vec![History {
        created: None,
        created_by: Some(created_by.to_string()),
        empty_layer: None,
        comment: Some("safeimage harden".into()),
        ..Default::default()
    }];
    if debug {
        cfg.history.push(History {
            created: None,
            created_by: Some("debug variant: static busybox in /busybox".into()),
            empty_layer: None,
            comment: Some("safeimage harden".into()),
            ..Default::default()
        });
    }
    cfg.rootfs = Default::default();
    let mut v = serde_json::to_value(&cfg).expect("a config serialises");
    if let Some(o) = v.as_object_mut() {
        o.remove("rootfs");
    }
    v
}

/// Sizes written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    /// Compressed layer bytes.
    pub compressed: u64,
    /// Uncompressed layer bytes.
    pub uncompressed: u64,
}

/// Writes one image into the layout `dir` (`append`: next to what is there).
pub fn write_image(
    dir: &Path,
    append: bool,
    layers: &[&[u8]],
    config: serde_json::Value,
    tag: &str,
    annotations: &BTreeMap<String, String>,
) -> std::io::Result<(oci::Digest, Written)> {
    let mut w = if append {
        LayoutWriter::append(dir)?
    } else {
        LayoutWriter::create(dir)?
    };
    let mut written = Written::default();
    for l in layers {
        w.add_layer(l)?;
        written.uncompressed += l.len() as u64;
    }
    for (k, v) in annotations {
        w.annotate(k, v);
    }
    let blobs = dir.join("blobs/sha256");
    let d = w.finish(config, tag)?;
    // the compressed sizes, from the manifest just written
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(blobs.join(d.encoded()))?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    written.compressed = m["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["size"].as_u64())
        .sum();
    Ok((d, written))
}
