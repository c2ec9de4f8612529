//! `[sign]` and `[[base_signatures]]` in the config file, read here because
//! this crate owns signing and verification: the key every promoted digest
//! is signed with and what is attached; which bases must be signed, by
//! whom. Keys named by `[[base_signatures]]` are read with the config, so a
//! missing or malformed key is a config error at its line.

use std::path::{Path, PathBuf};

use settings::{Reader, Value};

use crate::keys::PublicKey;

/// `[sign]`: the key every promoted digest is signed with (cosign's
/// format), and what is attached, each signed, as referrers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignSpec {
    /// The cosign private key.
    pub key: PathBuf,
    /// The variable holding its password.
    pub password_env: String,
    /// Predicate types to attach (SBOM, provenance, scan summary, gate, VEX).
    pub attach: Vec<String>,
}

/// One `[[base_signatures]]` rule: bases matching `images` must carry a
/// valid signature by one of `keys`, or the image is not built.
#[derive(Debug, Clone)]
pub struct BaseSignatures {
    /// Patterns over `registry/repository` (as in the base-image policy).
    pub images: Vec<oci::pattern::Pattern>,
    /// The public keys, read when the config is.
    pub keys: Vec<PublicKey>,
    /// Accept a signature made for another repository (a mirror of a
    /// signed upstream); otherwise the signed repository must be the base's.
    pub allow_other_repository: bool,
}

/// Reads `[sign]`; relative paths against `dir`.
pub fn read_sign(v: &mut Reader<'_>, dir: &Path, val: &Value<'_>) -> Option<SignSpec> {
    let t = v.table(val, "sign")?;
    const KEYS: &[&str] = &["key", "password_env", "attach"];
    let mut key = None;
    let mut spec = SignSpec {
        key: PathBuf::new(),
        password_env: settings::env::COSIGN_PASSWORD.name.to_string(),
        attach: ["sbom", "provenance", "vuln", "gate", "vex"]
            .iter()
            .filter_map(|n| crate::predicate::by_name(n))
            .map(str::to_string)
            .collect(),
    };
    for (k, x) in t {
        let what = format!("sign.{}", k.name);
        match k.name.as_ref() {
            "key" => key = v.string(x, &what).map(|p| settings::resolve_path(dir, &p)),
            "password_env" => {
                if let Some(e) = v.string(x, &what) {
                    spec.password_env = e;
                }
            }
            "attach" => {
                spec.attach.clear();
                for (n, span) in v.strings(x, &what) {
                    match crate::predicate::by_name(&n) {
                        Some(t) => spec.attach.push(t.to_string()),
                        None => v.err(
                            span,
                            format!("`{what}`: unknown attachment `{n}` (expected sbom, provenance, vuln, gate, vex)"),
                        ),
                    }
                }
            }
            other => v.unknown(k.span, "sign", other, KEYS),
        }
    }
    match key {
        Some(k) => {
            spec.key = k;
            Some(spec)
        }
        None => {
            v.err(val.span, "`[sign]` needs `key` (a cosign private key file)");
            None
        }
    }
}

/// Reads `[[base_signatures]]`; key paths against `dir`.
pub fn read_base_signatures(
    v: &mut Reader<'_>,
    dir: &Path,
    val: &Value<'_>,
) -> Vec<BaseSignatures> {
    const KEYS: &[&str] = &["images", "keys", "allow_other_repository"];
    let Some(items) = val.as_array() else {
        v.err(
            val.span,
            "`base_signatures` must be an array of tables ([[base_signatures]])",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(t) = v.table(item, "base_signatures") else {
            continue;
        };
        let mut rule = BaseSignatures {
            images: Vec::new(),
            keys: Vec::new(),
            allow_other_repository: false,
        };
        for (k, x) in t {
            let what = format!("base_signatures.{}", k.name);
            match k.name.as_ref() {
                "images" => {
                    for (s, span) in v.strings(x, &what) {
                        match oci::pattern::Pattern::new(&s) {
                            Ok(p) => rule.images.push(p),
                            Err(e) => v.err(span, e.to_string()),
                        }
                    }
                }
                "keys" => {
                    for (s, span) in v.strings(x, &what) {
                        match crate::keys::load_public(&settings::resolve_path(dir, &s)) {
                            Ok(k) => rule.keys.push(k),
                            Err(e) => v.err(span, format!("`{what}`: {e}")),
                        }
                    }
                }
                "allow_other_repository" => {
                    if let Some(b) = v.boolean(x, &what) {
                        rule.allow_other_repository = b;
                    }
                }
                other => v.unknown(k.span, "base_signatures", other, KEYS),
            }
        }
        if rule.images.is_empty() || rule.keys.is_empty() {
            v.err(
                item.span,
                "each [[base_signatures]] needs `images` and `keys`",
            );
            continue;
        }
        out.push(rule);
    }
    out
}
