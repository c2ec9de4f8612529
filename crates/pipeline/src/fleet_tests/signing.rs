//! Provenance in the run: bases that must be signed (and by whom, and for
//! which repository), and signing with attachments before any tag moves.

use super::*;

/// A key pair in the fleet's directory: `NAME.key` sealed with the
/// password `pipeline` (the value of CARGO_PKG_NAME, which cargo sets for
/// this test binary: the tests cannot set variables themselves), `NAME.pub`.
fn key_pair(w: &World, name: &str) -> provenance::PrivateKey {
    let k = provenance::PrivateKey::generate();
    std::fs::write(
        w.dir.path().join(format!("{name}.key")),
        k.to_encrypted_pem(b"pipeline").unwrap().as_bytes(),
    )
    .unwrap();
    std::fs::write(
        w.dir.path().join(format!("{name}.pub")),
        k.public(name).to_pem(),
    )
    .unwrap();
    k
}

fn sign_base(w: &World, key: &provenance::PrivateKey, digest: &Digest) {
    sign_base_as(w, key, digest, "r.example/base/debian");
}

/// Signs the base's digest with a payload naming `repository`.
fn sign_base_as(w: &World, key: &provenance::PrivateKey, digest: &Digest, repository: &str) {
    let store = w.registry.artifacts_of("r.example/base/debian");
    let subject = provenance::sign::Subject {
        repository,
        digest,
        media_type: oci::write::media::MANIFEST,
        size: 1234,
    };
    provenance::sign::sign(store.as_ref(), key, &subject, &Default::default()).unwrap();
}

/// `[sign]` with `cosign.key` (see [`key_pair`] for the password).
const SIGN_SECTION: &str = "[sign]\nkey = \"cosign.key\"\npassword_env = \"CARGO_PKG_NAME\"\n";

const BASE_RULE: &str =
    "[[base_signatures]]\nimages = [\"r.example/base/*\"]\nkeys = [\"base.pub\"]\n";

#[test]
fn an_unsigned_base_is_blocked_before_building() {
    let mut w = world("", BASE_RULE);
    key_pair(&w, "base");
    let a = w.run();
    let a = app(&a);
    assert_eq!(a.outcome, Outcome::Blocked);
    assert!(
        a.reasons[0]
            .contains("base image r.example/base/debian:12 is not signed by a required key")
            && a.reasons[0].contains("no signature found"),
        "{:?}",
        a.reasons
    );
    assert_eq!(w.engine.build_count(), 0);
    assert!(w.tag("latest").is_none());
}

#[test]
fn a_base_signed_by_another_key_is_blocked() {
    let mut w = world("", BASE_RULE);
    key_pair(&w, "base");
    sign_base(&w, &provenance::PrivateKey::generate(), &dg('a'));
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Blocked);
    assert!(
        a.reasons[0].contains("does not verify with any of the given keys"),
        "{:?}",
        a.reasons
    );
    assert_eq!(w.engine.build_count(), 0);
}

#[test]
fn a_signature_for_the_previous_base_does_not_cover_the_new_one() {
    let mut w = world("", BASE_RULE);
    let k = key_pair(&w, "base");
    sign_base(&w, &k, &dg('a'));
    assert_eq!(app(&w.run()).outcome, Outcome::Promoted);
    assert_eq!(app(&w.run()).bases_verified, 1);
    // The tag moves to a new, unsigned base.
    w.base('b');
    let r = w.run();
    assert_eq!(app(&r).outcome, Outcome::Blocked, "{:?}", app(&r).reasons);
}

#[test]
fn a_base_signature_made_for_another_repository_is_blocked_unless_the_rule_allows_it() {
    let mut w = world("", BASE_RULE);
    let k = key_pair(&w, "base");
    // the same digest, signed as another repository's image, copied here
    sign_base_as(&w, &k, &dg('a'), "r.example/other/debian");
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Blocked);
    assert!(
        a.reasons[0].contains("made for r.example/other/debian, not for this repository"),
        "{:?}",
        a.reasons
    );
    assert_eq!(w.engine.build_count(), 0);
    let mut mirror = world("", &format!("{BASE_RULE}allow_other_repository = true\n"));
    let k = key_pair(&mirror, "base");
    sign_base_as(&mirror, &k, &dg('a'), "r.example/other/debian");
    assert_eq!(app(&mirror.run()).outcome, Outcome::Promoted);
}

#[test]
fn promotion_signs_and_attaches_before_any_tag_moves() {
    let mut w = world("", SIGN_SECTION);
    let k = key_pair(&w, "cosign");
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Promoted, "{:?}", a.reasons);
    let digest = a.digest.clone().unwrap();
    assert_eq!(a.signed.len(), 6, "{:?}", a.signed);
    let store = w.registry.artifacts_of("r.example/fleet/app");
    let req = provenance::verify::Requirements {
        attestations: [
            provenance::predicate::CYCLONEDX,
            provenance::predicate::SLSA_PROVENANCE,
            provenance::predicate::VULN,
            provenance::predicate::GATE,
            provenance::predicate::OPENVEX,
        ]
        .map(str::to_string)
        .to_vec(),
        ..Default::default()
    };
    let report = provenance::verify::verify(
        store.as_ref(),
        "r.example/fleet/app",
        &digest,
        &[k.public("cosign.pub")],
        &req,
    )
    .unwrap();
    assert!(report.failure(&req).is_none(), "{report:?}");
    let slsa = report
        .attestations
        .iter()
        .find(|t| t.predicate_type == provenance::predicate::SLSA_PROVENANCE)
        .unwrap();
    let deps = &slsa.predicate["buildDefinition"]["resolvedDependencies"];
    assert_eq!(deps[0]["uri"], "oci://r.example/base/debian:12");
    // the VEX speaks of this image by digest, each finding under investigation
    let vex = report
        .attestations
        .iter()
        .find(|t| t.predicate_type == provenance::predicate::OPENVEX)
        .unwrap();
    let statements = vex.predicate["statements"].as_array().unwrap();
    assert_eq!(statements.len(), a.findings.len(), "{}", vex.predicate);
    for st in statements {
        assert_eq!(st["status"], "under_investigation");
        let product = st["products"][0]["@id"].as_str().unwrap();
        assert!(
            product.contains(&digest.to_string().replace(':', "%3A")),
            "{product}"
        );
    }
    let calls = w.registry.calls();
    let signed_at = calls
        .iter()
        .position(|c| c == "artifacts r.example/fleet/app")
        .unwrap();
    let first_tag = calls.iter().position(|c| c.starts_with("tag ")).unwrap();
    assert!(signed_at < first_tag, "{calls:?}");
}

#[test]
fn a_wrong_signing_password_stops_the_run_before_anything_is_built() {
    let mut w = world("", SIGN_SECTION);
    let k = provenance::PrivateKey::generate();
    std::fs::write(
        w.dir.path().join("cosign.key"),
        k.to_encrypted_pem(b"something else").unwrap().as_bytes(),
    )
    .unwrap();
    let e = w
        .run_with(Options {
            jobs: 1,
            ..Options::default()
        })
        .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("cosign.key: wrong password for this private key (or the file is damaged)"),
        "{e}"
    );
    assert_eq!(w.engine.build_count(), 0);
}

#[test]
fn a_signed_index_has_each_platform_signed_with_its_own_sbom() {
    let mut w = super::platforms::two_platform_world_with("", SIGN_SECTION);
    let k = key_pair(&w, "cosign");
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Promoted, "{:?}", a.reasons);
    let store = w.registry.artifacts_of("r.example/fleet/app");
    let keys = [k.public("cosign.pub")];
    let sbom = provenance::verify::Requirements {
        attestations: vec![provenance::predicate::CYCLONEDX.to_string()],
        ..Default::default()
    };
    for p in &a.platforms {
        let d = p.digest.as_ref().unwrap();
        let report =
            provenance::verify::verify(store.as_ref(), "r.example/fleet/app", d, &keys, &sbom)
                .unwrap();
        assert!(
            report.failure(&sbom).is_none(),
            "{}: {report:?}",
            p.platform
        );
        let bom = &report
            .attestations
            .iter()
            .find(|t| t.predicate_type == provenance::predicate::CYCLONEDX)
            .unwrap()
            .predicate;
        assert_eq!(
            bom["metadata"]["component"]["version"],
            d.to_string(),
            "{bom}"
        );
    }
    let index = a.digest.clone().unwrap();
    let prov = provenance::verify::Requirements {
        attestations: vec![provenance::predicate::SLSA_PROVENANCE.to_string()],
        ..Default::default()
    };
    let report =
        provenance::verify::verify(store.as_ref(), "r.example/fleet/app", &index, &keys, &prov)
            .unwrap();
    assert!(report.failure(&prov).is_none(), "{report:?}");
    let slsa = report
        .attestations
        .iter()
        .find(|t| t.predicate_type == provenance::predicate::SLSA_PROVENANCE)
        .unwrap();
    let deps = slsa.predicate["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(deps, 2, "the base per platform");
}
