//! Fuzzes the whole lint path on arbitrary text: heredoc pre-pass, parser,
//! stage model, every rule and the policy. Must never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
