//! DSSE envelopes over in-toto statements, and the Sigstore bundle (v0.3)
//! that carries one with a key hint and no transparency-log entry.
//!
//! The signature is over DSSE's pre-authentication encoding
//! `"DSSEv1" SP len(type) SP type SP len(body) SP body`, never the bare
//! payload.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::keys::{PrivateKey, PublicKey};

/// The payload type of an in-toto statement.
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
/// The statement type written.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The statement type older tools write (read too).
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// Media type (and artifact type) of a Sigstore bundle v0.3.
pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The predicate type cosign uses for an image signature in a bundle.
pub const COSIGN_SIGN: &str = "https://sigstore.dev/cosign/sign/v1";

/// DSSE's pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// base64 of the payload.
    pub payload: String,
    /// What the payload is.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Signatures over the PAE.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature in an envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// base64 of the DER signature.
    pub sig: String,
    /// Optional key id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keyid: String,
}

impl Envelope {
    /// Signs `payload` (an in-toto statement) with `key`.
    pub fn sign(payload: &[u8], key: &PrivateKey) -> Envelope {
        let sig = key.sign(&pae(IN_TOTO, payload));
        Envelope {
            payload: B64.encode(payload),
            payload_type: IN_TOTO.to_string(),
            signatures: vec![EnvelopeSignature {
                sig: B64.encode(sig),
                keyid: String::new(),
            }],
        }
    }

    /// The payload, if it is base64.
    pub fn payload_bytes(&self) -> Option<Vec<u8>> {
        B64.decode(&self.payload).ok()
    }

    /// The first key of `keys` one of the signatures verifies with.
    pub fn verified_by<'k>(&self, keys: &'k [PublicKey]) -> Option<&'k PublicKey> {
        let body = self.payload_bytes()?;
        let msg = pae(&self.payload_type, &body);
        self.signatures.iter().find_map(|s| {
            let sig = B64.decode(&s.sig).ok()?;
            keys.iter().find(|k| k.verify(&msg, &sig))
        })
    }
}

/// An in-toto statement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Statement {
    /// The statement type.
    #[serde(rename = "_type")]
    pub kind: String,
    /// What it is about.
    pub subject: Vec<Subject>,
    /// The predicate's type.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate.
    #[serde(default)]
    pub predicate: serde_json::Value,
}

/// A statement's subject.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subject {
    /// Name (the repository).
    #[serde(default)]
    pub name: String,
    /// Digests by algorithm (`sha256` → hex).
    pub digest: BTreeMap<String, String>,
}

impl Statement {
    /// A statement about `digest` in `repository`.
    pub fn new(
        repository: &str,
        digest: &oci::Digest,
        predicate_type: &str,
        predicate: serde_json::Value,
    ) -> Statement {
        Statement {
            kind: STATEMENT_V1.to_string(),
            subject: vec![Subject {
                name: repository.to_string(),
                digest: BTreeMap::from([(
                    digest.algorithm().to_string(),
                    digest.encoded().to_string(),
                )]),
            }],
            predicate_type: predicate_type.to_string(),
            predicate,
        }
    }

    /// Whether one subject is `digest`.
    pub fn is_about(&self, digest: &oci::Digest) -> bool {
        self.subject
            .iter()
            .any(|s| s.digest.get(digest.algorithm()).map(String::as_str) == Some(digest.encoded()))
    }
}

/// A Sigstore bundle v0.3 holding a DSSE envelope, verified by a key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    /// [`BUNDLE_V03`].
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// The key hint; no certificate, no transparency-log entries.
    #[serde(rename = "verificationMaterial")]
    pub verification_material: serde_json::Value,
    /// The envelope.
    #[serde(
        rename = "dsseEnvelope",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dsse_envelope: Option<Envelope>,
}

impl Bundle {
    /// A bundle of `envelope`, hinting at `key`.
    pub fn new(envelope: Envelope, key: &PublicKey) -> Bundle {
        Bundle {
            media_type: BUNDLE_V03.to_string(),
            verification_material: serde_json::json!({
                "publicKey": { "hint": key.hint() },
                "tlogEntries": [],
            }),
            dsse_envelope: Some(envelope),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // The DSSE protocol document's worked example.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn envelope_round_trip_and_key_choice() {
        let k = PrivateKey::generate();
        let other = PrivateKey::generate().public("other");
        let e = Envelope::sign(br#"{"a":1}"#, &k);
        let keys = [other.clone(), k.public("mine")];
        assert_eq!(e.verified_by(&keys).unwrap().name(), "mine");
        assert!(e.verified_by(&[other]).is_none());
        let mut t = e.clone();
        t.payload = B64.encode(br#"{"a":2}"#);
        assert!(t.verified_by(&keys).is_none());
        let mut t = e;
        t.payload_type = "text/plain".into();
        assert!(t.verified_by(&keys).is_none());
    }
}
