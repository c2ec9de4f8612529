//! Fuzzes Go build info: the `.go.buildinfo` section parser, the ELF
//! extractor, and the module list the cataloger reads from the summary.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = inventory::catalog::binary::go_buildinfo(data);
    let text = String::from_utf8_lossy(data);
    let (version, modinfo) = text.split_once('\n').unwrap_or(("go1.22.1", &text));
    safeimage_fuzz::catalog(
        &[("usr/bin/app", data)],
        &[("usr/local/bin/tool", format!("go\n{version}\n{modinfo}"))],
    );
});
