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
                let mut list = tree.read(&format!("var/lib/dpkg/info/{name}:{arch}.list"));
                if list.is_none() {
                    list = tree.read(&format!("var/lib/dpkg/info/{name}.list"));
                }
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
                .map(|n| {
                    (
                        format!("var/lib/dpkg/status.d/{n}"),
                        self.packages[*n].record.clone().into_bytes(),
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
