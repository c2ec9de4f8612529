//! The environment-variable registry is the only reader of the
//! environment, and the README lists exactly what it holds.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn only_the_registry_reads_the_environment() {
    let mut files = Vec::new();
    for c in std::fs::read_dir(repo().join("crates")).unwrap() {
        let src = c.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 50, "walked {} files", files.len());
    let registry = repo().join("crates/settings/src/env.rs");
    let mut bad = Vec::new();
    for f in files {
        if f.ends_with("crates/settings/src/env.rs") || f == registry {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            // clap's `env = "NAME"` (not `url_env = "..."` in a TOML text).
            let clap_env = code.match_indices("env = \"").any(|(i, _)| {
                !code[..i]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if code.contains("env::var(")
                || code.contains("env::var_os(")
                || code.contains("env::vars(")
                || clap_env
            {
                bad.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "read the environment through settings::env:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_readme_lists_every_variable_and_no_other() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme
        .split("## Environment variables")
        .nth(1)
        .expect("README has an `## Environment variables` section");
    let section = section.split("\n## ").next().unwrap();
    for v in settings::env::ALL {
        assert!(
            section.contains(&format!("`{}`", v.name)),
            "README misses {}",
            v.name
        );
    }
    let mut listed = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let name = line.trim_start_matches("| `").split('`').next().unwrap();
        listed.push(name.to_string());
    }
    for name in &listed {
        assert!(
            settings::env::ALL.iter().any(|v| v.name == name),
            "README lists {name}, which the registry does not have"
        );
    }
    assert_eq!(listed.len(), settings::env::ALL.len());
}
