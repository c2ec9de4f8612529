//! Fuzzes the Python cataloger: `*.dist-info/METADATA`, `RECORD` and
//! `*.egg-info/PKG-INFO`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    safeimage_fuzz::catalog(
        &[
            ("usr/lib/python3/dist-packages/pkg-1.0.dist-info/METADATA", data),
            ("usr/lib/python3/dist-packages/pkg-1.0.dist-info/RECORD", data),
            ("usr/lib/python3/dist-packages/pkg.egg-info/PKG-INFO", data),
        ],
        &[],
    );
});
