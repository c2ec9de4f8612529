//! Gzip inflation without the CRC-32 check. Every layer's compressed bytes
//! are checked against the blob's SHA-256 digest and the inflated stream
//! against the diffID (SHA-256 too), so the CRC adds about 7% to a cold
//! read and no assurance. Members are read one after another (concatenated
//! gzip, as `MultiGzDecoder` does); the header is parsed here (RFC 1952:
//! FEXTRA, FNAME, FCOMMENT, FHCRC) and the deflate stream inflated by
//! `flate2`, which consumes exactly the stream's bytes from the `BufRead`.

use std::io::{self, BufRead, Read};

use flate2::bufread::DeflateDecoder;

enum State<R: BufRead> {
    Header(R),
    Body(DeflateDecoder<R>),
    Done(R),
    Poisoned,
}

/// A gzip decoder that does not compute the CRC-32.
pub struct Gunzip<R: BufRead> {
    state: State<R>,
}

impl<R: BufRead> Gunzip<R> {
    /// Reads gzip members from `inner`.
    pub fn new(inner: R) -> Gunzip<R> {
        Gunzip {
            state: State::Header(inner),
        }
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("gzip: {what}"))
}

fn skip_zero_terminated<R: BufRead>(r: &mut R) -> io::Result<()> {
    let mut b = [0u8; 1];
    loop {
        r.read_exact(&mut b)?;
        if b[0] == 0 {
            return Ok(());
        }
    }
}

/// Parses a member header (RFC 1952, section 2.3).
fn header<R: BufRead>(r: &mut R) -> io::Result<()> {
    let mut h = [0u8; 10];
    r.read_exact(&mut h)?;
    if h[0] != 0x1f || h[1] != 0x8b {
        return Err(bad("not a gzip member"));
    }
    if h[2] != 8 {
        return Err(bad("compression method is not deflate"));
    }
    let flags = h[3];
    if flags & 0xe0 != 0 {
        return Err(bad("reserved header flags set"));
    }
    if flags & 0x04 != 0 {
        let mut len = [0u8; 2];
        r.read_exact(&mut len)?;
        let n = u64::from(u16::from_le_bytes(len));
        let skipped = io::copy(&mut r.by_ref().take(n), &mut io::sink())?;
        if skipped != n {
            return Err(bad("extra field cut short"));
        }
    }
    if flags & 0x08 != 0 {
        skip_zero_terminated(r)?;
    }
    if flags & 0x10 != 0 {
        skip_zero_terminated(r)?;
    }
    if flags & 0x02 != 0 {
        let mut crc = [0u8; 2];
        r.read_exact(&mut crc)?;
    }
    Ok(())
}

impl<R: BufRead> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match std::mem::replace(&mut self.state, State::Poisoned) {
                State::Header(mut r) => {
                    header(&mut r)?;
                    self.state = State::Body(DeflateDecoder::new(r));
                }
                State::Body(mut d) => {
                    let n = d.read(buf)?;
                    if n > 0 {
                        self.state = State::Body(d);
                        return Ok(n);
                    }
                    // end of the deflate stream: the trailer (CRC-32,
                    // size), then another member or the end
                    let mut r = d.into_inner();
                    let mut trailer = [0u8; 8];
                    r.read_exact(&mut trailer)
                        .map_err(|_| bad("member trailer cut short"))?;
                    let more = r.fill_buf()?.starts_with(&[0x1f, 0x8b]);
                    self.state = if more {
                        State::Header(r)
                    } else {
                        State::Done(r)
                    };
                }
                State::Done(r) => {
                    self.state = State::Done(r);
                    return Ok(0);
                }
                State::Poisoned => return Err(bad("an earlier error")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8], name: Option<&str>) -> Vec<u8> {
        let mut b = flate2::GzBuilder::new();
        if let Some(n) = name {
            b = b.filename(n).comment("c").extra(vec![1, 2, 3]);
        }
        let mut e = b.write(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn inflate(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Gunzip::new(io::BufReader::with_capacity(7, bytes)).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn members_headers_and_errors() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        assert_eq!(inflate(&gz(&data, None)).unwrap(), data);
        assert_eq!(inflate(&gz(b"abc", Some("name.tar"))).unwrap(), b"abc");
        let mut two = gz(b"first ", None);
        two.extend(gz(b"second", Some("x")));
        assert_eq!(inflate(&two).unwrap(), b"first second");
        // the CRC is not what we check: a wrong one is accepted
        let mut wrong = gz(b"abc", None);
        let n = wrong.len();
        wrong[n - 8] ^= 0xff;
        assert_eq!(inflate(&wrong).unwrap(), b"abc");
        // a cut stream or trailer is an error
        let full = gz(&data, None);
        assert!(inflate(&full[..full.len() / 2]).is_err());
        assert!(inflate(&full[..full.len() - 3]).is_err());
        assert!(inflate(b"\x1f\x8b\x07\0\0\0\0\0\0\0").is_err());
    }
}
