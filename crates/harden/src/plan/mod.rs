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
mod closure_tests;
#[cfg(test)]
mod tests;
