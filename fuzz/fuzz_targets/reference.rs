//! Fuzzes image reference parsing: never panics, and what parses prints back
//! to a string that parses to the same reference.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(r) = text.parse::<oci::ImageRef>() {
        let again: oci::ImageRef = r.to_string().parse().expect("printed reference parses");
        assert_eq!(r, again);
    }
});
