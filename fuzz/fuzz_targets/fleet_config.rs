//! Fuzzes the fleet config: the TOML document read once, every section
//! read by its owner, every problem located.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = pipeline::FleetConfig::from_toml(std::path::Path::new("/fuzz/safeimage.toml"), text) {
        let _ = e.to_string();
    }
});
