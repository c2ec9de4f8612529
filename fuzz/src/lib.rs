//! Shared by the fuzz targets: an analysed image made from given files, as
//! if one layer held them (captured and probed exactly as a real layer's
//! would be), then catalogued and rendered as SBOMs.

use oci::layer::{Entry, EntryKind, LayerRecord};
use oci::tree::FileTree;

/// Files with contents, and extractor summaries given directly.
pub fn analysis(files: &[(&str, &[u8])], summaries: &[(&str, String)]) -> oci::Analysis {
    let select = inventory::select();
    let mut rec = LayerRecord::default();
    for (path, data) in files {
        let size = data.len() as u64;
        let content = (select.capture)(path, size).then(|| data.to_vec());
        let extract = if content.is_none() && (select.probe)(path, 0o755, size) {
            (select.extract)(path, data)
        } else {
            None
        };
        rec.entries.push(Entry {
            path: path.to_string(),
            kind: EntryKind::File,
            size,
            mode: 0o755,
            content,
            extract,
        });
    }
    for (path, summary) in summaries {
        rec.entries.push(Entry {
            path: path.to_string(),
            kind: EntryKind::File,
            size: 1,
            mode: 0o755,
            content: None,
            extract: Some(summary.clone()),
        });
    }
    let tree = FileTree::from_layers([&rec]);
    oci::Analysis {
        image: oci::Image {
            source: "fuzz".into(),
            reference: None,
            manifest_digest: None,
            index_digest: None,
            platform: oci::Platform::host(),
            config_digest: None,
            config: Default::default(),
            layers: Vec::new(),
            annotations: Default::default(),
        },
        layers: vec![rec],
        tree,
        cached_layers: 0,
    }
}

/// Catalogs the files and writes every SBOM format: nothing may panic.
pub fn catalog(files: &[(&str, &[u8])], summaries: &[(&str, String)]) {
    let a = analysis(files, summaries);
    let inv = inventory::catalog(&a);
    let subject = inventory::sbom::Subject {
        name: "fuzz".into(),
        digest: None,
        tool_version: "0".into(),
        created: "2026-01-01T00:00:00Z".into(),
    };
    let _ = inventory::sbom::cyclonedx(&inv, &subject);
    let _ = inventory::sbom::spdx(&inv, &subject);
    let _ = inventory::sbom::native(&inv, &subject);
    let _ = inventory::sbom::table(&inv);
}
