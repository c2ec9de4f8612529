//! `safeimage secrets` with real parts: credentials planted (made at run
//! time: an AWS-format pair and AWS's documented example pair, a `ghp_`
//! token, RSA and EC keys from openssl, a Slack webhook URL) in repository
//! files, a commit a later commit deletes, an image layer a later layer
//! deletes and ENV; clean Debian images; and the daily run blocking on a
//! secret in the build context (before building) and in a deleted layer
//! (before pushing).

#![allow(clippy::print_stderr)]

#[path = "../support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::*;

fn random(n: usize, alphabet: &[u8]) -> String {
    let mut bytes = vec![0u8; n * 4];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .unwrap();
    bytes
        .iter()
        .take(n)
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

struct Planted {
    aws_key: String,
    aws_secret: String,
    ghp: String,
    slack: String,
    rsa: String,
    ec: String,
}

impl Planted {
    fn new() -> Planted {
        let key = |args: &[&str]| sh(Command::new("openssl").args(args));
        Planted {
            aws_key: format!("AKIA{}", random(16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")),
            aws_secret: random(
                40,
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            ),
            ghp: format!("ghp_{}", random(36, ALNUM)),
            slack: format!(
                "https://hooks.slack.com/services/T{}/B{}/{}",
                random(8, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
                random(8, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
                random(24, ALNUM)
            ),
            rsa: key(&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ]),
            ec: key(&["ecparam", "-name", "prime256v1", "-genkey", "-noout"]),
        }
    }

    /// Every value that must never be printed in full.
    fn raw(&self) -> Vec<String> {
        let body = |pem: &str| pem.lines().nth(1).unwrap().to_string();
        vec![
            self.aws_key.clone(),
            self.aws_secret.clone(),
            self.ghp.clone(),
            self.slack.clone(),
            body(&self.rsa),
            body(&self.ec),
        ]
    }
}

fn secrets(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .arg("secrets")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    eprintln!(
        "--- secrets {args:?}: {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn never_printed(out: &Output, p: &Planted) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for r in p.raw() {
        assert!(!all.contains(&r), "printed unredacted: {}…", &r[..8]);
    }
}

/// (rule, path, line) of each JSON finding.
fn found(out: &Output) -> Vec<(String, String, u64, Value)> {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["location"]["path"].as_str().unwrap().to_string(),
                f["location"]["line"].as_u64().unwrap(),
                f["properties"].clone(),
            )
        })
        .collect()
}

fn has(f: &[(String, String, u64, Value)], rule: &str, path: &str, line: u64) -> bool {
    f.iter()
        .any(|(r, p, l, _)| r == rule && p == path && *l == line)
}

fn plant(dir: &Path, p: &Planted) {
    std::fs::write(
        dir.join(".env"),
        format!(
            "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n",
            p.aws_key, p.aws_secret
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("README.md"),
        "Configure:\n\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("deploy.yml"),
        format!(
            "steps:\n  - run: git clone https://{}@github.com/acme/app\n",
            p.ghp
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("notify.sh"),
        format!("#!/bin/sh\ncurl -X POST -d @msg.json {}\n", p.slack),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(dir.join("keys/id_rsa"), &p.rsa).unwrap();
    std::fs::write(dir.join("keys/ec.pem"), &p.ec).unwrap();
}

#[test]
fn planted_credentials_in_files_are_found_with_their_place_and_never_printed() {
    let p = Planted::new();
    let d = tempfile::tempdir().unwrap();
    plant(d.path(), &p);
    let dir = d.path().to_str().unwrap();
    let out = secrets(&[dir, "-f", "json"]);
    assert_eq!(out.status.code(), Some(1));
    never_printed(&out, &p);
    let f = found(&out);
    assert!(has(&f, "aws-access-key-id", ".env", 1), "{f:?}");
    assert!(has(&f, "aws-secret-access-key", ".env", 2), "{f:?}");
    assert!(has(&f, "github-pat", "deploy.yml", 2), "{f:?}");
    assert!(has(&f, "slack-webhook-url", "notify.sh", 2), "{f:?}");
    assert!(has(&f, "private-key", "keys/id_rsa", 1), "{f:?}");
    assert!(has(&f, "private-key", "keys/ec.pem", 1), "{f:?}");
    // the documented example pair: found, as information only
    let example: Vec<_> = f
        .iter()
        .filter(|(_, path, ..)| path == "README.md")
        .collect();
    assert_eq!(example.len(), 2, "{f:?}");
    assert!(
        example
            .iter()
            .all(|(.., props)| props["severity"] == "info")
    );
    for fmt in ["table", "sarif"] {
        never_printed(&secrets(&[dir, "-f", fmt]), &p);
    }
    // SARIF that the official schema accepts, one result per finding
    let sarif: Value = serde_json::from_slice(&secrets(&[dir, "-f", "sarif"]).stdout).unwrap();
    let v = sarif_validator();
    let errors: Vec<String> = v.iter_errors(&sarif).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len(),
        f.len()
    );
    // --show-secrets is the only way to see one
    let shown = secrets(&[dir, "-f", "json", "--show-secrets"]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains(&p.ghp));
}

#[test]
fn a_secret_a_later_commit_deleted_is_found_in_the_history() {
    let p = Planted::new();
    let d = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        sh(Command::new("git")
            .arg("-C")
            .arg(d.path())
            .args([
                "-c",
                "user.name=Ann Dev",
                "-c",
                "user.email=ann@example.org",
            ])
            .args(args))
    };
    git(&["init", "-q"]);
    plant(d.path(), &p);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "first"]);
    let first = git(&["rev-parse", "HEAD"]).trim().to_string();
    git(&["rm", "-q", "deploy.yml", ".env"]);
    git(&["commit", "-qm", "remove the leak"]);
    // the tree no longer has them
    let tree = found(&secrets(&[d.path().to_str().unwrap(), "-f", "json"]));
    assert!(
        !tree
            .iter()
            .any(|(_, path, ..)| path == "deploy.yml" || path == ".env")
    );
    // the history does
    let out = secrets(&["--git", d.path().to_str().unwrap(), "-f", "json"]);
    assert_eq!(out.status.code(), Some(1));
    never_printed(&out, &p);
    let f = found(&out);
    let ghp = f
        .iter()
        .find(|(r, path, ..)| r == "github-pat" && path == "deploy.yml")
        .unwrap_or_else(|| panic!("{f:?}"));
    assert_eq!(ghp.2, 2);
    assert_eq!(ghp.3["commit"], first.as_str());
    assert_eq!(ghp.3["author"], "Ann Dev <ann@example.org>");
    assert!(has(&f, "aws-access-key-id", ".env", 1), "{f:?}");
}

fn layered_image(name: &str, p: &Planted) -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("ec.pem"), &p.ec).unwrap();
    std::fs::write(
        d.path().join("Dockerfile"),
        format!(
            "ARG BASE\nFROM ${{BASE}}\nCOPY ec.pem /root/.ssh/deploy.pem\nRUN rm /root/.ssh/deploy.pem\nENV GITHUB_TOKEN={}\n",
            p.ghp
        ),
    )
    .unwrap();
    // one layer per instruction, as docker build makes them
    let image = local(name);
    sh(Command::new("buildah")
        .args([
            "bud",
            "--layers",
            "--isolation",
            "chroot",
            "--pull=never",
            "-q",
            "-t",
            &image,
        ])
        .arg("--build-arg")
        .arg(format!("BASE={}", minbase()))
        .arg(d.path()));
    let out = d.path().join("oci");
    sh(Command::new("buildah")
        .args(["push", "-q", &image])
        .arg(format!("oci:{}:v1", out.display())));
    std::fs::remove_file(d.path().join("ec.pem")).unwrap();
    let src = format!("oci:{}:v1", out.display());
    (d, src)
}

#[test]
fn a_key_a_later_layer_deleted_and_a_token_in_env_are_found_in_the_image() {
    let p = Planted::new();
    let (_d, src) = layered_image("secrets-layers", &p);
    let out = secrets(&[&src, "-f", "json"]);
    assert_eq!(out.status.code(), Some(1));
    never_printed(&out, &p);
    let f = found(&out);
    let key = f
        .iter()
        .find(|(r, path, ..)| r == "private-key" && path == "/root/.ssh/deploy.pem")
        .unwrap_or_else(|| panic!("{f:?}"));
    assert_eq!(key.3["fate"], "deleted");
    assert!(key.3["diff_id"].as_str().unwrap().starts_with("sha256:"));
    assert!(
        key.3["created_by"].as_str().unwrap().contains("COPY")
            || key.3["created_by"].as_str().unwrap().contains("copy"),
        "{}",
        key.3
    );
    assert!(has(&f, "github-pat", "image config: Env", 1), "{f:?}");
}

#[test]
fn a_debian_minbase_image_has_no_findings() {
    let d = tempfile::tempdir().unwrap();
    let out_dir = d.path().join("oci");
    sh(Command::new("buildah")
        .args(["push", "-q", minbase()])
        .arg(format!("oci:{}:v1", out_dir.display())));
    let out = secrets(&[&format!("oci:{}:v1", out_dir.display()), "-f", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(found(&out), []);
}

#[test]
fn an_image_with_nodejs_npm_and_a_node_modules_tree_has_no_findings() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("Dockerfile"),
        "ARG BASE\nFROM ${BASE}\n\
         RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*\n\
         WORKDIR /app\n\
         RUN --mount=type=secret,id=hostca npm config set cafile /run/secrets/hostca \
           && npm install --no-audit --no-fund express@4 jsonwebtoken@9 pg@8 axios@1 \
           && npm config delete cafile\n",
    )
    .unwrap();
    let image = build("secrets-node", d.path(), &["--layers"]);
    let out_dir = d.path().join("oci");
    sh(Command::new("buildah")
        .args(["push", "-q", &image])
        .arg(format!("oci:{}:v1", out_dir.display())));
    let out = secrets(&[&format!("oci:{}:v1", out_dir.display()), "-f", "json"]);
    assert_eq!(found(&out), [], "false positives");
    assert_eq!(out.status.code(), Some(0));
}

/// A fleet of one image `app` (context `app/`, Dockerfile given) on the
/// minbase pushed to a loopback registry; `extra` goes into the [[image]].
struct SecretFleet {
    dir: tempfile::TempDir,
    reg: Registry,
}

impl SecretFleet {
    fn new(dockerfile: &str, image_extra: &str, top_extra: &str) -> SecretFleet {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry();
        push_minbase(&reg, "base/debian:bookworm");
        import_fixture_db(dir.path());
        std::fs::create_dir_all(dir.path().join("app")).unwrap();
        std::fs::write(
            dir.path().join("app/Dockerfile"),
            dockerfile.replace("BASE", &format!("{}/base/debian:bookworm", reg.addr)),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("fleet.toml"),
            format!(
                "[[image]]\nname = \"app\"\ncontext = \"app\"\nrepository = \"{}/fleet/app\"\ntags = [\"latest\"]\n{image_extra}\n\
                 [image.gate]\nfail_on = \"none\"\nfail_on_new = \"none\"\nfail_on_increase = false\n\n\
                 [scan]\ndb = \"advisories.db\"\nmax_age_hours = 0\n\n\
                 [lint]\nshellcheck = false\nfailure_threshold = \"error\"\n\n[report]\ndir = \"reports\"\n{top_extra}\n",
                reg.addr
            ),
        )
        .unwrap();
        SecretFleet { dir, reg }
    }

    fn run(&self) -> (Output, Value, String) {
        let (out, text) = run_fleet(self.dir.path());
        (out, serde_json::from_str(&text).unwrap(), text)
    }

    fn tagged(&self) -> bool {
        raw_manifest(&format!("{}/fleet/app:latest", self.reg.addr)).is_some()
    }
}

const QUICK: &str = "FROM BASE\nRUN echo built > /etc/built\nUSER 10001\nHEALTHCHECK NONE\n";

#[test]
fn a_daily_run_with_a_key_in_its_build_context_is_blocked_before_the_build() {
    let p = Planted::new();
    let f = SecretFleet::new(QUICK, "", "");
    std::fs::create_dir_all(f.dir.path().join("app/config")).unwrap();
    std::fs::write(f.dir.path().join("app/config/id_rsa"), &p.rsa).unwrap();
    let (out, r, text) = f.run();
    assert_eq!(out.status.code(), Some(1));
    let app = &r["images"][0];
    assert_eq!(app["outcome"], "blocked");
    let why = app["reasons"].to_string();
    assert!(
        why.contains("in the build context")
            && why.contains("config/id_rsa:1")
            && why.contains("[private-key]"),
        "{why}"
    );
    assert!(
        app["steps"].get("build").is_none(),
        "nothing was built: {}",
        app["steps"]
    );
    assert!(!f.tagged());
    for raw in p.raw() {
        assert!(!text.contains(&raw), "the report holds a secret");
        assert!(!String::from_utf8_lossy(&out.stdout).contains(&raw));
    }
}

#[test]
fn a_daily_run_whose_image_keeps_a_deleted_token_in_a_layer_is_blocked_before_the_push() {
    let p = Planted::new();
    let f = SecretFleet::new(
        "FROM BASE\nARG GH_TOKEN\nRUN echo \"$GH_TOKEN\" > /root/.token\nRUN rm /root/.token\nUSER 10001\nHEALTHCHECK NONE\n",
        &format!("build_args = {{ GH_TOKEN = \"{}\" }}", p.ghp),
        // podman keeps one layer per instruction, like docker build
        "[engine]\nkind = \"podman\"\n",
    );
    let (out, r, text) = f.run();
    assert_eq!(out.status.code(), Some(1));
    let app = &r["images"][0];
    assert_eq!(app["outcome"], "blocked", "{}", app["reasons"]);
    let why = app["reasons"].to_string();
    assert!(
        why.contains("in the image")
            && why.contains("/root/.token")
            && why.contains("layer ")
            && why.contains("[github-pat]"),
        "{why}"
    );
    assert!(why.contains("deleted by a later layer"), "{why}");
    assert!(app["steps"].get("build").is_some());
    assert!(
        app.get("digest").is_none() || app["digest"].is_null(),
        "nothing pushed"
    );
    assert!(!f.tagged());
    assert!(!text.contains(&p.ghp), "the report holds the token");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&p.ghp));
}

#[test]
fn several_files_as_a_pre_commit_hook_passes_them_are_each_scanned() {
    let p = Planted::new();
    let d = tempfile::tempdir().unwrap();
    plant(d.path(), &p);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_safeimage"))
            .arg("secrets")
            .args(args)
            .current_dir(d.path())
            .output()
            .unwrap()
    };
    let out = run(&[".env", "notify.sh", "README.md", "-f", "json"]);
    assert_eq!(out.status.code(), Some(1));
    never_printed(&out, &p);
    let f = found(&out);
    assert!(has(&f, "aws-access-key-id", ".env", 1), "{f:?}");
    assert!(has(&f, "slack-webhook-url", "notify.sh", 2), "{f:?}");
    assert!(
        !f.iter().any(|(_, path, ..)| path == "deploy.yml"),
        "only what was named: {f:?}"
    );
    // a clean file passes
    std::fs::write(d.path().join("clean.txt"), "nothing to see\n").unwrap();
    assert_eq!(run(&["clean.txt", "README.md"]).status.code(), Some(0));
    // several targets are files or directories only
    let e = run(&[".env", "oci:/nowhere"]);
    assert_eq!(e.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&e.stderr).contains("oci:/nowhere"));
}

mod hostile;
