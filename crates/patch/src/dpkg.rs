//! The image's dpkg database and what installing newer packages does to
//! it, done here without running anything from the image or the packages:
//! files unpacked where dpkg would put them (through the image's own
//! directory links, around diversions, keeping conffiles the image changed),
//! files the old version had and the new one does not deleted, and the
//! package records updated the way the image keeps them — the whole
//! `var/lib/dpkg/status` with `info/<pkg>.list`, `.md5sums` and control
//! scripts, or distroless' `var/lib/dpkg/status.d/<pkg>` (and its
//! `.md5sums`) — so every scanner sees the new versions. Maintainer
//! scripts are recorded, not run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use md5::Digest as _;
use oci::layer::EntryKind;
use oci::tree::FileTree;

use crate::PatchError;
use crate::deb::{self, Deb};
use crate::layer::{Item, Layer};
use crate::stanza::Stanza;

/// How the image keeps its package records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `var/lib/dpkg/status` (with dpkg and usually apt inside).
    Status,
    /// `var/lib/dpkg/status.d/<pkg>`: distroless, and images safeimage hardened.
    StatusD,
}

/// One installed package.
#[derive(Debug, Clone)]
pub struct Installed {
    /// `Package`.
    pub name: String,
    /// `Architecture`.
    pub arch: String,
    /// `Version`.
    pub version: String,
    /// The record.
    pub record: Stanza,
    /// Where the record is (`var/lib/dpkg/status` or `status.d/<file>`).
    pub record_path: String,
    /// `Status: hold ...`.
    pub held: bool,
    /// `info/<this>.list` etc. (`libssl3:amd64` or `libssl3`), when it has a list.
    pub info_name: Option<String>,
}

/// The database.
#[derive(Debug, Clone)]
pub struct Db {
    /// Its layout.
    pub layout: Layout,
    /// Installed packages in record order.
    pub packages: Vec<Installed>,
    /// `(from, to, package)` of `var/lib/dpkg/diversions`.
    diversions: Vec<(String, String, String)>,
}

const STATUS: &str = "var/lib/dpkg/status";
const STATUS_D: &str = "var/lib/dpkg/status.d";
const INFO: &str = "var/lib/dpkg/info";

fn installed(record: &Stanza) -> bool {
    record
        .get("Status")
        .is_none_or(|s| s.ends_with(" installed"))
}

impl Db {
    /// Reads the database from the tree; `None` when the image has none.
    pub fn read(tree: &FileTree) -> Option<Db> {
        let mut packages = Vec::new();
        let layout = if let Some(status) = tree.read(STATUS) {
            let text = String::from_utf8_lossy(status);
            for record in Stanza::parse_all(&text) {
                packages.push((record, STATUS.to_string()));
            }
            Layout::Status
        } else {
            let records: Vec<(String, &[u8])> = tree
                .under(STATUS_D)
                .filter(|(p, n)| n.kind == EntryKind::File && !p.ends_with(".md5sums"))
                .filter_map(|(p, _)| tree.read(p).map(|b| (p.to_string(), b)))
                .collect();
            if records.is_empty() {
                return None;
            }
            for (path, bytes) in records {
                for record in Stanza::parse_all(&String::from_utf8_lossy(bytes)) {
                    packages.push((record, path.clone()));
                }
            }
            Layout::StatusD
        };
        let packages = packages
            .into_iter()
            .filter(|(r, _)| r.get("Package").is_some() && installed(r))
            .map(|(record, record_path)| {
                let name = record.get("Package").unwrap_or("").to_string();
                let arch = record.get("Architecture").unwrap_or("").to_string();
                let info_name = [format!("{name}:{arch}"), name.clone()]
                    .into_iter()
                    .find(|n| tree.get(&format!("{INFO}/{n}.list")).is_some());
                Installed {
                    version: record.get("Version").unwrap_or("").to_string(),
                    held: record.get("Status").is_some_and(|s| s.starts_with("hold ")),
                    name,
                    arch,
                    record,
                    record_path,
                    info_name,
                }
            })
            .collect();
        let diversions = tree
            .read("var/lib/dpkg/diversions")
            .map(|b| {
                let text = String::from_utf8_lossy(b);
                let lines: Vec<&str> = text.lines().collect();
                lines
                    .chunks(3)
                    .filter(|c| c.len() == 3)
                    .map(|c| (c[0].to_string(), c[1].to_string(), c[2].to_string()))
                    .collect()
            })
            .unwrap_or_default();
        Some(Db {
            layout,
            packages,
            diversions,
        })
    }

    /// The installed package `name` (any architecture, or `name:arch`).
    pub fn get(&self, name: &str) -> Option<&Installed> {
        let (n, a) = name.split_once(':').unwrap_or((name, ""));
        self.packages
            .iter()
            .find(|p| p.name == n && (a.is_empty() || p.arch == a))
    }

    /// The database as one `status` file, for apt's resolver in the tooling
    /// container (status.d records get the `Status` dpkg would give them).
    pub fn apt_status(&self) -> String {
        let mut out = String::new();
        for p in &self.packages {
            let mut r = p.record.clone();
            if r.get("Status").is_none() {
                r.set("Status", "install ok installed", Some("Package"));
            }
            out.push_str(&r.render());
            out.push('\n');
        }
        out
    }

    /// Every path some package other than `except` lists.
    fn listed_by_others(&self, tree: &FileTree, except: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for p in &self.packages {
            let Some(info) = &p.info_name else { continue };
            if p.name == except {
                continue;
            }
            if let Some(l) = tree.read(&format!("{INFO}/{info}.list")) {
                for line in String::from_utf8_lossy(l).lines() {
                    out.insert(line.trim_start_matches('/').to_string());
                }
            }
        }
        out
    }

    /// Where dpkg puts a package's `path` (diverted paths go where the
    /// diversion says unless the package is the diverter).
    fn diverted(&self, path: &str, package: &str) -> String {
        let abs = format!("/{path}");
        self.diversions
            .iter()
            .find(|(from, _, by)| *from == abs && by != package)
            .map(|(_, to, _)| to.trim_start_matches('/').to_string())
            .unwrap_or_else(|| path.to_string())
    }
}

/// How the files go in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every file of the new version (as dpkg would install it).
    Whole,
    /// Only paths the image already has: a hardened image keeps the files
    /// hardening kept, and nothing new appears.
    Existing,
}

/// One package replaced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Upgrade {
    /// Name.
    pub name: String,
    /// Architecture.
    pub arch: String,
    /// Installed version.
    pub from: String,
    /// New version.
    pub to: String,
    /// The new version's source package version.
    pub source_version: String,
    /// Conffiles kept as the image has them (changed there).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept_conffiles: Vec<String>,
    /// Other files of the package the image changed after installing it
    /// (a later layer replaced them): kept as the image has them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept_changed: Vec<String>,
}

/// The image's users and groups by name, to own files as dpkg would.
struct Ids {
    users: HashMap<String, u64>,
    groups: HashMap<String, u64>,
}

impl Ids {
    fn read(tree: &FileTree) -> Ids {
        let table = |p: &str| -> HashMap<String, u64> {
            tree.read(p)
                .map(|b| {
                    String::from_utf8_lossy(b)
                        .lines()
                        .filter_map(|l| {
                            let mut f = l.split(':');
                            let name = f.next()?;
                            let id = f.nth(1)?.parse().ok()?;
                            Some((name.to_string(), id))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        Ids {
            users: table("etc/passwd"),
            groups: table("etc/group"),
        }
    }
    fn owner(&self, e: &deb::Entry) -> (u64, u64) {
        (
            self.users.get(&e.uname).copied().unwrap_or(e.uid),
            self.groups.get(&e.gname).copied().unwrap_or(e.gid),
        )
    }
}

/// MD5 in hex, as dpkg's md5sums and Conffiles write it.
pub fn md5_hex(b: &[u8]) -> String {
    hex::encode(md5::Md5::digest(b))
}

/// Where `path` lands in the image: its directory through the image's own
/// links (`lib` → `usr/lib` on a merged-/usr system), its name as it is.
fn place(tree: &FileTree, path: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, name)) => match tree.resolve(dir) {
            Some(d) if !d.is_empty() => format!("{d}/{name}"),
            _ => name.to_string(),
        },
        None => path.to_string(),
    }
}

fn exists(tree: &FileTree, path: &str) -> bool {
    tree.get(path)
        .is_some_and(|n| !matches!(n.kind, EntryKind::Whiteout | EntryKind::Opaque))
}

impl Db {
    /// The patch layer that replaces each installed package named by a
    /// `.deb` in `debs` with that version.
    pub fn install(
        &self,
        tree: &FileTree,
        debs: &[Deb],
        scope: Scope,
    ) -> Result<(Layer, Vec<Upgrade>), PatchError> {
        let ids = Ids::read(tree);
        let mut layer = Layer::default();
        let mut upgrades = Vec::new();
        let mut status: Vec<Stanza> = Vec::new();
        let mut records_d: BTreeMap<String, Vec<Stanza>> = BTreeMap::new();
        if self.layout == Layout::Status {
            let text = tree.read(STATUS).map(String::from_utf8_lossy);
            status = Stanza::parse_all(text.as_deref().unwrap_or(""));
        }
        for d in debs {
            let old = self
                .packages
                .iter()
                .find(|p| {
                    p.name == d.name()
                        && (p.arch == d.arch() || d.arch() == "all" || p.arch == "all")
                })
                .ok_or_else(|| PatchError::Package {
                    package: format!("{}_{}_{}", d.name(), d.version(), d.arch()),
                    reason: "the image does not have this package installed".into(),
                })?;
            let mut up = Upgrade {
                name: d.name().to_string(),
                arch: d.arch().to_string(),
                from: old.version.clone(),
                to: d.version().to_string(),
                source_version: d.source_version().to_string(),
                kept_conffiles: Vec::new(),
                kept_changed: Vec::new(),
            };
            let sums_path = match (&old.info_name, self.layout) {
                (Some(info), _) => Some(format!("{INFO}/{info}.md5sums")),
                (None, Layout::StatusD) => Some(format!("{}.md5sums", old.record_path)),
                (None, Layout::Status) => None,
            };
            let old_sums: HashMap<String, String> = sums_path
                .and_then(|p| tree.read(&p))
                .map(|b| {
                    String::from_utf8_lossy(b)
                        .lines()
                        .filter_map(|l| {
                            let (sum, path) = l.split_once(char::is_whitespace)?;
                            Some((
                                path.trim().trim_start_matches('/').to_string(),
                                sum.to_string(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let old_conffiles: HashMap<String, String> = old
                .record
                .get("Conffiles")
                .unwrap_or("")
                .lines()
                .filter_map(|l| {
                    let mut f = l.split_whitespace();
                    Some((
                        f.next()?.trim_start_matches('/').to_string(),
                        f.next()?.to_string(),
                    ))
                })
                .collect();
            let files: HashMap<&str, &Arc<Vec<u8>>> = d
                .entries
                .iter()
                .filter_map(|e| match &e.kind {
                    deb::Kind::File(b) => Some((e.path.as_str(), b)),
                    _ => None,
                })
                .collect();
            let mut new_paths = BTreeSet::new();
            for e in &d.entries {
                new_paths.insert(e.path.clone());
                let at = place(tree, &self.diverted(&e.path, d.name()));
                if scope == Scope::Existing && !exists(tree, &at) {
                    continue;
                }
                let owner = ids.owner(e);
                let item = match &e.kind {
                    deb::Kind::Dir => {
                        // a directory the image has (or a link to one) stays as it is
                        if tree.resolve(&at).is_some_and(|r| exists(tree, &r))
                            || layer.items.contains_key(&at)
                        {
                            continue;
                        }
                        Item::Dir {
                            mode: e.mode,
                            owner,
                        }
                    }
                    deb::Kind::File(data) => {
                        let now = tree.get(&at).and_then(|n| {
                            n.content
                                .as_ref()
                                .map(|c| md5_hex(c))
                                .or_else(|| n.extract.as_deref().map(str::to_string))
                        });
                        if let (Some(sum), Some(now)) = (old_conffiles.get(&e.path), &now)
                            && now != sum
                        {
                            up.kept_conffiles.push(format!("/{}", e.path));
                            continue;
                        }
                        if let (Some(sum), Some(now)) = (old_sums.get(&e.path), &now)
                            && now != sum
                        {
                            up.kept_changed.push(format!("/{}", e.path));
                            continue;
                        }
                        Item::File {
                            mode: e.mode,
                            owner,
                            data: data.clone(),
                        }
                    }
                    deb::Kind::Hardlink(target) => {
                        let data =
                            files
                                .get(target.as_str())
                                .ok_or_else(|| PatchError::Package {
                                    package: format!("{}_{}", d.name(), d.version()),
                                    reason: format!(
                                        "`{}` links to `{target}`, which the package does not ship",
                                        e.path
                                    ),
                                })?;
                        Item::File {
                            mode: e.mode,
                            owner,
                            data: (*data).clone(),
                        }
                    }
                    deb::Kind::Symlink(target) => Item::Symlink {
                        target: target.clone(),
                        owner,
                    },
                };
                layer.items.insert(at, item);
            }
            // what the old version had and the new one does not (dpkg's
            // disappearing files), unless another package lists it too
            if let Some(info) = &old.info_name
                && let Some(list) = tree.read(&format!("{INFO}/{info}.list"))
            {
                let others = self.listed_by_others(tree, &old.name);
                for line in String::from_utf8_lossy(list).lines() {
                    let p = line.trim_start_matches('/');
                    if p.is_empty() || p == "." || new_paths.contains(p) || others.contains(p) {
                        continue;
                    }
                    let at = place(tree, &self.diverted(p, &old.name));
                    if tree.get(&at).is_some_and(|n| {
                        !matches!(
                            n.kind,
                            EntryKind::Dir | EntryKind::Whiteout | EntryKind::Opaque
                        )
                    }) && !layer.items.contains_key(&at)
                    {
                        layer.items.insert(at, Item::Whiteout);
                    }
                }
            }
            // the record
            let mut record = d.control.clone();
            let want = old
                .record
                .get("Status")
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or("install")
                .to_string();
            if self.layout == Layout::Status || old.record.get("Status").is_some() {
                record.set("Status", &format!("{want} ok installed"), Some("Package"));
            }
            let conffiles: Vec<String> = d
                .members
                .get("conffiles")
                .map(|c| {
                    String::from_utf8_lossy(c)
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with("remove-on-upgrade"))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let lines: Vec<String> = conffiles
                .iter()
                .filter_map(|c| {
                    let p = c.trim_start_matches('/');
                    files.get(p).map(|b| format!(" {c} {}", md5_hex(b)))
                })
                .collect();
            if !lines.is_empty() {
                record.set(
                    "Conffiles",
                    &format!("\n{}", lines.join("\n")),
                    Some("Version"),
                );
            }
            match self.layout {
                Layout::Status => {
                    let at = status
                        .iter()
                        .position(|s| {
                            s.get("Package") == Some(&old.name)
                                && s.get("Architecture") == Some(&old.arch)
                        })
                        .ok_or_else(|| PatchError::Package {
                            package: old.name.clone(),
                            reason: format!("no record in {STATUS}"),
                        })?;
                    status[at] = record;
                }
                Layout::StatusD => {
                    // the file's other records (one per file is usual) stay
                    let file = records_d.entry(old.record_path.clone()).or_insert_with(|| {
                        tree.read(&old.record_path)
                            .map(|b| Stanza::parse_all(&String::from_utf8_lossy(b)))
                            .unwrap_or_default()
                    });
                    match file
                        .iter()
                        .position(|s| s.get("Package") == Some(&old.name))
                    {
                        Some(i) => file[i] = record,
                        None => file.push(record),
                    }
                    let sums = format!("{}.md5sums", old.record_path);
                    if exists(tree, &sums)
                        && let Some(m) = d.members.get("md5sums")
                    {
                        layer.items.insert(
                            sums,
                            Item::File {
                                mode: 0o644,
                                owner: (0, 0),
                                data: Arc::new(m.clone()),
                            },
                        );
                    }
                }
            }
            // dpkg's info files: the list, the sums, the control scripts
            if let Some(info) = &old.info_name {
                let mut list = String::from("/.\n");
                for e in &d.entries {
                    list.push('/');
                    list.push_str(&e.path);
                    list.push('\n');
                }
                let mut info_files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
                info_files.insert(format!("{INFO}/{info}.list"), list.into_bytes());
                for (name, bytes) in &d.members {
                    info_files.insert(format!("{INFO}/{info}.{name}"), bytes.clone());
                }
                let prefix = format!("{INFO}/{info}.");
                for (p, n) in tree.under(INFO) {
                    if p.starts_with(&prefix)
                        && n.kind == EntryKind::File
                        && !info_files.contains_key(p)
                    {
                        layer.items.insert(p.to_string(), Item::Whiteout);
                    }
                }
                for (p, bytes) in info_files {
                    let mode = if [".preinst", ".postinst", ".prerm", ".postrm", ".config"]
                        .iter()
                        .any(|s| p.ends_with(s))
                    {
                        0o755
                    } else {
                        0o644
                    };
                    layer.items.insert(
                        p,
                        Item::File {
                            mode,
                            owner: (0, 0),
                            data: Arc::new(bytes),
                        },
                    );
                }
            }
            upgrades.push(up);
        }
        let render = |s: &[Stanza]| -> Arc<Vec<u8>> {
            Arc::new(
                s.iter()
                    .map(|r| r.render() + "\n")
                    .collect::<String>()
                    .into_bytes(),
            )
        };
        if self.layout == Layout::Status && !upgrades.is_empty() {
            layer.items.insert(
                STATUS.to_string(),
                Item::File {
                    mode: 0o644,
                    owner: (0, 0),
                    data: render(&status),
                },
            );
        }
        for (path, file) in records_d {
            let data = match file.as_slice() {
                // one record per file: written as the image had it, no blank line
                [one] => Arc::new(one.render().into_bytes()),
                many => render(many),
            };
            layer.items.insert(
                path,
                Item::File {
                    mode: 0o644,
                    owner: (0, 0),
                    data,
                },
            );
        }
        Ok((layer, upgrades))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci::layer::{Entry, LayerRecord};

    fn tree(files: &[(&str, &str)], links: &[(&str, &str)]) -> FileTree {
        let mut entries = Vec::new();
        for (p, c) in files {
            entries.push(Entry {
                path: p.to_string(),
                kind: EntryKind::File,
                size: c.len() as u64,
                mode: 0o644,
                content: Some(c.as_bytes().to_vec()),
                extract: None,
            });
        }
        for (p, t) in links {
            entries.push(Entry {
                path: p.to_string(),
                kind: EntryKind::Symlink {
                    target: t.to_string(),
                },
                size: 0,
                mode: 0o777,
                content: None,
                extract: None,
            });
        }
        for d in ["usr", "usr/lib", "usr/share", "usr/share/foo", "etc"] {
            entries.push(Entry {
                path: d.to_string(),
                kind: EntryKind::Dir,
                size: 0,
                mode: 0o755,
                content: None,
                extract: None,
            });
        }
        let rec = LayerRecord {
            entries,
            notes: Vec::new(),
        };
        FileTree::from_layers([&rec])
    }

    #[test]
    fn an_upgrade_goes_through_the_images_links_keeps_what_it_changed_and_drops_what_disappeared() {
        let status = "Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\nConffiles:\n /etc/foo.conf 0d599f0ec05c3bda8c3b8a68c32a1b47\n\nPackage: other\nStatus: install ok installed\nArchitecture: all\nVersion: 3\n";
        let sums = format!(
            "{}  usr/lib/libfoo.so.1\n{}  usr/share/foo/index.html\n",
            md5_hex(b"old lib"),
            md5_hex(b"packaged page")
        );
        let t = tree(
            &[
                ("var/lib/dpkg/status", status),
                (
                    "var/lib/dpkg/info/libfoo1:amd64.list",
                    "/.\n/lib/libfoo.so.1\n/usr/share/foo/index.html\n/usr/share/foo/gone.txt\n/etc/foo.conf\n",
                ),
                ("var/lib/dpkg/info/libfoo1:amd64.md5sums", &sums),
                ("var/lib/dpkg/info/libfoo1:amd64.postrm", "#!/bin/sh\n"),
                ("usr/lib/libfoo.so.1", "old lib"),
                ("usr/share/foo/index.html", "the image's own page"),
                ("usr/share/foo/gone.txt", "x"),
                ("etc/foo.conf", "changed by the image"),
            ],
            &[("lib", "usr/lib")],
        );
        let db = Db::read(&t).unwrap();
        assert_eq!(db.layout, Layout::Status);
        let bytes = crate::deb::tests::make_deb(
            "Package: libfoo1\nVersion: 1.0-2\nArchitecture: amd64\n",
            &[
                ("./conffiles", b"/etc/foo.conf\n"),
                ("./md5sums", b"x  lib/libfoo.so.1\n"),
            ],
            &[
                ("./lib/libfoo.so.1", b"new lib"),
                ("./usr/share/foo/index.html", b"new packaged page"),
                ("./etc/foo.conf", b"new default"),
            ],
            &[],
        );
        let deb = crate::deb::read(&bytes, "libfoo1.deb").unwrap();
        let (layer, ups) = db.install(&t, &[deb], Scope::Whole).unwrap();
        let file = |p: &str| match layer.items.get(p) {
            Some(Item::File { data, .. }) => Some(String::from_utf8_lossy(data).into_owned()),
            _ => None,
        };
        // through the image's `lib` link, never replacing it with a directory
        assert_eq!(file("usr/lib/libfoo.so.1").as_deref(), Some("new lib"));
        assert!(!layer.items.contains_key("lib") && !layer.items.contains_key("lib/libfoo.so.1"));
        // what the image changed stays; what disappeared is deleted
        assert!(!layer.items.contains_key("usr/share/foo/index.html"));
        assert!(!layer.items.contains_key("etc/foo.conf"));
        assert_eq!(ups[0].kept_changed, ["/usr/share/foo/index.html"]);
        assert_eq!(ups[0].kept_conffiles, ["/etc/foo.conf"]);
        assert_eq!(
            layer.items.get("usr/share/foo/gone.txt"),
            Some(&Item::Whiteout)
        );
        // dpkg's records: the new stanza in place, the other kept; the old postrm gone
        let st = file("var/lib/dpkg/status").unwrap();
        assert!(
            st.starts_with("Package: libfoo1\nStatus: install ok installed\nVersion: 1.0-2\n"),
            "{st}"
        );
        assert!(
            st.contains(&format!("/etc/foo.conf {}", md5_hex(b"new default"))),
            "{st}"
        );
        assert!(st.contains("\n\nPackage: other\n"), "{st}");
        assert_eq!(
            layer.items.get("var/lib/dpkg/info/libfoo1:amd64.postrm"),
            Some(&Item::Whiteout)
        );
        assert!(
            file("var/lib/dpkg/info/libfoo1:amd64.list")
                .unwrap()
                .contains("/lib/libfoo.so.1\n")
        );
        assert_eq!(
            (ups[0].from.as_str(), ups[0].to.as_str()),
            ("1.0-1", "1.0-2")
        );
    }
}
