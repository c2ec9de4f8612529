//! The README's test command on a clone without its test data: it stops at
//! once with a message naming what it needs and where, before building or
//! installing anything.

use std::process::Command;

#[test]
fn without_shared_the_test_command_names_what_it_needs() {
    let root = tempfile::tempdir().unwrap();
    let clone = root.path().join("clone");
    std::fs::create_dir_all(clone.join("scripts")).unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::copy(repo.join("scripts/test"), clone.join("scripts/test")).unwrap();
    let out = Command::new("bash")
        .arg(clone.join("scripts/test"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let shared = root.path().canonicalize().unwrap().join("shared");
    assert!(err.contains(&shared.display().to_string()), "{err}");
    assert!(
        err.contains("corpus/dockerfiles") && err.contains("fixtures/osv"),
        "{err}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "nothing ran"
    );
}
