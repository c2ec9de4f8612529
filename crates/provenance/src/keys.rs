//! Signing keys in cosign's formats: the encrypted private key (a PEM block
//! `ENCRYPTED SIGSTORE PRIVATE KEY`, or the older `ENCRYPTED COSIGN PRIVATE
//! KEY`, holding JSON: scrypt parameters and salt, a NaCl secretbox nonce
//! and the sealed PKCS#8 key) and the PEM `PUBLIC KEY` (SPKI). Only ECDSA
//! P-256 keys, which is what `cosign generate-key-pair` makes.
//!
//! Key material never appears in an error, a `Debug` rendering or a log:
//! errors name the file and what is wrong with it, nothing else.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use crypto_secretbox::XSalsa20Poly1305;
use crypto_secretbox::aead::{Aead, KeyInit};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::der::pem::{self, LineEnding};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// The PEM label cosign writes today.
pub const PRIVATE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The PEM label older cosign releases wrote (still read).
pub const OLD_PRIVATE_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// The PEM label of a public key.
pub const PUBLIC_LABEL: &str = "PUBLIC KEY";

/// scrypt cost cosign uses for new keys (N = 2^16, r = 8, p = 1).
const NEW_LOG_N: u8 = 16;
/// The most memory a key file may ask scrypt for (128·r·N bytes; cosign's
/// own keys ask for 32 or 64 MiB).
const MAX_SCRYPT_BYTES: u64 = 256 << 20;

/// Why a key could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not a PEM private key of cosign's.
    #[error(
        "{file}: not a cosign private key (expected a PEM block `{PRIVATE_LABEL}` or `{OLD_PRIVATE_LABEL}`{found})"
    )]
    NotPrivateKey {
        /// The file.
        file: String,
        /// What was found instead, if anything.
        found: String,
    },
    /// The password does not open the key.
    #[error("{file}: wrong password for this private key (or the file is damaged)")]
    WrongPassword {
        /// The file.
        file: String,
    },
    /// The key file's structure is wrong.
    #[error("{file}: damaged key file: {message}")]
    Malformed {
        /// The file.
        file: String,
        /// What is wrong (never key material).
        message: String,
    },
    /// Not a PEM public key we can use.
    #[error(
        "{file}: not an ECDSA P-256 public key in PEM (`-----BEGIN {PUBLIC_LABEL}-----`): {message}"
    )]
    NotPublicKey {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing the file.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// Cause.
        source: std::io::Error,
    },
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct KdfParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// A private signing key, opened.
pub struct PrivateKey {
    key: SigningKey,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

/// A public key, with the name of where it came from (for messages).
#[derive(Clone)]
pub struct PublicKey {
    key: VerifyingKey,
    name: String,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({} {})", self.name, self.fingerprint())
    }
}

fn malformed(file: &str, message: impl Into<String>) -> KeyError {
    KeyError::Malformed {
        file: file.to_string(),
        message: message.into(),
    }
}

fn scrypt_key(
    password: &[u8],
    salt: &[u8],
    p: &KdfParams,
    file: &str,
) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    if !p.n.is_power_of_two() || p.n < 2 {
        return Err(malformed(file, "scrypt N is not a power of two"));
    }
    if p.r == 0 || p.p == 0 || p.r > 64 || p.p > 64 {
        return Err(malformed(file, "scrypt r or p out of range"));
    }
    if 128u64.saturating_mul(p.r as u64).saturating_mul(p.n) > MAX_SCRYPT_BYTES {
        return Err(malformed(
            file,
            "scrypt parameters ask for more than 256 MiB of memory; refusing",
        ));
    }
    let log_n = p.n.trailing_zeros() as u8;
    let params = scrypt::Params::new(log_n, p.r, p.p, 32)
        .map_err(|_| malformed(file, "invalid scrypt parameters"))?;
    let mut out = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, out.as_mut())
        .map_err(|_| malformed(file, "scrypt failed"))?;
    Ok(out)
}

impl PrivateKey {
    /// A new random key.
    pub fn generate() -> PrivateKey {
        PrivateKey {
            key: SigningKey::random(&mut OsRng),
        }
    }

    /// Opens a cosign encrypted private key (`text` is the file's
    /// content, `file` names it in errors).
    pub fn from_encrypted_pem(
        text: &str,
        password: &[u8],
        file: &str,
    ) -> Result<PrivateKey, KeyError> {
        let (label, body) =
            pem::decode_vec(text.trim().as_bytes()).map_err(|_| KeyError::NotPrivateKey {
                file: file.to_string(),
                found: first_label(text)
                    .map(|l| format!("; found `{l}`"))
                    .unwrap_or_default(),
            })?;
        if label != PRIVATE_LABEL && label != OLD_PRIVATE_LABEL {
            return Err(KeyError::NotPrivateKey {
                file: file.to_string(),
                found: format!("; found `{label}`"),
            });
        }
        let sealed: Sealed = serde_json::from_slice(&body)
            .map_err(|_| malformed(file, "the PEM body is not cosign's key JSON"))?;
        if sealed.kdf.name != "scrypt" {
            return Err(malformed(
                file,
                format!("unsupported key derivation `{}`", sealed.kdf.name),
            ));
        }
        if sealed.cipher.name != "nacl/secretbox" {
            return Err(malformed(
                file,
                format!("unsupported cipher `{}`", sealed.cipher.name),
            ));
        }
        let salt = B64
            .decode(&sealed.kdf.salt)
            .map_err(|_| malformed(file, "the salt is not base64"))?;
        let nonce = B64
            .decode(&sealed.cipher.nonce)
            .map_err(|_| malformed(file, "the nonce is not base64"))?;
        if nonce.len() != 24 {
            return Err(malformed(file, "the nonce is not 24 bytes"));
        }
        let ciphertext = B64
            .decode(&sealed.ciphertext)
            .map_err(|_| malformed(file, "the ciphertext is not base64"))?;
        let key = scrypt_key(password, &salt, &sealed.kdf.params, file)?;
        let cipher = XSalsa20Poly1305::new(key.as_ref().into());
        let plain = Zeroizing::new(
            cipher
                .decrypt(nonce.as_slice().into(), ciphertext.as_slice())
                .map_err(|_| KeyError::WrongPassword {
                    file: file.to_string(),
                })?,
        );
        let key = SigningKey::from_pkcs8_der(&plain).map_err(|_| {
            malformed(
                file,
                "the sealed key is not an ECDSA P-256 PKCS#8 key (only P-256 keys are supported)",
            )
        })?;
        Ok(PrivateKey { key })
    }

    /// The key sealed with `password` in cosign's format (scrypt N=2^16,
    /// r=8, p=1; NaCl secretbox), as a PEM text.
    pub fn to_encrypted_pem(&self, password: &[u8]) -> Result<Zeroizing<String>, KeyError> {
        let der = self
            .key
            .to_pkcs8_der()
            .map_err(|_| malformed("new key", "cannot encode the key"))?;
        let mut salt = [0u8; 32];
        OsRng.fill_bytes(&mut salt);
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut nonce);
        let params = KdfParams {
            n: 1 << NEW_LOG_N,
            r: 8,
            p: 1,
        };
        let key = scrypt_key(password, &salt, &params, "new key")?;
        let cipher = XSalsa20Poly1305::new(key.as_ref().into());
        let sealed = cipher
            .encrypt((&nonce).into(), der.as_bytes())
            .map_err(|_| malformed("new key", "cannot seal the key"))?;
        let json = serde_json::to_vec(&Sealed {
            kdf: Kdf {
                name: "scrypt".into(),
                params,
                salt: B64.encode(salt),
            },
            cipher: Cipher {
                name: "nacl/secretbox".into(),
                nonce: B64.encode(nonce),
            },
            ciphertext: B64.encode(sealed),
        })
        .map_err(|_| malformed("new key", "cannot encode the key"))?;
        let text = pem::encode_string(PRIVATE_LABEL, LineEnding::LF, &json)
            .map_err(|_| malformed("new key", "cannot encode the key"))?;
        Ok(Zeroizing::new(text))
    }

    /// The public half.
    pub fn public(&self, name: &str) -> PublicKey {
        PublicKey {
            key: *self.key.verifying_key(),
            name: name.to_string(),
        }
    }

    /// An ECDSA P-256 / SHA-256 signature of `message`, DER-encoded.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: Signature = self.key.sign(message);
        let der: DerSignature = sig.to_der();
        der.as_bytes().to_vec()
    }
}

/// Reads and opens the private key file at `path`.
pub fn load_private(path: &std::path::Path, password: &[u8]) -> Result<PrivateKey, KeyError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        file: file.clone(),
        source,
    })?;
    PrivateKey::from_encrypted_pem(&text, password, &file)
}

/// Reads the public key file at `path`.
pub fn load_public(path: &std::path::Path) -> Result<PublicKey, KeyError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        file: file.clone(),
        source,
    })?;
    PublicKey::from_pem(&text, &file)
}

fn first_label(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = text[start..].find("-----")?;
    Some(&text[start..start + end]).filter(|l| l.len() < 64)
}

impl PublicKey {
    /// Reads a PEM `PUBLIC KEY` (SPKI) holding an ECDSA P-256 key.
    pub fn from_pem(text: &str, name: &str) -> Result<PublicKey, KeyError> {
        let not = |message: String| KeyError::NotPublicKey {
            file: name.to_string(),
            message,
        };
        let (label, der) =
            pem::decode_vec(text.trim().as_bytes()).map_err(|_| not("no PEM block".to_string()))?;
        if label != PUBLIC_LABEL {
            return Err(not(format!("found `{label}`")));
        }
        let key = VerifyingKey::from_public_key_der(&der).map_err(|_| {
            not("the key is not ECDSA P-256 (only P-256 keys are supported)".into())
        })?;
        Ok(PublicKey {
            key,
            name: name.to_string(),
        })
    }

    /// The key as PEM `PUBLIC KEY`.
    pub fn to_pem(&self) -> String {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .expect("a P-256 key encodes")
    }

    /// Where the key came from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SHA-256 of the key's SPKI DER, hex (what people compare).
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(self.spki()))
    }

    /// The hint Sigstore bundles carry for a key: base64 of the SHA-256
    /// of its SPKI DER.
    pub fn hint(&self) -> String {
        B64.encode(Sha256::digest(self.spki()))
    }

    fn spki(&self) -> Vec<u8> {
        self.key
            .to_public_key_der()
            .expect("a P-256 key encodes")
            .as_bytes()
            .to_vec()
    }

    /// Whether `signature` (DER, or the raw 64-byte r‖s form) is this key's
    /// ECDSA P-256 / SHA-256 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let sig = Signature::from_der(signature).or_else(|_| Signature::from_slice(signature));
        match sig {
            Ok(s) => self.key.verify(message, &s).is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_password() {
        let k = PrivateKey::generate();
        let pem = k.to_encrypted_pem(b"hunter2").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let back = PrivateKey::from_encrypted_pem(&pem, b"hunter2", "k.key").unwrap();
        let sig = back.sign(b"hello");
        assert!(k.public("k.pub").verify(b"hello", &sig));
        assert!(!k.public("k.pub").verify(b"hellO", &sig));
        let e = PrivateKey::from_encrypted_pem(&pem, b"hunter3", "k.key").unwrap_err();
        assert!(matches!(e, KeyError::WrongPassword { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "k.key: wrong password for this private key (or the file is damaged)"
        );
    }

    #[test]
    fn public_pem_round_trip() {
        let k = PrivateKey::generate().public("a");
        let pem = k.to_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let back = PublicKey::from_pem(&pem, "a.pub").unwrap();
        assert_eq!(back.fingerprint(), k.fingerprint());
    }

    #[test]
    fn errors_never_carry_key_material() {
        let k = PrivateKey::generate();
        let pem = k.to_encrypted_pem(b"pw").unwrap();
        let body: String = pem.lines().nth(1).unwrap().to_string();
        for e in [
            PrivateKey::from_encrypted_pem(&pem, b"nope", "f").unwrap_err(),
            PrivateKey::from_encrypted_pem(
                &pem.replace(PRIVATE_LABEL, "EC PRIVATE KEY"),
                b"pw",
                "f",
            )
            .unwrap_err(),
            PublicKey::from_pem(&pem, "f").unwrap_err(),
        ] {
            let s = e.to_string();
            assert!(!s.contains(&body[..20]), "{s}");
        }
        assert!(!format!("{k:?}").contains(&body[..20]));
        assert_eq!(format!("{k:?}"), "PrivateKey(<redacted>)");
    }

    #[test]
    fn hostile_scrypt_cost_is_refused() {
        let json = r#"{"kdf":{"name":"scrypt","params":{"N":1073741824,"r":8,"p":1},"salt":"AAAA"},"cipher":{"name":"nacl/secretbox","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"ciphertext":"AAAA"}"#;
        let pem = pem::encode_string(PRIVATE_LABEL, LineEnding::LF, json.as_bytes()).unwrap();
        let e = PrivateKey::from_encrypted_pem(&pem, b"", "big.key").unwrap_err();
        assert!(e.to_string().contains("more than 256 MiB"), "{e}");
    }
}
