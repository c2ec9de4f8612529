//! The built-in shell checks against the ShellCheck binary on every RUN
//! script of the Dockerfile corpus: for the codes Hadolint users see most
//! (SC2086, SC2046, SC2155), the findings must match ShellCheck's, same file,
//! line and column, with precision and recall of at least 95% each; the
//! other built-in codes are held to the same bar where the corpus has them.
//! Needs Debian's `shellcheck` (CI installs it) and `../shared` next to the
//! repository.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use dockerfile::{LintConfig, SourceFile};

fn corpus() -> Vec<SourceFile> {
    support::corpus_files()
        .iter()
        .map(|f| SourceFile::new(f.display().to_string(), std::fs::read_to_string(f).unwrap()))
        .collect()
}

type Key = (String, u32, u32);

fn findings(files: &[SourceFile], binary: bool) -> BTreeMap<String, BTreeSet<Key>> {
    let cfg = LintConfig {
        shellcheck: binary,
        ..Default::default()
    };
    let report = dockerfile::lint(files, &cfg);
    assert_eq!(report.shellcheck_ran, binary);
    assert_eq!(report.native_shell_checks_ran, !binary);
    let mut out: BTreeMap<String, BTreeSet<Key>> = BTreeMap::new();
    for f in report.findings {
        if f.code.starts_with("SC") {
            out.entry(f.code.clone()).or_default().insert((
                f.location.path.clone(),
                f.location.line,
                f.location.column,
            ));
        }
    }
    out
}

#[test]
#[allow(clippy::print_stderr)] // the measured table is the point of this test
fn built_in_checks_match_shellcheck_on_the_corpus() {
    assert!(
        dockerfile::shellcheck::find().is_some(),
        "this test compares with ShellCheck: apt-get install shellcheck"
    );
    let files = corpus();
    let theirs = findings(&files, true);
    let ours = findings(&files, false);
    let empty = BTreeSet::new();
    let mut table = String::new();
    let mut failures = Vec::new();
    for n in dockerfile::shell_checks::CODES {
        let code = format!("SC{n}");
        let a = theirs.get(&code).unwrap_or(&empty);
        let b = ours.get(&code).unwrap_or(&empty);
        let tp = a.intersection(b).count();
        let precision = if b.is_empty() {
            1.0
        } else {
            tp as f64 / b.len() as f64
        };
        let recall = if a.is_empty() {
            1.0
        } else {
            tp as f64 / a.len() as f64
        };
        table.push_str(&format!(
            "{code}: shellcheck {} built-in {} both {tp} precision {precision:.3} recall {recall:.3}\n",
            a.len(),
            b.len()
        ));
        if precision < 0.95 || recall < 0.95 {
            failures.push(format!(
                "{code}: missed {:?}, extra {:?}",
                a.difference(b).take(5).collect::<Vec<_>>(),
                b.difference(a).take(5).collect::<Vec<_>>()
            ));
        }
    }
    eprintln!("{table}");
    for code in ["SC2086", "SC2046", "SC2155"] {
        assert!(
            theirs.get(code).is_some_and(|s| s.len() >= 20),
            "{code}: the corpus should give ShellCheck findings to compare with\n{table}"
        );
    }
    assert!(failures.is_empty(), "{table}{failures:#?}");
}
