//! In-memory test doubles for the run's side effects, for unit tests of
//! the run's logic without buildah, a registry or the network: a registry
//! that keeps tags in a map and can be told to fail, an engine that writes
//! a small real OCI layout (a dpkg status listing packages chosen per base
//! digest), an advisory DB given as a list, a settable clock, and a
//! notifier and an observer that record what they got. The layouts are
//! read by the real `oci::analyze` and `inventory::catalog`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use model::Timestamp;
use notify::{Notifier, NotifyError, RunDigest, Target};
use oci::registry::RegistryError;
use oci::write::{Entry, LayoutWriter, layout_manifest, tar_of};
use oci::{Digest, ImageRef, Platform};
use scan::{Finding, FixState, PackageRef};
use vulndb::{DbError, Severity};

use crate::deps::{Advisories, Clock, Event, Observer, Registry};
use crate::engine::{BuildSpec, Built, Engine, EngineError};

fn key(r: &ImageRef) -> String {
    format!("{}/{}", r.registry(), r.repository())
}

#[derive(Debug, Default)]
struct RegState {
    tags: BTreeMap<(String, String), Digest>,
    manifests: Vec<(String, Digest)>,
    fail_push: bool,
    fail_tag_after: Option<usize>,
    unreachable: bool,
    calls: Vec<String>,
    documents: BTreeMap<Digest, Vec<u8>>,
    indexes: BTreeMap<(Digest, Platform), Digest>,
}

/// A registry in memory.
#[derive(Default)]
pub struct FakeRegistry {
    state: Mutex<RegState>,
    artifacts: Mutex<BTreeMap<String, std::sync::Arc<provenance::store::Memory>>>,
}

impl std::fmt::Debug for FakeRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeRegistry")
            .field("state", &self.state)
            .finish()
    }
}

impl FakeRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The signatures and attachments of `repo` (`host/repo`), in memory
    /// with a referrers API.
    pub fn artifacts_of(&self, repo: &str) -> std::sync::Arc<provenance::store::Memory> {
        self.artifacts
            .lock()
            .unwrap()
            .entry(repo.to_string())
            .or_insert_with(|| std::sync::Arc::new(provenance::store::Memory::new(true)))
            .clone()
    }

    /// Point `reference` (`host/repo:tag`) at `digest`.
    pub fn set(&self, reference: &str, digest: &Digest) {
        let r: ImageRef = reference.parse().expect("reference");
        let tag = r.tag().unwrap_or("latest").to_string();
        let mut s = self.state.lock().unwrap();
        s.manifests.push((key(&r), digest.clone()));
        s.tags.insert((key(&r), tag), digest.clone());
    }

    /// Point `reference` at an index (`digest`) whose manifest for each
    /// platform is given.
    pub fn set_index(&self, reference: &str, digest: &Digest, platforms: &[(&str, &Digest)]) {
        self.set(reference, digest);
        let mut s = self.state.lock().unwrap();
        for (p, d) in platforms {
            s.indexes
                .insert((digest.clone(), p.parse().expect("platform")), (*d).clone());
        }
    }

    /// Where `reference` points.
    pub fn get(&self, reference: &str) -> Option<Digest> {
        let r: ImageRef = reference.parse().expect("reference");
        let tag = r.tag().unwrap_or("latest").to_string();
        self.state
            .lock()
            .unwrap()
            .tags
            .get(&(key(&r), tag))
            .cloned()
    }

    /// Make pushes fail.
    pub fn fail_push(&self, on: bool) {
        self.state.lock().unwrap().fail_push = on;
    }

    /// Make the tag move after `n` successful ones fail, once (`None`: never).
    pub fn fail_tag_after(&self, n: Option<usize>) {
        self.state.lock().unwrap().fail_tag_after = n;
    }

    /// Make every request fail as unreachable.
    pub fn unreachable(&self, on: bool) {
        self.state.lock().unwrap().unreachable = on;
    }

    /// A manifest or index pushed with `push_manifest`.
    pub fn document(&self, d: &Digest) -> Option<Vec<u8>> {
        self.state.lock().unwrap().documents.get(d).cloned()
    }

    /// Requests so far (`head`, `push`, `tag` with their arguments).
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }
}

impl Registry for FakeRegistry {
    fn head(&self, r: &ImageRef) -> Result<Option<Digest>, RegistryError> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("head {r}"));
        if s.unreachable {
            return Err(RegistryError::Unreachable {
                registry: r.registry().into(),
                message: "connection refused".into(),
            });
        }
        if let Some(d) = r.digest() {
            return Ok(s
                .manifests
                .iter()
                .any(|(k, m)| *k == key(r) && m == d)
                .then(|| d.clone()));
        }
        let tag = r.tag().unwrap_or("latest").to_string();
        Ok(s.tags.get(&(key(r), tag)).cloned())
    }

    fn platform_digest(
        &self,
        r: &ImageRef,
        digest: &Digest,
        platform: &Platform,
    ) -> Result<Digest, RegistryError> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("platform {r} {digest} {platform}"));
        Ok(s.indexes
            .get(&(digest.clone(), platform.clone()))
            .cloned()
            .unwrap_or_else(|| digest.clone()))
    }

    fn diff_ids(&self, r: &ImageRef, _digest: &Digest) -> Result<Vec<Digest>, RegistryError> {
        // not a call the fleet tests count: attribution only
        Err(RegistryError::Other {
            reference: r.to_string(),
            message: "the fake registry keeps no image configs".into(),
        })
    }
    fn push_layout(&self, repo: &ImageRef, layout: &Path) -> Result<Digest, RegistryError> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("push {repo}"));
        if s.fail_push || s.unreachable {
            return Err(RegistryError::Unreachable {
                registry: repo.registry().into(),
                message: "connection reset by peer".into(),
            });
        }
        let d = layout_manifest(layout, Some("latest")).map_err(|e| RegistryError::Other {
            reference: repo.to_string(),
            message: e.to_string(),
        })?;
        s.manifests.push((key(repo), d.clone()));
        Ok(d)
    }

    fn push_manifest(
        &self,
        repo: &ImageRef,
        bytes: &[u8],
        _media_type: &str,
    ) -> Result<Digest, RegistryError> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("push-manifest {repo}"));
        let d = oci::verify::sha256(bytes);
        s.manifests.push((key(repo), d.clone()));
        s.documents.insert(d.clone(), bytes.to_vec());
        Ok(d)
    }

    fn describe(
        &self,
        repo: &ImageRef,
        digest: &Digest,
    ) -> Result<oci::push::Described, RegistryError> {
        let s = self.state.lock().unwrap();
        if !s
            .manifests
            .iter()
            .any(|(k, m)| *k == key(repo) && m == digest)
        {
            return Err(RegistryError::NotFound {
                reference: format!("{repo}@{digest}"),
            });
        }
        Ok(oci::push::Described {
            size: 1234,
            media_type: oci::write::media::MANIFEST.into(),
        })
    }

    fn tag(&self, repo: &ImageRef, digest: &Digest, tag: &str) -> Result<(), RegistryError> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("tag {repo}:{tag} {digest}"));
        if let Some(n) = s.fail_tag_after {
            if n == 0 {
                // One failure, like a registry that hiccups once.
                s.fail_tag_after = None;
                return Err(RegistryError::Other {
                    reference: format!("{repo}:{tag}"),
                    message: "HTTP 500 Internal Server Error".into(),
                });
            }
            s.fail_tag_after = Some(n - 1);
        }
        if !s
            .manifests
            .iter()
            .any(|(k, m)| *k == key(repo) && m == digest)
        {
            return Err(RegistryError::NotFound {
                reference: format!("{repo}@{digest}"),
            });
        }
        s.tags.insert((key(repo), tag.to_string()), digest.clone());
        Ok(())
    }

    fn artifacts(
        &self,
        repo: &ImageRef,
    ) -> Result<Box<dyn provenance::Artifacts + '_>, RegistryError> {
        self.state
            .lock()
            .unwrap()
            .calls
            .push(format!("artifacts {}", key(repo)));
        Ok(Box::new(self.artifacts_of(&key(repo))))
    }
}

/// Packages as (name, version).
pub type Packages = Vec<(String, String)>;

/// An engine that writes a one-layer Debian-like image: `etc/os-release`
/// and a dpkg status listing the packages configured for the base digest
/// the pinned Dockerfile names.
#[derive(Debug, Default)]
pub struct FakeEngine {
    /// Packages (name, version) per base digest.
    pub packages: Mutex<BTreeMap<Digest, Packages>>,
    /// Packages per (base index digest, platform), for multi-platform bases.
    pub platform_packages: Mutex<BTreeMap<(Digest, Platform), Packages>>,
    /// When set, builds fail with this log tail.
    pub fail: Mutex<Option<String>>,
    /// Images built, in order.
    pub builds: Mutex<Vec<String>>,
    /// Whether `available` fails.
    pub missing: bool,
}

impl FakeEngine {
    /// An engine with no packages configured.
    pub fn new() -> Self {
        Self::default()
    }

    /// Images built from `base` get these packages.
    pub fn base(&self, base: &Digest, packages: &[(&str, &str)]) {
        self.packages.lock().unwrap().insert(
            base.clone(),
            packages
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        );
    }

    /// Images built from `base` for `platform` get these packages.
    pub fn base_platform(&self, base: &Digest, platform: &str, packages: &[(&str, &str)]) {
        self.platform_packages.lock().unwrap().insert(
            (base.clone(), platform.parse().expect("platform")),
            packages
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        );
    }

    /// How many builds ran.
    pub fn build_count(&self) -> usize {
        self.builds.lock().unwrap().len()
    }
}

fn status_file(pkgs: &[(String, String)]) -> String {
    let mut s = String::new();
    for (n, v) in pkgs {
        s.push_str(&format!(
            "Package: {n}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: {v}\nDescription: {n}\n\n"
        ));
    }
    s
}

impl Engine for FakeEngine {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn available(&self) -> Result<(), EngineError> {
        if self.missing {
            return Err(EngineError::Missing {
                engine: "fake",
                install: "nothing to install",
            });
        }
        Ok(())
    }

    fn build(&self, spec: &BuildSpec<'_>) -> Result<Built, EngineError> {
        let io = |e: std::io::Error| EngineError::Io {
            engine: "fake",
            message: e.to_string(),
        };
        self.builds
            .lock()
            .unwrap()
            .push(spec.image.name.to_string());
        if let Some(tail) = self.fail.lock().unwrap().clone() {
            return Err(EngineError::Failed {
                engine: "fake",
                image: spec.image.name.to_string(),
                status: "exit status: 1".into(),
                log: spec.log.display().to_string(),
                tail,
            });
        }
        let text = std::fs::read_to_string(&spec.image.dockerfile).map_err(io)?;
        let base: Option<Digest> = text
            .split(|c: char| c.is_whitespace())
            .filter_map(|w| w.split_once('@'))
            .find_map(|(_, d)| d.parse().ok());
        let pkgs = base
            .and_then(|b| {
                self.platform_packages
                    .lock()
                    .unwrap()
                    .get(&(b.clone(), spec.platform.clone()))
                    .cloned()
                    .or_else(|| self.packages.lock().unwrap().get(&b).cloned())
            })
            .unwrap_or_default();
        let tar = tar_of(&[
            Entry::Dir {
                path: "etc".into(),
                mode: 0o755,
            },
            Entry::File {
                path: "etc/os-release".into(),
                mode: 0o644,
                data: b"ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n".to_vec(),
            },
            Entry::File {
                path: "etc/image-name".into(),
                mode: 0o644,
                data: format!("{} {}", spec.image.name, spec.platform).into_bytes(),
            },
            Entry::File {
                path: "var/lib/dpkg/status".into(),
                mode: 0o644,
                data: status_file(&pkgs).into_bytes(),
            },
        ])
        .map_err(io)?;
        let mut w = LayoutWriter::create(spec.out).map_err(io)?;
        w.add_layer(&tar).map_err(io)?;
        w.finish(
            serde_json::json!({"architecture": spec.platform.architecture, "os": spec.platform.os, "config": {}}),
            "latest",
        )
        .map_err(io)?;
        Ok(Built {
            layout: spec.out.to_path_buf(),
            seconds: 0.0,
        })
    }
}

/// One advisory of the fake DB: these versions of a package are affected.
#[derive(Debug, Clone)]
pub struct FakeVuln {
    /// Id.
    pub id: &'static str,
    /// Package name.
    pub package: &'static str,
    /// Affected versions.
    pub versions: &'static [&'static str],
    /// Severity.
    pub severity: Severity,
    /// Fixed version.
    pub fixed: Option<&'static str>,
}

/// An advisory DB given as a list.
#[derive(Debug, Default)]
pub struct FakeAdvisories {
    /// The advisories.
    pub vulns: Vec<FakeVuln>,
    /// When set, `check` fails as a DB too old.
    pub stale: bool,
    /// What `check` warns about (stale feeds).
    pub warnings: Vec<String>,
    /// When it was "built" (`None`: unknown).
    pub built: Option<Timestamp>,
    /// What `eol` says of every image.
    pub eol: Vec<vulndb::feed::eol::EolStatus>,
    /// The end-of-life records `eol_all` gives.
    pub eol_cycles: Vec<vulndb::feed::eol::Cycle>,
}

impl Advisories for FakeAdvisories {
    fn check(&self, now: Timestamp) -> Result<Vec<String>, DbError> {
        if self.stale {
            return Err(DbError::TooOld {
                path: "fake.db".into(),
                built_at: Timestamp(0),
                hours: now.0 / 3600,
                max_hours: 120,
            });
        }
        Ok(self.warnings.clone())
    }

    fn built(&self) -> Result<Option<Timestamp>, DbError> {
        Ok(self.built)
    }

    fn eol(
        &self,
        _inv: &inventory::Inventory,
        _today: &str,
    ) -> Result<Vec<vulndb::feed::eol::EolStatus>, DbError> {
        Ok(self.eol.clone())
    }

    fn eol_all(&self) -> Result<Vec<vulndb::feed::eol::Cycle>, DbError> {
        Ok(self.eol_cycles.clone())
    }

    fn matches(
        &self,
        inv: &inventory::Inventory,
        _opts: &scan::Options,
    ) -> Result<scan::Matched, DbError> {
        let mut m = scan::Matched::default();
        for p in &inv.packages {
            m.packages_checked += 1;
            for v in &self.vulns {
                if v.package != p.name || !v.versions.contains(&p.version.as_str()) {
                    continue;
                }
                m.findings.push(Finding {
                    id: v.id.parse().expect("advisory id"),
                    aliases: vec![],
                    advisories: vec![v.id.parse().expect("advisory id")],
                    package: PackageRef {
                        kind: p.kind.as_str().into(),
                        name: p.name.clone(),
                        version: p.version.clone(),
                        purl: p.purl.clone(),
                        source_name: None,
                        source_version: None,
                        locations: vec![],
                    },
                    ecosystem: "Debian:12".into(),
                    matched: format!("{} {}", p.name, p.version),
                    fixed_version: v.fixed.map(str::to_string),
                    state: if v.fixed.is_some() {
                        FixState::Fixed
                    } else {
                        FixState::NotFixed
                    },
                    severity: v.severity,
                    severity_source: "debian".parse().expect("source"),
                    severity_detail: String::new(),
                    ratings: vec![],
                    cvss: vec![],
                    summary: format!("{} in {}", v.id, v.package),
                    references: vec![],
                    kev: None,
                    epss: None,
                    due: None,
                    suppressed: None,
                    origin: None,
                });
            }
        }
        scan::sort_findings(&mut m.findings);
        Ok(m)
    }
}

/// A clock that says what it is told.
#[derive(Debug)]
pub struct FixedClock(pub Mutex<Timestamp>);

impl FixedClock {
    /// At `t`.
    pub fn at(t: i64) -> Self {
        FixedClock(Mutex::new(Timestamp(t)))
    }
    /// Move on by `secs`.
    pub fn advance(&self, secs: i64) {
        self.0.lock().unwrap().0 += secs;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

/// A notifier that records what it was sent, and can fail.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    /// (target kind, digest) per run digest.
    pub sent: Mutex<Vec<(String, RunDigest)>>,
    /// (target kind, message) per other message (weekly, re-match).
    pub other: Mutex<Vec<(String, notify::Message)>>,
    /// When set, every send fails.
    pub fail: bool,
}

impl Notifier for RecordingNotifier {
    fn send(&self, target: &Target, message: &notify::Message) -> Result<(), NotifyError> {
        if self.fail {
            return Err(NotifyError {
                kind: target.kind(),
                target: target.shown(),
                message: "HTTP 503 Service Unavailable".into(),
            });
        }
        match message {
            notify::Message::Run(d) => self
                .sent
                .lock()
                .unwrap()
                .push((target.kind().into(), d.clone())),
            m => self
                .other
                .lock()
                .unwrap()
                .push((target.kind().into(), m.clone())),
        }
        Ok(())
    }
}

/// An observer that records events as text.
#[derive(Debug, Default)]
pub struct RecordingObserver(pub Mutex<Vec<String>>);

impl Observer for RecordingObserver {
    fn event(&self, e: &Event<'_>) {
        self.0.lock().unwrap().push(format!("{e:?}"));
    }
}

/// An issue on the recording forge: number, title, body, comments, open.
pub type ForgeIssue = (u64, String, String, Vec<String>, bool);

/// A forge's issues, in memory.
#[derive(Debug, Default)]
pub struct RecordingTracker {
    /// In order.
    pub issues: Mutex<Vec<ForgeIssue>>,
}

impl update::forge::IssueTracker for RecordingTracker {
    fn find_issue(
        &self,
        marker: &str,
        _label: &str,
    ) -> Result<Option<update::forge::Issue>, update::forge::ForgeError> {
        Ok(self
            .issues
            .lock()
            .unwrap()
            .iter()
            .find(|i| i.4 && i.2.contains(marker))
            .map(|i| update::forge::Issue {
                number: i.0,
                url: format!("https://forge.invalid/issues/{}", i.0),
            }))
    }

    fn open_issue(
        &self,
        title: &str,
        body: &str,
        _labels: &[String],
    ) -> Result<update::forge::Issue, update::forge::ForgeError> {
        let mut v = self.issues.lock().unwrap();
        let n = v.len() as u64 + 1;
        v.push((n, title.into(), body.into(), vec![], true));
        Ok(update::forge::Issue {
            number: n,
            url: format!("https://forge.invalid/issues/{n}"),
        })
    }

    fn comment(
        &self,
        issue: &update::forge::Issue,
        body: &str,
    ) -> Result<(), update::forge::ForgeError> {
        if let Some(i) = self
            .issues
            .lock()
            .unwrap()
            .iter_mut()
            .find(|i| i.0 == issue.number)
        {
            i.3.push(body.into());
        }
        Ok(())
    }

    fn set_body(
        &self,
        issue: &update::forge::Issue,
        body: &str,
    ) -> Result<(), update::forge::ForgeError> {
        if let Some(i) = self
            .issues
            .lock()
            .unwrap()
            .iter_mut()
            .find(|i| i.0 == issue.number)
        {
            i.2 = body.into();
        }
        Ok(())
    }

    fn close_issue(&self, issue: &update::forge::Issue) -> Result<(), update::forge::ForgeError> {
        if let Some(i) = self
            .issues
            .lock()
            .unwrap()
            .iter_mut()
            .find(|i| i.0 == issue.number)
        {
            i.4 = false;
        }
        Ok(())
    }
}
