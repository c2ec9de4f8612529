//! Errors name the thing that is wrong and say each cause once.

mod support;

use support::*;

fn err(args: &[&str]) -> String {
    let d = tempfile::tempdir().unwrap();
    let out = safeimage_in(d.path(), args, &[]);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_bad_reference_is_named_once() {
    let e = err(&["sbom", "Foo:bar:baz"]);
    assert!(
        e.contains("`Foo:bar:baz`") && e.contains("must be lowercase"),
        "{e}"
    );
    assert_eq!(e.matches("must be lowercase").count(), 1, "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn a_missing_layout_is_named_once() {
    let e = err(&["sbom", "oci:/nonexistent"]);
    assert!(e.contains("/nonexistent"), "{e}");
    assert_eq!(e.matches("No such file or directory").count(), 1, "{e}");
}

#[test]
fn a_missing_store_is_not_created_by_verify() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("fleet.toml"),
        "[[image]]\nname = \"a\"\ncontext = \".\"\nrepository = \"127.0.0.1:9/a\"\n",
    )
    .unwrap();
    let out = safeimage_in(
        d.path(),
        &["audit", "verify", "--config", "fleet.toml"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("no state store at") && e.contains("state.db"),
        "{e}"
    );
    assert!(
        !d.path().join(".safeimage").exists(),
        "verify wrote nothing"
    );
}
