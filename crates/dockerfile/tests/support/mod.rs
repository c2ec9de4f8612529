//! Shared by the integration tests: the Dockerfile corpus in `../shared`.

use std::path::PathBuf;

/// Every Dockerfile of `../shared/corpus/dockerfiles`, sorted.
pub fn corpus_files() -> Vec<PathBuf> {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/dockerfiles");
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "SOURCES.tsv") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}
