//! What can go wrong talking to a registry, as data every crate can name
//! (also where the registry client itself is not built, as in the fuzz
//! targets).

/// Registry failures, with what the user can do about them.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// 401/403.
    #[error(
        "{registry}: not authorized for {reference} (log in with `docker login {registry}` or configure a credential helper)"
    )]
    Unauthorized {
        /// Host.
        registry: String,
        /// Reference.
        reference: String,
    },
    /// 404.
    #[error("{reference}: not found in the registry")]
    NotFound {
        /// Reference.
        reference: String,
    },
    /// Connection failures.
    #[error("{registry}: cannot reach the registry: {message}")]
    Unreachable {
        /// Host.
        registry: String,
        /// Why.
        message: String,
    },
    /// Content does not match its digest.
    #[error("{reference}: {what} has digest {actual}, expected {expected}")]
    DigestMismatch {
        /// Reference.
        reference: String,
        /// What.
        what: String,
        /// Expected.
        expected: String,
        /// Actual.
        actual: String,
    },
    /// A manifest or config larger than safeimage reads.
    #[error("{reference}: the {what} is larger than {limit} bytes; refusing to read it")]
    TooLarge {
        /// Reference.
        reference: String,
        /// Manifest, index or config.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// Anything else the registry said.
    #[error("{reference}: {message}")]
    Other {
        /// Reference.
        reference: String,
        /// Message.
        message: String,
    },
}
