//! Fuzzes rpm header blobs (the rows of `rpmdb.sqlite`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = inventory::catalog::rpm::parse_header(data);
});
