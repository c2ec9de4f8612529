//! SBOM documents are valid: CycloneDX 1.6 against the official JSON schema
//! (fetched by scripts/fetch-test-schemas from the CycloneDX npm package), and
//! SPDX 2.3 with the SPDX project's own validator (`pyspdxtools`, PyPI
//! `spdx-tools`), SPDX 3.0.1 with the SPDX project's bindings of the 3.0.1
//! model (PyPI `spdx-python-model`, generated from the SHACL model). Input: a small root filesystem with dpkg, Python and npm
//! records, read through `dir:`.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::cyclonedx_validator;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn rootfs() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(
        r,
        "etc/os-release",
        "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
    );
    write(
        r,
        "var/lib/dpkg/status",
        "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.15-1~deb12u1\n\nPackage: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib (1:1.2.13.dfsg-1)\nVersion: 1:1.2.13.dfsg-1\n\nPackage: removed\nStatus: deinstall ok config-files\nVersion: 1\n",
    );
    write(
        r,
        "usr/share/doc/libssl3/copyright",
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: Apache-2.0\n",
    );
    write(
        r,
        "opt/venv/lib/python3.11/site-packages/Jinja2-2.11.2.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.11.2\nLicense: BSD-3-Clause\nClassifier: License :: OSI Approved :: BSD License\n\nlong description\nName: not-this\n",
    );
    write(
        r,
        "srv/app/node_modules/@types/ms/package.json",
        r#"{"name":"@types/ms","version":"0.7.34","license":"MIT"}"#,
    );
    d
}

fn sbom(root: &Path, format: &str) -> Value {
    sbom_with(root, format, &[])
}

fn sbom_with(root: &Path, format: &str, extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .args([
            "sbom",
            &format!("dir:{}", root.display()),
            "-f",
            format,
            "--no-cache",
        ])
        .args(extra)
        .env("SOURCE_DATE_EPOCH", "1795478400")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn cyclonedx_is_valid_against_the_official_schema() {
    let root = rootfs();
    let bom = sbom(root.path(), "cyclonedx-json");
    let validator = cyclonedx_validator("1.6");
    let errors: Vec<String> = validator
        .iter_errors(&bom)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let purls: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    assert_eq!(
        purls,
        [
            "pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12",
            "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12",
            "pkg:pypi/jinja2@2.11.2",
            "pkg:npm/%40types/ms@0.7.34",
        ]
    );
    assert_eq!(bom["components"][0]["type"], "operating-system");
}

#[test]
fn cyclonedx_1_7_is_valid_against_its_schema_and_says_what_1_6_says() {
    let root = rootfs();
    let bom = sbom_with(root.path(), "cyclonedx-json", &["--spec", "1.7"]);
    let validator = cyclonedx_validator("1.7");
    let errors: Vec<String> = validator
        .iter_errors(&bom)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(bom["specVersion"], "1.7");
    // the same document as 1.6 but for the version it declares
    let mut old = sbom(root.path(), "cyclonedx-json");
    assert_eq!(old["specVersion"], "1.6");
    old["specVersion"] = bom["specVersion"].clone();
    old["$schema"] = bom["$schema"].clone();
    assert_eq!(old, bom);
    // and the 1.7 schema is not one that accepts anything
    let mut bad = bom.clone();
    bad["components"][0]["type"] = "no-such-type".into();
    assert!(!validator.is_valid(&bad));
}

#[test]
fn spdx_is_valid_per_the_spdx_tools_validator() {
    let root = rootfs();
    let doc = sbom(root.path(), "spdx-json");
    let file = root.path().join("sbom.spdx.json");
    std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let out = Command::new("python3")
        .args(["-m", "spdx_tools.spdx.clitools.pyspdxtools", "-i"])
        .arg(&file)
        .output()
        .expect("python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "pyspdxtools rejected the document (pip install spdx-tools):\n{text}"
    );
    assert!(!text.to_lowercase().contains("invalid"), "{text}");
    assert_eq!(
        doc["packages"].as_array().unwrap().len(),
        5,
        "image + 4 packages"
    );
}

/// Reads an SPDX 3 JSON-LD file with the SPDX project's 3.0.1 bindings
/// (unknown classes or properties, values of the wrong type or pattern are
/// errors) and writes it back out (a required property missing, or more
/// values than the model allows, is an error); prints the count of each
/// element type.
const SPDX3_CHECK: &str = r#"
import sys, json, io, collections
from spdx_python_model import v3_0_1 as m
objs = m.SHACLObjectSet()
m.JSONLDDeserializer().read(open(sys.argv[1]), objs)
m.JSONLDSerializer().write(objs, io.BytesIO())
print(json.dumps(collections.Counter(type(o).__name__ for o in objs.objects)))
"#;

fn spdx3_check(doc: &Value) -> Result<Value, String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sbom.spdx3.json");
    std::fs::write(&file, serde_json::to_string_pretty(doc).unwrap()).unwrap();
    let out = Command::new("python3")
        .args(["-c", SPDX3_CHECK])
        .arg(&file)
        .output()
        .expect("python3");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Validates an SPDX 3 JSON-LD document with pySHACL against SPDX 3.0.1's
/// SHACL model (generated from the spdx-3-model repository at tag 3.0.1,
/// pinned in testdata/schemas), reading it through the model's own JSON-LD
/// context; prints the report and fails when it does not conform.
const SHACL_CHECK: &str = r#"
import gzip, json, sys
import rdflib, pyshacl
doc = json.load(open(sys.argv[1]))
ctx = json.load(gzip.open(sys.argv[3]))
assert doc["@context"] == "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", doc["@context"]
doc["@context"] = ctx["@context"]
data = rdflib.Graph().parse(data=json.dumps(doc), format="json-ld")
shapes = rdflib.Graph().parse(data=gzip.open(sys.argv[2]).read(), format="turtle")
ok, _, text = pyshacl.validate(data, shacl_graph=shapes, ont_graph=shapes, inference="none", advanced=True)
print(len(data), "triples")
print(text)
sys.exit(0 if ok else 1)
"#;

fn shacl_check(doc: &Value) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sbom.spdx3.json");
    std::fs::write(&file, serde_json::to_string(doc).unwrap()).unwrap();
    let schemas = support::repo().join("testdata/schemas/spdx-3.0.1");
    let out = Command::new("python3")
        .args(["-c", SHACL_CHECK])
        .arg(&file)
        .arg(schemas.join("spdx-model.ttl.gz"))
        .arg(schemas.join("spdx-context.jsonld.gz"))
        .output()
        .expect("python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

#[test]
fn spdx_3_conforms_to_the_spdx_3_0_1_shacl_model() {
    let root = rootfs();
    let doc = sbom(root.path(), "spdx3-json");
    let report = shacl_check(&doc).unwrap_or_else(|e| {
        panic!("not conformant to SPDX 3.0.1's SHACL model (pip install pyshacl):\n{e}")
    });
    assert!(report.contains("Conforms: True"), "{report}");
    // a value outside the model's vocabulary and a missing required
    // property are caught
    let mut bad = doc.clone();
    for e in bad["@graph"].as_array_mut().unwrap() {
        if e["type"] == "software_Package" {
            e["software_primaryPurpose"] = "no-such-purpose".into();
        }
        if e["type"] == "CreationInfo" {
            e.as_object_mut().unwrap().remove("createdBy");
        }
    }
    let e = shacl_check(&bad).unwrap_err();
    assert!(
        e.contains("SoftwarePurpose/no-such-purpose") && e.contains("createdBy"),
        "{e}"
    );
}

#[test]
fn spdx_3_is_read_and_rewritten_by_the_spdx_3_0_1_model_bindings() {
    let root = rootfs();
    let doc = sbom(root.path(), "spdx3-json");
    let counts = spdx3_check(&doc).unwrap_or_else(|e| {
        panic!("the SPDX 3.0.1 model rejected the document (pip install spdx-python-model):\n{e}")
    });
    // image + operating system + 4 packages; one document, one SBOM
    assert_eq!(counts["software_Package"], 6, "{counts}");
    assert_eq!(counts["SpdxDocument"], 1, "{counts}");
    assert_eq!(counts["software_Sbom"], 1, "{counts}");
    assert!(
        counts["simplelicensing_LicenseExpression"].as_u64() >= Some(2),
        "{counts}"
    );
    // the same packages (by purl) as SPDX 2.3 and CycloneDX 1.6 list
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let spdx3 = sorted(
        doc["@graph"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["software_packageUrl"].as_str().map(str::to_string))
            .collect(),
    );
    let spdx2 = sorted(
        sbom(root.path(), "spdx-json")["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| {
                p["externalRefs"][0]["referenceLocator"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect(),
    );
    let cdx = sorted(
        sbom(root.path(), "cyclonedx-json")["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["purl"].as_str().map(str::to_string))
            .collect(),
    );
    assert_eq!(spdx3.len(), 4);
    assert_eq!(spdx3, spdx2);
    assert_eq!(spdx3, cdx);
    // and the bindings do reject what the model forbids
    let mut bad = doc.clone();
    for e in bad["@graph"].as_array_mut().unwrap() {
        if e["type"] == "software_Package" {
            e["software_primaryPurpose"] = "no-such-purpose".into();
        }
    }
    assert!(spdx3_check(&bad).is_err(), "an unknown purpose passed");
    let mut bad = doc.clone();
    for e in bad["@graph"].as_array_mut().unwrap() {
        if e["type"] == "CreationInfo" {
            e.as_object_mut().unwrap().remove("createdBy");
        }
    }
    assert!(
        spdx3_check(&bad).is_err(),
        "a CreationInfo without createdBy passed"
    );
}

#[test]
fn table_and_json_formats() {
    let root = rootfs();
    let v = sbom(root.path(), "json");
    let names: Vec<&str> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["libssl3", "zlib1g", "Jinja2", "@types/ms"],
        "deinstalled packages are not reported"
    );
    let zlib = &v["packages"][1];
    assert_eq!(
        (
            zlib["source_name"].as_str(),
            zlib["source_version"].as_str()
        ),
        (Some("zlib"), Some("1:1.2.13.dfsg-1"))
    );
    assert_eq!(v["packages"][0]["licenses"][0], "Apache-2.0");
    assert_eq!(
        v["packages"][2]["licenses"],
        serde_json::json!(["BSD-3-Clause", "BSD License"])
    );
}

/// `sbom --check tr-03183`: our CycloneDX of the root filesystem is checked
/// and what it lacks is named (a SHA-512 per component, BSI's properties),
/// exit 1; the packages' maintainers are their creators by email, so that
/// requirement holds where the records name one; a document with every
/// field passes, exit 0; SPDX 2.3 fails on its format version.
#[test]
fn tr_03183_check_names_what_a_document_lacks_and_passes_a_complete_one() {
    let root = rootfs();
    let check = |source: &str| -> (Option<i32>, Value) {
        let out = Command::new(env!("CARGO_BIN_EXE_safeimage"))
            .args(["sbom", source, "--check", "tr-03183", "-f", "json"])
            .output()
            .unwrap();
        let v = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), v)
    };
    let fields = |v: &Value| -> Vec<String> {
        v["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["field"].as_str().unwrap().to_string())
            .collect()
    };
    let (code, v) = check(&format!("dir:{}", root.path().display()));
    assert_eq!(code, Some(1));
    assert_eq!(v["format"], "CycloneDX 1.6");
    let f = fields(&v);
    for want in [
        "sbom-creator",
        "component-hash",
        "component-filename",
        "component-executable",
    ] {
        assert!(f.contains(&want.to_string()), "{want} not in {f:?}");
    }
    assert!(!f.contains(&"format".to_string()) && !f.contains(&"sbom-timestamp".to_string()));
    // the same check of a file: our SPDX 2.3 fails on its version
    let spdx = root.path().join("s.spdx.json");
    std::fs::write(&spdx, sbom(root.path(), "spdx-json").to_string()).unwrap();
    let (code, v) = check(spdx.to_str().unwrap());
    assert_eq!(code, Some(1));
    assert_eq!(fields(&v)[0], "format");
    // a CycloneDX 1.6 document with every required field passes
    let full = serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "metadata": {"timestamp": "2026-12-07T00:00:00Z", "manufacturer": {"name": "Us", "url": ["https://example.org"]}},
        "components": [{"type": "library", "bom-ref": "a", "name": "a", "version": "1",
            "supplier": {"name": "A", "contact": [{"email": "a@example.org"}]},
            "licenses": [{"license": {"id": "MIT"}}],
            "hashes": [{"alg": "SHA-512", "content": "ab".repeat(64)}],
            "properties": [
                {"name": "bsi:component:filename", "value": "a-1.tar.gz"},
                {"name": "bsi:component:executable", "value": "non-executable"},
                {"name": "bsi:component:archive", "value": "archive"},
                {"name": "bsi:component:structured", "value": "structured"}]}],
        "dependencies": [{"ref": "a", "dependsOn": []}],
        "compositions": [{"aggregate": "complete", "dependencies": ["a"]}]});
    let file = root.path().join("full.cdx.json");
    std::fs::write(&file, full.to_string()).unwrap();
    let (code, v) = check(file.to_str().unwrap());
    assert_eq!(code, Some(0), "{v}");
    assert!(v["gaps"].as_array().unwrap().is_empty());
}
