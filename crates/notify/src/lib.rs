//! Notifications: one digest message per run (never one per image), sent to
//! a generic webhook (documented JSON, optional `X-Safeimage-Signature-256:
//! sha256=<HMAC-SHA256 of the body>`), a Slack incoming webhook (Block Kit)
//! or email over SMTP (STARTTLS, TLS or plain on loopback). URLs are
//! secrets: errors show only their scheme and host. A failing notifier is
//! returned as an error for the caller to report; it never changes a
//! promotion decision.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

/// The payload schema name.
pub const SCHEMA: &str = "safeimage-run/1";

/// One image in the digest.
#[derive(Debug, Clone, Serialize)]
pub struct ImageLine {
    /// Name.
    pub name: String,
    /// `promoted`, `blocked`, `failed`, `dry-run`.
    pub outcome: String,
    /// Why.
    pub reasons: Vec<String>,
    /// Repository.
    pub repository: String,
    /// Built digest.
    pub digest: Option<String>,
    /// Digest before.
    pub previous_digest: Option<String>,
    /// Tags moved.
    pub tags: Vec<String>,
    /// Counts by severity.
    pub counts: std::collections::BTreeMap<String, usize>,
    /// Fixable findings.
    pub fixable: usize,
    /// New findings vs the last promoted image.
    pub new: Option<usize>,
    /// Fixed findings vs the last promoted image.
    pub fixed: Option<usize>,
}

/// The run digest.
#[derive(Debug, Clone, Serialize)]
pub struct RunDigest {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// Run id.
    pub run: i64,
    /// Start (RFC 3339).
    pub started: String,
    /// End.
    pub finished: String,
    /// Counts per outcome.
    pub summary: std::collections::BTreeMap<String, usize>,
    /// Images.
    pub images: Vec<ImageLine>,
    /// HTML report path.
    pub report: Option<String>,
}

impl RunDigest {
    /// One-line summary.
    pub fn headline(&self) -> String {
        let c = |k: &str| self.summary.get(k).copied().unwrap_or(0);
        format!(
            "safeimage run {}: {} promoted, {} blocked, {} failed",
            self.run,
            c("promoted"),
            c("blocked"),
            c("failed")
        )
    }

    /// Plain-text body (email).
    pub fn text(&self) -> String {
        let mut s = format!("{}\n\n", self.headline());
        for i in &self.images {
            s.push_str(&format!("{} [{}] {}\n", i.name, i.outcome, i.repository));
            if let Some(d) = &i.digest {
                s.push_str(&format!("  digest: {d}\n"));
            }
            if !i.tags.is_empty() {
                s.push_str(&format!("  tags: {}\n", i.tags.join(", ")));
            }
            let counts: Vec<String> = i
                .counts
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            s.push_str(&format!(
                "  vulnerabilities: {} ({} fixable)\n",
                if counts.is_empty() {
                    "none".to_string()
                } else {
                    counts.join(", ")
                },
                i.fixable
            ));
            for r in &i.reasons {
                s.push_str(&format!("  why: {r}\n"));
            }
        }
        if let Some(r) = &self.report {
            s.push_str(&format!("\nreport: {r}\n"));
        }
        s
    }
}

/// Where to send.
#[derive(Debug, Clone)]
pub enum Target {
    /// Generic webhook.
    Webhook {
        /// URL.
        url: String,
        /// HMAC key.
        secret: Option<String>,
    },
    /// Slack incoming webhook.
    Slack {
        /// URL.
        url: String,
    },
    /// SMTP.
    Email {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// `starttls`, `tls`, `none`.
        security: String,
        /// From.
        from: String,
        /// To.
        to: Vec<String>,
        /// Credentials.
        credentials: Option<(String, String)>,
    },
}

/// A notifier failed.
#[derive(Debug, thiserror::Error)]
#[error("{kind} notification to {target} failed: {message}")]
pub struct NotifyError {
    /// `webhook`, `slack`, `email`.
    pub kind: &'static str,
    /// Redacted target.
    pub target: String,
    /// What happened (secrets removed).
    pub message: String,
}

/// `scheme://host[:port]/…` with path and query removed.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}/…")
        }
        None => "(url)".into(),
    }
}

/// The HMAC-SHA256 signature header value for a body.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The Slack Block Kit message.
pub fn slack_message(d: &RunDigest) -> serde_json::Value {
    let mut blocks = vec![
        serde_json::json!({"type": "header", "text": {"type": "plain_text", "text": d.headline()}}),
    ];
    for i in &d.images {
        let icon = match i.outcome.as_str() {
            "promoted" => ":white_check_mark:",
            "blocked" => ":no_entry:",
            "failed" => ":x:",
            _ => ":grey_question:",
        };
        let counts: Vec<String> = i
            .counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        let mut text = format!(
            "{icon} *{}* {}\n{}",
            i.name,
            i.outcome,
            if counts.is_empty() {
                "no known vulnerabilities".to_string()
            } else {
                counts.join(", ")
            }
        );
        if !i.tags.is_empty() {
            text.push_str(&format!("\ntags: `{}`", i.tags.join("`, `")));
        }
        for r in i.reasons.iter().take(3) {
            text.push_str(&format!("\n> {r}"));
        }
        blocks
            .push(serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    if let Some(r) = &d.report {
        blocks.push(serde_json::json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("report: {r}")}]}));
    }
    serde_json::json!({"text": d.headline(), "blocks": blocks})
}

fn http(
    kind: &'static str,
    url: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> Result<(), NotifyError> {
    let err = |message: String| NotifyError {
        kind,
        target: redact(url),
        message,
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| err(e.to_string()))?;
    let mut req = client
        .post(url)
        .header("Content-Type", "application/json")
        .header(
            "User-Agent",
            concat!("safeimage/", env!("CARGO_PKG_VERSION")),
        )
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    // reqwest errors can include the URL: keep only their kind.
    let resp = req.send().map_err(|e| {
        err(if e.is_timeout() {
            "timed out".into()
        } else if e.is_connect() {
            "cannot connect".into()
        } else {
            "request failed".into()
        })
    })?;
    if !resp.status().is_success() {
        return Err(err(format!("HTTP {}", resp.status())));
    }
    Ok(())
}

/// Send the digest to one target.
pub fn send(target: &Target, d: &RunDigest) -> Result<(), NotifyError> {
    match target {
        Target::Webhook { url, secret } => {
            let body = serde_json::to_vec(d).unwrap_or_default();
            let mut headers = vec![("X-Safeimage-Event", "run".to_string())];
            if let Some(s) = secret {
                headers.push(("X-Safeimage-Signature-256", signature(s, &body)));
            }
            http("webhook", url, body, &headers)
        }
        Target::Slack { url } => http(
            "slack",
            url,
            serde_json::to_vec(&slack_message(d)).unwrap_or_default(),
            &[],
        ),
        Target::Email {
            host,
            port,
            security,
            from,
            to,
            credentials,
        } => email(host, *port, security, from, to, credentials.as_ref(), d),
    }
}

fn email(
    host: &str,
    port: u16,
    security: &str,
    from: &str,
    to: &[String],
    credentials: Option<&(String, String)>,
    d: &RunDigest,
) -> Result<(), NotifyError> {
    use lettre::message::header::ContentType;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Tls, TlsParameters};
    use lettre::{Message, SmtpTransport, Transport};
    let err = |message: String| NotifyError {
        kind: "email",
        target: format!("smtp://{host}:{port}"),
        message,
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = Message::builder()
        .from(
            from.parse()
                .map_err(|e| err(format!("from `{from}`: {e}")))?,
        )
        .subject(d.headline())
        .header(ContentType::TEXT_PLAIN);
    for t in to {
        b = b.to(t.parse().map_err(|e| err(format!("to `{t}`: {e}")))?);
    }
    let msg = b.body(d.text()).map_err(|e| err(e.to_string()))?;
    let tls = || TlsParameters::new(host.to_string()).map_err(|e| err(e.to_string()));
    let mut t = SmtpTransport::builder_dangerous(host)
        .port(port)
        .timeout(Some(Duration::from_secs(20)));
    t = match security {
        "tls" => t.tls(Tls::Wrapper(tls()?)),
        "starttls" => t.tls(Tls::Required(tls()?)),
        _ => t.tls(Tls::None),
    };
    if let Some((u, p)) = credentials {
        t = t.credentials(Credentials::new(u.clone(), p.clone()));
    }
    t.build().send(&msg).map_err(|e| err(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_and_signature() {
        assert_eq!(
            redact("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redact("https://user:pw@example.com:8443/x?token=1"),
            "https://example.com:8443/…"
        );
        // RFC 4231 test case 2.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(signature("Jefe", b"what do ya want for nothing?").ends_with("64ec3843"));
    }
}
