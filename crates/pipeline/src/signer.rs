//! The run's `[sign]` key, opened once (its password from the variable
//! `[sign] password_env` names) before anything is built: a wrong password
//! stops the run before it starts.

use crate::config::SignSpec;

/// Why the `[sign]` key could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SignKeyError {
    /// The password's variable is not set.
    #[error(
        "{var} is not set (the password of {}; an empty value means an empty password)",
        key.display()
    )]
    NoPassword {
        /// The variable.
        var: String,
        /// The key file.
        key: std::path::PathBuf,
    },
    /// The key could not be read or opened.
    #[error(transparent)]
    Key(#[from] provenance::keys::KeyError),
}

/// The `[sign]` key, opened once per run.
pub struct Signer {
    /// The key.
    pub(crate) key: provenance::PrivateKey,
    /// What it signs and attaches.
    pub(crate) spec: SignSpec,
}

impl Signer {
    /// Opens the key with the password in `spec.password_env`.
    pub fn open(spec: &SignSpec) -> Result<Signer, SignKeyError> {
        let pw =
            settings::env::named(&spec.password_env).ok_or_else(|| SignKeyError::NoPassword {
                var: spec.password_env.clone(),
                key: spec.key.clone(),
            })?;
        let key = provenance::keys::load_private(&spec.key, pw.as_bytes())?;
        Ok(Signer {
            key,
            spec: spec.clone(),
        })
    }
}
