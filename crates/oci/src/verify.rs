//! Readers that check what they read: a blob's digest and size
//! ([`Verified`]) and a cap on decompressed bytes ([`Limited`]).

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

use crate::Digest;

/// Blobs at least this big may be hashed on a thread of their own, beside
/// the inflating one (the SHA-256 is about a fifth of a big layer's cold
/// read); see [`Verified::hash_apart`].
const HASH_APART_FROM: u64 = 16 << 20;
/// Bytes handed to the hashing thread at a time.
const CHUNK: usize = 1 << 20;

/// SHA-256 of what is read, here or on a helper thread.
pub(crate) enum Hasher {
    Here(Sha256),
    Apart {
        chunk: Vec<u8>,
        to_hash: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
        hashed: std::sync::mpsc::Receiver<Vec<u8>>,
        thread: Option<std::thread::JoinHandle<Vec<u8>>>,
    },
}

impl Hasher {
    /// Hashing on a helper thread (here if no thread can be had).
    pub(crate) fn apart() -> Hasher {
        let (to_hash, inbox) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let (give_back, hashed) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("blob-sha256".into())
            .spawn(move || {
                let mut h = Sha256::new();
                for buf in inbox {
                    h.update(&buf);
                    let _ = give_back.send(buf);
                }
                h.finalize().to_vec()
            });
        match thread {
            Ok(t) => Hasher::Apart {
                chunk: Vec::with_capacity(CHUNK),
                to_hash: Some(to_hash),
                hashed,
                thread: Some(t),
            },
            // no thread to be had: hash here
            Err(_) => Hasher::Here(Sha256::new()),
        }
    }

    /// Adds bytes.
    pub(crate) fn update(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Hasher::Here(h) => h.update(data),
            Hasher::Apart {
                chunk,
                to_hash,
                hashed,
                ..
            } => {
                chunk.extend_from_slice(data);
                if chunk.len() >= CHUNK {
                    let mut next = hashed
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
                    next.clear();
                    let full = std::mem::replace(chunk, next);
                    if let Some(tx) = to_hash {
                        tx.send(full).map_err(|_| lost())?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The digest.
    pub(crate) fn finalize(self) -> io::Result<Vec<u8>> {
        match self {
            Hasher::Here(h) => Ok(h.finalize().to_vec()),
            Hasher::Apart {
                chunk,
                mut to_hash,
                mut thread,
                ..
            } => {
                if let Some(tx) = to_hash.take() {
                    tx.send(chunk).map_err(|_| lost())?;
                }
                thread.take().ok_or_else(lost)?.join().map_err(|_| lost())
            }
        }
    }
}

fn lost() -> io::Error {
    io::Error::other("the blob's hashing thread stopped")
}

/// Hashes everything read; [`Verified::finish`] drains the rest and checks
/// the digest (and size, when known). Memory stays constant (big blobs are
/// hashed on a helper thread through a few 1 MiB chunks).
pub struct Verified<R> {
    inner: R,
    hasher: Hasher,
    read: u64,
    expected: Digest,
    expected_size: Option<u64>,
}

impl<R: Read> Verified<R> {
    /// Wraps a reader expected to yield `expected` (sha256 only).
    pub fn new(inner: R, expected: Digest, expected_size: Option<u64>) -> Self {
        let hasher = Hasher::Here(Sha256::new());
        Verified {
            inner,
            hasher,
            read: 0,
            expected,
            expected_size,
        }
    }

    /// Hashes on a helper thread (before anything is read, and for blobs of
    /// at least 16 MiB; otherwise as before): for a blob that sets the wall
    /// time while a core would idle.
    pub fn hash_apart(mut self) -> Self {
        if self.read == 0 && self.expected_size.is_some_and(|n| n >= HASH_APART_FROM) {
            self.hasher = Hasher::apart();
        }
        self
    }

    /// Reads to the end and checks digest and size.
    pub fn finish(mut self) -> io::Result<()> {
        io::copy(&mut self, &mut io::sink())?;
        let actual = format!("sha256:{}", hex::encode(self.hasher.finalize()?));
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
        self.hasher.update(&buf[..n])?;
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
    fn big_blobs_are_hashed_apart_with_the_same_answers() {
        let big: Vec<u8> = (0..(HASH_APART_FROM as usize + 3 * CHUNK + 7))
            .map(|i| (i % 253) as u8)
            .collect();
        let d = sha256(&big);
        let n = big.len() as u64;
        let v = Verified::new(&big[..], d.clone(), Some(n)).hash_apart();
        assert!(matches!(v.hasher, Hasher::Apart { .. }));
        v.finish().unwrap();
        let mut bad = big.clone();
        bad[CHUNK + 1] ^= 1;
        let e = Verified::new(&bad[..], d.clone(), Some(n))
            .hash_apart()
            .finish()
            .unwrap_err();
        assert!(e.to_string().contains("does not match"), "{e}");
        // read in odd pieces by a consumer, then finished
        let mut v = Verified::new(&big[..], d, Some(n)).hash_apart();
        let mut buf = vec![0u8; 12_345];
        for _ in 0..100 {
            v.read_exact(&mut buf).unwrap();
        }
        v.finish().unwrap();
    }

    #[test]
    fn limited_stops() {
        let mut r = Limited::new(&[0u8; 100][..], 10);
        let e = io::copy(&mut r, &mut io::sink()).unwrap_err();
        assert!(e.to_string().contains("limit of 10"));
    }
}
