//! Fuzzes the built-in shell checks on arbitrary scripts: brush-parser's
//! program and word parsers, the nesting guard and every check, in both
//! dialects. Must never panic, overflow the stack or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

static HOOK: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    // panics inside the shell parser are contained by the checks (reported
    // as SC1072); any other panic is still a crash
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            if !dockerfile::shell_checks::is_contained_panic(info) {
                std::process::abort();
            }
        }));
    });
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
