//! `safeimage update` end to end: a fleet repository with a bare remote on
//! disk, a loopback registry where the test publishes new digests and tags
//! of the bases, real builds (buildah) and the OSV fixtures. The evaluation
//! builds with the run's own steps and moves no tag; git mode merges only
//! when the hard rules say security improved.

#[path = "../support/mod.rs"]
mod support;

mod plan;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::*;

/// git for the test itself: no hooks, no global config.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "core.hooksPath=/dev/null"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A fleet repository (a clone of a bare remote) with one image.
pub struct Fleet {
    pub work: tempfile::TempDir,
    pub reg: Registry,
}

impl Fleet {
    /// `dockerfile` and `fleet.toml` (with `update` as its `[update]` body)
    /// committed and pushed to the remote's `main`.
    pub fn new(dockerfile: &str, update: &str, platforms: &str) -> Fleet {
        let work = tempfile::tempdir().unwrap();
        let reg = registry();
        let f = Fleet { work, reg };
        let (remote, clone) = (f.remote(), f.clone_dir());
        git(
            f.work.path(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                remote.to_str().unwrap(),
            ],
        );
        git(
            f.work.path(),
            &[
                "clone",
                "-q",
                remote.to_str().unwrap(),
                clone.to_str().unwrap(),
            ],
        );
        git(&clone, &["checkout", "-q", "-b", "main"]);
        std::fs::create_dir_all(clone.join("app")).unwrap();
        f.write_dockerfile(&dockerfile.replace("{reg}", f.r()));
        let reg = f.r().to_string();
        std::fs::write(
            clone.join("fleet.toml"),
            format!(
                r#"
[[image]]
name = "app"
context = "app"
repository = "{reg}/fleet/app"
tags = ["latest"]
{platforms}

[gate]
fail_on = "critical"

[scan]
db = "advisories.db"
max_age_hours = 0

[store]
path = "state/state.db"
audit_dir = "state/audit"

[report]
dir = "reports"

[update]
{update}
"#
            ),
        )
        .unwrap();
        std::fs::write(
            clone.join(".gitignore"),
            "state/\nreports/\ncache/\nadvisories.db\n*.json\n",
        )
        .unwrap();
        import_fixture_db(&clone);
        git(&clone, &["add", "."]);
        git(&clone, &["commit", "-q", "-m", "fleet"]);
        git(&clone, &["push", "-q", "origin", "main"]);
        f
    }

    pub fn r(&self) -> &str {
        &self.reg.addr
    }

    pub fn remote(&self) -> PathBuf {
        self.work.path().join("remote.git")
    }

    pub fn clone_dir(&self) -> PathBuf {
        self.work.path().join("clone")
    }

    pub fn write_dockerfile(&self, text: &str) {
        std::fs::write(self.clone_dir().join("app/Dockerfile"), text).unwrap();
    }

    /// The remote's `branch:path`.
    pub fn remote_file(&self, branch: &str, path: &str) -> String {
        git(&self.remote(), &["show", &format!("{branch}:{path}")])
    }

    pub fn remote_branches(&self) -> Vec<String> {
        git(
            &self.remote(),
            &["for-each-ref", "--format=%(refname:short)", "refs/heads"],
        )
        .lines()
        .map(str::to_string)
        .collect()
    }

    pub fn push_base(&self, base: Base, to: &str) -> String {
        sh(Command::new("buildah")
            .args(["push", "-q", "--tls-verify=false", base_image(base)])
            .arg(format!("docker://{}/{to}", self.r())));
        remote_digest(&format!("{}/{to}", self.r())).unwrap()
    }

    /// `safeimage ARGS --config fleet.toml` in the clone, its output printed.
    #[allow(clippy::print_stderr)]
    pub fn safeimage(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--config", "fleet.toml", "--cache-dir", "cache"]);
        let out = safeimage_in(&self.clone_dir(), &all, &[]);
        eprintln!(
            "--- safeimage {args:?}: {:?}\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `safeimage update -f json` (plus `extra`), its report.
    pub fn update(&self, extra: &[&str]) -> Value {
        self.update_with(extra, &[])
    }

    /// As [`Fleet::update`], with environment variables.
    #[allow(clippy::print_stderr)]
    pub fn update_with(&self, extra: &[&str], env: &[(&str, &str)]) -> Value {
        let mut args = vec!["update", "-f", "json"];
        args.extend(extra);
        args.extend(["--config", "fleet.toml", "--cache-dir", "cache"]);
        let out = safeimage_in(&self.clone_dir(), &args, env);
        eprintln!(
            "--- safeimage {args:?}: {:?}\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

const SMALL: &str = "# the app\nFROM {reg}/base/debian:bookworm@{digest}\nRUN echo built > /etc/built-by-safeimage\nUSER 10001\n";

#[test]
fn security_improved_is_merged_in_git_mode_and_no_tag_moves() {
    let f = Fleet::new("FROM scratch\n", "automerge = \"security-improved\"", "");
    let d1 = f.push_base(Base::Main, "base/debian:bookworm");
    f.write_dockerfile(&SMALL.replace("{reg}", f.r()).replace("{digest}", &d1));
    git(&f.clone_dir(), &["commit", "-qam", "pin the base"]);
    git(&f.clone_dir(), &["push", "-q", "origin", "main"]);
    assert_eq!(f.safeimage(&["run"]).status.code(), Some(0));
    let promoted = remote_digest(&format!("{}/fleet/app:latest", f.r())).unwrap();

    let d2 = f.push_base(Base::Security, "base/debian:bookworm");
    let r = f.update(&[]);
    let pushed = &r["pushed"][0];
    assert_eq!(pushed["merged"], true, "{r:#}");
    assert!(
        pushed["judgement"]["reason"]
            .as_str()
            .unwrap()
            .contains("security improved"),
        "{r:#}"
    );
    let df = f.remote_file("main", "app/Dockerfile");
    assert_eq!(
        df,
        SMALL
            .replace("{reg}", f.r())
            .replace("{digest}", &d2)
            .trim_end(),
        "main has the new digest and nothing else changed"
    );
    assert_eq!(
        f.remote_branches(),
        vec!["main".to_string()],
        "the branch is gone after the merge"
    );
    assert_eq!(
        remote_digest(&format!("{}/fleet/app:latest", f.r())).unwrap(),
        promoted,
        "the evaluation moved no tag"
    );
    let e = &r["evaluations"][0]["images"][0];
    assert_eq!(e["outcome"], "evaluated");
    assert_eq!(e["promoted"], promoted.as_str());
    assert_ne!(e["built"], promoted.as_str());
    let body = r["evaluations"][0]["judgement"]["body"].as_str().unwrap();
    assert!(body.contains("**Security: improved**"), "{body}");
    assert!(
        body.contains("<summary>Packages:") && body.contains("`perl-base`"),
        "the package changes are in the body: {body}"
    );
}

#[test]
fn findings_going_up_block_the_merge_and_the_branch_waits_with_the_reason() {
    let f = Fleet::new("FROM scratch\n", "automerge = \"security-improved\"", "");
    let d1 = f.push_base(Base::Security, "base/debian:bookworm");
    f.write_dockerfile(&SMALL.replace("{reg}", f.r()).replace("{digest}", &d1));
    git(&f.clone_dir(), &["commit", "-qam", "pin the base"]);
    git(&f.clone_dir(), &["push", "-q", "origin", "main"]);
    assert_eq!(f.safeimage(&["run"]).status.code(), Some(0));

    let d2 = f.push_base(Base::Main, "base/debian:bookworm");
    let r = f.update(&[]);
    let pushed = &r["pushed"][0];
    assert_eq!(pushed["merged"], false);
    assert_eq!(pushed["state"], "created");
    let reason = pushed["judgement"]["reason"].as_str().unwrap();
    assert!(reason.contains("went up"), "{reason}");
    assert!(
        f.remote_file("safeimage/update/app", "app/Dockerfile")
            .contains(&d2)
    );
    assert!(
        f.remote_file("main", "app/Dockerfile").contains(&d1),
        "main keeps the old base"
    );

    // a second update with nothing new leaves the branch as it is
    let again = f.update(&[]);
    assert_eq!(again["pushed"][0]["state"], "unchanged", "{again:#}");
}

#[test]
fn a_renovate_style_branch_is_judged_by_the_check_mode_with_the_hard_rules_exit_code() {
    let f = Fleet::new("FROM scratch\n", "", "");
    let d_main = f.push_base(Base::Main, "base/debian:bookworm-main");
    let d_sec = f.push_base(Base::Security, "base/debian:bookworm");
    let pinned = |tag: &str, d: &str| {
        SMALL
            .replace("{reg}", f.r())
            .replace("bookworm@{digest}", &format!("{tag}@{d}"))
    };
    let c = f.clone_dir();
    f.write_dockerfile(&pinned("bookworm-main", &d_main));
    git(&c, &["commit", "-qam", "on the main-only base"]);
    // what Renovate would push: the digest bumped on a branch
    git(&c, &["checkout", "-q", "-b", "renovate/base"]);
    f.write_dockerfile(&pinned("bookworm", &d_sec));
    git(&c, &["commit", "-qam", "chore(deps): update base digest"]);
    git(&c, &["checkout", "-q", "main"]);

    let check = |base: &str, head: &str| {
        let out = f.safeimage(&["diff", "--git-base", base, "--git-head", head, "-f", "json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code(), v)
    };
    let (code, v) = check("main", "renovate/base");
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["images"][0]["image"], "app");
    assert_eq!(v["images"][0]["security"]["verdict"], "improved", "{v:#}");
    assert!(v["markdown"].as_str().unwrap().contains("**improved**"));

    // the other way round: more findings, blocked, exit 1
    let (code, v) = check("renovate/base", "main");
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v["images"][0]["security"]["verdict"], "blocked");
    assert!(
        v["images"][0]["security"]["reason"]
            .as_str()
            .unwrap()
            .contains("went up")
    );

    // nothing of the image changed: no build, exit 0
    git(&c, &["checkout", "-q", "-b", "docs"]);
    std::fs::write(c.join("README.md"), "docs\n").unwrap();
    git(&c, &["add", "README.md"]);
    git(&c, &["commit", "-qm", "docs"]);
    let (code, v) = check("main", "docs");
    assert_eq!(code, Some(0));
    assert_eq!(v["images"], serde_json::json!([]));
    assert_eq!(v["unchanged"][0], "app");
}

#[test]
fn on_github_the_pull_request_carries_the_diff_and_is_merged_when_security_improves() {
    let state = std::sync::Arc::new(std::sync::Mutex::new(testkit::github::State::default()));
    let gh = testkit::github::github(state.clone());
    let update = format!(
        "automerge = \"security-improved\"\nforge = \"github\"\nproject = \"o/r\"\napi_url = \"{}\"\ntoken_env = \"SAFEIMAGE_TEST_FORGE_TOKEN\"\nlabels = [\"base-image\"]",
        gh.url
    );
    let f = Fleet::new("FROM scratch\n", &update, "");
    let d1 = f.push_base(Base::Main, "base/debian:bookworm");
    f.write_dockerfile(&SMALL.replace("{reg}", f.r()).replace("{digest}", &d1));
    git(&f.clone_dir(), &["commit", "-qam", "pin the base"]);
    git(&f.clone_dir(), &["push", "-q", "origin", "main"]);
    assert_eq!(f.safeimage(&["run"]).status.code(), Some(0));
    f.push_base(Base::Security, "base/debian:bookworm");

    let r = f.update_with(&[], &[("SAFEIMAGE_TEST_FORGE_TOKEN", "tok")]);
    let pushed = &r["pushed"][0];
    assert_eq!(
        pushed["pull_request"], "https://github.invalid/o/r/pull/1",
        "{r:#}"
    );
    assert_eq!(pushed["merged"], true);
    let st = state.lock().unwrap();
    assert_eq!(st.prs.len(), 1);
    assert_eq!(st.prs[0].branch, "safeimage/update/app");
    assert_eq!(
        st.prs[0].merged_at.as_deref(),
        pushed["commit"].as_str(),
        "merged at the pushed commit"
    );
    assert!(
        st.prs[0].body.contains("**Security: improved**"),
        "{}",
        st.prs[0].body
    );
    assert!(
        st.prs[0].body.contains("<summary>Packages:"),
        "{}",
        st.prs[0].body
    );
    drop(st);
    let labels = gh
        .requests()
        .into_iter()
        .find(|q| q.path.ends_with("/labels"))
        .expect("labels set");
    assert_eq!(
        labels.body.unwrap()["labels"],
        serde_json::json!(["base-image"])
    );
    assert_eq!(gh.violations(), Vec::<String>::new());

    // the proposal is kept in the store for the service's image page
    use store::StateStore as _;
    let kept = store::Sqlite::open(
        &f.clone_dir().join("state/state.db"),
        &f.clone_dir().join("state/audit"),
    )
    .unwrap()
    .meta(store::UPDATE_PROPOSALS)
    .unwrap()
    .expect("the last update's proposals");
    let kept: serde_json::Value = serde_json::from_str(&kept).unwrap();
    assert_eq!(kept["proposals"][0]["merged"], true, "{kept}");
    assert_eq!(
        kept["proposals"][0]["pull_request"],
        "https://github.invalid/o/r/pull/1"
    );
    assert_eq!(kept["proposals"][0]["updates"][0]["image"], "app");

    // without the token the run stops before anything is built, naming the variable
    let out = f.safeimage(&["update"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SAFEIMAGE_TEST_FORGE_TOKEN"));
}

#[test]
fn on_gitlab_a_merge_request_no_longer_proposed_is_closed_through_gitlabs_api() {
    // the binary's GitLab wiring (api_url with /api/v4, the project path,
    // PRIVATE-TOKEN from the named variable) end to end, with nothing to
    // build: the base is current, so the only work is closing the stale
    // merge request and deleting its branch
    let state = std::sync::Arc::new(std::sync::Mutex::new(testkit::gitlab::State::default()));
    state.lock().unwrap().mrs.push(testkit::gitlab::Mr {
        iid: 1,
        source_branch: "safeimage/update/old".into(),
        target_branch: "main".into(),
        title: "update the base of old".into(),
        description: String::new(),
        labels: vec![],
        state: "opened".into(),
        auto_merge_sha: None,
        remove_source_branch: true,
    });
    let gl = testkit::gitlab::gitlab(state.clone());
    let update = format!(
        "forge = \"gitlab\"\nproject = \"{}\"\napi_url = \"{}/api/v4\"\ntoken_env = \"SAFEIMAGE_TEST_FORGE_TOKEN\"",
        testkit::gitlab::PROJECT,
        gl.url
    );
    let f = Fleet::new("FROM scratch\n", &update, "");
    let d1 = f.push_base(Base::Main, "base/debian:bookworm");
    f.write_dockerfile(&SMALL.replace("{reg}", f.r()).replace("{digest}", &d1));
    git(&f.clone_dir(), &["commit", "-qam", "pin the base"]);
    git(&f.clone_dir(), &["push", "-q", "origin", "main"]);
    git(
        &f.clone_dir(),
        &["push", "-q", "origin", "main:safeimage/update/old"],
    );

    let r = f.update_with(&[], &[("SAFEIMAGE_TEST_FORGE_TOKEN", "tok")]);
    assert_eq!(r["plan"]["proposals"], serde_json::json!([]), "{r:#}");
    assert_eq!(r["closed"][0]["branch"], "safeimage/update/old", "{r:#}");
    assert_eq!(
        r["closed"][0]["url"],
        "https://gitlab.invalid/group/app/-/merge_requests/1"
    );
    assert_eq!(state.lock().unwrap().mrs[0].state, "closed");
    assert_eq!(f.remote_branches(), vec!["main".to_string()]);
    let calls: Vec<String> = gl
        .requests()
        .iter()
        .map(|q| format!("{} {}", q.method, q.path.split('?').next().unwrap()))
        .collect();
    assert_eq!(
        calls,
        [
            "GET /api/v4/projects/group%2Fapp/merge_requests",
            "PUT /api/v4/projects/group%2Fapp/merge_requests/1"
        ]
    );
    assert!(
        gl.requests()
            .iter()
            .all(|q| q.headers.get("private-token").map(String::as_str) == Some("tok"))
    );
    assert_eq!(gl.violations(), Vec::<String>::new());

    // without the token the run stops naming the variable, not its value
    let out = f.safeimage(&["update"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SAFEIMAGE_TEST_FORGE_TOKEN") && err.contains("GitLab"),
        "{err}"
    );
}
