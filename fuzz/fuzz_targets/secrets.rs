//! Fuzzes the secret rule engine over hostile text (every built-in rule,
//! the keyword pass, entropy, allowlists, line counting) and the
//! `.gitleaks.toml` reader (a config that parses is then run over the same
//! bytes). The first byte picks which.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static BUILTIN: OnceLock<secrets::Engine> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let e = BUILTIN.get_or_init(|| secrets::Engine::builtin().expect("built-in rules"));
        for h in e.scan("fuzz/input.env", rest) {
            assert!(h.line >= 1 && h.column >= 1);
            let _ = secrets::redact(&h.secret);
        }
    } else if let Ok(text) = std::str::from_utf8(rest) {
        if let Ok(c) = secrets::config::read(".gitleaks.toml", text) {
            if let Ok(e) = secrets::Engine::new(c.rules, c.allowlists) {
                let _ = e.scan("fuzz/input", rest);
            }
        }
    }
});
