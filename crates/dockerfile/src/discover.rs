//! Finding Dockerfiles in a directory tree: `Dockerfile*`, `Containerfile*`
//! and `*.dockerfile`/`*.containerfile` (any case), in name order, skipping
//! `.git`, `target`, `node_modules` and `.venv`. Shared by `lint` (walking
//! the paths it is given) and `init` (one image per Dockerfile found).

use std::path::{Path, PathBuf};

/// Whether a file name is a Dockerfile's.
pub fn is_dockerfile_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("dockerfile")
        || lower.starts_with("containerfile")
        || lower.ends_with(".dockerfile")
        || lower.ends_with(".containerfile")
}

/// Every Dockerfile under `dir`, in name order (depth first).
pub fn find(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot read directory {}: {e}", dir.display()),
            )
        })?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let ft = e.file_type()?;
        if ft.is_dir() {
            if matches!(name.as_str(), ".git" | "target" | "node_modules" | ".venv") {
                continue;
            }
            walk(&e.path(), out)?;
        } else if (ft.is_file() || ft.is_symlink() && e.path().is_file())
            && is_dockerfile_name(&name)
        {
            out.push(e.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_skipped_folders() {
        let d = tempfile::tempdir().unwrap();
        for p in [
            "Dockerfile",
            "api/Dockerfile.prod",
            "web/app.containerfile",
            "node_modules/x/Dockerfile",
            ".git/Dockerfile",
            "docs/README.md",
        ] {
            let f = d.path().join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, "FROM scratch\n").unwrap();
        }
        let found: Vec<String> = find(d.path())
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(d.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(
            found,
            ["Dockerfile", "api/Dockerfile.prod", "web/app.containerfile"]
        );
    }
}
