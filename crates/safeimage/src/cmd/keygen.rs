//! `safeimage keygen`: a new ECDSA P-256 key pair in cosign's formats
//! (`PREFIX.key`, sealed with a password, mode 0600; `PREFIX.pub`, PEM).
//! The private key is never written unsealed. Also the password reading
//! shared by `sign` and `keygen`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

/// Arguments of `safeimage keygen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(long, value_name = "PREFIX", default_value = "cosign")]
    output_key_prefix: PathBuf,
    /// Replace existing files.
    #[arg(long)]
    force: bool,
}

/// Runs `safeimage keygen`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let with = |ext: &str| {
        let mut s = a.output_key_prefix.clone().into_os_string();
        s.push(ext);
        PathBuf::from(s)
    };
    let (key_path, pub_path) = (with(".key"), with(".pub"));
    for p in [&key_path, &pub_path] {
        if !a.force && p.exists() {
            bail!(
                "{}: already exists (use --force to replace it)",
                p.display()
            );
        }
    }
    let pw = crate::shared::keys::password(true)?;
    let key = provenance::PrivateKey::generate();
    let sealed = key.to_encrypted_pem(pw.as_bytes())?;
    safefs::write(&key_path, sealed.as_bytes(), safefs::Mode::Private)
        .with_context(|| format!("writing {}", key_path.display()))?;
    let public = key.public(&pub_path.display().to_string());
    safefs::write(&pub_path, public.to_pem().as_bytes(), safefs::Mode::Public)
        .with_context(|| format!("writing {}", pub_path.display()))?;
    eprintln!(
        "Private key written to {} (sealed with the password)\nPublic key written to {} (SHA-256 {})",
        key_path.display(),
        pub_path.display(),
        public.fingerprint()
    );
    Ok(ExitCode::SUCCESS)
}
