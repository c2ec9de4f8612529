//! What a hardened image keeps: the entrypoint and every file the dynamic
//! loader would open for it (followed transitively, symlink chains kept as
//! symlinks), `--keep` paths, the well-known run-time modules of a few
//! services, the entrypoint's own config directories, and the system files a
//! service needs (accounts, CA certificates, time zones, os-release). Never
//! shells, package managers, `su`/`sudo` or compilers.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use oci::layer::EntryKind;
use oci::tree::{FileTree, MAX_HOPS};

use crate::HardenError;
use crate::elf::{self, ElfInfo};
use crate::packages;

/// One kept path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// A directory.
    Dir {
        /// Mode bits.
        mode: u32,
        /// Owner uid and gid.
        owner: (u32, u32),
    },
    /// A regular file.
    File {
        /// Mode bits (setuid and setgid removed).
        mode: u32,
        /// Content.
        data: Arc<Vec<u8>>,
    },
    /// A symbolic link, kept as a link.
    Symlink {
        /// Where it points, as stored.
        target: String,
    },
}

pub use crate::accounts::User;

/// What to harden.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The program the image runs (a path in the image).
    pub entrypoint: String,
    /// More paths to keep (files or directories).
    pub keep: Vec<String>,
    /// Who it runs as (default 65532).
    pub user: User,
    /// `LD_LIBRARY_PATH` and the like from the image's environment.
    pub env: Vec<String>,
}

/// The plan: every kept path, and what was found on the way.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Kept paths (no leading `/`), parents included.
    pub entries: BTreeMap<String, Kept>,
    /// The uid and gid the image runs as.
    pub user: (u32, u32),
    /// Packages that own kept files (name and version), from the image's
    /// package database, written back for scanners.
    pub packages: Vec<(String, String)>,
    /// What was left out or changed, for the report.
    pub notes: Vec<String>,
    /// The entrypoint needs nothing but itself.
    pub static_entrypoint: bool,
}

/// Names a hardened image never carries.
const DENIED: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "ash",
    "zsh",
    "ksh",
    "mksh",
    "csh",
    "tcsh",
    "fish",
    "busybox",
    "toybox",
    "apt",
    "apt-get",
    "apt-cache",
    "aptitude",
    "dpkg",
    "dpkg-deb",
    "rpm",
    "yum",
    "dnf",
    "microdnf",
    "apk",
    "zypper",
    "su",
    "sudo",
    "doas",
    "runuser",
    "gcc",
    "g++",
    "cc",
    "c++",
    "clang",
    "clang++",
    "tcc",
];

/// `true` for a path whose file name is a shell, package manager, su/sudo
/// or compiler (versioned names like `gcc-12` included).
pub fn denied(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    DENIED.iter().any(|d| {
        name == *d
            || name
                .strip_prefix(d)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
    })
}

/// Services whose run-time modules no ELF header names: (entrypoint file
/// name, paths kept when present).
const WELL_KNOWN: &[(&str, &[&str])] = &[
    (
        "nginx",
        &["usr/lib/nginx/modules", "usr/share/nginx", "etc/nginx"],
    ),
    ("redis-server", &["etc/redis"]),
    ("httpd", &["usr/lib/apache2/modules", "etc/apache2"]),
    ("apache2", &["usr/lib/apache2/modules", "etc/apache2"]),
    ("haproxy", &["etc/haproxy"]),
    ("postgres", &["usr/lib/postgresql", "usr/share/postgresql"]),
];

const CA_BUNDLES: &[&str] = &[
    "etc/ssl/certs/ca-certificates.crt",
    "etc/pki/tls/certs/ca-bundle.crt",
    "etc/ssl/cert.pem",
];

fn parent(p: &str) -> &str {
    p.rsplit_once('/').map_or("", |(d, _)| d)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

struct Builder<'a> {
    tree: &'a FileTree,
    plan: Plan,
    queue: Vec<String>,
    seen: HashSet<String>,
    ld_dirs: Vec<String>,
    env_dirs: Vec<String>,
    infos: BTreeMap<String, ElfInfo>,
}

impl<'a> Builder<'a> {
    /// Walks `path` like the kernel does, keeping every symlink met on the
    /// way; returns the real path.
    fn walk(&mut self, path: &str) -> Result<String, HardenError> {
        let mut pending: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .rev()
            .map(String::from)
            .collect();
        let mut cur = String::new();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            match part.as_str() {
                "." => continue,
                ".." => {
                    cur = parent(&cur).to_string();
                    continue;
                }
                _ => {}
            }
            let next = join(&cur, &part);
            match self.tree.get(&next) {
                Some(n) => {
                    if let EntryKind::Symlink { target } = &n.kind {
                        hops += 1;
                        if hops > MAX_HOPS {
                            return Err(HardenError::SymlinkLoop {
                                path: path.to_string(),
                            });
                        }
                        self.plan.entries.insert(
                            next.clone(),
                            Kept::Symlink {
                                target: target.clone(),
                            },
                        );
                        if target.starts_with('/') {
                            cur.clear();
                        }
                        pending.extend(
                            target
                                .split('/')
                                .filter(|s| !s.is_empty())
                                .rev()
                                .map(String::from),
                        );
                    } else {
                        cur = next;
                    }
                }
                // a layer may hold `a/b/c` without entries for `a` and `a/b`
                None if !pending.is_empty() => cur = next,
                None => {
                    return Err(HardenError::Missing {
                        path: path.to_string(),
                    });
                }
            }
        }
        Ok(cur)
    }

    /// The real path `path` resolves to, without keeping anything.
    fn exists(&self, path: &str) -> Option<String> {
        let real = self.tree.resolve(path)?;
        self.tree.get(&real).map(|_| real)
    }

    /// Keeps a file or directory (directories whole), queueing ELF files.
    fn keep(&mut self, path: &str, explicit: bool) -> Result<(), HardenError> {
        if explicit && denied(path) {
            return Err(HardenError::Denied {
                path: path.to_string(),
            });
        }
        let real = self.walk(path)?;
        let node = self.tree.get(&real).cloned();
        match node.map(|n| n.kind) {
            Some(EntryKind::Dir) => {
                let below: Vec<(String, EntryKind)> = self
                    .tree
                    .under(&real)
                    .map(|(p, n)| (p.to_string(), n.kind.clone()))
                    .collect();
                self.keep_node(&real);
                for (p, kind) in below {
                    if denied(&p) {
                        self.plan.notes.push(format!(
                            "left out {p} (a shell, package manager or compiler)"
                        ));
                        continue;
                    }
                    match kind {
                        EntryKind::Symlink { target } => {
                            self.plan
                                .entries
                                .insert(p.clone(), Kept::Symlink { target });
                            // keep what a link inside a kept directory points
                            // at, when the image has it
                            if let Some(t) = self.exists(&p)
                                && !t.starts_with(&format!("{real}/"))
                                && !self.seen.contains(&t)
                            {
                                let _ = self.keep(&t, false);
                            }
                        }
                        _ => self.keep_node(&p),
                    }
                }
                Ok(())
            }
            Some(_) => {
                self.keep_node(&real);
                Ok(())
            }
            None => Err(HardenError::Missing {
                path: path.to_string(),
            }),
        }
    }

    /// Keeps one node (not following links), queueing it when it is ELF.
    fn keep_node(&mut self, real: &str) {
        let Some(n) = self.tree.get(real) else { return };
        match &n.kind {
            EntryKind::Dir => {
                self.plan
                    .entries
                    .entry(real.to_string())
                    .or_insert(Kept::Dir {
                        mode: n.mode & 0o1777,
                        owner: (0, 0),
                    });
            }
            EntryKind::File | EntryKind::Hardlink { .. } => {
                let data = n.content.clone().unwrap_or_default();
                if n.mode & 0o6000 != 0 {
                    self.plan
                        .notes
                        .push(format!("removed the setuid/setgid bits of {real}"));
                }
                if elf::is_elf(&data) && self.seen.insert(real.to_string()) {
                    self.queue.push(real.to_string());
                }
                self.plan.entries.insert(
                    real.to_string(),
                    Kept::File {
                        mode: n.mode & 0o1777,
                        data,
                    },
                );
            }
            EntryKind::Symlink { target } => {
                self.plan.entries.insert(
                    real.to_string(),
                    Kept::Symlink {
                        target: target.clone(),
                    },
                );
            }
            _ => {}
        }
    }

    fn info(&mut self, real: &str) -> Result<Option<ElfInfo>, HardenError> {
        if let Some(i) = self.infos.get(real) {
            return Ok(Some(i.clone()));
        }
        let data = self
            .tree
            .get(real)
            .and_then(|n| n.content.clone())
            .unwrap_or_default();
        let info = elf::parse(&data).map_err(|reason| HardenError::BadElf {
            path: real.to_string(),
            reason,
        })?;
        if let Some(i) = &info {
            self.infos.insert(real.to_string(), i.clone());
        }
        Ok(info)
    }

    /// Follows the loader from every queued ELF file until nothing new is found.
    fn close(&mut self) -> Result<(), HardenError> {
        while let Some(path) = self.queue.pop() {
            let Some(info) = self.info(&path)? else {
                continue;
            };
            if let Some(interp) = &info.interpreter {
                self.keep(interp, false).map_err(|_| HardenError::Library {
                    name: interp.clone(),
                    needed_by: path.clone(),
                    searched: vec![interp.clone()],
                })?;
            }
            for lib in &info.needed {
                self.library(lib, &info, &path)?;
            }
        }
        Ok(())
    }

    fn expand(dir: &str, origin: &str, is_64: bool) -> Vec<String> {
        let d = dir.replace("${ORIGIN}", "$ORIGIN");
        let d = d.replace("$ORIGIN", &format!("/{origin}"));
        if d.contains("$LIB") || d.contains("${LIB}") {
            let libs: &[&str] = if is_64 { &["lib64", "lib"] } else { &["lib"] };
            libs.iter()
                .map(|l| d.replace("${LIB}", l).replace("$LIB", l))
                .collect()
        } else {
            vec![d]
        }
    }

    fn library(&mut self, name: &str, info: &ElfInfo, by: &str) -> Result<(), HardenError> {
        let mut searched = Vec::new();
        let candidates: Vec<String> = if name.contains('/') {
            vec![name.to_string()]
        } else {
            let origin = parent(by).to_string();
            let mut dirs = Vec::new();
            if info.runpath.is_empty() {
                for d in &info.rpath {
                    dirs.extend(Self::expand(d, &origin, info.is_64));
                }
            }
            dirs.extend(self.env_dirs.iter().cloned());
            for d in &info.runpath {
                dirs.extend(Self::expand(d, &origin, info.is_64));
            }
            dirs.extend(self.ld_dirs.iter().cloned());
            if info.is_64 {
                dirs.extend(["lib64".to_string(), "usr/lib64".to_string()]);
            }
            dirs.extend(["lib".to_string(), "usr/lib".to_string()]);
            dirs.into_iter()
                .map(|d| join(d.trim_matches('/'), name))
                .collect()
        };
        for c in candidates {
            searched.push(format!("/{}", c.trim_start_matches('/')));
            let Some(real) = self.exists(&c) else {
                continue;
            };
            match self.info(&real)? {
                Some(lib) if info.compatible(&lib) => {
                    self.keep(&c, false)?;
                    return Ok(());
                }
                _ => continue,
            }
        }
        Err(HardenError::Library {
            name: name.to_string(),
            needed_by: by.to_string(),
            searched,
        })
    }
}

/// The directories `etc/ld.so.conf` (and what it includes) lists.
fn ld_so_conf(tree: &FileTree) -> Vec<String> {
    let mut out = Vec::new();
    let mut files = vec!["etc/ld.so.conf".to_string()];
    let mut read = HashSet::new();
    while let Some(f) = files.pop() {
        if !read.insert(f.clone()) || read.len() > 256 {
            continue;
        }
        let Some(text) = tree.read(&f) else { continue };
        for line in String::from_utf8_lossy(text).lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if let Some(pattern) = line.strip_prefix("include") {
                let pattern = pattern.trim().trim_start_matches('/');
                let (dir, glob) = pattern.rsplit_once('/').unwrap_or(("", pattern));
                let (pre, post) = glob.split_once('*').unwrap_or((glob, ""));
                let mut matched: Vec<String> = tree
                    .under(dir)
                    .map(|(p, _)| p.to_string())
                    .filter(|p| parent(p) == dir)
                    .filter(|p| {
                        let n = p.rsplit('/').next().unwrap_or("");
                        n.starts_with(pre) && n.ends_with(post) && n.len() >= pre.len() + post.len()
                    })
                    .collect();
                matched.sort();
                matched.reverse();
                files.extend(matched);
            } else if !line.is_empty() {
                out.push(line.trim_start_matches('/').to_string());
            }
        }
    }
    out
}

/// Builds the plan for `spec` over the image's squashed tree.
pub fn plan(tree: &FileTree, spec: &Spec) -> Result<Plan, HardenError> {
    let mut b = Builder {
        tree,
        plan: Plan::default(),
        queue: Vec::new(),
        seen: HashSet::new(),
        ld_dirs: ld_so_conf(tree),
        env_dirs: spec
            .env
            .iter()
            .filter_map(|e| e.strip_prefix("LD_LIBRARY_PATH="))
            .flat_map(|v| v.split(':'))
            .filter(|d| !d.is_empty())
            .map(|d| d.trim_start_matches('/').to_string())
            .collect(),
        infos: BTreeMap::new(),
    };
    // The entrypoint: present, ELF, not a shell.
    let entry = spec.entrypoint.trim_start_matches('/').to_string();
    if denied(&entry) {
        return Err(HardenError::Denied { path: entry });
    }
    let real = b.walk(&entry)?;
    match tree.get(&real).map(|n| &n.kind) {
        Some(EntryKind::File | EntryKind::Hardlink { .. }) => {}
        _ => return Err(HardenError::Missing { path: entry }),
    }
    let info = b.info(&real)?.ok_or_else(|| HardenError::NotElf {
        path: entry.clone(),
    })?;
    b.plan.static_entrypoint = info.is_static();
    b.keep(&entry, true)?;
    for k in &spec.keep {
        let k = k.trim_start_matches('/');
        if k.is_empty() {
            return Err(HardenError::Escape { path: "/".into() });
        }
        if oci::layer::normalize(k).is_none() {
            return Err(HardenError::Escape {
                path: k.to_string(),
            });
        }
        b.keep(k, true)?;
    }
    let name = entry.rsplit('/').next().unwrap_or("").to_string();
    for (service, paths) in WELL_KNOWN {
        if name == *service {
            for p in *paths {
                if b.exists(p).is_some() {
                    b.keep(p, false)?;
                }
            }
        }
    }
    // The entrypoint's own packages: their config directories whole, their
    // state and log directories empty.
    let db = packages::Db::read(tree);
    for p in db.service_paths(tree, &real) {
        match p {
            packages::ServicePath::Config(dir) => b.keep(&dir, false)?,
            packages::ServicePath::Empty(dir) => {
                if let Ok(r) = b.walk(&dir) {
                    b.keep_node(&r);
                }
            }
        }
    }
    b.close()?;
    // System files.
    for ca in CA_BUNDLES {
        if b.exists(ca).is_some() {
            b.keep(ca, false)?;
            break;
        }
    }
    let distro = !b.plan.static_entrypoint;
    if distro {
        for p in [
            "etc/nsswitch.conf",
            "etc/os-release",
            "usr/share/zoneinfo",
            "etc/localtime",
        ] {
            if b.exists(p).is_some() {
                b.keep(p, false)?;
            }
        }
    } else if b.exists("usr/share/zoneinfo").is_some() {
        b.plan.notes.push(
            "time zones not carried: the entrypoint is static and needs no distro files (--keep usr/share/zoneinfo carries them)".into(),
        );
    }
    b.close()?;
    // Accounts.
    let crate::accounts::Accounts {
        passwd,
        group,
        user,
    } = crate::accounts::reduce(tree, &spec.user)?;
    b.plan.user = user;
    b.plan.entries.insert(
        "etc/passwd".into(),
        Kept::File {
            mode: 0o644,
            data: Arc::new(passwd),
        },
    );
    b.plan.entries.insert(
        "etc/group".into(),
        Kept::File {
            mode: 0o644,
            data: Arc::new(group),
        },
    );
    b.plan.entries.insert(
        "tmp".into(),
        Kept::Dir {
            mode: 0o1777,
            owner: (0, 0),
        },
    );
    let home = crate::accounts::home(tree, user.0);
    if !home.is_empty()
        && home != "tmp"
        && home != "nonexistent"
        && !b.plan.entries.contains_key(&home)
    {
        b.plan.entries.insert(
            home,
            Kept::Dir {
                mode: 0o755,
                owner: user,
            },
        );
    }
    // Package records for scanners.
    let kept: BTreeSet<String> = b
        .plan
        .entries
        .iter()
        .filter(|(_, k)| !matches!(k, Kept::Dir { .. }))
        .map(|(p, _)| p.clone())
        .collect();
    let (records, owned) = db.records_for(tree, &kept);
    b.plan.packages = owned;
    for (path, data) in records {
        b.plan.entries.insert(
            path,
            Kept::File {
                mode: 0o644,
                data: Arc::new(data),
            },
        );
    }
    // Nothing is kept beneath a link (a layer that wrote through one).
    let links: Vec<String> = b
        .plan
        .entries
        .iter()
        .filter(|(_, k)| matches!(k, Kept::Symlink { .. }))
        .map(|(p, _)| format!("{p}/"))
        .collect();
    b.plan
        .entries
        .retain(|p, _| !links.iter().any(|l| p.starts_with(l.as_str())));
    // Every parent is a directory.
    let paths: Vec<String> = b.plan.entries.keys().cloned().collect();
    for p in paths {
        let mut d = parent(&p);
        while !d.is_empty() {
            if !b.plan.entries.contains_key(d) {
                let mode = tree
                    .get(d)
                    .filter(|n| n.kind == EntryKind::Dir)
                    .map_or(0o755, |n| n.mode & 0o1777);
                b.plan.entries.insert(
                    d.to_string(),
                    Kept::Dir {
                        mode,
                        owner: (0, 0),
                    },
                );
            }
            d = parent(d);
        }
    }
    Ok(b.plan)
}

#[cfg(test)]
mod tests {
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
}

#[cfg(test)]
mod closure_tests {
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
}
