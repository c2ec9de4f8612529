//! What a plan keeps and refuses: denied names, keep paths, accounts.

use super::*;

#[test]
fn users_parse_and_root_is_refused() {
    assert_eq!("65532".parse::<User>().unwrap(), User::Id(65532, 65532));
    assert_eq!("1000:2000".parse::<User>().unwrap(), User::Id(1000, 2000));
    assert_eq!(
        "www-data".parse::<User>().unwrap(),
        User::Name("www-data".into())
    );
    assert!("0".parse::<User>().is_err());
    assert!("1000:x".parse::<User>().is_err());
}

#[test]
fn shells_package_managers_and_compilers_are_denied() {
    for p in [
        "bin/sh",
        "usr/bin/bash",
        "bin/busybox",
        "usr/bin/apt-get",
        "usr/bin/gcc-12",
        "usr/bin/sudo",
    ] {
        assert!(denied(p), "{p}");
    }
    for p in [
        "usr/sbin/nginx",
        "usr/bin/shred",
        "usr/lib/x86_64-linux-gnu/libc.so.6",
        "usr/bin/ccache",
    ] {
        assert!(!denied(p), "{p}");
    }
}
