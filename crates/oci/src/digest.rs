//! Content digests (`algorithm:hex`), validated on parse.

use std::fmt;
use std::str::FromStr;

/// A content digest such as `sha256:0123…` (64 lowercase hex digits for sha256,
/// 128 for sha512; other algorithms need a non-empty `[a-zA-Z0-9=_-]` encoding).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest {
    algorithm: String,
    encoded: String,
}

/// Why a string is not a digest.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    /// No `:` separating algorithm and encoding.
    #[error("digest `{0}` has no `algorithm:` prefix")]
    MissingAlgorithm(String),
    /// The algorithm part is not `[a-z0-9]+([+._-][a-z0-9]+)*`.
    #[error("digest `{0}` has an invalid algorithm")]
    BadAlgorithm(String),
    /// The encoded part has the wrong length or characters.
    #[error("digest `{0}` has an invalid encoding for its algorithm")]
    BadEncoding(String),
}

impl Digest {
    /// The algorithm, e.g. `sha256`.
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }
    /// The encoded (hex) part.
    pub fn encoded(&self) -> &str {
        &self.encoded
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (alg, enc) = s
            .split_once(':')
            .ok_or_else(|| DigestError::MissingAlgorithm(s.to_string()))?;
        let alg_ok = !alg.is_empty()
            && alg.split(['+', '.', '_', '-']).all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if !alg_ok {
            return Err(DigestError::BadAlgorithm(s.to_string()));
        }
        let hex = |n: usize| {
            enc.len() == n && enc.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        let enc_ok = match alg {
            "sha256" => hex(64),
            "sha512" => hex(128),
            _ => {
                !enc.is_empty()
                    && enc
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b))
            }
        };
        if !enc_ok {
            return Err(DigestError::BadEncoding(s.to_string()));
        }
        Ok(Digest {
            algorithm: alg.to_string(),
            encoded: enc.to_string(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.encoded)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sha256() {
        let d: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        assert_eq!(d.algorithm(), "sha256");
        assert_eq!(d.to_string(), format!("sha256:{}", "a".repeat(64)));
    }

    #[test]
    fn rejects_bad() {
        assert!(matches!(
            "sha256:abc".parse::<Digest>(),
            Err(DigestError::BadEncoding(_))
        ));
        assert!(matches!(
            format!("sha256:{}", "A".repeat(64)).parse::<Digest>(),
            Err(DigestError::BadEncoding(_))
        ));
        assert!(matches!(
            "abc".parse::<Digest>(),
            Err(DigestError::MissingAlgorithm(_))
        ));
        assert!(matches!(
            "SHA:abc".parse::<Digest>(),
            Err(DigestError::BadAlgorithm(_))
        ));
    }
}
