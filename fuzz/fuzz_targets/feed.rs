//! Fuzzes feed parsing (OSV records, Debian tracker dumps, Alpine secdb
//! files): any bytes give records or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = vulndb::feed::parse_bytes(data);
});
