//! Fuzzes the maven version scheme: never panics; comparison is reflexive and
//! antisymmetric on any two strings (split at the first NUL byte).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vulndb::version::Scheme;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (a, b) = text.split_once('\0').unwrap_or((text, "1.0"));
    let s = Scheme::for_ecosystem("Maven");
    if let Some(o) = s.compare(a, b) {
        assert_eq!(s.compare(b, a), Some(o.reverse()), "{a:?} vs {b:?}");
        assert_eq!(s.compare(a, a), Some(std::cmp::Ordering::Equal), "{a:?}");
    }
});
