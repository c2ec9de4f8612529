//! `[registry."HOST"]` in the config file, read here because this crate
//! talks to registries: plain HTTP for a host, and the environment
//! variables holding its credentials (read when the options are made, never
//! stored in the config).

use std::collections::BTreeMap;

use settings::{Reader, Value};

use crate::source::RegistryOptions;

/// A registry's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrySettings {
    /// Plain HTTP (loopback hosts always are).
    pub insecure: bool,
    /// Environment variable holding the username.
    pub username_env: Option<String>,
    /// Environment variable holding the password or token.
    pub password_env: Option<String>,
}

/// The registries by host.
pub type Registries = BTreeMap<String, RegistrySettings>;

/// A credential variable the config names is not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("registry {host}: environment variable {var} is not set")]
pub struct MissingCredential {
    /// Registry host.
    pub host: String,
    /// The variable.
    pub var: String,
}

fn is_host(h: &str) -> bool {
    let (host, port) = match h.rsplit_once(':') {
        Some((a, p)) if !a.ends_with(']') || h.starts_with('[') => (a, Some(p)),
        _ => (h, None),
    };
    port.is_none_or(|p| p.parse::<u16>().is_ok())
        && !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.[]:".contains(c))
}

/// Reads `[registry."HOST"]` tables.
pub fn read(v: &mut Reader<'_>, val: &Value<'_>) -> Registries {
    let mut out = BTreeMap::new();
    let Some(t) = val.as_table() else {
        v.err(
            val.span,
            "`registry` must be a table of [registry.\"HOST\"] tables",
        );
        return out;
    };
    for (host, rv) in t {
        if !is_host(&host.name) {
            v.err(
                host.span,
                format!("registry `{}` is not a HOST[:PORT]", host.name),
            );
        }
        let mut rs = RegistrySettings::default();
        match rv.as_table() {
            Some(rt) => {
                for (rk, rx) in rt {
                    let what = format!("registry.\"{}\".{}", host.name, rk.name);
                    match rk.name.as_ref() {
                        "insecure" => rs.insecure = v.boolean(rx, &what).unwrap_or(false),
                        "username_env" => rs.username_env = v.string(rx, &what),
                        "password_env" => rs.password_env = v.string(rx, &what),
                        other => v.unknown(
                            rk.span,
                            &format!("registry.\"{}\"", host.name),
                            other,
                            &["insecure", "username_env", "password_env"],
                        ),
                    }
                }
            }
            None => v.err(rv.span, "`registry.\"HOST\"` must be a table"),
        }
        if rs.username_env.is_some() != rs.password_env.is_some() {
            v.err(
                rv.span,
                format!(
                    "registry \"{}\": set both username_env and password_env",
                    host.name
                ),
            );
        }
        out.insert(host.name.to_string(), rs);
    }
    out
}

/// Registry options for the client: insecure hosts and the credentials
/// the named variables hold.
pub fn options(registries: &Registries) -> Result<RegistryOptions, MissingCredential> {
    let mut o = RegistryOptions::default();
    for (host, r) in registries {
        if r.insecure {
            o.insecure.push(host.clone());
        }
        if let (Some(u), Some(p)) = (&r.username_env, &r.password_env) {
            let get = |var: &str| {
                settings::env::named(var).ok_or_else(|| MissingCredential {
                    host: host.clone(),
                    var: var.to_string(),
                })
            };
            o.basic_auth.insert(host.clone(), (get(u)?, get(p)?));
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hosts_with_ports_and_brackets() {
        for ok in [
            "r.example",
            "r.example:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
            "localhost",
        ] {
            assert!(super::is_host(ok), "{ok}");
        }
        for bad in ["", "r.example:x", "r example", "r/x"] {
            assert!(!super::is_host(bad), "{bad}");
        }
    }
}
