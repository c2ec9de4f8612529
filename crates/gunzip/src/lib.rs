//! Streaming gzip inflation through ISA-L's igzip, the fastest inflater this
//! machine has (about 1.6× zlib-rs on a 158 MB layer; see BENCHMARKS.md).
//!
//! [`Gunzip`] reads gzip members one after another (concatenated gzip, as
//! `gzip -d` and Go's `compress/gzip` accept), parses each member's header
//! itself and has ISA-L inflate the deflate data and check the member's
//! CRC-32 and size (with carry-less multiply, at no measurable cost). What
//! follows the last member, if it is not another member, is ignored. A
//! stream cut short, a bad header or bad deflate data is an
//! [`io::ErrorKind::InvalidData`] or [`io::ErrorKind::UnexpectedEof`] error,
//! never a short read taken for the end.
//!
//! This is the only crate of the workspace that allows `unsafe`: the FFI
//! calls below, each with the reason it is sound.

use std::io::{self, Read};

use isal_sys::igzip_lib as isal;

/// Compressed bytes read ahead at a time.
const IN_CAP: usize = 256 << 10;
/// Bytes of our own memory kept on both sides of the input handed to ISA-L:
/// on some invalid streams it accounts for a few bytes more than it was
/// given before reporting the error, so any such access stays inside this
/// allocation (and the error is reported, the accounting never trusted).
const PAD: usize = 64;

/// A gzip decoder over ISA-L.
pub struct Gunzip<R: Read> {
    inner: R,
    /// `PAD` bytes, up to `IN_CAP` bytes of input, `PAD` bytes.
    buf: Box<[u8]>,
    /// The unread input is `buf[start..end]`.
    start: usize,
    end: usize,
    eof: bool,
    state: Box<isal::inflate_state>,
    /// Inside a member's deflate data (its header read).
    in_member: bool,
    /// A member was started (the first needs no peeking).
    started: bool,
    done: bool,
}

// SAFETY: the state's raw pointers (`next_in`, `next_out`) are set before and
// only used during an `isal_inflate` call made from `read`, which borrows
// both buffers for the call's duration; between calls they are null. Nothing
// in the state is tied to a thread.
unsafe impl<R: Read + Send> Send for Gunzip<R> {}

impl<R: Read> Gunzip<R> {
    /// Reads gzip members from `inner` (reading ahead of the data it
    /// inflates by up to 256 KiB).
    pub fn new(inner: R) -> Gunzip<R> {
        let mut state = Box::<isal::inflate_state>::new_uninit();
        // SAFETY: `isal_inflate_init` writes every field of the state it
        // reads later (ISA-L's documented way to initialise one), so the box
        // is initialised after the call.
        let state = unsafe {
            isal::isal_inflate_init(state.as_mut_ptr());
            state.assume_init()
        };
        Gunzip {
            inner,
            buf: vec![0u8; PAD + IN_CAP + PAD].into_boxed_slice(),
            start: PAD,
            end: PAD,
            eof: false,
            state,
            in_member: false,
            started: false,
            done: false,
        }
    }

    /// Reads more input when fewer than `want` bytes are buffered (and the
    /// input has not ended).
    fn fill(&mut self, want: usize) -> io::Result<()> {
        while self.end - self.start < want && !self.eof {
            if self.start == self.end {
                (self.start, self.end) = (PAD, PAD);
            } else if self.end == PAD + IN_CAP {
                self.buf.copy_within(self.start..self.end, PAD);
                (self.start, self.end) = (PAD, PAD + self.end - self.start);
            }
            match self.inner.read(&mut self.buf[self.end..PAD + IN_CAP]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn byte(&mut self) -> io::Result<u8> {
        self.fill(1)?;
        if self.start == self.end {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "gzip: header cut short",
            ));
        }
        self.start += 1;
        Ok(self.buf[self.start - 1])
    }

    /// Reads a member header (RFC 1952, section 2.3) up to the deflate data.
    /// Parsed here rather than by ISA-L, whose header reader loses optional
    /// fields (FEXTRA, FNAME, FCOMMENT) that arrive split over reads.
    fn header(&mut self) -> io::Result<()> {
        let mut h = [0u8; 10];
        for b in &mut h {
            *b = self.byte()?;
        }
        if h[0] != 0x1f || h[1] != 0x8b {
            return Err(invalid("not a gzip member"));
        }
        if h[2] != 8 {
            return Err(invalid("compression method is not deflate"));
        }
        let flags = h[3];
        if flags & 0xe0 != 0 {
            return Err(invalid("reserved header flags set"));
        }
        if flags & 0x04 != 0 {
            let n = u16::from_le_bytes([self.byte()?, self.byte()?]);
            for _ in 0..n {
                self.byte()?;
            }
        }
        for flag in [0x08, 0x10] {
            if flags & flag != 0 {
                while self.byte()? != 0 {}
            }
        }
        if flags & 0x02 != 0 {
            self.byte()?;
            self.byte()?;
        }
        Ok(())
    }

    /// Starts the next member: its header, then a fresh inflate state that
    /// checks the trailer after the deflate data.
    fn start_member(&mut self) -> io::Result<()> {
        self.header()?;
        // SAFETY: resets fields of an initialised state.
        unsafe { isal::isal_inflate_reset(&mut *self.state) };
        self.state.crc_flag = isal::ISAL_GZIP_NO_HDR_VER;
        self.in_member = true;
        Ok(())
    }

    fn fail(&mut self, e: io::Error) -> io::Result<usize> {
        self.done = true;
        Err(e)
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("gzip: {what}"))
}

fn describe(code: i32) -> &'static str {
    match code {
        isal::ISAL_INVALID_BLOCK => "invalid deflate block",
        isal::ISAL_INVALID_SYMBOL => "invalid deflate symbol",
        isal::ISAL_INVALID_LOOKBACK => "deflate distance reaches before the start",
        isal::ISAL_INVALID_WRAPPER => "invalid gzip header",
        isal::ISAL_UNSUPPORTED_METHOD => "compression method is not deflate",
        isal::ISAL_INCORRECT_CHECKSUM => "CRC-32 or size in the trailer does not match the data",
        _ => "inflate failed",
    }
}

impl<R: Read> Read for Gunzip<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || self.done {
            return Ok(0);
        }
        loop {
            if !self.in_member {
                // the first member, or what follows one: another member or
                // the end of the gzip data
                self.fill(2)?;
                let input = &self.buf[self.start..self.end];
                let member =
                    input.first() == Some(&0x1f) && input.get(1).is_none_or(|b| *b == 0x8b);
                if !member && self.started {
                    self.done = true;
                    return Ok(0);
                }
                self.started = true;
                if let Err(e) = self.start_member() {
                    return self.fail(e);
                }
            }
            self.fill(1)?;
            let eof = self.start == self.end;
            let avail_in = (self.end - self.start) as u32; // at most IN_CAP
            let avail_out = u32::try_from(out.len()).unwrap_or(u32::MAX);
            // ISA-L never writes through `next_in`; the cast only matches its C type.
            self.state.next_in = self.buf[self.start..].as_ptr().cast_mut();
            self.state.avail_in = avail_in;
            self.state.next_out = out.as_mut_ptr();
            self.state.avail_out = avail_out;
            // SAFETY: `next_in`/`avail_in` describe `buf[start..end]` and
            // `next_out`/`avail_out` describe `out`, both borrowed for the
            // call; ISA-L reads within the input (the padding around it
            // keeps any read it miscounts inside `buf`), writes at most
            // `avail_out` bytes and keeps no pointer past the call (partial
            // input is copied into the state's own buffers).
            let code = unsafe { isal::isal_inflate(&mut *self.state) };
            let (left_in, left_out) = (self.state.avail_in, self.state.avail_out);
            self.state.next_in = std::ptr::null_mut();
            self.state.next_out = std::ptr::null_mut();
            if code < 0 {
                return self.fail(invalid(describe(code)));
            }
            if left_in > avail_in || left_out > avail_out {
                return self.fail(invalid("inflate state out of step with its buffers"));
            }
            let consumed = (avail_in - left_in) as usize;
            let produced = (avail_out - left_out) as usize;
            self.start += consumed;
            if self.state.block_state == isal::isal_block_state_ISAL_BLOCK_FINISH {
                self.in_member = false;
            }
            if produced > 0 {
                return Ok(produced);
            }
            if !self.in_member {
                continue;
            }
            if eof {
                return self.fail(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "gzip: stream cut short",
                ));
            }
            if consumed == 0 {
                // input and room for output, yet no progress: never loop on it
                return self.fail(invalid("inflate made no progress"));
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

    fn inflate_with(bytes: &[u8], cap: usize, chunk: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut d = Gunzip::new(io::BufReader::with_capacity(cap, bytes));
        let mut buf = vec![0u8; chunk];
        loop {
            let n = d.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    fn inflate(bytes: &[u8]) -> io::Result<Vec<u8>> {
        inflate_with(bytes, 7, 1 << 16)
    }

    fn sample() -> Vec<u8> {
        (0..300_000u32)
            .flat_map(|i| ((i * 7) % 251).to_le_bytes())
            .collect()
    }

    #[test]
    fn inflates_what_flate2_wrote_through_any_buffer_sizes() {
        let data = sample();
        let z = gz(&data, None);
        for (cap, chunk) in [(1, 1), (7, 3), (4096, 1 << 20), (1 << 20, 17)] {
            assert_eq!(inflate_with(&z, cap, chunk).unwrap(), data, "{cap}/{chunk}");
        }
        assert_eq!(inflate(&gz(b"abc", Some("name.tar"))).unwrap(), b"abc");
        assert_eq!(inflate(&gz(b"", None)).unwrap(), b"");
    }

    #[test]
    fn members_follow_one_another_and_trailing_data_is_ignored() {
        let mut two = gz(b"first ", None);
        two.extend(gz(b"", None));
        two.extend(gz(b"second", Some("x")));
        assert_eq!(inflate(&two).unwrap(), b"first second");
        let mut padded = gz(b"data", None);
        padded.extend([0u8; 512]);
        assert_eq!(inflate(&padded).unwrap(), b"data");
    }

    #[test]
    fn damage_is_an_error_never_a_short_read() {
        let data = sample();
        let full = gz(&data, None);
        let cut = inflate(&full[..full.len() / 2]).unwrap_err();
        assert_eq!(cut.kind(), io::ErrorKind::UnexpectedEof, "{cut}");
        assert!(inflate(&full[..full.len() - 3]).is_err());
        let mut crc = full.clone();
        let n = crc.len();
        crc[n - 8] ^= 0xff;
        let e = inflate(&crc).unwrap_err();
        assert!(e.to_string().contains("CRC-32"), "{e}");
        let mut size = full.clone();
        size[n - 1] ^= 0x01;
        assert!(inflate(&size).is_err());
        // method 7 is not deflate
        assert!(inflate(b"\x1f\x8b\x07\0\0\0\0\0\0\0").is_err());
        assert!(inflate(b"").is_err());
        let mut body = full.clone();
        for b in &mut body[20..60] {
            *b = 0xff;
        }
        assert!(inflate(&body).is_err());
        // found by the gunzip fuzz target: ISA-L reports an invalid
        // distance with its input count one past what it was given
        let lookback = [
            31, 139, 8, 1, 193, 246, 31, 31, 139, 8, 187, 197, 133, 122, 0, 255, 255, 255, 25, 255,
            10, 31, 0, 0, 1, 0, 0, 0,
        ];
        let e = inflate(&lookback).unwrap_err();
        assert!(e.to_string().contains("distance"), "{e}");
    }
}
