//! The run's secret scanner, built once from `[secrets]` (the rules, the
//! fingerprints a `.gitleaksignore` leaves out, what each kind of finding
//! does) and used by the secrets steps of every image.

use secrets::settings::Settings;

/// The run's secret scanner: the engine built once from `[secrets]`, the
/// fingerprints to ignore, and what blocks.
#[derive(Debug)]
pub struct Scanner {
    /// The rules.
    pub engine: secrets::Engine,
    /// Fingerprints to leave out.
    pub ignored: Vec<String>,
    /// What each kind does.
    pub settings: Settings,
}

impl Scanner {
    /// The built-in rules, everything blocking (tests).
    pub fn builtin() -> Scanner {
        Scanner {
            engine: secrets::Engine::builtin().expect("the built-in rules compile"),
            ignored: Vec::new(),
            settings: Settings::default(),
        }
    }
}
