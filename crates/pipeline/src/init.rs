//! `safeimage init`: what to write into a repository so the daily run and
//! its CI checks work there — one `[[image]]` per Dockerfile found (named
//! after its folder, unique), the gate and base-image policy the examples
//! use, commented; a GitHub workflow (pull-request checks with SARIF, and
//! the daily run); an ignore-file skeleton. Pure: the caller writes the
//! files (and refuses to overwrite without being told to).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The files to write, relative to the repository root, with their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `(path, text)` in the order they are written.
    pub files: Vec<(PathBuf, String)>,
    /// The images, `(name, context, dockerfile file name)`.
    pub images: Vec<(String, String, String)>,
}

/// The config file's name.
pub const CONFIG: &str = "safeimage.toml";
/// The ignore file's name.
pub const IGNORE: &str = ".safeimage-ignore.yaml";
/// The workflow's path.
pub const WORKFLOW: &str = ".github/workflows/safeimage.yml";

/// An image name from a folder path: lower case, `[a-z0-9._-]`, starting
/// with a letter or digit.
fn slug(s: &str) -> String {
    let mut out: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.starts_with(['-', '.', '_']) {
        out.remove(0);
    }
    out.truncate(100);
    if out.is_empty() { "image".into() } else { out }
}

/// TOML basic string.
fn q(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if c.is_control() => o.push_str(&format!("\\u{:04X}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Plans the files for a repository at `root` whose Dockerfiles are
/// `dockerfiles` (paths under `root`); images are pushed to
/// `registry`/NAME; images are tagged with the commit too when `git` (the
/// repository has a commit to name).
pub fn plan(root: &Path, dockerfiles: &[PathBuf], registry: &str, git: bool) -> Plan {
    let repo_name = root
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "app".into());
    let mut taken = BTreeSet::new();
    let mut images = Vec::new();
    for df in dockerfiles {
        let rel = df.strip_prefix(root).unwrap_or(df);
        let context = rel
            .parent()
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let file = rel
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Dockerfile".into());
        let base = if context.is_empty() {
            slug(&repo_name)
        } else {
            slug(&context.replace('/', "-"))
        };
        // `Dockerfile.prod` next to `Dockerfile`: name the variant
        let variant = file
            .to_ascii_lowercase()
            .trim_start_matches("dockerfile")
            .trim_start_matches("containerfile")
            .trim_end_matches(".dockerfile")
            .trim_end_matches(".containerfile")
            .trim_matches('.')
            .to_string();
        let mut name = if variant.is_empty() {
            base
        } else {
            format!("{base}-{}", slug(&variant))
        };
        if taken.contains(&name) {
            let mut n = 2;
            while taken.contains(&format!("{name}-{n}")) {
                n += 1;
            }
            name = format!("{name}-{n}");
        }
        taken.insert(name.clone());
        images.push((
            name,
            if context.is_empty() {
                ".".into()
            } else {
                context
            },
            file,
        ));
    }
    let registry = registry.trim_end_matches('/');
    let mut config = String::from(
        "# safeimage fleet config, written by `safeimage init`; the README has every key.\n\
         # `safeimage run` rebuilds each image from its newest base, lints it, scans it and\n\
         # its build context for secrets, scans it for vulnerabilities, gates it, and only\n\
         # then pushes and tags it. Try it with `safeimage run --dry-run`.\n\n",
    );
    for (name, context, file) in &images {
        config.push_str("[[image]]\n");
        config.push_str(&format!("name = {}\n", q(name)));
        config.push_str(&format!("context = {}\n", q(context)));
        if file != "Dockerfile" {
            config.push_str(&format!(
                "dockerfile = {}                 # relative to the context\n",
                q(file)
            ));
        }
        config.push_str(&format!(
            "repository = {}   # where promoted images are pushed\n",
            q(&format!("{registry}/{name}"))
        ));
        config.push_str(if git {
            "tags = [\"latest\", \"{date}\", \"{git_sha}\"]\n"
        } else {
            "tags = [\"latest\", \"{date}\"]              # \"{git_sha}\" once this is a git repository\n"
        });
        config.push_str("# platforms = [\"linux/amd64\", \"linux/arm64\"]\n\n");
    }
    config.push_str(
        "[engine]\n\
         kind = \"buildah\"            # or \"buildkit\", \"podman\"\n\n\
         [gate]\n\
         fail_on = \"high\"            # a fixable HIGH or CRITICAL blocks promotion\n\
         only_fixed = true\n\
         fail_on_new = \"critical\"    # against the last promoted image\n\
         fail_on_increase = true\n\n\
         [scan]\n\
         ignore_files = [\".safeimage-ignore.yaml\"]\n\
         # db = \"advisories.db\"      # `safeimage db update` builds it\n\n\
         [lint]\n\
         failure_threshold = \"error\"\n\n\
         [policy.base_images]\n\
         preferred = [\"gcr.io/distroless/*\", \"cgr.dev/chainguard/*\", \"alpine\"]\n\
         permitted = [\"debian\", \"ubuntu\"]\n\
         restricted = [\"node\", \"python\", \"golang\"]\n\
         default_tier = \"permitted\"  # \"prohibited\" once every base is listed\n\
         trusted_registries = [\"docker.io\", \"gcr.io\", \"cgr.dev\"]\n\n\
         # Secrets in the build context, the git history and every layer:\n\
         # [secrets]\n\
         # context = \"block\"\n\
         # history = \"block\"\n\
         # image = \"block\"\n\n\
         # [notify.slack]\n\
         # url_env = \"SLACK_WEBHOOK_URL\"\n\
         # on = [\"blocked\", \"failed\"]\n\n\
         [schedule]\n\
         cron = \"0 4 * * *\"          # for a scheduler (the workflow's schedule); `run` is one pass\n",
    );
    let ignore = "# Vulnerabilities accepted on purpose: each with a reason, optionally a\n\
                  # package and an expiry date (YYYY-MM-DD), after which it is reported again.\n\
                  ignore: []\n\
                  # - id: CVE-2023-12345\n\
                  #   package: libexample\n\
                  #   reason: not reachable: the feature is disabled in our build\n\
                  #   expires: 2027-01-31\n";
    let workflow = "# safeimage on GitHub Actions (written by `safeimage init`): Dockerfile lint\n\
# and a secrets scan on pull requests, with SARIF for code scanning; the\n\
# daily run (rebuild, scan, gate, push) on a schedule.\n\
name: safeimage\n\
on:\n\
\x20 pull_request:\n\
\x20 schedule:\n\
\x20   - cron: \"0 4 * * *\"\n\
\x20 workflow_dispatch:\n\
permissions:\n\
\x20 contents: read\n\
\x20 security-events: write\n\
env:\n\
\x20 SAFEIMAGE_GIT: https://example.invalid/safeimage   # where safeimage is built from\n\
\x20 # the full commit SHA of the safeimage release you checked (never a tag or branch)\n\
\x20 SAFEIMAGE_REV: 0000000000000000000000000000000000000000\n\
jobs:\n\
\x20 check:\n\
\x20   if: github.event_name == 'pull_request'\n\
\x20   runs-on: ubuntu-24.04\n\
\x20   steps:\n\
\x20     - uses: actions/checkout@v4\n\
\x20       with:\n\
\x20         fetch-depth: 0\n\
\x20     - run: sudo apt-get install -y nasm autoconf automake libtool make\n\
\x20     - run: cd /tmp && cargo install --locked --git \"$SAFEIMAGE_GIT\" --rev \"$SAFEIMAGE_REV\" safeimage\n\
\x20     - run: safeimage lint --format sarif -o lint.sarif . || true\n\
\x20     - run: safeimage secrets --git . --format sarif -o secrets.sarif || true\n\
\x20     - uses: github/codeql-action/upload-sarif@v3\n\
\x20       with:\n\
\x20         sarif_file: .\n\
\x20     - run: safeimage lint . && safeimage secrets --git .\n\
\x20 daily:\n\
\x20   if: github.event_name != 'pull_request'\n\
\x20   runs-on: ubuntu-24.04\n\
\x20   steps:\n\
\x20     - uses: actions/checkout@v4\n\
\x20     - run: sudo apt-get install -y buildah nasm autoconf automake libtool make\n\
\x20     - run: cd /tmp && cargo install --locked --git \"$SAFEIMAGE_GIT\" --rev \"$SAFEIMAGE_REV\" safeimage\n\
\x20     - run: safeimage db update\n\
\x20     - run: safeimage run --config safeimage.toml\n";
    Plan {
        files: vec![
            (PathBuf::from(CONFIG), config),
            (PathBuf::from(IGNORE), ignore.to_string()),
            (PathBuf::from(WORKFLOW), workflow.to_string()),
        ],
        images,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_unique_name_per_dockerfile() {
        let root = Path::new("/repo");
        let dfs: Vec<PathBuf> = [
            "/repo/Dockerfile",
            "/repo/services/API/Dockerfile",
            "/repo/services/API/Dockerfile.debug",
            "/repo/services_api/Dockerfile",
            "/repo/services-api/Dockerfile",
            "/repo/web/app.containerfile",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let p = plan(root, &dfs, "ghcr.io/acme/", true);
        let names: Vec<&str> = p.images.iter().map(|i| i.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "app",
                "services-api",
                "services-api-debug",
                "services_api",
                "services-api-2",
                "web-app"
            ]
        );
        assert_eq!(p.images[2].2, "Dockerfile.debug");
        let cfg = &p.files[0].1;
        assert!(
            cfg.contains("repository = \"ghcr.io/acme/services-api-debug\""),
            "{cfg}"
        );
        assert!(cfg.contains("dockerfile = \"Dockerfile.debug\""), "{cfg}");
        assert!(cfg.contains("context = \".\""), "{cfg}");
        assert!(cfg.contains("{git_sha}\"]"), "{cfg}");
        let p = plan(root, &dfs, "ghcr.io/acme", false);
        assert!(!p.files[0].1.contains("{git_sha}\"]"));
    }
}
