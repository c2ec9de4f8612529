//! An image: every layer on its own (a file a later layer deletes is still
//! in the image, so the squashed view is not enough), each finding with the
//! layer's diffID, the history entry that made it and what later layers did
//! to the file; and the image config (ENV, labels, history `created_by`
//! lines, which show build arguments). Layers stream through the verified
//! reader; each text file is scanned as it passes and only the findings are
//! kept.

use crate::engine::{Engine, Hit};
use crate::found::{Found, Place};

/// What an image scan saw.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Scanned {
    /// The image's manifest digest.
    pub digest: Option<String>,
    /// Layers read.
    pub layers: usize,
    /// Files scanned.
    pub files: usize,
    /// Bytes scanned.
    pub bytes: u64,
}

/// Largest file scanned in a layer.
pub const MAX_FILE: u64 = 32 << 20;

/// Scans `source` (any image source `oci` reads).
pub fn scan(
    source: &oci::Source,
    opts: &oci::Options,
    engine: &Engine,
) -> Result<(Vec<Found>, Scanned), oci::AnalyzeError> {
    let files = std::sync::atomic::AtomicUsize::new(0);
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let never = |_: &str, _: u64| false;
    let probe = |_: &str, _: u32, size: u64| size <= MAX_FILE;
    let extract = |path: &str, data: &[u8]| -> Option<String> {
        if crate::dir::is_binary(data) {
            return None;
        }
        files.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes.fetch_add(data.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let hits = engine.scan(path, data);
        if hits.is_empty() {
            return None;
        }
        let v: Vec<serde_json::Value> = hits
            .iter()
            .map(|h| serde_json::json!({"hit": h, "secret": h.secret}))
            .collect();
        Some(serde_json::Value::Array(v).to_string())
    };
    let want = oci::Want {
        select: oci::Select {
            capture: &never,
            probe: &probe,
            extract: &extract,
        },
        key: "secrets",
    };
    // never cached: the cache would hold the secrets found
    let mut o = opts.clone();
    o.cache_dir = None;
    let a = oci::analyze(source, &o, &want, &|_| {})?;
    let mut found = Vec::new();
    let history: Vec<&oci::image::History> = a
        .image
        .config
        .history
        .iter()
        .filter(|h| h.empty_layer != Some(true))
        .collect();
    for (i, rec) in a.layers.iter().enumerate() {
        let layer = &a.image.layers[i];
        let created_by = history
            .get(i)
            .and_then(|h| h.created_by.clone())
            .or_else(|| layer.created_by.clone())
            .unwrap_or_default();
        // the line that made the layer often holds the secret too
        let created_by = engine.redact_all("created_by", &created_by);
        for e in &rec.entries {
            let Some(x) = &e.extract else { continue };
            let Ok(serde_json::Value::Array(hits)) = serde_json::from_str::<serde_json::Value>(x)
            else {
                continue;
            };
            let fate = match a.tree.get(&e.path) {
                Some(n) if n.layer == i => "present",
                Some(_) => "overwritten",
                None => "deleted",
            };
            for h in hits {
                let Ok(mut hit) = serde_json::from_value::<Hit>(h["hit"].clone()) else {
                    continue;
                };
                hit.secret = h["secret"].as_str().unwrap_or("").to_string();
                found.push(Found {
                    place: Place::Layer {
                        index: i,
                        diff_id: layer.diff_id.to_string(),
                        created_by: created_by.clone(),
                        path: e.path.clone(),
                        fate: fate.to_string(),
                    },
                    hit,
                });
            }
        }
    }
    // The config: each value scanned as one line of its own.
    let c = a.image.config.config.clone().unwrap_or_default();
    let mut fields: Vec<(String, String)> = Vec::new();
    for e in c.env.unwrap_or_default() {
        fields.push(("Env".into(), e));
    }
    for (k, v) in c.labels.unwrap_or_default() {
        fields.push((format!("Labels.{k}"), format!("{k}={v}")));
    }
    for (i, h) in a.image.config.history.iter().enumerate() {
        if let Some(cb) = &h.created_by {
            fields.push((format!("history[{i}].created_by"), cb.clone()));
        }
    }
    for (field, text) in fields {
        for hit in engine.scan(&field, text.as_bytes()) {
            found.push(Found {
                place: Place::Config {
                    field: field.clone(),
                },
                hit,
            });
        }
    }
    Ok((
        found,
        Scanned {
            digest: a.image.manifest_digest.as_ref().map(ToString::to_string),
            layers: a.layers.len(),
            files: files.into_inner(),
            bytes: bytes.into_inner(),
        },
    ))
}
