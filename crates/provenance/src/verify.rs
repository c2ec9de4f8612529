//! Checking an image's provenance with a set of public keys: every
//! signature under its `.sig` tag and every Sigstore bundle among its
//! referrers (the API, or the tag schema) is verified; what verifies and
//! makes the right claims is accepted, everything else is kept with the
//! reason, so a failure says exactly why.
//!
//! Key-based verification only: no transparency log is consulted (what
//! cosign calls `--insecure-ignore-tlog`), and the report says so.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use oci::Digest;
use serde::Serialize;

use crate::ProvenanceError;
use crate::dsse::{self, BUNDLE_V03, Bundle, Statement};
use crate::keys::PublicKey;
use crate::layout::{self, Index, Manifest};
use crate::simple::{self, Payload};
use crate::store::Artifacts;

/// What must hold besides a valid signature.
#[derive(Debug, Clone, Default)]
pub struct Requirements {
    /// Annotations the signature payload must carry (`-a k=v`).
    pub annotations: BTreeMap<String, String>,
    /// Predicate types a signed attestation must be present for.
    pub attestations: Vec<String>,
    /// Accept signatures made for another repository (a mirror of a signed
    /// image): the signed `docker-reference` (and a statement's subject
    /// name) is otherwise the repository verified.
    pub allow_other_repository: bool,
}

/// A signature that verified and made the right claims.
#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    /// Where it was (`sha256-….sig layer 1`, `referrer sha256:…`).
    pub source: String,
    /// The key it verified with (its file).
    pub key: String,
    /// That key's fingerprint.
    pub fingerprint: String,
    /// The payload's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// An attestation that verified and is about the image.
#[derive(Debug, Clone, Serialize)]
pub struct Attested {
    /// Predicate type.
    pub predicate_type: String,
    /// The referrer manifest.
    pub source: String,
    /// The key it verified with.
    pub key: String,
    /// The predicate.
    #[serde(skip)]
    pub predicate: serde_json::Value,
}

/// Why a signature or attestation was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Rejection {
    /// No given key verifies it.
    NoKeyVerifies,
    /// It is about another image.
    DigestMismatch {
        /// The digest it names.
        claimed: String,
    },
    /// It was made for the same digest in another repository.
    RepositoryMismatch {
        /// The repository it names.
        claimed: String,
    },
    /// A required annotation is missing or different.
    AnnotationMismatch {
        /// Key.
        key: String,
        /// Wanted.
        expected: String,
        /// Found.
        found: Option<String>,
    },
    /// Not readable as what it says it is.
    Malformed {
        /// What is wrong.
        message: String,
    },
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::NoKeyVerifies => {
                f.write_str("the signature does not verify with any of the given keys")
            }
            Rejection::DigestMismatch { claimed } => write!(
                f,
                "it was made for {claimed}, not for this image (a signature copied from another image)"
            ),
            Rejection::RepositoryMismatch { claimed } => write!(
                f,
                "it was made for {claimed}, not for this repository (a signature copied from another repository; --allow-other-repository accepts it, for a mirror)"
            ),
            Rejection::AnnotationMismatch {
                key,
                expected,
                found: Some(v),
            } => {
                write!(f, "annotation {key}={v}, required {key}={expected}")
            }
            Rejection::AnnotationMismatch {
                key,
                expected,
                found: None,
            } => {
                write!(f, "annotation {key} is missing, required {key}={expected}")
            }
            Rejection::Malformed { message } => f.write_str(message),
        }
    }
}

/// What a rejected item would have counted as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Item {
    /// A signature (a `.sig` layer, or a cosign sign/v1 bundle).
    Signature,
    /// An attestation of this (claimed) predicate type.
    Attestation(String),
    /// The referrers listing itself (a cap reached).
    Listing,
}

impl Item {
    /// A bundle claiming `predicate_type`.
    fn bundle(predicate_type: &str) -> Item {
        if predicate_type == dsse::COSIGN_SIGN {
            Item::Signature
        } else {
            Item::Attestation(predicate_type.to_string())
        }
    }
}

/// One rejected item.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    /// Where it was.
    pub source: String,
    /// What it would have been.
    pub item: Item,
    /// Why.
    pub reason: Rejection,
}

/// The result of looking.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `registry/repository`.
    pub repository: String,
    /// The digest checked.
    pub digest: String,
    /// Valid signatures.
    pub signatures: Vec<Accepted>,
    /// Valid attestations.
    pub attestations: Vec<Attested>,
    /// What was found and not accepted.
    pub rejected: Vec<Rejected>,
    /// Whether the registry answered the referrers API (else the tag schema was read).
    pub referrers_api: bool,
    /// Always false: no transparency log was consulted.
    pub tlog_checked: bool,
}

/// Why verification fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nothing that looks like a signature.
    Unsigned,
    /// Signatures, none valid.
    NoValidSignature(Vec<String>),
    /// A required attestation is absent or not valid.
    MissingAttestation {
        /// Its predicate type.
        predicate_type: String,
        /// The invalid ones of that type, with reasons.
        reasons: Vec<String>,
    },
}

impl Report {
    /// Why this does not satisfy `req`, if it does not.
    pub fn failure(&self, req: &Requirements) -> Option<Failure> {
        if self.signatures.is_empty() {
            let sigs: Vec<String> = self
                .rejected
                .iter()
                .filter(|r| r.item == Item::Signature)
                .map(|r| format!("{}: {}", r.source, r.reason))
                .collect();
            return Some(if sigs.is_empty() {
                Failure::Unsigned
            } else {
                Failure::NoValidSignature(sigs)
            });
        }
        for t in &req.attestations {
            if !self.attestations.iter().any(|a| &a.predicate_type == t) {
                return Some(Failure::MissingAttestation {
                    predicate_type: t.clone(),
                    reasons: self
                        .rejected
                        .iter()
                        .filter(|r| matches!(&r.item, Item::Attestation(a) if a == t))
                        .map(|r| format!("{}: {}", r.source, r.reason))
                        .collect(),
                });
            }
        }
        None
    }

    /// The failure as one message naming the image.
    pub fn message(&self, f: &Failure) -> String {
        let image = format!("{}@{}", self.repository, self.digest);
        match f {
            Failure::Unsigned => format!(
                "{image}: no signature found (no tag {} and no signature among its referrers)",
                self.digest.replacen(':', "-", 1) + ".sig"
            ),
            Failure::NoValidSignature(r) => {
                format!("{image}: no valid signature: {}", r.join("; "))
            }
            Failure::MissingAttestation {
                predicate_type,
                reasons,
            } if reasons.is_empty() => {
                format!("{image}: no signed attestation of type {predicate_type} is attached")
            }
            Failure::MissingAttestation {
                predicate_type,
                reasons,
            } => format!(
                "{image}: no valid attestation of type {predicate_type}: {}",
                reasons.join("; ")
            ),
        }
    }
}

fn malformed(m: impl ToString) -> Rejection {
    Rejection::Malformed {
        message: m.to_string(),
    }
}

/// Whether two repository names are the same repository (`nginx`,
/// `docker.io/library/nginx` and `index.docker.io/library/nginx` are).
pub fn same_repository(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.parse::<oci::ImageRef>()
            .map(|r| r.full_name())
            .unwrap_or_else(|_| s.to_string())
    };
    a == b || norm(a) == norm(b)
}

/// The most signatures (layers of the `.sig` manifest) and referrers
/// looked at; more are reported, not fetched.
pub const MAX_ITEMS: usize = 256;

/// Looks at every signature and attestation of `digest` in `store`.
pub fn verify(
    store: &dyn Artifacts,
    repository: &str,
    digest: &Digest,
    keys: &[PublicKey],
    req: &Requirements,
) -> Result<Report, ProvenanceError> {
    let mut report = Report {
        repository: repository.to_string(),
        digest: digest.to_string(),
        signatures: Vec::new(),
        attestations: Vec::new(),
        rejected: Vec::new(),
        referrers_api: false,
        tlog_checked: false,
    };
    let tag = layout::signature_tag(digest);
    if let Some((bytes, _)) = store.manifest(&tag)? {
        match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) => {
                if m.layers.len() > MAX_ITEMS {
                    report.rejected.push(Rejected {
                        source: tag.clone(),
                        item: Item::Signature,
                        reason: malformed(format!(
                            "{} signatures; only the first {MAX_ITEMS} were checked",
                            m.layers.len()
                        )),
                    });
                }
                for (i, l) in m.layers.iter().take(MAX_ITEMS).enumerate() {
                    let source = format!("{tag} layer {}", i + 1);
                    match simple_signature(store, l, repository, digest, keys, req) {
                        Ok(a) => report.signatures.push(Accepted { source, ..a }),
                        Err(reason) => report.rejected.push(Rejected {
                            source,
                            item: Item::Signature,
                            reason,
                        }),
                    }
                }
            }
            Err(e) => report.rejected.push(Rejected {
                source: tag.clone(),
                item: Item::Signature,
                reason: malformed(format!("not a signature manifest: {e}")),
            }),
        }
    }
    let listed = match store.referrers(digest)? {
        Some(b) => {
            report.referrers_api = true;
            Some(b)
        }
        None => store
            .manifest(&layout::referrers_tag(digest))?
            .map(|(b, _)| b),
    };
    if let Some(bytes) = listed {
        let idx: Index = serde_json::from_slice(&bytes).map_err(|e| ProvenanceError::Format {
            what: format!("{repository}: referrers of {digest}"),
            message: e.to_string(),
        })?;
        let bundles: Vec<_> = idx
            .manifests
            .iter()
            .filter(|d| d.artifact_type.as_deref() == Some(BUNDLE_V03))
            .collect();
        if bundles.len() > MAX_ITEMS {
            report.rejected.push(Rejected {
                source: format!("referrers of {digest}"),
                item: Item::Listing,
                reason: malformed(format!(
                    "{} bundles; only the first {MAX_ITEMS} were checked",
                    bundles.len()
                )),
            });
        }
        for d in bundles.into_iter().take(MAX_ITEMS) {
            let kind = d
                .annotation(layout::BUNDLE_PREDICATE_ANNOTATION)
                .unwrap_or("bundle");
            let source = format!("referrer {} ({kind})", d.digest);
            match bundle(store, &d.digest, repository, digest, keys, req) {
                Ok((key, st)) if st.predicate_type == dsse::COSIGN_SIGN => {
                    let annotations: BTreeMap<String, String> = st.predicate["annotations"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.as_str().map_or_else(|| v.to_string(), str::to_string),
                            )
                        })
                        .collect();
                    let missing = req
                        .annotations
                        .iter()
                        .find(|(k, v)| annotations.get(*k) != Some(v));
                    match missing {
                        Some((k, v)) => report.rejected.push(Rejected {
                            source,
                            item: Item::Signature,
                            reason: Rejection::AnnotationMismatch {
                                key: k.clone(),
                                expected: v.clone(),
                                found: annotations.get(k).cloned(),
                            },
                        }),
                        None => report.signatures.push(Accepted {
                            source,
                            fingerprint: key.fingerprint(),
                            key: key.name().to_string(),
                            annotations,
                        }),
                    }
                }
                Ok((key, st)) => report.attestations.push(Attested {
                    predicate_type: st.predicate_type,
                    source,
                    key: key.name().to_string(),
                    predicate: st.predicate,
                }),
                Err(reason) => report.rejected.push(Rejected {
                    source,
                    item: Item::bundle(kind),
                    reason,
                }),
            }
        }
    }
    Ok(report)
}

fn simple_signature(
    store: &dyn Artifacts,
    l: &layout::Desc,
    repository: &str,
    digest: &Digest,
    keys: &[PublicKey],
    req: &Requirements,
) -> Result<Accepted, Rejection> {
    if l.media_type != simple::MEDIA_TYPE {
        return Err(malformed(format!(
            "layer media type {} is not a simple-signing payload",
            l.media_type
        )));
    }
    let sig = l
        .annotation(layout::SIGNATURE_ANNOTATION)
        .ok_or_else(|| malformed(format!("no {} annotation", layout::SIGNATURE_ANNOTATION)))?;
    let sig = B64
        .decode(sig.trim())
        .map_err(|_| malformed("the signature annotation is not base64"))?;
    let blob: Digest = l
        .digest
        .parse()
        .map_err(|e| malformed(format!("payload digest: {e}")))?;
    let payload = store
        .blob(&blob)
        .map_err(|e| malformed(format!("payload: {e}")))?;
    let key = keys
        .iter()
        .find(|k| k.verify(&payload, &sig))
        .ok_or(Rejection::NoKeyVerifies)?;
    let p: Payload = serde_json::from_slice(&payload).map_err(|e| {
        malformed(format!(
            "the signed payload is not simple-signing JSON: {e}"
        ))
    })?;
    if p.critical.kind != simple::TYPE {
        return Err(malformed(format!(
            "payload type `{}` is not `{}`",
            p.critical.kind,
            simple::TYPE
        )));
    }
    if p.critical.image.docker_manifest_digest != digest.to_string() {
        return Err(Rejection::DigestMismatch {
            claimed: p.critical.image.docker_manifest_digest,
        });
    }
    let claimed = &p.critical.identity.docker_reference;
    if !req.allow_other_repository && !same_repository(claimed, repository) {
        return Err(Rejection::RepositoryMismatch {
            claimed: claimed.clone(),
        });
    }
    for (k, v) in &req.annotations {
        let found = p.annotation(k);
        if found.as_deref() != Some(v.as_str()) {
            return Err(Rejection::AnnotationMismatch {
                key: k.clone(),
                expected: v.clone(),
                found,
            });
        }
    }
    Ok(Accepted {
        source: String::new(),
        key: key.name().to_string(),
        fingerprint: key.fingerprint(),
        annotations: p
            .optional
            .iter()
            .flatten()
            .map(|(k, _)| (k.clone(), p.annotation(k).unwrap_or_default()))
            .collect(),
    })
}

fn bundle<'k>(
    store: &dyn Artifacts,
    manifest: &str,
    repository: &str,
    digest: &Digest,
    keys: &'k [PublicKey],
    req: &Requirements,
) -> Result<(&'k PublicKey, Statement), Rejection> {
    let (bytes, _) = store
        .manifest(manifest)
        .map_err(|e| malformed(format!("manifest: {e}")))?
        .ok_or_else(|| malformed("listed, but the manifest is not in the registry"))?;
    let m: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| malformed(format!("manifest: {e}")))?;
    if m.subject.as_ref().map(|s| s.digest.as_str()) != Some(&digest.to_string()) {
        return Err(Rejection::DigestMismatch {
            claimed: m.subject.map(|s| s.digest).unwrap_or_default(),
        });
    }
    let layer = m
        .layers
        .iter()
        .find(|l| l.media_type == BUNDLE_V03)
        .ok_or_else(|| malformed("no bundle layer"))?;
    let blob: Digest = layer
        .digest
        .parse()
        .map_err(|e| malformed(format!("bundle digest: {e}")))?;
    let b = store
        .blob(&blob)
        .map_err(|e| malformed(format!("bundle: {e}")))?;
    let b: Bundle = serde_json::from_slice(&b).map_err(|e| malformed(format!("bundle: {e}")))?;
    let env = b
        .dsse_envelope
        .ok_or_else(|| malformed("the bundle holds no DSSE envelope"))?;
    let key = env.verified_by(keys).ok_or(Rejection::NoKeyVerifies)?;
    if env.payload_type != dsse::IN_TOTO {
        return Err(malformed(format!(
            "payload type {} is not in-toto",
            env.payload_type
        )));
    }
    let st: Statement = serde_json::from_slice(&env.payload_bytes().unwrap_or_default())
        .map_err(|e| malformed(format!("the signed statement: {e}")))?;
    if st.kind != dsse::STATEMENT_V1 && st.kind != dsse::STATEMENT_V01 {
        return Err(malformed(format!(
            "statement type {} is not in-toto",
            st.kind
        )));
    }
    if !st.is_about(digest) {
        return Err(Rejection::DigestMismatch {
            claimed: st
                .subject
                .first()
                .and_then(|s| s.digest.iter().next())
                .map(|(a, h)| format!("{a}:{h}"))
                .unwrap_or_default(),
        });
    }
    // the subject naming this digest names this repository (a statement
    // without names says nothing about where)
    let named = st.subject.iter().find(|s| {
        s.digest.get(digest.algorithm()).map(String::as_str) == Some(digest.encoded())
            && !s.name.is_empty()
    });
    if let Some(s) = named
        && !req.allow_other_repository
        && !same_repository(&s.name, repository)
    {
        return Err(Rejection::RepositoryMismatch {
            claimed: s.name.clone(),
        });
    }
    Ok((key, st))
}
