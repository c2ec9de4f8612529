//! Fuzzes the apk cataloger (`lib/apk/db/installed`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    safeimage_fuzz::catalog(
        &[("lib/apk/db/installed", data), ("etc/alpine-release", b"3.20.3\n")],
        &[],
    );
});
