//! Fuzzes Java archives: zip reading (nested jars), `MANIFEST.MF`,
//! `pom.properties` and file-name versions.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = inventory::catalog::java::extract("app/lib/app-1.0.jar", data);
    safeimage_fuzz::catalog(&[("app/lib/app-1.0.jar", data)], &[]);
});
