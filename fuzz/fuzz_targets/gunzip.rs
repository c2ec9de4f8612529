//! Fuzzes the ISA-L gzip reader (the workspace's one crate with unsafe code)
//! against flate2 on arbitrary bytes: whenever flate2 inflates the input as
//! concatenated gzip members, ours must give the same bytes; whatever the
//! input, ours returns data or an error, never a crash or a hang. Read in
//! odd-sized pieces through a small buffer to cross every internal boundary.
#![no_main]

use std::io::{BufReader, Read};

use libfuzzer_sys::fuzz_target;

const CAP: u64 = 8 << 20;

fn ours(data: &[u8], cap: usize, piece: usize) -> std::io::Result<Vec<u8>> {
    let mut d = gunzip::Gunzip::new(BufReader::with_capacity(cap, data));
    let mut out = Vec::new();
    let mut buf = vec![0u8; piece];
    loop {
        let n = d.read(&mut buf)?;
        if n == 0 || out.len() as u64 > CAP {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&shape, data)) = input.split_first() else {
        return;
    };
    let cap = 1 + usize::from(shape & 0x0f) * 37;
    let piece = 1 + usize::from(shape >> 4) * 4099;
    let mut theirs = Vec::new();
    let reference = flate2::bufread::MultiGzDecoder::new(data)
        .take(CAP)
        .read_to_end(&mut theirs);
    let got = ours(data, cap, piece);
    if reference.is_ok() && (theirs.len() as u64) < CAP {
        let got = got.expect("flate2 inflated this; so must we");
        assert_eq!(got, theirs, "different bytes from the same gzip");
    }
});
