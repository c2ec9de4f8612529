//! Keys and signatures on the command line: the key password
//! (`COSIGN_PASSWORD` or the terminal), `-a KEY=VALUE` annotations, and
//! locating an image in its registry (digest, size, media type) for
//! `sign`, `verify` and `db push`.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use anyhow::{Context, bail};
use zeroize::Zeroizing;

/// The key password: `COSIGN_PASSWORD` when set (empty allowed), else
/// asked on the terminal (twice when `confirm`).
pub fn password(confirm: bool) -> anyhow::Result<Zeroizing<String>> {
    if let Some(p) = settings::env::named(settings::env::COSIGN_PASSWORD.name) {
        return Ok(Zeroizing::new(p));
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "no key password: set {} (an empty value means an empty password) or run on a terminal",
            settings::env::COSIGN_PASSWORD.name
        );
    }
    let p = Zeroizing::new(rpassword::prompt_password(
        "Enter password for private key: ",
    )?);
    if confirm {
        let again = Zeroizing::new(rpassword::prompt_password(
            "Enter password for private key again: ",
        )?);
        if *again != *p {
            bail!("the passwords do not match");
        }
    }
    Ok(p)
}

/// `-a k=v` flags as a map.
pub fn annotations(flags: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    flags
        .iter()
        .map(|f| match f.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("annotation `{f}`: expected KEY=VALUE"),
        })
        .collect()
}

/// The image's repository connection, digest, size and media type.
pub fn locate(
    image: &oci::ImageRef,
    insecure: &[String],
) -> anyhow::Result<(oci::push::Repo, oci::Digest, u64, String)> {
    let opts = oci::source::RegistryOptions {
        insecure: insecure.to_vec(),
        ..Default::default()
    };
    let repo = oci::push::Repo::connect(image, &opts)?;
    let digest = match image.digest() {
        Some(d) => d.clone(),
        None => {
            let tag = image.tag().unwrap_or("latest");
            repo.head(tag)?
                .with_context(|| format!("{image}: not found in the registry"))?
        }
    };
    let d = repo.describe(&digest)?;
    Ok((repo, digest, d.size, d.media_type))
}
