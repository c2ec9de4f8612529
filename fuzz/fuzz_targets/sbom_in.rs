//! Fuzzes the CycloneDX and SPDX JSON readers (SBOMs from any tool).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = inventory::sbom_in::looks_like_sbom(data);
    let _ = inventory::sbom_in::read(data);
});
