//! Notifications: one digest message per run (never one per image), the
//! weekly summary and a re-match's new findings ([`Message`]), sent to
//! a generic webhook (documented JSON, optional `X-Safeimage-Signature-256:
//! sha256=<HMAC-SHA256 of the body>`), a Slack incoming webhook (Block Kit)
//! or email over SMTP (STARTTLS, TLS, or plain to a relay on loopback).
//!
//! - [`digest`]: the payload, built from a [`model::RunReport`];
//! - [`config`]: `[notify]` in the config file, read here because this
//!   crate owns it: where to send and on which outcomes ([`Route`]);
//! - [`Notifier`]: the side effect, behind a trait so the run's logic is
//!   tested with a recording double; [`Live`] sends for real.
//!
//! URLs are secrets: errors show only their scheme and host. A failing
//! notifier is returned as an error for the caller to report; it never
//! changes a promotion decision.

pub mod config;
pub mod digest;
pub mod message;
mod send;

pub use config::{Route, Security, Target, read};
pub use digest::{ImageLine, RunDigest, SCHEMA, slack_message};
pub use message::{Message, NewFinding, RematchDigest, RematchLine, WeeklyDigest};
pub use send::{Live, redact, signature};

/// A notifier failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind} notification to {target} failed: {message}")]
pub struct NotifyError {
    /// `webhook`, `slack`, `email`.
    pub kind: &'static str,
    /// Redacted target.
    pub target: String,
    /// What happened (secrets removed).
    pub message: String,
}

/// Sends a message to a target.
pub trait Notifier: Sync {
    /// Send, or say why not.
    fn send(&self, target: &Target, message: &Message) -> Result<(), NotifyError>;
}
