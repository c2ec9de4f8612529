//! [`Lookup`] against real registries: the tag list, and one manifest GET
//! per reference (an index lists every platform's manifest, so one request
//! answers for all the platforms a fleet builds). Attestation and other
//! non-image entries of an index (`unknown/unknown`) are left out.

use oci::source::RegistryOptions;
use oci::{Digest, ImageRef, Platform};

use crate::plan::{Lookup, LookupError, Manifests};

/// Most tags listed for one repository.
pub const MAX_TAGS: usize = 100_000;

/// Registries, with the fleet's options (credentials, insecure hosts).
pub struct Registries {
    opts: RegistryOptions,
}

impl Registries {
    /// With `opts`.
    pub fn new(opts: RegistryOptions) -> Self {
        Registries { opts }
    }
}

fn err(r: &ImageRef, e: impl ToString) -> LookupError {
    LookupError {
        reference: r.to_string(),
        message: e.to_string(),
    }
}

/// The platforms of a manifest or index's bytes.
pub fn manifests(r: &ImageRef, bytes: &[u8]) -> Result<Manifests, LookupError> {
    let digest = oci::verify::sha256(bytes);
    if let Some(want) = r.digest()
        && *want != digest
    {
        return Err(err(
            r,
            format!("the registry sent a manifest with digest {digest}"),
        ));
    }
    if !oci::image::is_index(None, bytes) {
        return Ok(Manifests {
            digest: digest.clone(),
            platforms: vec![(None, digest)],
        });
    }
    let idx: oci::image::Index =
        serde_json::from_slice(bytes).map_err(|e| err(r, format!("index: {e}")))?;
    let mut platforms = Vec::new();
    for d in idx.manifests {
        let Some(p) = d.platform else { continue };
        if p.os == "unknown" || p.architecture == "unknown" {
            continue;
        }
        let md: Digest = d
            .digest
            .parse()
            .map_err(|e| err(r, format!("index entry `{}`: {e}", d.digest)))?;
        platforms.push((Some(p), md));
    }
    Ok(Manifests { digest, platforms })
}

impl Lookup for Registries {
    fn tags(&self, repo: &ImageRef) -> Result<Vec<String>, LookupError> {
        match oci::push::Repo::connect(repo, &self.opts).and_then(|c| c.tags(MAX_TAGS)) {
            Ok(t) => Ok(t),
            // a repository that is gone has no tags; its manifest lookup
            // says so with the Dockerfile's line
            Err(oci::registry::RegistryError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(err(repo, e)),
        }
    }

    fn manifests(&self, r: &ImageRef) -> Result<Option<Manifests>, LookupError> {
        let at = match (r.digest(), r.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => "latest".to_string(),
        };
        let repo = oci::push::Repo::connect(r, &self.opts).map_err(|e| err(r, e))?;
        match repo.fetch_manifest(&at).map_err(|e| err(r, e))? {
            Some((bytes, _)) => manifests(r, &bytes).map(Some),
            None => Ok(None),
        }
    }
}

/// Platforms as the fleet names them, for messages.
pub fn shown(ps: &[Platform]) -> String {
    ps.iter()
        .map(Platform::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_lists_image_platforms_and_skips_attestations() {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let idx = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d('1'), "size": 1,
                 "platform": {"os": "linux", "architecture": "amd64"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d('2'), "size": 1,
                 "platform": {"os": "unknown", "architecture": "unknown"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d('3'), "size": 1,
                 "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}
            ]
        });
        let bytes = serde_json::to_vec(&idx).unwrap();
        let r: ImageRef = "r.example/a:1".parse().unwrap();
        let m = manifests(&r, &bytes).unwrap();
        assert_eq!(m.platforms.len(), 2);
        let arm: Platform = "linux/arm64".parse().unwrap();
        assert_eq!(m.for_platform(&arm).unwrap().to_string(), d('3'));
        // fetched by another digest: refused
        let wrong: ImageRef = format!("r.example/a@{}", d('9')).parse().unwrap();
        assert!(manifests(&wrong, &bytes).is_err());
    }
}
