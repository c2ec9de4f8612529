//! Fuzzes the dpkg cataloger: `var/lib/dpkg/status`, distroless
//! `status.d/` files, `info/*.list` ownership and DEP-5 copyright files.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    safeimage_fuzz::catalog(
        &[
            ("var/lib/dpkg/status", data),
            ("var/lib/dpkg/status.d/pkg", data),
            ("var/lib/dpkg/info/pkg.list", data),
            ("usr/share/doc/pkg/copyright", data),
        ],
        &[],
    );
});
