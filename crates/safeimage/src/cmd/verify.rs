//! `safeimage verify`: check an image's signatures (cosign's `.sig` tag and
//! Sigstore bundles among its OCI 1.1 referrers) with one or more public
//! keys, the claims they make (digest, `-a` annotations), and optionally
//! that signed attestations of given types are attached. Exit 0 verified,
//! 1 not verified (the reason on stderr), 2 an error.
//!
//! No transparency log is consulted (cosign's `--insecure-ignore-tlog`);
//! unless that flag is given, a note says so.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Lines of text.
    Text,
    /// The full report as JSON.
    Json,
}

/// Arguments of `safeimage verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image (registry reference; a tag is resolved to its digest).
    image: oci::ImageRef,
    /// A public key (PEM); any one of them may have signed; repeatable.
    #[arg(long, value_name = "FILE", required = true)]
    key: Vec<PathBuf>,
    /// An annotation the signature must carry; repeatable.
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE")]
    annotations: Vec<String>,
    /// Also require a signed attestation: sbom, provenance, vuln, gate or a predicate type URI; repeatable.
    #[arg(long, value_name = "TYPE")]
    require: Vec<String>,
    /// Accept a signature made for another repository (the image is a
    /// mirror of a signed one); otherwise the signed `docker-reference`
    /// must be the repository verified.
    #[arg(long)]
    allow_other_repository: bool,
    /// Acknowledge that no transparency log is checked (silences the note).
    #[arg(long)]
    insecure_ignore_tlog: bool,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    format: Format,
    /// Registry to reach over plain HTTP (loopback registries always are); repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    insecure_registry: Vec<String>,
}

/// Runs `safeimage verify`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let mut req = provenance::verify::Requirements {
        annotations: crate::shared::keys::annotations(&a.annotations)?,
        attestations: Vec::new(),
        allow_other_repository: a.allow_other_repository,
    };
    for r in &a.require {
        match provenance::predicate::parse(r) {
            Some(t) => req.attestations.push(t),
            None => bail!(
                "--require `{r}`: unknown type (sbom, provenance, vuln, gate, or a predicate type URI)"
            ),
        }
    }
    let keys = a
        .key
        .iter()
        .map(|p| provenance::keys::load_public(p))
        .collect::<Result<Vec<_>, _>>()?;
    let (repo, digest, _, _) = crate::shared::keys::locate(&a.image, &a.insecure_registry)?;
    let repository = a.image.full_name();
    let report = provenance::verify::verify(&repo, &repository, &digest, &keys, &req)?;
    let failure = report.failure(&req);
    match a.format {
        Format::Json => {
            let mut v = serde_json::to_value(&report)?;
            v["verified"] = serde_json::Value::Bool(failure.is_none());
            if let Some(f) = &failure {
                v["failure"] = serde_json::Value::String(report.message(f));
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Text if failure.is_none() => {
            println!("Verified {repository}@{digest}");
            for s in &report.signatures {
                println!(
                    "  signature    {}  key {} (SHA-256 {})",
                    s.source,
                    s.key,
                    &s.fingerprint[..16]
                );
            }
            for t in &report.attestations {
                println!(
                    "  attestation  {}  {}  key {}",
                    t.predicate_type, t.source, t.key
                );
            }
        }
        Format::Text => {}
    }
    if !a.insecure_ignore_tlog {
        eprintln!(
            "note: no transparency log was checked: key-based verification only (as cosign's --insecure-ignore-tlog)"
        );
    }
    match failure {
        None => Ok(ExitCode::SUCCESS),
        Some(f) => {
            eprintln!(
                "verification failed: {}",
                findings::text::clean_lines(&report.message(&f))
            );
            Ok(ExitCode::from(1))
        }
    }
}
