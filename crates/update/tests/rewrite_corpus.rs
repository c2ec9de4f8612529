//! The rewrite over the real-world Dockerfile corpus: for every file that
//! parses, each tagged registry base is pinned to `tag@sha256:...` and the
//! result is the input with exactly that text replaced at each place the
//! reference is written (or at the global ARG default a FROM names), and
//! nothing else; files it cannot rewrite in place say why.

use std::collections::HashMap;

use dockerfile::{Parsed, SourceFile};
use update::rewrite::{Edit, RewriteError, rewrite};

const D: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn corpus() -> Vec<std::path::PathBuf> {
    let root = testkit::data_dir().join("corpus/dockerfiles");
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
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

#[test]
fn every_corpus_base_is_pinned_with_every_other_byte_kept() {
    let (mut rewritten, mut refused) = (0, 0);
    for path in corpus() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let src = SourceFile::new(path.display().to_string(), text.clone());
        let Ok(p) = Parsed::parse(&src, &HashMap::new()) else {
            continue;
        };
        for b in p.base_refs() {
            let Some(tag) = b.reference.tag() else {
                continue;
            };
            if b.reference.digest().is_some() {
                continue;
            }
            let to = format!(
                "{}/{}:{tag}@{D}",
                b.reference.registry(),
                b.reference.repository()
            );
            let edit = Edit {
                from: b.reference.clone(),
                to: to.clone(),
            };
            match rewrite("f", &text, &HashMap::new(), std::slice::from_ref(&edit)) {
                Ok(out) => {
                    rewritten += 1;
                    // The input with each replaced range swapped for the
                    // new reference is the output, byte for byte...
                    let mut expect = String::new();
                    let mut at = 0;
                    for r in &out.replaced {
                        expect.push_str(&text[at..r.start]);
                        expect.push_str(&to);
                        at = r.end;
                        // ...and each range held exactly this reference.
                        let held: oci::ImageRef = text[r.clone()]
                            .trim_matches('"')
                            .parse()
                            .unwrap_or_else(|e| {
                                panic!("{}: `{}`: {e}", path.display(), &text[r.clone()])
                            });
                        assert_eq!(held, b.reference, "{}", path.display());
                    }
                    expect.push_str(&text[at..]);
                    assert_eq!(out.text, expect, "{}", path.display());
                }
                Err(RewriteError::NotInPlace { written, .. }) => {
                    assert!(written.contains('$'), "{}: {written}", path.display());
                    refused += 1;
                }
                Err(e) => panic!("{}: {e}", path.display()),
            }
        }
    }
    assert!(rewritten > 100, "{rewritten} rewritten, {refused} refused");
}
