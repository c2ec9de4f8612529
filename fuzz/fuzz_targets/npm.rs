//! Fuzzes the npm cataloger: `package.json` in `node_modules`, and
//! `package-lock.json` / `.package-lock.json` lockfiles.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    safeimage_fuzz::catalog(
        &[
            ("app/node_modules/pkg/package.json", data),
            ("app/package-lock.json", data),
            ("app/node_modules/.package-lock.json", data),
            ("app/package.json", data),
        ],
        &[],
    );
});
