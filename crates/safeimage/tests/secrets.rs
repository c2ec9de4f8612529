//! `safeimage secrets` with real parts: credentials planted (made at run
//! time: an AWS-format pair and AWS's documented example pair, a `ghp_`
//! token, RSA and EC keys from openssl, a Slack webhook URL) in repository
//! files, a commit a later commit deletes, an image layer a later layer
//! deletes and ENV; clean Debian images; and the daily run blocking on a
//! secret in the build context (before building) and in a deleted layer
//! (before pushing).

#![allow(clippy::print_stderr)]

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

/// A repository in `dir` and a git to drive it (author set, no global config).
fn git_in(dir: &Path) -> impl Fn(&[&str]) -> String + '_ {
    move |args: &[&str]| {
        sh(Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=Eve", "-c", "user.email=eve@example.org"])
            .args(args))
    }
}

/// A program a hostile repository names: it leaves `marker` when run.
fn tripwire(dir: &Path, marker: &Path) -> std::path::PathBuf {
    let p = dir.join("tripwire.sh");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\ntouch '{}'\ncat \"$1\" 2>/dev/null\n",
            marker.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn a_repositorys_textconv_driver_is_not_run_and_its_secret_is_still_found() {
    let p = Planted::new();
    let d = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    let marker = tools.path().join("ran");
    let evil = tripwire(tools.path(), &marker);
    let git = git_in(d.path());
    git(&["init", "-q"]);
    std::fs::write(d.path().join(".gitattributes"), "*.yml diff=evil\n").unwrap();
    git(&["config", "diff.evil.textconv", evil.to_str().unwrap()]);
    plant(d.path(), &p);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "with a textconv driver"]);
    // the driver is real: git itself runs it when not told otherwise
    git(&["log", "-p", "-1", "--", "deploy.yml"]);
    assert!(marker.exists(), "the tripwire does not work");
    std::fs::remove_file(&marker).unwrap();
    let out = secrets(&["--git", d.path().to_str().unwrap(), "-f", "json"]);
    assert!(!marker.exists(), "the repository's textconv ran");
    assert!(has(&found(&out), "github-pat", "deploy.yml", 2));
}

#[test]
fn a_signed_commit_with_the_repositorys_gpg_program_runs_nothing() {
    let d = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    let marker = tools.path().join("ran");
    let evil = tripwire(tools.path(), &marker);
    let git = git_in(d.path());
    git(&["init", "-q"]);
    std::fs::write(d.path().join("a.txt"), "hello\n").unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-qm", "plain"]);
    // a commit carrying a signature header, made by hand
    let tree = git(&["rev-parse", "HEAD^{tree}"]);
    let body = format!(
        "tree {}\nauthor Eve <eve@example.org> 1700000000 +0000\ncommitter Eve <eve@example.org> 1700000000 +0000\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\nsigned\n",
        tree.trim()
    );
    let obj = d.path().join("commit.obj");
    std::fs::write(&obj, body).unwrap();
    let id = git(&["hash-object", "-t", "commit", "-w", obj.to_str().unwrap()]);
    std::fs::remove_file(&obj).unwrap();
    git(&["update-ref", "refs/heads/signed", id.trim()]);
    git(&["config", "log.showSignature", "true"]);
    git(&["config", "gpg.program", evil.to_str().unwrap()]);
    // the program is real: git runs it when showing the signature
    git(&["log", "-1", "signed"]);
    assert!(marker.exists(), "the tripwire does not work");
    std::fs::remove_file(&marker).unwrap();
    let out = secrets(&["--git", d.path().to_str().unwrap(), "-f", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!marker.exists(), "the repository's gpg.program ran");
}

#[test]
fn a_bare_repository_committed_inside_a_clone_is_refused_and_runs_nothing() {
    let tools = tempfile::tempdir().unwrap();
    let marker = tools.path().join("ran");
    let evil = tripwire(tools.path(), &marker);
    let upstream = tempfile::tempdir().unwrap();
    let git = git_in(upstream.path());
    git(&["init", "-q"]);
    // inner.git: a bare repository whose own attributes and config run
    // the tripwire on any diff, with one commit in it
    let inner = upstream.path().join("inner.git");
    sh(Command::new("git")
        .args(["init", "-q", "--bare"])
        .arg(&inner));
    let work = tempfile::tempdir().unwrap();
    let w = git_in(work.path());
    w(&["init", "-q"]);
    std::fs::write(work.path().join("a.txt"), "one\n").unwrap();
    w(&["add", "-A"]);
    w(&["commit", "-qm", "one"]);
    w(&[
        "push",
        "-q",
        inner.to_str().unwrap(),
        "HEAD:refs/heads/main",
    ]);
    std::fs::write(inner.join("info/attributes"), "* diff=evil\n").unwrap();
    let inner_git = git_in(&inner);
    inner_git(&["config", "diff.evil.textconv", evil.to_str().unwrap()]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "a bare repository as plain files"]);
    let clone = tempfile::tempdir().unwrap();
    sh(Command::new("git")
        .args(["clone", "-q"])
        .arg(upstream.path())
        .arg(clone.path().join("c")));
    let nested = clone.path().join("c/inner.git");
    assert!(nested.join("HEAD").is_file() && nested.join("info/attributes").is_file());
    let out = secrets(&["--git", nested.to_str().unwrap(), "-f", "json"]);
    assert!(!marker.exists(), "the nested repository's textconv ran");
    // git will not use a bare repository it was not explicitly given
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bare repository"), "{err}");
}

#[test]
fn an_option_looking_since_commit_is_refused_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let git = git_in(d.path());
    git(&["init", "-q"]);
    std::fs::write(d.path().join("a.txt"), "hello\n").unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-qm", "one"]);
    let target = tempfile::tempdir().unwrap();
    let written = target.path().join("written");
    let out = secrets(&[
        "--git",
        d.path().to_str().unwrap(),
        &format!("--since-commit=--output={}", written.display()),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a revision"), "{err}");
    assert!(!written.exists());
}

#[test]
fn a_procfs_inside_the_scanned_tree_is_not_entered_and_the_scan_ends() {
    // a real procfs mounted inside the folder, in a private mount
    // namespace: where `/proc/kmsg` would block a reader forever
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("proc")).unwrap();
    std::fs::write(d.path().join("app.txt"), "hello\n").unwrap();
    let script = format!(
        "mount -t proc proc '{0}/proc' && exec '{1}' secrets '{0}' -f json",
        d.path().display(),
        env!("CARGO_BIN_EXE_safeimage")
    );
    let mut child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux unshare");
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the scan of a tree holding a procfs did not end");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("note: not scanned: proc: on a proc pseudo filesystem: not read"),
        "{err}"
    );
}

#[test]
fn sigterm_ends_a_run_scanning_a_context_of_the_whole_host() {
    // The red team's config: `context = "/"` (allowed here explicitly).
    // The scan must not enter /proc (where /proc/kmsg blocks a read) and
    // must stop at SIGTERM instead of reading the whole disk.
    let f = SecretFleet::new(QUICK, "", "");
    let cfg = std::fs::read_to_string(f.dir.path().join("fleet.toml")).unwrap();
    let dockerfile = f.dir.path().join("app/Dockerfile");
    std::fs::write(
        f.dir.path().join("fleet.toml"),
        cfg.replace(
            "context = \"app\"",
            &format!("context = \"/\"\ndockerfile = \"{}\"", dockerfile.display()),
        ),
    )
    .unwrap();
    // without the flag the config is refused, naming the line
    let refused = safeimage_in(f.dir.path(), &["run", "--config", "fleet.toml"], &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("`image.context` / is outside"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .args([
            "run",
            "--config",
            "fleet.toml",
            "--allow-outside-root",
            "--cache-dir",
            "cache",
        ])
        .current_dir(f.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before the signal"
    );
    sh(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("SIGTERM did not end the run's context scan");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(!f.tagged());
}
