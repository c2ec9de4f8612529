//! Fuzzes the built-in shell checks on arbitrary scripts: our shell parser
//! (`shell_syntax`), its nesting cap and every check, in both dialects.
//! Must never panic, overflow the stack or hang (time is linear by design).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for d in [
        dockerfile::shell_checks::Dialect::Sh,
        dockerfile::shell_checks::Dialect::Bash,
    ] {
        for h in dockerfile::shell_checks::check(text, d) {
            assert!(h.line >= 1 && h.column >= 1);
        }
    }
});
