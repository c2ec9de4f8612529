//! Sending for real: HTTP POSTs (webhook, Slack) with reqwest and SMTP
//! with lettre. Errors never carry a URL's path or query (where webhook
//! tokens live), only its scheme and host.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{Security, Target};
use crate::{Message, Notifier, NotifyError};

/// Sends over the network.
#[derive(Debug, Clone, Copy, Default)]
pub struct Live;

impl Notifier for Live {
    fn send(&self, target: &Target, d: &Message) -> Result<(), NotifyError> {
        match target {
            Target::Webhook { url, .. } => {
                let body = d.body();
                let mut headers = vec![("X-Safeimage-Event", d.event().to_string())];
                if let Some(s) = target.webhook_secret()? {
                    headers.push(("X-Safeimage-Signature-256", signature(&s, &body)));
                }
                http("webhook", url, body, &headers)
            }
            Target::Slack { url } => {
                let url = url.value().ok_or_else(|| NotifyError {
                    kind: "slack",
                    target: target.shown(),
                    message: "the URL's environment variable is not set".into(),
                })?;
                http(
                    "slack",
                    &url,
                    serde_json::to_vec(&d.slack()).unwrap_or_default(),
                    &[],
                )
            }
            Target::Email {
                host,
                port,
                security,
                from,
                to,
                ..
            } => email(
                host,
                *port,
                *security,
                from,
                to,
                target.credentials()?.as_ref(),
                d,
            ),
        }
    }
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

fn email(
    host: &str,
    port: u16,
    security: Security,
    from: &str,
    to: &[String],
    credentials: Option<&(String, String)>,
    d: &Message,
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
        Security::Tls => t.tls(Tls::Wrapper(tls()?)),
        Security::StartTls => t.tls(Tls::Required(tls()?)),
        Security::None => t.tls(Tls::None),
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
