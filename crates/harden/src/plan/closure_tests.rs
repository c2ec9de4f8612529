//! The entrypoint's ELF closure on built test programs: interpreters,
//! DT_NEEDED, RPATH/RUNPATH with `$ORIGIN`, `ld.so.conf`, symlink chains.

use super::*;
use crate::HardenError;
use oci::layer::{Entry, LayerRecord};

enum K {
    F(Vec<u8>),
    L(&'static str),
    D,
}

fn tree(entries: Vec<(&str, K)>) -> FileTree {
    let rec = LayerRecord {
        entries: entries
            .into_iter()
            .map(|(p, k)| {
                let (kind, content) = match k {
                    K::F(d) => (EntryKind::File, Some(d)),
                    K::L(t) => (EntryKind::Symlink { target: t.into() }, None),
                    K::D => (EntryKind::Dir, None),
                };
                Entry {
                    path: p.into(),
                    size: content.as_ref().map_or(0, |c| c.len() as u64),
                    kind,
                    mode: 0o755,
                    content,
                    extract: None,
                }
            })
            .collect(),
        notes: Vec::new(),
    };
    FileTree::from_layers([&rec])
}

fn spec(entry: &str) -> Spec {
    Spec {
        entrypoint: entry.into(),
        keep: Vec::new(),
        user: User::Id(65532, 65532),
        env: Vec::new(),
    }
}

/// This test binary, and the host files its loader would open.
fn me() -> (Vec<u8>, ElfInfo) {
    let data = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let info = elf::parse(&data).unwrap().unwrap();
    (data, info)
}

fn host_lib(name: &str) -> Vec<u8> {
    for d in [
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib64",
        "/lib",
    ] {
        if let Ok(b) = std::fs::read(format!("{d}/{name}")) {
            return b;
        }
    }
    panic!("{name} not on this machine")
}

#[test]
fn a_symlink_loop_is_named() {
    let t = tree(vec![
        ("usr/bin/app", K::L("loop")),
        ("usr/bin/loop", K::L("app")),
    ]);
    let e = plan(&t, &spec("/usr/bin/app")).unwrap_err();
    assert!(matches!(e, HardenError::SymlinkLoop { .. }), "{e}");
    assert!(e.to_string().contains("usr/bin/app"), "{e}");
}

#[test]
fn a_missing_library_names_itself_its_user_and_where_it_looked() {
    let (data, info) = me();
    let t = tree(vec![("usr/bin/app", K::F(data))]);
    let e = plan(&t, &spec("/usr/bin/app")).unwrap_err().to_string();
    let first = info
        .interpreter
        .clone()
        .unwrap_or_else(|| info.needed[0].clone());
    assert!(e.contains(&first), "{e}");
    assert!(e.contains("needed by /usr/bin/app"), "{e}");
    assert!(e.contains("searched"), "{e}");
}

#[test]
fn libraries_are_found_through_ld_so_conf_and_their_links_are_kept() {
    let (data, info) = me();
    let interp = info.interpreter.clone().unwrap();
    let interp_name = interp.rsplit('/').next().unwrap().to_string();
    let mut entries = vec![
        ("usr/bin/app", K::F(data)),
        (
            "etc/ld.so.conf",
            K::F(b"include /etc/ld.so.conf.d/*.conf\n".to_vec()),
        ),
        (
            "etc/ld.so.conf.d/opt.conf",
            K::F(b"# ours\n/opt/lib\n".to_vec()),
        ),
        ("opt", K::D),
        ("opt/lib", K::D),
    ];
    let interp_path = interp.trim_start_matches('/').to_string();
    let interp_leak: &'static str = Box::leak(interp_path.into_boxed_str());
    entries.push((interp_leak, K::F(host_lib(&interp_name))));
    let mut names = info.needed.clone();
    for n in &info.needed {
        // what the libraries themselves need, one level down
        let lib = elf::parse(&host_lib(n)).unwrap().unwrap();
        names.extend(lib.needed.into_iter().filter(|x| x != &interp_name));
    }
    names.sort();
    names.dedup();
    for n in &names {
        let real: &'static str = Box::leak(format!("opt/lib/{n}.real").into_boxed_str());
        let link: &'static str = Box::leak(format!("opt/lib/{n}").into_boxed_str());
        let target: &'static str = Box::leak(format!("{n}.real").into_boxed_str());
        entries.push((real, K::F(host_lib(n))));
        entries.push((link, K::L(target)));
    }
    // the loader's name for itself, found the way libc asks for it
    let by_name: &'static str = Box::leak(format!("opt/lib/{interp_name}").into_boxed_str());
    let abs: &'static str = Box::leak(interp.clone().into_boxed_str());
    entries.push((by_name, K::L(abs)));
    entries.push(("bin/sh", K::F(b"#!".to_vec())));
    let t = tree(entries);
    let p = plan(&t, &spec("/usr/bin/app")).unwrap();
    for n in info.needed.iter().filter(|n| **n != interp_name) {
        assert!(
            matches!(
                p.entries.get(&format!("opt/lib/{n}")),
                Some(Kept::Symlink { .. })
            ),
            "{n} kept as a link: {:?}",
            p.entries.keys().collect::<Vec<_>>()
        );
        assert!(
            matches!(
                p.entries.get(&format!("opt/lib/{n}.real")),
                Some(Kept::File { .. })
            ),
            "{n}: {:?}",
            p.entries.keys().collect::<Vec<_>>()
        );
    }
    assert!(p.entries.contains_key(interp.trim_start_matches('/')));
    assert!(!p.entries.contains_key("bin/sh"));
    assert!(!p.entries.contains_key("etc/ld.so.conf"));
    assert_eq!(p.user, (65532, 65532));
    assert!(matches!(
        p.entries.get("home/nonroot"),
        Some(Kept::Dir {
            owner: (65532, 65532),
            ..
        })
    ));
}

#[test]
fn keep_paths_cannot_leave_the_root_nor_ask_for_a_shell() {
    let t = tree(vec![
        ("usr/bin/app", K::F(b"\x7fELF".to_vec())),
        ("bin/bash", K::F(b"x".to_vec())),
    ]);
    let mut s = spec("/usr/bin/app");
    s.keep = vec!["../etc".into()];
    // (the fake entrypoint fails first as malformed ELF: use a keep-only check)
    let e = plan(&t, &s).unwrap_err();
    assert!(matches!(e, HardenError::BadElf { .. }), "{e}");
    let (data, _) = me();
    let t = tree(vec![
        ("usr/bin/app", K::F(data)),
        ("bin/bash", K::F(b"x".to_vec())),
    ]);
    for (keep, want) in [
        ("../etc", "leaves the image root"),
        ("/bin/bash", "never carries shells"),
    ] {
        let mut s = spec("/usr/bin/app");
        s.keep = vec![keep.into()];
        let e = plan(&t, &s).unwrap_err().to_string();
        assert!(e.contains(want), "{keep}: {e}");
    }
}
