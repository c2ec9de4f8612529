//! Provenance in the run. Before building: every base matching a
//! `[[base_signatures]]` rule must carry a valid signature by one of the
//! rule's keys, or the image is blocked and nothing is built. After the
//! gate and before any tag moves (so no tag ever names an unsigned image):
//! the digest is signed with the `[sign]` key (cosign's `.sig` layout; an
//! index's platform manifests too) and
//! the evidence is attached, each signed, as OCI 1.1 referrers: the
//! CycloneDX SBOM and the vulnerability summary of each platform's
//! manifest, the SLSA provenance and the gate decision of the image.

use std::collections::BTreeMap;

use model::{ImageOutcome, Step};
use oci::Digest;
use provenance::predicate;
use provenance::sign::Subject;

use crate::cx::ImageCx;
use crate::signer::Signer;
use crate::steps::resolve::Resolved;
use crate::steps::{StepError, Stop};

fn failed(e: impl Into<StepError>, step: Step) -> Stop {
    Stop::Failed(step, Box::new(e.into()))
}

/// Checks the bases' signatures; the reasons it blocks, for people.
pub fn verify_bases(cx: &ImageCx<'_>, resolved: &Resolved) -> Result<usize, Stop> {
    let mut blocked = Vec::new();
    let mut checked = 0;
    for b in &resolved.bases {
        let name = b.reference.full_name();
        let rules: Vec<_> = cx
            .config
            .base_signatures
            .iter()
            .filter(|r| r.images.iter().any(|p| p.matches(&name)))
            .collect();
        if rules.is_empty() {
            continue;
        }
        let store = cx
            .registry
            .artifacts(&b.reference)
            .map_err(|e| failed(StepError::Provenance(e.into()), Step::Verify))?;
        for rule in rules {
            let req = provenance::verify::Requirements {
                allow_other_repository: rule.allow_other_repository,
                ..Default::default()
            };
            let report =
                provenance::verify::verify(store.as_ref(), &name, &b.digest, &rule.keys, &req)
                    .map_err(|e| failed(e, Step::Verify))?;
            checked += 1;
            if let Some(f) = report.failure(&req) {
                let keys: Vec<&str> = rule.keys.iter().map(|k| k.name()).collect();
                blocked.push(format!(
                    "base image {} is not signed by a required key ({}): {}",
                    b.reference,
                    keys.join(", "),
                    report.message(&f)
                ));
            }
        }
    }
    if blocked.is_empty() {
        Ok(checked)
    } else {
        Err(Stop::Blocked(blocked))
    }
}

/// The file the scan step leaves each platform's CycloneDX SBOM in.
pub fn sbom_file(cx: &ImageCx<'_>, platform: &oci::Platform) -> std::path::PathBuf {
    cx.work.join(format!(
        "sbom-{}.cdx.json",
        platform.to_string().replace('/', "-")
    ))
}

/// Signs `digest` and attaches the evidence; returns what was attached
/// (predicate types), for the record.
pub fn sign(
    cx: &ImageCx<'_>,
    signer: &Signer,
    digest: &Digest,
    o: &ImageOutcome,
) -> Result<Vec<String>, Stop> {
    let step = Step::Sign;
    let repo = &cx.spec.repository;
    let repo_name = repo.full_name();
    let store = cx
        .registry
        .artifacts(repo)
        .map_err(|e| failed(StepError::Provenance(e.into()), step))?;
    let oci::push::Described { size, media_type } = cx
        .registry
        .describe(repo, digest)
        .map_err(|e| failed(StepError::Provenance(e.into()), step))?;
    let subject = Subject {
        repository: &repo_name,
        digest,
        media_type: &media_type,
        size,
    };
    let mut ann = BTreeMap::from([("safeimage.run".to_string(), cx.run.to_string())]);
    ann.insert("safeimage.image".into(), cx.spec.name.to_string());
    provenance::sign::sign(store.as_ref(), &signer.key, &subject, &ann)
        .map_err(|e| failed(e, step))?;
    let created = cx.today.to_string();
    let mut attached = Vec::new();
    let wants = |t: &str| signer.spec.attach.iter().any(|a| a == t);
    let multi = o.platforms.len() > 1;
    for p in &o.platforms {
        let Some(pd) = &p.digest else { continue };
        let (psize, pmt) = if multi {
            let d = cx
                .registry
                .describe(repo, pd)
                .map_err(|e| failed(StepError::Provenance(e.into()), step))?;
            (d.size, d.media_type)
        } else {
            (size, media_type.clone())
        };
        let psub = Subject {
            repository: &repo_name,
            digest: pd,
            media_type: &pmt,
            size: psize,
        };
        if multi {
            // Each platform's manifest too (cosign's --recursive): a pull
            // by platform digest verifies as well as one by the index.
            provenance::sign::sign(store.as_ref(), &signer.key, &psub, &ann)
                .map_err(|e| failed(e, step))?;
            attached.push(format!("signature ({})", p.platform));
        }
        // A platform kept from the last promotion was not scanned this
        // run, so it has no SBOM here; one that was must have it.
        if wants(predicate::CYCLONEDX) && p.rebuilt {
            let file = sbom_file(cx, &p.platform);
            let bytes = std::fs::read(&file).map_err(|source| {
                failed(
                    StepError::Work {
                        path: file.clone(),
                        source,
                    },
                    step,
                )
            })?;
            let bom: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                failed(
                    StepError::Provenance(provenance::ProvenanceError::Format {
                        what: file.display().to_string(),
                        message: e.to_string(),
                    }),
                    step,
                )
            })?;
            provenance::sign::attach(
                store.as_ref(),
                &signer.key,
                &psub,
                predicate::CYCLONEDX,
                bom,
                &created,
            )
            .map_err(|e| failed(e, step))?;
            attached.push(format!("{} ({})", predicate::CYCLONEDX, p.platform));
        }
        if wants(predicate::OPENVEX) && p.rebuilt {
            // what the run's ignore rules and VEX documents said of this
            // platform's findings, and what the last promotion had that is gone
            let gone: Vec<&scan::Finding> = cx
                .history
                .promoted
                .as_ref()
                .and_then(|h| h.findings_for(&p.platform))
                .map(|prev| scan::baseline::gone(&p.findings, prev))
                .unwrap_or_default();
            let v = scan::vex::openvex(
                &p.findings,
                &gone,
                &scan::vex::Product {
                    name: repo_name.clone(),
                    digest: Some(pd.to_string()),
                },
                &created,
                concat!("safeimage ", env!("CARGO_PKG_VERSION")),
            );
            provenance::sign::attach(
                store.as_ref(),
                &signer.key,
                &psub,
                predicate::OPENVEX,
                v,
                &created,
            )
            .map_err(|e| failed(e, step))?;
            attached.push(format!("{} ({})", predicate::OPENVEX, p.platform));
        }
        if wants(predicate::VULN) {
            let v = vuln_predicate(p, &created);
            provenance::sign::attach(
                store.as_ref(),
                &signer.key,
                &psub,
                predicate::VULN,
                v,
                &created,
            )
            .map_err(|e| failed(e, step))?;
            attached.push(format!("{} ({})", predicate::VULN, p.platform));
        }
    }
    if wants(predicate::SLSA_PROVENANCE) {
        let v = slsa_predicate(cx, o, &created);
        provenance::sign::attach(
            store.as_ref(),
            &signer.key,
            &subject,
            predicate::SLSA_PROVENANCE,
            v,
            &created,
        )
        .map_err(|e| failed(e, step))?;
        attached.push(predicate::SLSA_PROVENANCE.to_string());
    }
    if wants(predicate::GATE) {
        let v = serde_json::json!({
            "decision": "pass",
            "run": cx.run.to_string(),
            "gate": {
                "fail_on": cx.spec.gate.fail_on.map(|s| s.to_string()),
                "only_fixed": cx.spec.gate.only_fixed,
                "fail_on_new": cx.spec.gate.fail_on_new.map(|s| s.to_string()),
                "fail_on_increase": cx.spec.gate.fail_on_increase,
            },
            "baseline": o.baseline.as_ref().map(|b| serde_json::to_value(b).unwrap_or_default()),
            "platforms": o.platforms.iter().map(|p| serde_json::json!({
                "platform": p.platform.to_string(),
                "digest": p.digest.as_ref().map(|d| d.to_string()),
                "counts": p.counts.iter().map(|(s, n)| (s.to_string(), *n)).collect::<BTreeMap<_, _>>(),
                "fixable": p.fixable,
                "reasons": p.reasons,
            })).collect::<Vec<_>>(),
            "secrets": o.secrets.len(),
            "decidedOn": created,
        });
        provenance::sign::attach(
            store.as_ref(),
            &signer.key,
            &subject,
            predicate::GATE,
            v,
            &created,
        )
        .map_err(|e| failed(e, step))?;
        attached.push(predicate::GATE.to_string());
    }
    Ok(attached)
}

/// A scan summary in cosign's vuln predicate shape.
fn vuln_predicate(p: &model::PlatformOutcome, created: &str) -> serde_json::Value {
    serde_json::json!({
        "invocation": { "uri": "", "event_id": "", "builder.id": "", "parameters": null },
        "scanner": {
            "uri": "https://safeimage.dev/safeimage",
            "version": env!("CARGO_PKG_VERSION"),
            "result": {
                "counts": p.counts.iter().map(|(s, n)| (s.to_string(), *n)).collect::<BTreeMap<_, _>>(),
                "fixable": p.fixable,
                "findings": p.findings.iter().filter(|f| f.suppressed.is_none()).map(|f| serde_json::json!({
                    "id": f.id.to_string(),
                    "package": f.package,
                    "severity": f.severity.to_string(),
                    "fixed": f.fixed_version,
                })).collect::<Vec<_>>(),
            },
        },
        "metadata": { "scanStartedOn": created, "scanFinishedOn": created },
    })
}

/// SLSA provenance v1 for the image.
fn slsa_predicate(cx: &ImageCx<'_>, o: &ImageOutcome, created: &str) -> serde_json::Value {
    let spec = cx.spec;
    let mut deps: Vec<serde_json::Value> = Vec::new();
    for b in &o.bases {
        for p in &b.platforms {
            deps.push(serde_json::json!({
                "uri": format!("oci://{}", b.reference),
                "digest": { p.digest.algorithm(): p.digest.encoded() },
                "annotations": { "platform": p.platform.to_string(), "index": b.digest.to_string() },
            }));
        }
        if b.platforms.is_empty() {
            deps.push(serde_json::json!({
                "uri": format!("oci://{}", b.reference),
                "digest": { b.digest.algorithm(): b.digest.encoded() },
            }));
        }
    }
    if let Some(commit) = git_commit(&spec.context) {
        deps.push(serde_json::json!({
            "uri": format!("git+file://{}", spec.context.display()),
            "digest": { "gitCommit": commit },
        }));
    }
    serde_json::json!({
        "buildDefinition": {
            "buildType": "https://safeimage.dev/build/v1",
            "externalParameters": {
                "image": spec.name,
                "repository": spec.repository.full_name(),
                "context": spec.context.display().to_string(),
                "dockerfile": spec.dockerfile.display().to_string(),
                "target": spec.target,
                "platforms": spec.platforms().iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                "buildArgs": spec.build_args,
                "hardened": spec.harden.is_some(),
            },
            "internalParameters": { "engine": cx.engine.name(), "noCache": true },
            "resolvedDependencies": deps,
        },
        "runDetails": {
            "builder": { "id": format!("https://safeimage.dev/safeimage@{}", env!("CARGO_PKG_VERSION")) },
            "metadata": { "invocationId": format!("run-{}", cx.run), "startedOn": created },
        },
    })
}

fn git_commit(dir: &std::path::Path) -> Option<String> {
    let out = sandbox::git::command(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}
