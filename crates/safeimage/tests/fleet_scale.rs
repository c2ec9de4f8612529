//! Beyond one machine, with real parts: overlapping runs on one SQLite
//! store, a killed lease holder, shards and an overlapping full run on one
//! PostgreSQL, a two-platform image (arm64 emulated by qemu-user), and the
//! same single-image run on every engine (buildah, podman, BuildKit through
//! a dockerd this test starts). Images are tiny busybox ones.

#![allow(clippy::print_stderr)]

mod support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

/// A fleet directory: images `names` built on `base`, a config with `extra`.
struct Fleet {
    dir: tempfile::TempDir,
    reg: Registry,
}

const DB_SECTION: &str = "[scan]\ndb = \"advisories.db\"\nmax_age_hours = 0\n";

impl Fleet {
    fn new() -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        import_fixture_db(dir.path());
        Fleet {
            dir,
            reg: registry(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn image(&self, name: &str, dockerfile: &str, extra: &str) -> String {
        std::fs::create_dir_all(self.path().join(name)).unwrap();
        std::fs::write(self.path().join(name).join("Dockerfile"), dockerfile).unwrap();
        format!(
            "[[image]]\nname = \"{name}\"\ncontext = \"{name}\"\nrepository = \"{}/fleet/{name}\"\ntags = [\"latest\"]\n{extra}\n",
            self.reg.addr
        )
    }

    fn config(&self, images: &str, extra: &str) {
        std::fs::write(
            self.path().join("fleet.toml"),
            format!(
                "{images}\n{DB_SECTION}\n[gate]\nfail_on = \"high\"\nfail_on_new = \"none\"\nfail_on_increase = false\n\n[lint]\nshellcheck = false\nfailure_threshold = \"error\"\n\n[report]\ndir = \"reports\"\n{extra}"
            ),
        )
        .unwrap();
    }

    fn spawn(&self, args: &[&str], json: &str, env: &[(&str, &str)]) -> Child {
        self.spawn_under(&[], args, json, env)
    }

    /// `safeimage run` started through `wrapper` (e.g. `unshare`).
    fn spawn_under(
        &self,
        wrapper: &[&str],
        args: &[&str],
        json: &str,
        env: &[(&str, &str)],
    ) -> Child {
        let bin = env!("CARGO_BIN_EXE_safeimage");
        let mut c = match wrapper {
            [] => Command::new(bin),
            [program, rest @ ..] => {
                let mut c = Command::new(program);
                c.args(rest).arg(bin);
                c
            }
        };
        c.current_dir(self.path())
            .args([
                "run",
                "--config",
                "fleet.toml",
                "--cache-dir",
                "cache",
                "--json",
                json,
            ])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        c.spawn().unwrap()
    }

    fn run(&self, args: &[&str], json: &str, env: &[(&str, &str)]) -> Output {
        let out = self.spawn(args, json, env).wait_with_output().unwrap();
        eprintln!(
            "--- run {args:?}: {:?}\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn report(&self, json: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path().join(json)).unwrap()).unwrap()
    }

    fn head(&self, repo_tag: &str) -> Option<String> {
        remote_digest(&format!("{}/{repo_tag}", self.reg.addr))
    }
}

fn outcomes(r: &Value) -> impl Iterator<Item = (&str, &str)> {
    r["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap(), i["outcome"].as_str().unwrap()))
}

fn quick(name: &str, base: &str) -> String {
    format!("FROM {base}\nRUN sleep 2 && echo {name} > /name\n")
}

#[test]
fn overlapping_runs_on_one_sqlite_store_build_each_image_once() {
    let f = Fleet::new();
    let base = busybox_image(&f.reg, "base/busybox:1");
    let images: String = (0..3)
        .map(|i| f.image(&format!("app{i}"), &quick(&format!("app{i}"), &base), ""))
        .collect();
    f.config(
        &images,
        "[store]\npath = \"state.db\"\naudit_dir = \"audit\"\nlease_seconds = 60\n",
    );
    let a = f.spawn(&["--jobs", "1"], "a.json", &[]);
    let b = f.spawn(&["--jobs", "1"], "b.json", &[]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for o in [&a, &b] {
        eprintln!("{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.status.code(), Some(0));
    }
    let (ra, rb) = (f.report("a.json"), f.report("b.json"));
    for i in 0..3 {
        let name = format!("app{i}");
        let decided: Vec<&str> = outcomes(&ra)
            .chain(outcomes(&rb))
            .filter(|(n, _)| *n == name)
            .map(|(_, o)| o)
            .collect();
        assert_eq!(
            decided.iter().filter(|o| **o == "promoted").count(),
            1,
            "{name}: {decided:?}"
        );
        assert_eq!(
            decided.iter().filter(|o| **o == "skipped").count(),
            1,
            "{name}: {decided:?}"
        );
        let log = std::fs::read_to_string(f.path().join(format!("audit/{name}.jsonl"))).unwrap();
        assert_eq!(log.lines().count(), 1, "{name}: one decision");
    }
    let v = safeimage_in(
        f.path(),
        &["audit", "verify", "--config", "fleet.toml"],
        &[],
    );
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

/// A holder whose process this machine cannot see (here: in another PID
/// namespace, as on another runner) is judged by its lease alone.
#[test]
fn a_killed_lease_holder_elsewhere_blocks_only_until_the_lease_expires() {
    let f = Fleet::new();
    let base = busybox_image(&f.reg, "base/busybox:1");
    f.config(
        &f.image("app", &quick("app", &base), ""),
        "[store]\npath = \"state.db\"\naudit_dir = \"audit\"\nlease_seconds = 6\n",
    );
    let pause = f.path().join("pause");
    sh(Command::new("mkfifo").arg(&pause));
    let mut holder = f.spawn_under(
        &["unshare", "--pid", "--fork", "--kill-child"],
        &[],
        "a.json",
        &[("SAFEIMAGE_TEST_PAUSE_BEFORE_TAG", pause.to_str().unwrap())],
    );
    let _writer = wait_at_pause(&mut holder, &pause, Duration::from_secs(300));
    sh(Command::new("kill").args(["-9", &holder.id().to_string()]));
    let _ = holder.wait();
    let killed_at = Instant::now();
    // Right away: the lease is still the dead holder's.
    assert_eq!(f.run(&[], "b.json", &[]).status.code(), Some(0));
    let b = f.report("b.json");
    let app = &b["images"][0];
    assert_eq!(app["outcome"], "skipped");
    assert!(
        app["reasons"][0]
            .as_str()
            .unwrap()
            .contains("held by run 1"),
        "{}",
        app["reasons"]
    );
    // After the lease expires, the next run takes over and promotes.
    let wait = Duration::from_secs(7).saturating_sub(killed_at.elapsed());
    std::thread::sleep(wait);
    let out = f.run(&[], "c.json", &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted run(s) marked"));
    let c = f.report("c.json");
    assert_eq!(
        c["images"][0]["outcome"], "promoted",
        "{}",
        c["images"][0]["reasons"]
    );
    assert_eq!(
        f.head("fleet/app:latest").as_deref(),
        c["images"][0]["digest"].as_str()
    );
}

#[test]
fn shards_and_an_overlapping_full_run_on_one_postgres_promote_each_image_once() {
    let f = Fleet::new();
    let base = busybox_image(&f.reg, "base/busybox:1");
    let names: Vec<String> = (0..5).map(|i| format!("svc{i}")).collect();
    let images: String = names
        .iter()
        .map(|n| f.image(n, &quick(n, &base), ""))
        .collect();
    f.config(
        &images,
        "[store]\naudit_dir = \"audit\"\nlease_seconds = 60\n",
    );
    let pg = postgres();
    let env = [("SAFEIMAGE_STORE_URL", pg.url.as_str())];
    let runs = [
        f.spawn(&["--shard", "1/2", "--jobs", "1"], "s1.json", &env),
        f.spawn(&["--shard", "2/2", "--jobs", "1"], "s2.json", &env),
        f.spawn(&["--jobs", "2"], "all.json", &env),
    ];
    for r in runs {
        let o = r.wait_with_output().unwrap();
        eprintln!("{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.status.code(), Some(0));
    }
    let reports: Vec<Value> = ["s1.json", "s2.json", "all.json"]
        .iter()
        .map(|j| f.report(j))
        .collect();
    // The shards split the fleet exactly.
    let in_shards: usize = reports[..2]
        .iter()
        .map(|r| r["images"].as_array().unwrap().len())
        .sum();
    assert_eq!(in_shards, names.len());
    for n in &names {
        let all: Vec<&str> = reports
            .iter()
            .flat_map(outcomes)
            .filter(|(x, _)| x == n)
            .map(|(_, o)| o)
            .collect();
        assert_eq!(
            all.iter().filter(|o| **o == "promoted").count(),
            1,
            "{n}: {all:?}"
        );
        assert!(
            all.iter().all(|o| *o == "promoted" || *o == "skipped"),
            "{n}: {all:?}"
        );
    }
    let v = safeimage_in(
        f.path(),
        &["audit", "verify", "--config", "fleet.toml"],
        &env,
    );
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(v.status.success(), "{text}");
    for n in &names {
        assert!(text.contains(&format!("ok      {n} (1 records)")), "{text}");
    }
}

/// A Dockerfile whose RUN (under qemu for arm64) writes a dpkg status with
/// openssl: the vulnerable fixture version on the platforms in `vulnerable`.
fn per_platform(base: &str, vulnerable: &[&str]) -> String {
    let arches: Vec<String> = vulnerable
        .iter()
        .map(|a| format!("[ \"$(uname -m)\" = {a} ]"))
        .collect();
    let cond = if arches.is_empty() {
        "false".to_string()
    } else {
        arches.join(" || ")
    };
    format!(
        "FROM {base}\nRUN mkdir -p /var/lib/dpkg && if {cond}; then v=3.0.11-1~deb12u2; else v=3.0.22-1~deb12u2; fi \\\n && printf 'Package: libssl3\\nStatus: install ok installed\\nSource: openssl\\nVersion: %s\\nArchitecture: %s\\n\\n' \"$v\" \"$(uname -m)\" > /var/lib/dpkg/status\n"
    )
}

#[test]
fn a_two_platform_image_is_an_index_and_an_arm64_only_failure_blocks_it() {
    let f = Fleet::new();
    let base = busybox_index(&f.reg, "base/busybox:multi");
    let platforms = "platforms = [\"linux/amd64\", \"linux/arm64\"]";
    f.config(
        &f.image("app", &per_platform(&base, &["aarch64"]), platforms),
        "",
    );
    // arm64's openssl is vulnerable: the whole index is blocked.
    let out = f.run(&[], "r1.json", &[]);
    assert_eq!(out.status.code(), Some(1));
    let r = f.report("r1.json");
    let app = &r["images"][0];
    assert_eq!(app["outcome"], "blocked");
    let reasons = app["reasons"].to_string();
    assert!(
        reasons.contains("linux/arm64: ") && !reasons.contains("linux/amd64: "),
        "{reasons}"
    );
    let ps = app["platforms"].as_array().unwrap();
    assert_eq!(ps.len(), 2);
    let arm = ps
        .iter()
        .find(|p| p["platform"]["architecture"] == "arm64")
        .unwrap();
    let amd = ps
        .iter()
        .find(|p| p["platform"]["architecture"] == "amd64")
        .unwrap();
    assert!(arm["counts"]["HIGH"].as_u64().unwrap() > 0, "{arm}");
    assert_eq!(amd["counts"]["HIGH"], 0, "{amd}");
    assert_eq!(f.head("fleet/app:latest"), None, "no tag moved");
    // Both fixed: promoted as one index whose manifests carry their platforms.
    f.config(&f.image("app", &per_platform(&base, &[]), platforms), "");
    assert_eq!(f.run(&[], "r2.json", &[]).status.code(), Some(0));
    let r = f.report("r2.json");
    let app = &r["images"][0];
    assert_eq!(app["outcome"], "promoted", "{}", app["reasons"]);
    let index = raw_manifest(&format!("{}/fleet/app:latest", f.reg.addr)).unwrap();
    let index: Value = serde_json::from_slice(&index).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let mut archs: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap().to_string())
        .collect();
    archs.sort();
    assert_eq!(archs, vec!["amd64", "arm64"]);
    assert_eq!(
        f.head("fleet/app:latest").as_deref(),
        app["digest"].as_str()
    );
    // The arm64 manifest really is arm64 content (built under emulation).
    let arm_digest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "arm64")
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let sbom = sbom_of(
        &format!("{}/fleet/app@{arm_digest}", f.reg.addr),
        Some("linux/arm64"),
    );
    let pkgs = sbom["packages"].to_string();
    assert!(pkgs.contains("aarch64"), "the RUN ran as arm64: {pkgs}");
}

/// `safeimage sbom` of a pushed image, for `platform` (this machine's when
/// `None`), as JSON.
fn sbom_of(reference: &str, platform: Option<&str>) -> Value {
    let mut c = Command::new(env!("CARGO_BIN_EXE_safeimage"));
    c.args(["sbom", reference, "-f", "json", "--no-cache"]);
    if let Some(p) = platform {
        c.args(["--platform", p]);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn single_image_on(engine: &str, extra_env: &[(&str, &str)], engine_section: &str) {
    let f = Fleet::new();
    let base = busybox_image(&f.reg, "base/busybox:1");
    f.config(
        &f.image("app", &per_platform(&base, &[]), ""),
        engine_section,
    );
    let out = f.run(&[], "r.json", extra_env);
    assert_eq!(out.status.code(), Some(0), "{engine}");
    let r = f.report("r.json");
    assert_eq!(r["engine"], engine);
    let app = &r["images"][0];
    assert_eq!(app["outcome"], "promoted", "{engine}: {}", app["reasons"]);
    let digest = app["digest"].as_str().unwrap();
    assert_eq!(
        f.head("fleet/app:latest").as_deref(),
        Some(digest),
        "{engine}"
    );
    // Scanned: the openssl the RUN wrote was found (and is fixed).
    let findings = app["findings"].as_array().unwrap();
    let pkgs = app["platforms"][0]["findings"].as_array().unwrap();
    assert_eq!(findings.len(), pkgs.len());
    let sbom = sbom_of(&format!("{}/fleet/app@{digest}", f.reg.addr), None);
    assert!(
        sbom["packages"].to_string().contains("libssl3"),
        "{engine}: {sbom}"
    );
}

#[test]
fn the_single_image_run_works_with_buildah() {
    single_image_on("buildah", &[], "");
}

#[test]
fn the_single_image_run_works_with_podman() {
    single_image_on("podman", &[], "[engine]\nkind = \"podman\"\n");
}

#[test]
fn the_single_image_run_works_with_buildkit_through_docker() {
    let d = dockerd();
    single_image_on(
        "buildkit",
        &[
            ("DOCKER_HOST", d.host.as_str()),
            ("SAFEIMAGE_ENGINE_PROGRAM", "/usr/bin/docker"),
        ],
        "[engine]\nkind = \"docker\"\n",
    );
}
