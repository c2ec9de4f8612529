//! Fuzzes cargo-auditable data: the ELF extractor (`.dep-v0`, zlib) and the
//! dependency JSON the cataloger reads from the summary.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    safeimage_fuzz::catalog(
        &[("usr/bin/app", data)],
        &[(
            "usr/local/bin/tool",
            format!("rust-audit\n{}", String::from_utf8_lossy(data)),
        )],
    );
});
