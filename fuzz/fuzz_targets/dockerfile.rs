//! Fuzzes the whole lint path on arbitrary text: heredoc pre-pass, parser,
//! stage model, every rule and the policy. Must never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

static HOOK: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    // panics inside the shell parser are contained by the shell checks
    // (reported as SC1072); any other panic is still a crash
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
    let cfg = dockerfile::LintConfig {
        shellcheck: false,
        policy: Some(dockerfile::Policy::default()),
        ..dockerfile::LintConfig::default()
    };
    let _ = dockerfile::lint(&[dockerfile::SourceFile::new("Dockerfile", text)], &cfg);
});
