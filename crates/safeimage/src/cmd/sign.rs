//! `safeimage sign`: sign an image in a registry with a cosign key, the way
//! `cosign sign --key` does (simple-signing payload under the `.sig` tag),
//! and optionally attach files as signed attestations (OCI 1.1 referrers).
//! A tag is resolved to its digest once; the digest is what is signed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

/// Arguments of `safeimage sign`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image (registry reference; a tag is resolved to its digest).
    image: oci::ImageRef,
    /// The cosign private key (password from COSIGN_PASSWORD or the terminal).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// An annotation for the signature payload; repeatable.
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE")]
    annotations: Vec<String>,
    /// Attach FILE (JSON) as a signed attestation of TYPE: sbom, provenance, vuln, gate or a predicate type URI; repeatable.
    #[arg(long, value_name = "TYPE=FILE")]
    attach: Vec<String>,
    /// Write the signature as a Sigstore bundle referrer (cosign's --new-bundle-format) instead of under the .sig tag.
    #[arg(long)]
    new_bundle_format: bool,
    /// For a multi-platform index, also sign each platform's manifest.
    #[arg(long)]
    recursive: bool,
    /// Registry to reach over plain HTTP (loopback registries always are); repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    insecure_registry: Vec<String>,
}

/// Runs `safeimage sign`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let ann = crate::shared::keys::annotations(&a.annotations)?;
    let mut attach = Vec::new();
    for x in &a.attach {
        let Some((kind, file)) = x.split_once('=') else {
            bail!("--attach `{x}`: expected TYPE=FILE");
        };
        let predicate_type = match provenance::predicate::parse(kind) {
            Some(t) => t,
            None => bail!(
                "--attach `{x}`: unknown type `{kind}` (sbom, provenance, vuln, gate, or a predicate type URI)"
            ),
        };
        let text = std::fs::read(file).with_context(|| format!("--attach: {file}"))?;
        let value: serde_json::Value = serde_json::from_slice(&text)
            .with_context(|| format!("--attach: {file} is not JSON"))?;
        attach.push((predicate_type, value));
    }
    let pw = crate::shared::keys::password(false)?;
    let key = provenance::keys::load_private(&a.key, pw.as_bytes())?;
    drop(pw);
    let (repo, digest, size, media_type) =
        crate::shared::keys::locate(&a.image, &a.insecure_registry)?;
    let repository = a.image.full_name();
    let subject = provenance::sign::Subject {
        repository: &repository,
        digest: &digest,
        media_type: &media_type,
        size,
    };
    let created = super::output_time().to_string();
    let mut subjects = vec![(digest.clone(), size, media_type.clone())];
    if a.recursive && oci::image::is_index(Some(&media_type), &[]) {
        let (bytes, _) = repo
            .fetch_manifest(&digest.to_string())?
            .with_context(|| format!("{repository}@{digest}: the index is gone"))?;
        let idx: oci::image::Index =
            oci::image::parse_json(&bytes, &format!("{repository}@{digest}"))?;
        for m in idx.manifests {
            let d: oci::Digest = m.digest.parse()?;
            subjects.push((d, m.size.max(0) as u64, m.media_type));
        }
    }
    for (d, size, media_type) in &subjects {
        let subject = provenance::sign::Subject {
            repository: &repository,
            digest: d,
            media_type,
            size: *size,
        };
        if a.new_bundle_format {
            let r = provenance::sign::sign_bundle(&repo, &key, &subject, &ann, &created)?;
            println!("Signed {repository}@{d} (bundle referrer {r})");
        } else {
            let s = provenance::sign::sign(&repo, &key, &subject, &ann)?;
            println!(
                "{} {repository}@{d} ({}: {})",
                if s.already {
                    "Already signed"
                } else {
                    "Signed"
                },
                s.tag,
                s.manifest
            );
        }
    }
    for (t, v) in attach {
        let d = provenance::sign::attach(&repo, &key, &subject, &t, v, &created)?;
        println!("Attached {t} to {repository}@{digest} (referrer {d})");
    }
    Ok(ExitCode::SUCCESS)
}
