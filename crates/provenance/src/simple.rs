//! The simple-signing payload cosign signs for an image: the image's
//! repository (`critical.identity.docker-reference`), its manifest digest
//! (`critical.image.docker-manifest-digest`), the fixed `type`, and the
//! signer's annotations (`optional`, `null` when there are none). Written
//! with cosign's field order so the bytes match what cosign writes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Media type of the payload layer.
pub const MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The `critical.type` of an image signature.
pub const TYPE: &str = "cosign container image signature";

/// The payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// What is signed.
    pub critical: Critical,
    /// The signer's annotations.
    pub optional: Option<BTreeMap<String, serde_json::Value>>,
}

/// `critical`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Critical {
    /// `identity`.
    pub identity: Identity,
    /// `image`.
    pub image: Image,
    /// `type`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `critical.identity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// The repository, `registry/path` (no tag).
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

/// `critical.image`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// `sha256:...` of the manifest signed.
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

impl Payload {
    /// The payload for `digest` in `repository` with `annotations`.
    pub fn new(
        repository: &str,
        digest: &oci::Digest,
        annotations: &BTreeMap<String, String>,
    ) -> Self {
        Payload {
            critical: Critical {
                identity: Identity {
                    docker_reference: repository.to_string(),
                },
                image: Image {
                    docker_manifest_digest: digest.to_string(),
                },
                kind: TYPE.to_string(),
            },
            optional: (!annotations.is_empty()).then(|| {
                annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect()
            }),
        }
    }

    /// The bytes to sign.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("payload serialises")
    }

    /// The annotation `key` as text, if present.
    pub fn annotation(&self, key: &str) -> Option<String> {
        let v = self.optional.as_ref()?.get(key)?;
        Some(match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_follow_cosign_field_order() {
        let d: oci::Digest =
            "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00"
                .parse()
                .unwrap();
        let p = Payload::new(
            "192.168.64.2:5000/cosign-signed-single-sample",
            &d,
            &BTreeMap::new(),
        );
        assert_eq!(
            String::from_utf8(p.to_bytes()).unwrap(),
            r#"{"critical":{"identity":{"docker-reference":"192.168.64.2:5000/cosign-signed-single-sample"},"image":{"docker-manifest-digest":"sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00"},"type":"cosign container image signature"},"optional":null}"#
        );
    }
}
