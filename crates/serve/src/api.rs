//! The JSON API's own request and response types (beside the views in
//! [`crate::view`]): errors, a started job, a written ignore, a run asked
//! for, health. Their JSON Schemas feed the OpenAPI description.

use serde::Serialize;

/// An error as the API returns it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Problem {
    /// What went wrong.
    pub error: String,
    /// The request field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A job started.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Started {
    /// Its name (`run`, `run:IMAGE`).
    pub job: String,
    /// Its tick (RFC 3339), under which the store records it.
    pub tick: String,
}

/// An ignore written.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Ignored {
    /// The ignore file it was written to.
    pub file: String,
    /// Whether the image's findings were judged again (they show as
    /// ignored at once).
    pub rejudged: bool,
}

/// A run asked for.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct RunRequest {
    /// Only this image (none: the fleet).
    #[serde(default)]
    pub image: Option<String>,
}

/// Health.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Health {
    /// `ok` when the store answers.
    pub status: String,
}
