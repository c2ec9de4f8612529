//! One image through the daily run: resolve bases (HEAD), lint and policy,
//! build, push by digest, inventory and scan, gate against the last promoted
//! image, and only then move the tags. Every side effect sits behind a
//! trait ([`Registry`], [`crate::engine::Engine`], [`Hooks`]) so the logic is
//! unit-tested; the binary wires in the real ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use oci::{Digest, ImageRef, Platform};
use scan::Finding;
use scan::baseline::Diff;
use scan::gate::{Decision, Gate};
use serde::{Deserialize, Serialize};
use vulndb::{Db, Severity};

use crate::config::{FleetConfig, ImageSpec};
use crate::engine::{BuildSpec, Engine};

/// Registry operations the run needs.
pub trait Registry: Send + Sync {
    /// Digest a reference points at (HEAD), `None` when absent.
    fn head(&self, r: &ImageRef) -> Result<Option<Digest>, String>;
    /// Manifest digest for `platform` under `digest` (GET, only when not cached).
    fn platform_digest(
        &self,
        r: &ImageRef,
        digest: &Digest,
        platform: &Platform,
    ) -> Result<Digest, String>;
    /// Push an OCI layout to `repo` by digest; no tag moves.
    fn push_layout(&self, repo: &ImageRef, layout: &Path) -> Result<Digest, String>;
    /// Move `tag` in `repo` to `digest`.
    fn tag(&self, repo: &ImageRef, digest: &Digest, tag: &str) -> Result<(), String>;
}

/// The real registry client.
pub struct OciRegistry {
    /// Options (insecure hosts, credentials).
    pub opts: oci::source::RegistryOptions,
}

impl Registry for OciRegistry {
    fn head(&self, r: &ImageRef) -> Result<Option<Digest>, String> {
        let repo = oci::push::Repo::connect(r, &self.opts).map_err(|e| e.to_string())?;
        let what = match (r.digest(), r.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => "latest".to_string(),
        };
        repo.head(&what).map_err(|e| e.to_string())
    }
    fn platform_digest(&self, r: &ImageRef, d: &Digest, p: &Platform) -> Result<Digest, String> {
        let repo = oci::push::Repo::connect(r, &self.opts).map_err(|e| e.to_string())?;
        repo.platform_digest(d, p).map_err(|e| e.to_string())
    }
    fn push_layout(&self, repo: &ImageRef, layout: &Path) -> Result<Digest, String> {
        let r = oci::push::Repo::connect(repo, &self.opts).map_err(|e| e.to_string())?;
        r.push_layout(layout, Some("latest"))
            .map_err(|e| e.to_string())
    }
    fn tag(&self, repo: &ImageRef, digest: &Digest, tag: &str) -> Result<(), String> {
        let r = oci::push::Repo::connect(repo, &self.opts).map_err(|e| e.to_string())?;
        r.tag(digest, tag).map_err(|e| e.to_string())
    }
}

/// Where an image is in the run (recorded through [`Hooks`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Bases resolved, lint done.
    Checked,
    /// Built and pushed by digest.
    Pushed,
    /// Scanned and gated; tags about to move.
    Gated,
}

/// The run's decision for an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Passed; tags moved.
    Promoted,
    /// Failed the gate or the policy; no tag moved.
    Blocked,
    /// An error stopped it; no tag moved.
    Failed,
    /// `--dry-run`: resolved and checked only.
    DryRun,
}

impl Outcome {
    /// Kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Promoted => "promoted",
            Outcome::Blocked => "blocked",
            Outcome::Failed => "failed",
            Outcome::DryRun => "dry-run",
        }
    }
}

/// A base image as resolved this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseDigest {
    /// As written (after ARG expansion).
    pub reference: String,
    /// `FROM`, `COPY --from`, `RUN --mount from`.
    pub kind: String,
    /// What the reference resolved to.
    pub digest: String,
    /// The platform's manifest.
    pub platform_digest: String,
    /// The digest the last promoted build used, when different.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

/// Everything the run learned about one image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageOutcome {
    /// Image name.
    pub name: String,
    /// Destination repository.
    pub repository: String,
    /// Decision.
    pub outcome: Outcome,
    /// Why (gate reasons, policy violation, error).
    pub reasons: Vec<String>,
    /// Bases.
    pub bases: Vec<BaseDigest>,
    /// Built manifest digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Digest `latest` pointed at before (the last promoted one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_digest: Option<String>,
    /// Tags moved (empty unless promoted).
    pub tags: Vec<String>,
    /// Counts by severity (counted findings).
    pub counts: BTreeMap<Severity, usize>,
    /// Counted findings with a fix.
    pub fixable: usize,
    /// Lint findings (code, level, line, message).
    pub lint: Vec<String>,
    /// Comparison with the last promoted scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Diff>,
    /// Findings (for reports and the next baseline).
    pub findings: Vec<Finding>,
    /// Seconds in the build engine.
    pub engine_seconds: f64,
    /// Seconds in everything else.
    pub other_seconds: f64,
    /// Seconds per step (resolve, lint, build, push, scan, tag).
    #[serde(default)]
    pub steps: BTreeMap<String, f64>,
}

/// What the store knows from earlier runs.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Last promoted digest.
    pub promoted_digest: Option<String>,
    /// Its findings.
    pub promoted_findings: Option<Vec<Finding>>,
    /// Bases the last promoted build used (reference → digest).
    pub promoted_bases: BTreeMap<String, String>,
    /// Known platform digests (digest + platform → platform digest).
    pub platform_cache: BTreeMap<(String, String), String>,
    /// Build number for `{n}` (promotions of this version so far + 1).
    pub n: u64,
}

/// Progress callbacks (the store records each stage; the terminal shows it).
pub trait Hooks: Sync {
    /// An image reached a stage.
    fn stage(&self, image: &str, stage: Stage, partial: &ImageOutcome);
}

/// Run-wide context.
pub struct Ctx<'a> {
    /// Config.
    pub config: &'a FleetConfig,
    /// Registry.
    pub registry: &'a dyn Registry,
    /// Engine.
    pub engine: &'a dyn Engine,
    /// Advisory DB path (opened per image: connections are not shared).
    pub db: &'a Path,
    /// Ignore rules and VEX statements.
    pub rules: &'a [scan::suppress::Rule],
    /// VEX statements.
    pub vex: &'a [scan::suppress::VexStatement],
    /// Matching options.
    pub scan_opts: &'a scan::Options,
    /// Work directory (layouts, logs).
    pub work: &'a Path,
    /// Layer cache.
    pub cache_dir: Option<PathBuf>,
    /// `YYYYMMDD` (UTC) for `{date}`.
    pub date: &'a str,
    /// `YYYY-MM-DD` for ignore-rule expiry.
    pub today: &'a str,
    /// Resolve and check only.
    pub dry_run: bool,
    /// Test hook: before moving tags, create this file and wait for it to
    /// be removed (lets a test kill the process between push and tag).
    pub pause_before_tag: Option<PathBuf>,
}

/// Render tag templates.
pub fn render_tags(img: &ImageSpec, date: &str, n: u64) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for t in &img.tags {
        let mut s = t.replace("{date}", date).replace("{n}", &n.to_string());
        if s.contains("{version}") {
            let v = img
                .version
                .as_ref()
                .ok_or_else(|| format!("tag `{t}` needs a declared version"))?;
            s = s.replace("{version}", v);
        }
        if s.contains("{git_sha}") {
            s = s.replace("{git_sha}", &git_sha(&img.context)?);
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

fn git_sha(context: &Path) -> Result<String, String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(context)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .map_err(|e| format!("tag {{git_sha}}: cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "tag {{git_sha}}: {} is not in a git repository with a commit",
            context.display()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn is_loopback_or(host: &str, insecure: &[String]) -> bool {
    oci::source::is_loopback(host) || insecure.iter().any(|h| h == host)
}

fn failed(mut o: ImageOutcome, reason: String, start: Instant) -> ImageOutcome {
    o.outcome = Outcome::Failed;
    o.reasons.push(reason);
    o.other_seconds = start.elapsed().as_secs_f64() - o.engine_seconds;
    o
}

/// Run one image.
pub fn run_image(
    ctx: &Ctx<'_>,
    img: &ImageSpec,
    hist: &History,
    hooks: &dyn Hooks,
) -> ImageOutcome {
    let start = Instant::now();
    let mut o = ImageOutcome {
        name: img.name.clone(),
        repository: img.repository.to_string(),
        outcome: Outcome::Failed,
        reasons: Vec::new(),
        bases: Vec::new(),
        digest: None,
        previous_digest: hist.promoted_digest.clone(),
        tags: Vec::new(),
        counts: BTreeMap::new(),
        fixable: 0,
        lint: Vec::new(),
        baseline: None,
        findings: Vec::new(),
        engine_seconds: 0.0,
        other_seconds: 0.0,
        steps: BTreeMap::new(),
    };
    let mut step = Instant::now();
    let mut lap = |o: &mut ImageOutcome, name: &str| {
        o.steps
            .insert(name.to_string(), step.elapsed().as_secs_f64());
        step = Instant::now();
    };
    // Tags first: a bad template should fail before any work.
    let tags = match render_tags(img, ctx.date, hist.n) {
        Ok(t) => t,
        Err(e) => return failed(o, format!("image `{}`: {e}", img.name), start),
    };
    let text = match std::fs::read_to_string(&img.dockerfile) {
        Ok(t) => t,
        Err(e) => return failed(o, format!("{}: {e}", img.dockerfile.display()), start),
    };
    let src = dockerfile::SourceFile::new(img.dockerfile.display().to_string(), text);
    let mut args: std::collections::HashMap<String, String> = ctx.config.lint.build_args.clone();
    args.extend(img.build_args.iter().map(|(k, v)| (k.clone(), v.clone())));
    let parsed = match dockerfile::Parsed::parse(&src, &args) {
        Ok(p) => p,
        Err(e) => return failed(o, e.to_string(), start),
    };
    let platform = img
        .platforms
        .first()
        .cloned()
        .unwrap_or_else(Platform::host);
    let insecure: Vec<String> = ctx
        .config
        .registries
        .iter()
        .filter(|(_, r)| r.insecure)
        .map(|(h, _)| h.clone())
        .collect();
    let mut all_insecure = true;
    let mut pins: Vec<(dockerfile::BaseRef, Digest)> = Vec::new();
    // 1. Resolve every base reference (HEAD first; GET only for an unknown digest).
    for b in parsed.base_refs() {
        let r = &b.reference;
        all_insecure &= is_loopback_or(r.registry(), &insecure);
        let digest = match r.digest() {
            Some(d) => d.clone(),
            None => match ctx.registry.head(r) {
                Ok(Some(d)) => d,
                Ok(None) => {
                    return failed(
                        o,
                        format!(
                            "base image {r} ({}:{}): not found in the registry",
                            src.path,
                            line_of(&src, b.span.start)
                        ),
                        start,
                    );
                }
                Err(e) => return failed(o, format!("resolving base image {r}: {e}"), start),
            },
        };
        let key = (digest.to_string(), platform.to_string());
        let pd = match hist.platform_cache.get(&key) {
            Some(p) => p.clone(),
            None => match ctx.registry.platform_digest(r, &digest, &platform) {
                Ok(p) => p.to_string(),
                Err(e) => {
                    return failed(
                        o,
                        format!("resolving base image {r} for {platform}: {e}"),
                        start,
                    );
                }
            },
        };
        if r.digest().is_none() {
            pins.push((b.clone(), digest.clone()));
        }
        let previous = hist
            .promoted_bases
            .get(&r.to_string())
            .filter(|p| **p != digest.to_string())
            .cloned();
        if !o.bases.iter().any(|x| x.reference == r.to_string()) {
            o.bases.push(BaseDigest {
                reference: r.to_string(),
                kind: format!("{:?}", b.kind),
                digest: digest.to_string(),
                platform_digest: pd,
                previous,
            });
        }
    }
    lap(&mut o, "resolve");
    // 2. Lint and base-image policy.
    let cfg = dockerfile::LintConfig {
        build_args: args.clone(),
        ..ctx.config.lint.clone()
    };
    let report = dockerfile::lint(std::slice::from_ref(&src), &cfg);
    for f in &report.findings {
        let line = f.location.line;
        o.lint.push(format!(
            "{}:{line}: {} [{}] {}",
            src.path, f.level, f.code, f.message
        ));
        if f.code == "base-prohibited" {
            o.reasons
                .push(format!("{}:{line}: {}", src.path, f.message));
        }
    }
    if !o.reasons.is_empty() {
        o.outcome = Outcome::Blocked;
        o.other_seconds = start.elapsed().as_secs_f64();
        return o;
    }
    lap(&mut o, "lint");
    hooks.stage(&img.name, Stage::Checked, &o);
    if ctx.dry_run {
        o.outcome = Outcome::DryRun;
        o.tags = tags;
        o.other_seconds = start.elapsed().as_secs_f64();
        return o;
    }
    // 3. Build.
    let dir = ctx.work.join(&img.name);
    let _ = std::fs::create_dir_all(&dir);
    let log = dir.join("build.log");
    let _ = std::fs::remove_file(&log);
    // Build from exactly the digests just resolved (and recorded): a base
    // tag that moves during the run cannot slip in unrecorded.
    let pinned = dir.join("Dockerfile.pinned");
    if let Err(e) = std::fs::write(&pinned, pin_dockerfile(&src.text, &pins)) {
        return failed(o, format!("{}: {e}", pinned.display()), start);
    }
    let mut spec = img.clone();
    spec.dockerfile = pinned;
    let img_for_build = &spec;
    let authfile = match write_authfile(&dir, &ctx.config.registry_options().unwrap_or_default()) {
        Ok(a) => a,
        Err(e) => return failed(o, e, start),
    };
    let built = ctx.engine.build(&BuildSpec {
        image: img_for_build,
        out: &dir.join("oci"),
        log: &log,
        insecure_pull: all_insecure,
        authfile: authfile.as_deref(),
    });
    if let Some(a) = &authfile {
        let _ = std::fs::remove_file(a);
    }
    let built = match built {
        Ok(b) => b,
        Err(e) => return failed(o, e.to_string(), start),
    };
    o.engine_seconds = built.seconds;
    lap(&mut o, "build");
    // 4. Push by digest only.
    let digest = match ctx.registry.push_layout(&img.repository, &built.layout) {
        Ok(d) => d,
        Err(e) => return failed(o, format!("pushing {}: {e}", img.repository), start),
    };
    o.digest = Some(digest.to_string());
    lap(&mut o, "push");
    hooks.stage(&img.name, Stage::Pushed, &o);
    // 5. Inventory and scan (from the layout: the same bytes that were pushed).
    let source = oci::Source::OciLayout {
        dir: built.layout.clone(),
        tag: Some("latest".into()),
    };
    let opts = oci::Options {
        cache_dir: ctx.cache_dir.clone(),
        platform: platform.clone(),
        ..Default::default()
    };
    let want = oci::Want {
        select: inventory::select(),
        key: inventory::CATALOGER_VERSION,
    };
    let analysis = match oci::analyze(&source, &opts, &want, &|_| {}) {
        Ok(a) => a,
        Err(e) => return failed(o, format!("reading the built image: {e}"), start),
    };
    let inv = inventory::catalog(&analysis);
    let db = match Db::open(ctx.db) {
        Ok(d) => d,
        Err(e) => return failed(o, e.to_string(), start),
    };
    let mut m = match scan::match_inventory(&inv, &db, ctx.scan_opts) {
        Ok(m) => m,
        Err(e) => return failed(o, e.to_string(), start),
    };
    scan::suppress::apply_rules(&mut m.findings, ctx.rules, ctx.today);
    let full = format!("{}@{digest}", img.repository);
    scan::suppress::apply_vex(&mut m.findings, ctx.vex, &full, Some(&digest.to_string()));
    // 6. Gate: severity and the baseline against the last promoted image.
    let diff = hist
        .promoted_findings
        .as_ref()
        .map(|b| scan::baseline::diff(&m.findings, b));
    let gate = Gate {
        fail_on: img.gate.fail_on,
        only_fixed: img.gate.only_fixed,
        fail_on_new: img.gate.fail_on_new,
        fail_on_increase: img.gate.fail_on_increase,
    };
    let decision: Decision = scan::gate::evaluate(&gate, &m.findings, diff.as_ref());
    lap(&mut o, "scan");
    let counted: Vec<&Finding> = m
        .findings
        .iter()
        .filter(|f| f.suppressed.is_none())
        .collect();
    for s in Severity::ALL {
        o.counts
            .insert(s, counted.iter().filter(|f| f.severity == s).count());
    }
    o.fixable = counted.iter().filter(|f| f.has_fix()).count();
    o.baseline = diff;
    o.findings = m.findings;
    if decision.failed {
        o.outcome = Outcome::Blocked;
        o.reasons = decision.reasons;
        o.other_seconds = start.elapsed().as_secs_f64() - o.engine_seconds;
        return o;
    }
    hooks.stage(&img.name, Stage::Gated, &o);
    if let Some(p) = &ctx.pause_before_tag {
        let _ = std::fs::write(p, &img.name);
        let t = Instant::now();
        while p.exists() && t.elapsed().as_secs() < 120 {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    // 7. Promote: only now do tags move.
    for t in &tags {
        if let Err(e) = ctx.registry.tag(&img.repository, &digest, t) {
            o.tags.clear();
            return failed(
                o,
                format!("moving tag {t}: {e} (the image is pushed as {full}; rerun to retry)"),
                start,
            );
        }
        o.tags.push(t.clone());
    }
    lap(&mut o, "tag");
    o.outcome = Outcome::Promoted;
    o.other_seconds = start.elapsed().as_secs_f64() - o.engine_seconds;
    o
}

/// The Dockerfile text with every resolved base reference replaced by
/// `registry/repository@digest` (containers/image refuses tag + digest).
pub fn pin_dockerfile(text: &str, pins: &[(dockerfile::BaseRef, Digest)]) -> String {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (b, d) in pins {
        let pinned = format!(
            "{}/{}@{d}",
            b.reference.registry(),
            b.reference.repository()
        );
        let (start, end) = (b.span.start, b.span.end.min(text.len()));
        if start >= end || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            continue;
        }
        match b.kind {
            dockerfile::BaseRefKind::MountFrom => {
                // Only the `from=` value inside the mount options.
                let opts = &text[start..end];
                let mut at = 0;
                for part in opts.split(',') {
                    if let Some(v) = part.strip_prefix("from=") {
                        let vs = start + at + 5;
                        edits.push((vs, vs + v.len(), pinned.clone()));
                    }
                    at += part.len() + 1;
                }
            }
            _ => edits.push((start, end, pinned)),
        }
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    edits.dedup_by(|a, b| a.0 == b.0);
    let mut out = text.to_string();
    for (s, e, r) in edits {
        out.replace_range(s..e, &r);
    }
    out
}

/// Write credentials from env vars as a docker config auth file (0600) for
/// the engine's pulls; `None` when there are none.
fn write_authfile(
    dir: &Path,
    opts: &oci::source::RegistryOptions,
) -> Result<Option<PathBuf>, String> {
    if opts.basic_auth.is_empty() {
        return Ok(None);
    }
    let mut auths = serde_json::Map::new();
    for (host, (u, p)) in &opts.basic_auth {
        auths.insert(
            host.clone(),
            serde_json::json!({"auth": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{u}:{p}"))}),
        );
    }
    let path = dir.join("auth.json");
    let text = serde_json::json!({"auths": auths}).to_string();
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authfile() {
        let d = tempfile::tempdir().unwrap();
        let mut o = oci::source::RegistryOptions::default();
        assert!(write_authfile(d.path(), &o).unwrap().is_none());
        o.basic_auth
            .insert("r.example".into(), ("u".into(), "p".into()));
        let p = write_authfile(d.path(), &o).unwrap().unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(v["auths"]["r.example"]["auth"], "dTpw");
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn pinning_rewrites_only_image_references() {
        let text = "ARG BASE=r.example/base/debian:12\nFROM ${BASE} AS build\nRUN --mount=type=cache,from=r.example/tools:1,target=/t true\nCOPY --from=r.example/assets:2 /a /a\nFROM build\nCOPY --from=build /x /x\n";
        let src = dockerfile::SourceFile::new("Dockerfile", text);
        let parsed = dockerfile::Parsed::parse(&src, &Default::default()).unwrap();
        let d: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        let pins: Vec<_> = parsed
            .base_refs()
            .into_iter()
            .map(|b| (b, d.clone()))
            .collect();
        assert_eq!(pins.len(), 3);
        let out = pin_dockerfile(text, &pins);
        let a = "a".repeat(64);
        assert!(
            out.contains(&format!("FROM r.example/base/debian@sha256:{a} AS build")),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "--mount=type=cache,from=r.example/tools@sha256:{a},target=/t true"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!("COPY --from=r.example/assets@sha256:{a} /a /a")),
            "{out}"
        );
        assert!(
            out.contains("FROM build\nCOPY --from=build /x /x"),
            "stages untouched: {out}"
        );
        assert!(out.starts_with("ARG BASE=r.example/base/debian:12\n"));
    }

    #[test]
    fn tag_templates() {
        let mut img = crate::config::FleetConfig::from_toml(
            Path::new("/x/f.toml"),
            "[[image]]\nname = \"a\"\ncontext = \"/tmp\"\nrepository = \"r.example/a\"\ntags = [\"latest\", \"{date}\", \"{version}-r{n}\"]\nversion = \"1.2\"\n",
        )
        .unwrap()
        .images
        .remove(0);
        assert_eq!(
            render_tags(&img, "20261123", 3).unwrap(),
            vec!["latest", "20261123", "1.2-r3"]
        );
        img.tags = vec!["{git_sha}".into()];
        img.context = PathBuf::from("/");
        assert!(
            render_tags(&img, "20261123", 1)
                .unwrap_err()
                .contains("not in a git repository")
        );
    }
}

fn line_of(src: &dockerfile::SourceFile, offset: usize) -> usize {
    src.text[..offset.min(src.text.len())].matches('\n').count() + 1
}

/// A whole run, for reports and notifications.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// Always `safeimage-run-report/1`.
    pub schema: String,
    /// Run id in the store.
    pub run: i64,
    /// Start (RFC 3339).
    pub started: String,
    /// End.
    pub finished: String,
    /// Config file.
    pub config: String,
    /// Engine.
    pub engine: String,
    /// Images.
    pub images: Vec<ImageOutcome>,
    /// Notes (recovery, notifier failures).
    pub notes: Vec<String>,
    /// Wall time of the run (seconds).
    pub wall_seconds: f64,
}

impl RunReport {
    /// Count of images per outcome.
    pub fn summary(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for o in ["promoted", "blocked", "failed", "dry-run"] {
            m.insert(o.to_string(), 0);
        }
        for i in &self.images {
            *m.entry(i.outcome.as_str().to_string()).or_default() += 1;
        }
        m
    }
}
