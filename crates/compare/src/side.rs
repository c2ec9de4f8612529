//! Building a [`Side`] from what the callers hold: an inventoried image or
//! SBOM ([`inventory::Loaded`]) with its judged findings, or one of our
//! scan reports read back (findings only: no packages, layers or sizes).

use std::path::Path;

use crate::{Base, Layer, Package, Side};

/// A side from an image or SBOM and the findings judged on it.
pub fn loaded(l: &inventory::Loaded, findings: Vec<scan::Finding>) -> Side {
    let image = l.image.as_ref();
    Side {
        name: l.name.clone(),
        digest: l.digest.clone(),
        distro: l
            .inventory
            .distro
            .as_ref()
            .map(|d| format!("{} {}", d.id, d.version_id)),
        packages: Some(
            l.inventory
                .packages
                .iter()
                .map(|p| Package {
                    kind: p.kind.as_str().to_string(),
                    name: p.name.clone(),
                    version: p.version.clone(),
                })
                .collect(),
        ),
        findings,
        layers: image.map(|i| {
            i.layers
                .iter()
                .map(|l| Layer {
                    digest: l.digest.to_string(),
                    diff_id: l.diff_id.to_string(),
                    size: l.size,
                    created_by: l.created_by.clone(),
                })
                .collect()
        }),
        unpacked_bytes: l.unpacked_bytes,
        base: image.and_then(|i| {
            let name = i.annotations.get(oci::image::BASE_NAME).cloned();
            let digest = i.annotations.get(oci::image::BASE_DIGEST).cloned();
            (name.is_some() || digest.is_some()).then_some(Base { name, digest })
        }),
    }
}

/// A side from one of our `scan --format json` reports.
pub fn report(path: &Path) -> Result<Side, scan::baseline::BaselineError> {
    let r = scan::baseline::read_report(path)?;
    Ok(Side {
        name: if r.target.name.is_empty() {
            path.display().to_string()
        } else {
            r.target.name
        },
        digest: r.target.digest,
        distro: r.target.distro,
        packages: None,
        findings: r.findings,
        layers: None,
        unpacked_bytes: None,
        base: None,
    })
}
