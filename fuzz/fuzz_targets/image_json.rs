//! Fuzzes the image model: an index, a manifest and a config, each parsed
//! from the input, platform selection, and layers paired with diffIDs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci::image::{ImageConfig, Index, Manifest, is_index, layers, parse_json, pick_platform};

fuzz_target!(|data: &[u8]| {
    let _ = is_index(None, data);
    if let Ok(idx) = parse_json::<Index>(data, "fuzz") {
        let _ = pick_platform(&idx, &oci::Platform::host(), "fuzz");
    }
    let m = parse_json::<Manifest>(data, "fuzz");
    let c = parse_json::<ImageConfig>(data, "fuzz");
    if let Ok(c) = &c {
        let _ = c.platform();
    }
    if let (Ok(m), Ok(c)) = (m, c) {
        let _ = layers(&m, &c, "fuzz");
    }
});
