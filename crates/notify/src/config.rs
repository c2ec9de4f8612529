//! `[notify]` in the config file: `[[notify.webhook]]`, `[notify.slack]`,
//! `[[notify.email]]`, each with an `on` list of outcomes. Secrets are
//! named by environment variable and read only when sending
//! ([`Target::check`] tells early that they are set), so commands that only
//! read the config (`audit verify`, `lint`) need none of them.

use model::Outcome;
use settings::{Document, Reader, Span, Value};

use crate::NotifyError;

/// How email reaches the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// STARTTLS, required (default; port 587).
    StartTls,
    /// Implicit TLS (port 465).
    Tls,
    /// Plain text: only to a relay on loopback, unless forced.
    None,
}

/// Where a digest goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Generic webhook.
    Webhook {
        /// URL (a secret: redacted in messages).
        url: String,
        /// Environment variable holding the HMAC key.
        secret_env: Option<String>,
    },
    /// Slack incoming webhook.
    Slack {
        /// The URL, or the environment variable that holds it.
        url: Secret,
    },
    /// SMTP.
    Email {
        /// Relay host.
        host: String,
        /// Port.
        port: u16,
        /// Transport security.
        security: Security,
        /// From.
        from: String,
        /// Recipients.
        to: Vec<String>,
        /// Environment variable with the username.
        username_env: Option<String>,
        /// Environment variable with the password.
        password_env: Option<String>,
    },
}

/// A value given inline or through an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// In the file.
    Inline(String),
    /// In this environment variable.
    Env(String),
}

impl Secret {
    /// The value.
    pub fn value(&self) -> Option<String> {
        match self {
            Secret::Inline(s) => Some(s.clone()),
            Secret::Env(e) => settings::env::named(e),
        }
    }
}

fn env_value(kind: &'static str, target: &str, name: &str) -> Result<String, NotifyError> {
    settings::env::named(name).ok_or_else(|| NotifyError {
        kind,
        target: target.to_string(),
        message: format!("environment variable {name} is not set"),
    })
}

impl Target {
    /// `webhook`, `slack` or `email`.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Webhook { .. } => "webhook",
            Target::Slack { .. } => "slack",
            Target::Email { .. } => "email",
        }
    }

    /// The target as shown in messages (no secrets).
    pub fn shown(&self) -> String {
        match self {
            Target::Webhook { url, .. } => crate::redact(url),
            Target::Slack { url } => url.value().map_or_else(
                || "slack (url from the environment)".into(),
                |u| crate::redact(&u),
            ),
            Target::Email { host, port, .. } => format!("smtp://{host}:{port}"),
        }
    }

    /// Checks every environment variable it needs is set.
    pub fn check(&self) -> Result<(), NotifyError> {
        let shown = self.shown();
        match self {
            Target::Webhook { secret_env, .. } => {
                if let Some(e) = secret_env {
                    env_value("webhook", &shown, e)?;
                }
            }
            Target::Slack { url } => {
                if let Secret::Env(e) = url {
                    env_value("slack", &shown, e)?;
                }
            }
            Target::Email {
                username_env,
                password_env,
                ..
            } => {
                for e in [username_env, password_env].into_iter().flatten() {
                    env_value("email", &shown, e)?;
                }
            }
        }
        Ok(())
    }

    /// The HMAC key of a webhook.
    pub(crate) fn webhook_secret(&self) -> Result<Option<String>, NotifyError> {
        match self {
            Target::Webhook {
                secret_env: Some(e),
                ..
            } => env_value("webhook", &self.shown(), e).map(Some),
            _ => Ok(None),
        }
    }

    /// SMTP credentials.
    pub(crate) fn credentials(&self) -> Result<Option<(String, String)>, NotifyError> {
        match self {
            Target::Email {
                username_env: Some(u),
                password_env: Some(p),
                ..
            } => Ok(Some((
                env_value("email", &self.shown(), u)?,
                env_value("email", &self.shown(), p)?,
            ))),
            _ => Ok(None),
        }
    }
}

/// A target and the outcomes and events that trigger it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Where.
    pub target: Target,
    /// Send a run's digest when any image has one of these outcomes.
    pub on: Vec<Outcome>,
    /// Send the weekly summary (`on` lists `weekly`, or has no `on`).
    pub weekly: bool,
    /// Send new findings of a re-match (`on` lists `rematch`, or has no
    /// `on`).
    pub rematch: bool,
}

impl Route {
    /// Whether a run with these outcomes is sent here.
    pub fn wants(&self, outcomes: impl IntoIterator<Item = Outcome>) -> bool {
        outcomes.into_iter().any(|o| self.on.contains(&o))
    }

    /// Whether this message is sent here (a run digest by its outcomes,
    /// and to every notifier when it carries newly overdue findings).
    pub fn wants_message(&self, m: &crate::Message) -> bool {
        match m {
            crate::Message::Run(d) => {
                !d.overdue.is_empty() || self.wants(d.images.iter().map(|i| i.outcome))
            }
            crate::Message::Weekly(_) => self.weekly,
            crate::Message::Rematch(_) => self.rematch,
        }
    }
}

/// The default routing: every final decision.
pub const DEFAULT_ON: [Outcome; 3] = [Outcome::Promoted, Outcome::Blocked, Outcome::Failed];

/// An IP in 127.0.0.0/8, `::1`, or exactly `localhost`.
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Reads `[notify]`.
pub fn read(doc: &mut Document<'_>) -> Vec<Route> {
    let mut out = Vec::new();
    let Some(val) = doc.take("notify") else {
        return out;
    };
    let v = &mut doc.reader;
    let Some(t) = v.table(&val, "notify") else {
        return out;
    };
    for (nk, nx) in t {
        let kind = nk.name.as_ref();
        if !["webhook", "slack", "email"].contains(&kind) {
            v.unknown(nk.span, "notify", kind, &["webhook", "slack", "email"]);
            continue;
        }
        match nx.as_array() {
            Some(a) => out.extend(a.iter().filter_map(|item| route(v, kind, item))),
            None => out.extend(route(v, kind, nx)),
        }
    }
    out
}

fn route(v: &mut Reader<'_>, kind: &str, val: &Value<'_>) -> Option<Route> {
    let Some(t) = val.as_table() else {
        v.err(
            val.span,
            format!("`notify.{kind}` must be a table (or an array of tables)"),
        );
        return None;
    };
    let known: &[&str] = match kind {
        "webhook" => &["url", "secret_env", "on"],
        "slack" => &["url", "url_env", "on"],
        _ => &[
            "host",
            "port",
            "security",
            "from",
            "to",
            "username_env",
            "password_env",
            "allow_plaintext",
            "on",
        ],
    };
    let mut strings: Vec<(String, String, Span)> = Vec::new();
    let mut on: Option<Vec<Outcome>> = None;
    let mut events: Option<(bool, bool)> = None;
    let mut to = Vec::new();
    let mut port = None;
    let mut allow_plaintext = false;
    for (k, x) in t {
        let what = format!("notify.{kind}.{}", k.name);
        if !known.contains(&k.name.as_ref()) {
            v.unknown(k.span, &format!("notify.{kind}"), &k.name, known);
            continue;
        }
        match k.name.as_ref() {
            "on" => {
                let mut l = Vec::new();
                let mut ev = (false, false);
                for (o, span) in v.strings(x, &what) {
                    if o == "weekly" {
                        ev.0 = true;
                        continue;
                    }
                    if o == "rematch" {
                        ev.1 = true;
                        continue;
                    }
                    match o.parse::<Outcome>() {
                        Ok(o) if o.is_decision() => l.push(o),
                        Ok(o) => v.err(span, format!("`{what}`: `{o}` is not sent")),
                        Err(e) => {
                            v.err(span, format!("`{what}`: {e}; or an event: weekly, rematch"))
                        }
                    }
                }
                on = Some(l);
                events = Some(ev);
            }
            "to" => to = v.string_list(x, &what),
            "port" => port = v.integer(x, &what).map(|p| (p, x.span)),
            "allow_plaintext" => allow_plaintext = v.boolean(x, &what).unwrap_or(false),
            _ => {
                if let Some(s) = v.string(x, &what) {
                    strings.push((k.name.to_string(), s, x.span));
                }
            }
        }
    }
    let get = |k: &str| {
        strings
            .iter()
            .find(|s| s.0 == k)
            .map(|s| (s.1.clone(), s.2))
    };
    let on = on.unwrap_or_else(|| DEFAULT_ON.to_vec());
    let (weekly, rematch) = events.unwrap_or((true, true));
    let target = match kind {
        "webhook" => {
            let Some((url, _)) = get("url") else {
                v.err(val.span, "`notify.webhook` needs a `url`");
                return None;
            };
            Target::Webhook {
                url,
                secret_env: get("secret_env").map(|s| s.0),
            }
        }
        "slack" => {
            let url = match (get("url"), get("url_env")) {
                (Some((u, _)), None) => Secret::Inline(u),
                (None, Some((e, _))) => Secret::Env(e),
                (Some(_), Some((_, span))) => {
                    v.err(span, "`notify.slack`: give `url` or `url_env`, not both");
                    return None;
                }
                (None, None) => {
                    v.err(val.span, "`notify.slack` needs `url` or `url_env`");
                    return None;
                }
            };
            Target::Slack { url }
        }
        _ => {
            let security = match get("security") {
                None => Security::StartTls,
                Some((s, span)) => match s.as_str() {
                    "starttls" => Security::StartTls,
                    "tls" => Security::Tls,
                    "none" => Security::None,
                    _ => {
                        v.err(
                            span,
                            "`notify.email.security` must be starttls, tls or none",
                        );
                        Security::StartTls
                    }
                },
            };
            let (Some((host, host_span)), Some((from, _))) = (get("host"), get("from")) else {
                v.err(val.span, "`notify.email` needs `host` and `from`");
                return None;
            };
            if security == Security::None && !is_loopback(&host) && !allow_plaintext {
                v.err(
                    host_span,
                    format!("`notify.email`: security = \"none\" would send mail (and any login) in clear to {host}; it is allowed only for a relay on loopback, or with allow_plaintext = true"),
                );
            }
            if to.is_empty() {
                v.err(
                    val.span,
                    "`notify.email` needs at least one address in `to`",
                );
            }
            let port = match port {
                Some((p, _)) if (1..=65535).contains(&p) => p as u16,
                Some((_, span)) => {
                    v.err(span, "`notify.email.port` must be 1-65535");
                    25
                }
                None => match security {
                    Security::Tls => 465,
                    Security::StartTls => 587,
                    Security::None => 25,
                },
            };
            let (username_env, password_env) = (get("username_env"), get("password_env"));
            if username_env.is_some() != password_env.is_some() {
                v.err(
                    val.span,
                    "`notify.email`: set both username_env and password_env",
                );
            }
            Target::Email {
                host,
                port,
                security,
                from,
                to,
                username_env: username_env.map(|s| s.0),
                password_env: password_env.map(|s| s.0),
            }
        }
    };
    Some(Route {
        target,
        on,
        weekly,
        rematch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_chosen_in_on_beside_outcomes() {
        let text =
            "[[notify.webhook]]\nurl = \"http://127.0.0.1:9/h\"\non = [\"blocked\", \"weekly\"]\n";
        let mut doc = Document::parse("f.toml", text);
        let routes = read(&mut doc);
        doc.finish().unwrap();
        assert_eq!(routes[0].on, vec![Outcome::Blocked]);
        assert!(routes[0].weekly && !routes[0].rematch);
    }

    #[test]
    fn routes_and_problems() {
        let text = r#"
[[notify.webhook]]
url = "http://127.0.0.1:9/hook"
on = ["promoted", "exploded"]

[notify.slack]
url_env = "SLACK_URL_FOR_TEST_UNSET"

[[notify.email]]
host = "mail.example.com"
security = "none"
from = "a@example.com"
to = ["b@example.com"]

[[notify.email]]
host = "127.0.0.1"
port = 2525
security = "none"
from = "a@example.com"
to = ["b@example.com"]
colour = 1
"#;
        let mut doc = Document::parse("f.toml", text);
        let routes = read(&mut doc);
        let e = doc.finish().unwrap_err().to_string();
        assert!(
            e.contains("f.toml:4:20: `notify.webhook.on`: unknown outcome `exploded`"),
            "{e}"
        );
        assert!(
            e.contains(":10:9: `notify.email`: security = \"none\" would send mail"),
            "{e}"
        );
        assert!(
            e.contains(":21:1: unknown key `colour` in [notify.email]"),
            "{e}"
        );
        assert_eq!(routes.len(), 4);
        let of = |k: &'static str| routes.iter().filter(move |r| r.target.kind() == k);
        let hook = of("webhook").next().unwrap();
        assert_eq!(hook.on, vec![Outcome::Promoted]);
        assert!(hook.wants([Outcome::Blocked, Outcome::Promoted]));
        assert!(!hook.wants([Outcome::Blocked]));
        assert!(
            !hook.weekly && !hook.rematch,
            "an explicit `on` names the events too"
        );
        let slack = of("slack").next().unwrap();
        assert_eq!(slack.on, DEFAULT_ON.to_vec());
        assert!(slack.weekly && slack.rematch, "no `on`: every event");
        let err = slack.target.check().unwrap_err().to_string();
        assert!(err.contains("SLACK_URL_FOR_TEST_UNSET is not set"), "{err}");
        assert!(of("email").any(|r| matches!(&r.target, Target::Email { port: 2525, .. })));
    }
}
