//! The image's package database, as far as hardening needs it: which
//! package owns each file (dpkg's `info/*.list`, apk's `installed`), the
//! entrypoint package's config and state directories, and the records of
//! the packages that own kept files, written the distroless way
//! (`var/lib/dpkg/status.d/<package>`) or as a reduced apk database, so
//! scanners still see exactly what the hardened image holds.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use oci::layer::EntryKind;
use oci::tree::FileTree;

/// A package record to write: path in the image, content.
pub type Record = (String, Vec<u8>);

/// A directory the entrypoint's packages ship.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServicePath {
    /// A config directory under `etc/`, kept whole.
    Config(String),
    /// A state, cache or log directory, kept empty.
    Empty(String),
}

#[derive(Debug, Default)]
struct Package {
    /// The record as the database holds it.
    record: String,
    version: String,
    source: String,
    /// Paths as listed (no leading `/`).
    files: Vec<String>,
    /// dpkg's `info/<pkg>.md5sums`, kept beside the record (as distroless
    /// does) so a later patch can tell files the image changed.
    md5sums: Option<Vec<u8>>,
}

/// Which kind of database the image has.
#[derive(Debug, Default, PartialEq, Eq)]
enum Kind {
    #[default]
    None,
    Dpkg,
    Apk,
}

/// The package database.
#[derive(Debug, Default)]
pub struct Db {
    kind: Kind,
    packages: BTreeMap<String, Package>,
}

fn field<'a>(record: &'a str, name: &str) -> Option<&'a str> {
    record.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|r| r.strip_prefix(':'))
            .map(str::trim)
    })
}

impl Db {
    /// Reads dpkg's or apk's database from the tree (empty when it has none).
    pub fn read(tree: &FileTree) -> Db {
        let mut db = Db::default();
        if let Some(status) = tree.read("var/lib/dpkg/status") {
            db.kind = Kind::Dpkg;
            let text = String::from_utf8_lossy(status).replace("\r\n", "\n");
            for rec in text.split("\n\n").map(str::trim).filter(|r| !r.is_empty()) {
                let Some(name) = field(rec, "Package") else {
                    continue;
                };
                if !field(rec, "Status").is_none_or(|s| s.ends_with(" installed")) {
                    continue;
                }
                let arch = field(rec, "Architecture").unwrap_or("");
                let source = field(rec, "Source")
                    .map(|s| s.split_whitespace().next().unwrap_or(name))
                    .unwrap_or(name);
                let info = |ext: &str| {
                    tree.read(&format!("var/lib/dpkg/info/{name}:{arch}.{ext}"))
                        .or_else(|| tree.read(&format!("var/lib/dpkg/info/{name}.{ext}")))
                };
                let list = info("list");
                let md5sums = info("md5sums").map(<[u8]>::to_vec);
                let files = list
                    .map(|l| {
                        String::from_utf8_lossy(l)
                            .lines()
                            .map(|p| p.trim_start_matches('/').to_string())
                            .filter(|p| !p.is_empty() && p != ".")
                            .collect()
                    })
                    .unwrap_or_default();
                db.packages.insert(
                    name.to_string(),
                    Package {
                        record: format!("{rec}\n"),
                        version: field(rec, "Version").unwrap_or("").to_string(),
                        source: source.to_string(),
                        files,
                        md5sums,
                    },
                );
            }
        } else if let Some(installed) = tree.read("lib/apk/db/installed") {
            db.kind = Kind::Apk;
            let text = String::from_utf8_lossy(installed).replace("\r\n", "\n");
            for rec in text.split("\n\n").map(str::trim).filter(|r| !r.is_empty()) {
                let Some(name) = field(rec, "P") else {
                    continue;
                };
                let mut files = Vec::new();
                let mut dir = String::new();
                for l in rec.lines() {
                    if let Some(d) = l.strip_prefix("F:") {
                        dir = d.trim_matches('/').to_string();
                        files.push(dir.clone());
                    } else if let Some(f) = l.strip_prefix("R:") {
                        files.push(if dir.is_empty() {
                            f.to_string()
                        } else {
                            format!("{dir}/{f}")
                        });
                    }
                }
                db.packages.insert(
                    name.to_string(),
                    Package {
                        record: format!("{rec}\n"),
                        version: field(rec, "V").unwrap_or("").to_string(),
                        source: field(rec, "o").unwrap_or(name).to_string(),
                        files,
                        md5sums: None,
                    },
                );
            }
        }
        db
    }

    /// Real path → owning package.
    fn owners(&self, tree: &FileTree) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = HashMap::new();
        // Paths a package lists as they are win over paths reached through
        // links (two packages can list paths that lead to one file).
        for (name, p) in &self.packages {
            for f in &p.files {
                if tree
                    .get(f)
                    .is_some_and(|n| !matches!(n.kind, EntryKind::Dir | EntryKind::Symlink { .. }))
                {
                    m.insert(f.clone(), name.clone());
                }
            }
        }
        // Then paths listed through a linked directory (`lib/...` on a
        // merged-/usr system), then links the packages ship. Never a
        // directory (nor a link to one, like `lib` itself).
        for through_link in [false, true] {
            for (name, p) in &self.packages {
                for f in &p.files {
                    let Some(real) = tree.resolve(f) else {
                        continue;
                    };
                    if !tree.get(&real).is_some_and(|n| n.kind != EntryKind::Dir) {
                        continue;
                    }
                    let (dir, base) = f.rsplit_once('/').unwrap_or(("", f));
                    let at = match tree.resolve(dir) {
                        Some(d) if !d.is_empty() => format!("{d}/{base}"),
                        _ => base.to_string(),
                    };
                    let is_link = matches!(
                        tree.get(&at).map(|n| &n.kind),
                        Some(EntryKind::Symlink { .. })
                    );
                    if is_link != through_link {
                        continue;
                    }
                    // a link a package ships is its own; what it points
                    // at belongs to whoever ships that
                    if is_link {
                        m.entry(at).or_insert_with(|| name.clone());
                    } else {
                        m.entry(real).or_insert_with(|| name.clone());
                    }
                }
            }
        }
        m
    }

    /// The config directories (under `etc/`) and state/log directories of
    /// the packages built from the same source as the one owning `entry`.
    pub fn service_paths(&self, tree: &FileTree, entry: &str) -> Vec<ServicePath> {
        let owners = self.owners(tree);
        let Some(owner) = owners.get(entry) else {
            return Vec::new();
        };
        let source = &self.packages[owner].source;
        let mut out = BTreeSet::new();
        for p in self.packages.values().filter(|p| &p.source == source) {
            for f in &p.files {
                let is_dir = tree
                    .resolve(f)
                    .and_then(|r| tree.get(&r).map(|n| n.kind == EntryKind::Dir))
                    .unwrap_or(false);
                if !is_dir {
                    continue;
                }
                let parts: Vec<&str> = f.split('/').collect();
                match parts.as_slice() {
                    // a config directory of its own, not one it shares with
                    // other packages (etc/default, etc/logrotate.d...)
                    ["etc", _] if self.only_source(source, f) => {
                        out.insert(ServicePath::Config(f.clone()));
                    }
                    ["var", "lib" | "log" | "cache", _] => {
                        out.insert(ServicePath::Empty(f.clone()));
                    }
                    _ => {}
                }
            }
        }
        out.into_iter().collect()
    }

    /// `true` when every packaged path under `dir` belongs to a package
    /// built from `source`.
    fn only_source(&self, source: &str, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.packages
            .values()
            .filter(|p| p.source != source)
            .all(|p| !p.files.iter().any(|f| f.starts_with(&prefix)))
    }

    /// The records to write for the packages owning any of `kept` (path and
    /// content), and those packages (name, version).
    pub fn records_for(
        &self,
        tree: &FileTree,
        kept: &BTreeSet<String>,
    ) -> (Vec<Record>, Vec<(String, String)>) {
        let owners = self.owners(tree);
        let mut names: BTreeSet<&String> = kept.iter().filter_map(|p| owners.get(p)).collect();
        // Metapackages and transitional packages (no files but their docs)
        // that depend on a kept package describe it too (nginx-light).
        let depends_on_kept = |p: &Package| {
            field(&p.record, "Depends").is_some_and(|d| {
                d.split([',', '|'])
                    .filter_map(|x| x.split_whitespace().next())
                    .map(|x| x.split(':').next().unwrap_or(x))
                    .any(|x| names.iter().any(|n| n.as_str() == x))
            })
        };
        let meta: Vec<&String> = self
            .packages
            .iter()
            .filter(|(n, p)| {
                !names.contains(n)
                    && self.kind == Kind::Dpkg
                    && p.files.iter().all(|f| {
                        f.starts_with("usr/share/doc")
                            || tree.get(f).is_some_and(|n| n.kind == EntryKind::Dir)
                    })
                    && depends_on_kept(p)
            })
            .map(|(n, _)| n)
            .collect();
        names.extend(meta);
        let owned: Vec<(String, String)> = names
            .iter()
            .map(|n| ((*n).clone(), self.packages[*n].version.clone()))
            .collect();
        let records = match self.kind {
            Kind::None => Vec::new(),
            Kind::Dpkg => names
                .iter()
                .flat_map(|n| {
                    let p = &self.packages[*n];
                    std::iter::once((
                        format!("var/lib/dpkg/status.d/{n}"),
                        p.record.clone().into_bytes(),
                    ))
                    .chain(
                        p.md5sums
                            .clone()
                            .map(|m| (format!("var/lib/dpkg/status.d/{n}.md5sums"), m)),
                    )
                })
                .collect(),
            Kind::Apk if names.is_empty() => Vec::new(),
            Kind::Apk => {
                let text: String = names
                    .iter()
                    .map(|n| format!("{}\n", self.packages[*n].record))
                    .collect();
                vec![("lib/apk/db/installed".to_string(), text.into_bytes())]
            }
        };
        (records, owned)
    }
}

impl PartialOrd for ServicePath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ServicePath {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let key = |s: &ServicePath| match s {
            ServicePath::Config(p) => (0, p.clone()),
            ServicePath::Empty(p) => (1, p.clone()),
        };
        key(self).cmp(&key(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci::layer::{Entry, LayerRecord};

    fn tree(files: &[(&str, &str)], links: &[(&str, &str)], dirs: &[&str]) -> FileTree {
        let mut entries: Vec<Entry> = dirs
            .iter()
            .map(|d| Entry {
                path: d.to_string(),
                kind: EntryKind::Dir,
                size: 0,
                mode: 0o755,
                content: None,
                extract: None,
            })
            .collect();
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
        FileTree::from_layers([&LayerRecord {
            entries,
            notes: Vec::new(),
        }])
    }

    const STATUS: &str = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9\n\n\
Package: libc-bin\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9\nDepends: libc6 (>> 2.36)\n\n\
Package: web-light\nStatus: install ok installed\nArchitecture: amd64\nSource: web\nVersion: 1.0\nDepends: web-core (= 1.0)\n\n\
Package: web-core\nStatus: install ok installed\nArchitecture: amd64\nSource: web\nVersion: 1.0\n\n\
Package: apt\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.6\n\n\
Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 0.1\n";

    fn image() -> FileTree {
        tree(
            &[
                ("var/lib/dpkg/status", STATUS),
                (
                    "var/lib/dpkg/info/libc6:amd64.list",
                    "/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libc.so.6\n/lib64/ld-linux-x86-64.so.2\n",
                ),
                (
                    "var/lib/dpkg/info/libc-bin.list",
                    "/usr/bin/ld.so\n/usr/bin/getent\n",
                ),
                (
                    "var/lib/dpkg/info/web-light.list",
                    "/usr/share/doc/web-light\n/usr/share/doc/web-light/copyright\n",
                ),
                (
                    "var/lib/dpkg/info/web-core.list",
                    "/usr/sbin/webd\n/etc/web\n/etc/web/web.conf\n/etc/logrotate.d\n/etc/logrotate.d/web\n/var/log/web\n",
                ),
                (
                    "var/lib/dpkg/info/apt.list",
                    "/lib\n/etc/logrotate.d\n/etc/logrotate.d/apt\n/usr/bin/apt\n",
                ),
                ("usr/lib/x86_64-linux-gnu/libc.so.6", "libc"),
                ("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "ld"),
                ("usr/bin/getent", "x"),
                ("usr/bin/apt", "x"),
                ("usr/sbin/webd", "x"),
                ("usr/share/doc/web-light/copyright", "c"),
                ("etc/web/web.conf", "c"),
                ("etc/logrotate.d/web", "c"),
                ("etc/logrotate.d/apt", "c"),
            ],
            &[
                ("lib", "usr/lib"),
                ("lib64", "usr/lib64"),
                (
                    "usr/lib64/ld-linux-x86-64.so.2",
                    "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                ),
                ("usr/bin/ld.so", "/lib64/ld-linux-x86-64.so.2"),
            ],
            &[
                "etc/web",
                "etc/logrotate.d",
                "var/log/web",
                "usr/share/doc/web-light",
            ],
        )
    }

    #[test]
    fn files_reached_through_merged_usr_links_belong_to_the_package_that_lists_them() {
        let t = image();
        let db = Db::read(&t);
        let kept: BTreeSet<String> = [
            "usr/lib/x86_64-linux-gnu/libc.so.6",
            "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            "usr/lib64/ld-linux-x86-64.so.2",
            "usr/sbin/webd",
            "lib",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (records, owned) = db.records_for(&t, &kept);
        let names: Vec<&str> = owned.iter().map(|(n, _)| n.as_str()).collect();
        // libc-bin ships a link to the loader, not the loader; `lib` is a
        // directory every package lists; web-light is web-core's metapackage.
        assert_eq!(names, ["libc6", "web-core", "web-light"]);
        assert_eq!(records[0].0, "var/lib/dpkg/status.d/libc6");
        assert!(String::from_utf8_lossy(&records[0].1).starts_with("Package: libc6\n"));
    }

    #[test]
    fn only_config_directories_of_its_own_are_the_services() {
        let t = image();
        let db = Db::read(&t);
        assert_eq!(
            db.service_paths(&t, "usr/sbin/webd"),
            [
                ServicePath::Config("etc/web".into()),
                ServicePath::Empty("var/log/web".into())
            ]
        );
        assert!(db.service_paths(&t, "usr/bin/nothing").is_empty());
    }
}
