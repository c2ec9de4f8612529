//! Readers that check what they read: a blob's digest and size
//! ([`Verified`]) and a cap on decompressed bytes ([`Limited`]).

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

use crate::Digest;

/// Hashes everything read; [`Verified::finish`] drains the rest and checks
/// the digest (and size, when known). Memory stays constant.
pub struct Verified<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
    expected: Digest,
    expected_size: Option<u64>,
}

impl<R: Read> Verified<R> {
    /// Wraps a reader expected to yield `expected` (sha256 only).
    pub fn new(inner: R, expected: Digest, expected_size: Option<u64>) -> Self {
        Verified {
            inner,
            hasher: Sha256::new(),
            read: 0,
            expected,
            expected_size,
        }
    }

    /// Reads to the end and checks digest and size.
    pub fn finish(mut self) -> io::Result<()> {
        io::copy(&mut self, &mut io::sink())?;
        let actual = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        if self.expected.algorithm() == "sha256" && actual != self.expected.to_string() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "blob {} has digest {actual}: content does not match its digest",
                    self.expected
                ),
            ));
        }
        if let Some(n) = self.expected_size.filter(|n| *n != self.read) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "blob {} is {} bytes, but its descriptor says {n}",
                    self.expected, self.read
                ),
            ));
        }
        Ok(())
    }
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// Fails with `InvalidData` once more than `max` bytes have been read
/// (decompression bombs).
pub struct Limited<R> {
    inner: R,
    left: u64,
    max: u64,
}

impl<R: Read> Limited<R> {
    /// Wraps a reader.
    pub fn new(inner: R, max: u64) -> Self {
        Limited {
            inner,
            left: max,
            max,
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("layer expands beyond the limit of {} bytes", self.max),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// sha256 of bytes, as a [`Digest`].
pub fn sha256(bytes: &[u8]) -> Digest {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
        .parse()
        .expect("sha256 digest")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_accepts_and_rejects() {
        let d = sha256(b"hello");
        Verified::new(&b"hello"[..], d.clone(), Some(5))
            .finish()
            .unwrap();
        let e = Verified::new(&b"hellO"[..], d.clone(), None)
            .finish()
            .unwrap_err();
        assert!(e.to_string().contains("does not match"), "{e}");
        let e = Verified::new(&b"hello"[..], d, Some(6))
            .finish()
            .unwrap_err();
        assert!(e.to_string().contains("descriptor says 6"), "{e}");
    }

    #[test]
    fn limited_stops() {
        let mut r = Limited::new(&[0u8; 100][..], 10);
        let e = io::copy(&mut r, &mut io::sink()).unwrap_err();
        assert!(e.to_string().contains("limit of 10"));
    }
}
