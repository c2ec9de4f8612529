//! The image-level inventory cache: an image whose layers were all seen
//! before (same blob digests and diffIDs, in the same order, same
//! [`CATALOGER_VERSION`]) gets its inventory back without a layer being read,
//! a tree built or a cataloger run. The inventory depends on nothing else
//! (not on the config: two images of the same layers share one entry).
//!
//! Entries sit beside the per-layer cache (`images/` under the cache
//! directory), content-addressed and written by atomic rename like it, so
//! processes share them without a lock. An entry that cannot be read or
//! parsed is a miss, never an empty inventory.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::CATALOGER_VERSION;
use crate::model::{Inventory, Relations};

/// What one entry holds.
#[derive(Serialize, Deserialize)]
pub struct Entry {
    /// The inventory.
    pub inventory: Inventory,
    /// Each package's relations (not part of the inventory's own JSON).
    relations: Vec<Relations>,
    /// What reading the layers noted, layer by layer (`path`, `reason`).
    pub layer_notes: Vec<oci::layer::Note>,
    /// Bytes of the layers' files, all layers together (entries written
    /// before this was kept have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpacked_bytes: Option<u64>,
}

fn path(dir: &Path, image: &oci::Image) -> PathBuf {
    let mut h = Sha256::new();
    h.update(CATALOGER_VERSION.as_bytes());
    for l in &image.layers {
        h.update(b"\n");
        h.update(l.digest.to_string().as_bytes());
        h.update(b" ");
        h.update(l.diff_id.to_string().as_bytes());
    }
    dir.join("images").join(format!(
        "{}-{CATALOGER_VERSION}.json",
        hex::encode(h.finalize())
    ))
}

/// The cached inventory of `image`, if there is one.
pub fn load(dir: &Path, image: &oci::Image) -> Option<Entry> {
    let bytes = std::fs::read(path(dir, image)).ok()?;
    let mut e: Entry = serde_json::from_slice(&bytes).ok()?;
    if e.relations.len() != e.inventory.packages.len() {
        return None;
    }
    for (p, r) in e
        .inventory
        .packages
        .iter_mut()
        .zip(std::mem::take(&mut e.relations))
    {
        p.relations = r;
    }
    Some(e)
}

/// Stores the inventory of `image` (best effort: a cache that cannot be
/// written only costs the next run time).
pub fn store(
    dir: &Path,
    image: &oci::Image,
    inventory: &Inventory,
    layer_notes: Vec<oci::layer::Note>,
    unpacked_bytes: u64,
) {
    let entry = Entry {
        inventory: inventory.clone(),
        relations: inventory
            .packages
            .iter()
            .map(|p| p.relations.clone())
            .collect(),
        layer_notes,
        unpacked_bytes: Some(unpacked_bytes),
    };
    oci::analyze::store_json(&path(dir, image), &entry);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Package, PackageType};

    fn image(layers: &[(&str, &str)]) -> oci::Image {
        let config: oci::image::ImageConfig = serde_json::from_value(serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.1).collect::<Vec<_>>()}
        }))
        .unwrap();
        oci::Image {
            source: "test".into(),
            reference: None,
            manifest_digest: None,
            index_digest: None,
            platform: config.platform(),
            config_digest: None,
            config,
            layers: layers
                .iter()
                .map(|(d, id)| oci::Layer {
                    digest: d.parse().unwrap(),
                    diff_id: id.parse().unwrap(),
                    media_type: String::new(),
                    size: 1,
                    created_by: None,
                })
                .collect(),
            annotations: Default::default(),
        }
    }

    #[test]
    fn round_trips_with_relations_and_misses_on_any_other_layer_list() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let c = format!("sha256:{}", "c".repeat(64));
        let img = image(&[(&a, &b), (&c, &c)]);
        let pkg = |name: &str| Package {
            kind: PackageType::Deb,
            name: name.into(),
            version: "1".into(),
            source_name: None,
            source_version: None,
            arch: None,
            purl: format!("pkg:deb/debian/{name}@1"),
            licenses: vec![],
            locations: vec![],
            owned_by: None,
            supplier: None,
            relations: Relations {
                wants: vec![vec!["libc6".into()]],
                provides: vec![],
                depends_on: vec![],
            },
        };
        let inv = Inventory::new(None, vec![pkg("app"), pkg("libc6")]);
        assert_eq!(inv.packages[0].relations.depends_on, vec![1]);
        let dir = tempfile::tempdir().unwrap();
        let notes = vec![oci::layer::Note {
            path: "x".into(),
            reason: "y".into(),
        }];
        store(dir.path(), &img, &inv, notes.clone(), 7);
        let back = load(dir.path(), &img).unwrap();
        assert_eq!(back.inventory.packages, inv.packages);
        assert_eq!(back.layer_notes, notes);
        assert_eq!(back.unpacked_bytes, Some(7));
        // another order, another layer or diffID: a miss
        assert!(load(dir.path(), &image(&[(&c, &c), (&a, &b)])).is_none());
        assert!(load(dir.path(), &image(&[(&a, &a), (&c, &c)])).is_none());
        assert!(load(dir.path(), &image(&[(&a, &b)])).is_none());
        // a damaged entry is a miss, not an empty inventory
        let f = path(dir.path(), &img);
        std::fs::write(&f, b"{\"inventory\":").unwrap();
        assert!(load(dir.path(), &img).is_none());
    }
}
