//! Shared by the integration tests: the Dockerfile corpus of the test data
//! (`testkit::data_dir`: `../shared`, or what scripts/fetch-test-data fetched).

use std::path::PathBuf;

/// Every Dockerfile of the corpus, sorted.
pub fn corpus_files() -> Vec<PathBuf> {
    let root = testkit::data_dir().join("corpus/dockerfiles");
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
