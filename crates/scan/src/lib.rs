//! Vulnerability scanning: an [`inventory::Inventory`] matched against the
//! advisory DB ([`vulndb::Db`]). One finding per (vulnerability, package),
//! with aliases merged, a fix state, and a severity whose source is named.
//! Suppression (ignore files, OpenVEX), baselines and the gate work on the
//! findings as data; nothing here prints.

pub mod baseline;
pub mod eol;
pub mod gate;
pub mod matching;
pub mod session;
pub mod settings;
pub mod severity;
pub mod suppress;
pub mod vex;

use std::collections::{BTreeMap, BTreeSet, HashMap};

pub use inventory::attribution;
pub use inventory::attribution::{Attribution, Origin, Part};
use inventory::{Inventory, Location};
use serde::{Deserialize, Serialize};
use vulndb::model::{Rating, Severity, Status};
use vulndb::version::Scheme;
use vulndb::{AdvisoryId, Db, DbError};

use crate::matching::{Verdict, affects, query};
use crate::severity::{Score, Source};

/// The schema name of our JSON scan report.
pub const REPORT_SCHEMA: &str = "safeimage-scan/1";

/// Fix state of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixState {
    /// A fixed version exists.
    Fixed,
    /// Affected, no fix yet.
    NotFixed,
    /// The vendor will not fix it.
    WillNotFix,
    /// The fix is postponed.
    FixDeferred,
    /// The release is out of support.
    EndOfLife,
    /// The vendor rates it unimportant (hidden unless asked for).
    Unimportant,
}

impl FixState {
    /// Kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FixState::Fixed => "fixed",
            FixState::NotFixed => "not-fixed",
            FixState::WillNotFix => "will-not-fix",
            FixState::FixDeferred => "fix-deferred",
            FixState::EndOfLife => "end-of-life",
            FixState::Unimportant => "unimportant",
        }
    }
}

/// The package a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRef {
    /// Ecosystem type (`deb`, `python`...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Name.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// Package URL.
    pub purl: String,
    /// Source package, for OS packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Source version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Where it is in the image.
    #[serde(default)]
    pub locations: Vec<LocationRef>,
}

/// A file in the image, and the layer that added it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationRef {
    /// Path.
    pub path: String,
    /// Layer diffID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

impl From<&Location> for LocationRef {
    fn from(l: &Location) -> Self {
        LocationRef {
            path: l.path.clone(),
            layer: l.layer.clone(),
        }
    }
}

/// Why a finding is not counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// `ignore-file`, `trivyignore` or `vex`.
    pub kind: String,
    /// The file that said so.
    pub file: String,
    /// The reason given (VEX: justification and impact statement).
    pub reason: String,
    /// VEX status (`not_affected`, `fixed`); an ignore rule that gives a
    /// justification is `not_affected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The VEX justification (`vulnerable_code_not_present`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// Expiry date of an ignore rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// What CISA's KEV catalog says of a finding's CVE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevMark {
    /// The CVE the catalog lists.
    pub cve: String,
    /// Added to the catalog (`YYYY-MM-DD`).
    pub date_added: String,
    /// CISA's remediation due date (`YYYY-MM-DD`).
    pub due_date: String,
    /// Known to be used in ransomware campaigns.
    pub ransomware: bool,
}

/// A finding's patch deadline, from a fleet's findings over time and its
/// `[sla]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueMark {
    /// The promoted image carries it and the store tracks it (false: it
    /// would be first seen now).
    pub tracked: bool,
    /// First seen (RFC 3339).
    pub first_seen: String,
    /// The deadline (RFC 3339); none for severities without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// Past the deadline.
    pub overdue: bool,
}

/// A finding's EPSS score (the highest of its CVEs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpssMark {
    /// Probability of exploitation activity in the next 30 days.
    pub score: f64,
    /// Its percentile.
    pub percentile: f64,
    /// The scores' date.
    pub date: String,
}

/// One vulnerability in one package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Primary id (a CVE when there is one).
    pub id: AdvisoryId,
    /// Every other id for the same issue.
    pub aliases: Vec<AdvisoryId>,
    /// Advisories merged into this finding.
    pub advisories: Vec<AdvisoryId>,
    /// The package.
    pub package: PackageRef,
    /// The ecosystem it was matched in.
    pub ecosystem: String,
    /// The name and version tested (source package for OS packages).
    pub matched: String,
    /// First fixed version, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// Fix state.
    pub state: FixState,
    /// Severity.
    pub severity: Severity,
    /// Where the severity came from (`debian`, `ghsa`, `cvss_v3`, `none`).
    pub severity_source: severity::SeveritySource,
    /// That source's words (urgency, score and vector).
    #[serde(default)]
    pub severity_detail: String,
    /// Every vendor rating seen.
    #[serde(default)]
    pub ratings: Vec<Rating>,
    /// Every CVSS vector seen, scored.
    #[serde(default)]
    pub cvss: Vec<Score>,
    /// One-line summary.
    #[serde(default)]
    pub summary: String,
    /// Reference URLs.
    #[serde(default)]
    pub references: Vec<String>,
    /// In CISA's Known Exploited Vulnerabilities catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kev: Option<KevMark>,
    /// Its EPSS score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss: Option<EpssMark>,
    /// Its patch deadline, as a fleet's store tracks it (`scan --tracked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<DueMark>,
    /// Set when an ignore rule or VEX statement suppresses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppression>,
    /// The layer its package came from: base or the image's own build, and
    /// the Dockerfile instruction when known ([`attribute`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

impl Finding {
    /// The primary id and aliases.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(AdvisoryId::as_str))
    }
    /// Whether a fixed version exists.
    pub fn has_fix(&self) -> bool {
        self.state == FixState::Fixed
    }
}

/// Gives each finding the origin of its package's layer.
pub fn attribute(findings: &mut [Finding], a: &Attribution) {
    for f in findings {
        f.origin = a
            .of_layers(
                f.package
                    .locations
                    .iter()
                    .filter_map(|l| l.layer.as_deref()),
            )
            .cloned();
    }
}

/// Which findings `scan --layers` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerFilter {
    /// Those in the base image's layers.
    Base,
    /// Those in the image's own build.
    App,
    /// All.
    All,
}

/// Keeps the findings `filter` asks for. Findings whose origin is not known
/// are kept by `All` only; callers refuse `Base`/`App` when the base was not
/// told apart.
pub fn keep_layers(findings: &mut Vec<Finding>, filter: LayerFilter) {
    let want = match filter {
        LayerFilter::All => return,
        LayerFilter::Base => Part::Base,
        LayerFilter::App => Part::App,
    };
    findings.retain(|f| f.origin.as_ref().is_some_and(|o| o.part == want));
}

/// Matching options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Report Debian `unimportant` findings too.
    pub show_unimportant: bool,
    /// Severity source priority.
    pub severity_priority: Vec<Source>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            show_unimportant: false,
            severity_priority: severity::default_priority(),
        }
    }
}

/// What matching produced.
#[derive(Debug, Clone, Default)]
pub struct Matched {
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// Packages looked up.
    pub packages_checked: usize,
    /// Packages with no feed (unknown distro, owned language packages).
    pub packages_skipped: usize,
    /// `unimportant` findings hidden.
    pub hidden_unimportant: usize,
    /// Things worth telling the user (unreadable versions...).
    pub notes: Vec<String>,
}

fn primary_id(ids: &BTreeSet<AdvisoryId>, advisories: &[AdvisoryId]) -> AdvisoryId {
    ids.iter()
        .find(|i| i.is_cve())
        .or_else(|| ids.iter().find(|i| i.is_ghsa()))
        .cloned()
        .or_else(|| advisories.first().cloned())
        .unwrap_or_default()
}

/// What KEV and EPSS say of a finding's CVEs: the KEV entry with the
/// earliest due date, the highest EPSS score.
fn exploitation(db: &Db, cves: &[String]) -> Result<(Option<KevMark>, Option<EpssMark>), DbError> {
    let mut kev: Option<KevMark> = None;
    let mut epss: Option<EpssMark> = None;
    let date = db
        .status()
        .epss
        .as_ref()
        .map(|e| e.date.clone())
        .unwrap_or_default();
    for cve in cves {
        if let Some(k) = db.kev(cve)?
            && kev.as_ref().is_none_or(|x| k.due_date < x.due_date)
        {
            kev = Some(KevMark {
                cve: k.cve,
                date_added: k.date_added,
                due_date: k.due_date,
                ransomware: k.ransomware,
            });
        }
        if let Some(s) = db.epss(cve)?
            && epss.as_ref().is_none_or(|x| s.score > x.score)
        {
            epss = Some(EpssMark {
                score: s.score,
                percentile: s.percentile,
                date: date.clone(),
            });
        }
    }
    Ok((kev, epss))
}

fn state_of(status: Status, fixed: &Option<String>) -> FixState {
    match status {
        Status::Unimportant => FixState::Unimportant,
        Status::WillNotFix => FixState::WillNotFix,
        Status::FixDeferred => FixState::FixDeferred,
        Status::EndOfLife => FixState::EndOfLife,
        Status::Affected if fixed.is_some() => FixState::Fixed,
        Status::Affected => FixState::NotFixed,
    }
}

/// Match every package of an inventory.
pub fn match_inventory(inv: &Inventory, db: &Db, opts: &Options) -> Result<Matched, DbError> {
    let mut out = Matched::default();
    let mut advisory_cache: HashMap<i64, vulndb::Advisory> = HashMap::new();
    let mut score_cache: HashMap<String, Option<Score>> = HashMap::new();
    // NVD's record of a CVE (CVSS enrichment), looked up once per CVE.
    let mut nvd_cache: HashMap<String, Option<vulndb::Advisory>> = HashMap::new();
    let mut unreadable: BTreeMap<String, usize> = BTreeMap::new();
    // Identical (ecosystem, name, version) lookups are shared.
    let mut rows_cache: HashMap<(String, String), Vec<(i64, vulndb::Affected)>> = HashMap::new();
    for p in &inv.packages {
        let Some(q) = query(p, inv.distro.as_ref()) else {
            out.packages_skipped += 1;
            continue;
        };
        out.packages_checked += 1;
        let key = (q.ecosystem.clone(), q.name.clone());
        if !rows_cache.contains_key(&key) {
            let rows = db.affected(&q.ecosystem, &q.name)?;
            rows_cache.insert(key.clone(), rows);
        }
        let rows = &rows_cache[&key];
        // (advisory rowid, fixed, status, row rating)
        let mut hits: Vec<(i64, Option<String>, Status, Option<Rating>)> = Vec::new();
        for (adv, row) in rows {
            match affects(row, &q.version) {
                Verdict::Yes(fixed) => hits.push((*adv, fixed, row.status, row.rating.clone())),
                Verdict::No => {}
                Verdict::Unknown => *unreadable.entry(q.ecosystem.clone()).or_default() += 1,
            }
        }
        if hits.is_empty() {
            continue;
        }
        for (adv, ..) in &hits {
            if !advisory_cache.contains_key(adv) {
                advisory_cache.insert(*adv, db.advisory(*adv)?);
            }
        }
        // Group hits whose advisories share any id.
        let n = hits.len();
        let mut parent: Vec<usize> = (0..n).collect();
        fn find(p: &mut [usize], i: usize) -> usize {
            let mut r = i;
            while p[r] != r {
                r = p[r];
            }
            p[i] = r;
            r
        }
        let mut by_id: HashMap<&str, usize> = HashMap::new();
        for (i, (adv, ..)) in hits.iter().enumerate() {
            for id in advisory_cache[adv].all_ids() {
                if let Some(&j) = by_id.get(id) {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a] = b;
                } else {
                    by_id.insert(id, i);
                }
            }
        }
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in 0..n {
            let r = find(&mut parent, i);
            groups.entry(r).or_default().push(i);
        }
        let scheme = Scheme::for_ecosystem(&q.ecosystem);
        for members in groups.values() {
            let mut ids = BTreeSet::new();
            let mut advisories = Vec::new();
            let mut ratings: Vec<Rating> = Vec::new();
            let mut scores: Vec<Score> = Vec::new();
            let mut refs = BTreeSet::new();
            let mut summary = String::new();
            let mut fixed: Option<String> = None;
            let mut status = Status::Unimportant;
            let mut all_unimportant = true;
            for &i in members {
                let (adv, f, st, row_rating) = &hits[i];
                let a = &advisory_cache[adv];
                ids.insert(a.id.clone());
                ids.extend(a.aliases.iter().cloned());
                advisories.push(a.id.clone());
                ratings.extend(row_rating.clone());
                refs.extend(a.references.iter().cloned());
                if summary.is_empty() {
                    summary = if a.summary.is_empty() {
                        a.details
                            .lines()
                            .next()
                            .unwrap_or("")
                            .chars()
                            .take(200)
                            .collect()
                    } else {
                        a.summary.clone()
                    };
                }
                for c in &a.cvss {
                    let s = score_cache
                        .entry(c.vector.clone())
                        .or_insert_with(|| severity::score(c));
                    if let Some(s) = s
                        && !scores.iter().any(|x| x.vector == s.vector)
                    {
                        let mut s = s.clone();
                        s.source = c.source.clone().unwrap_or_else(|| a.id.to_string());
                        scores.push(s);
                    }
                }
                if let Some(f) = f {
                    fixed = match fixed {
                        Some(g) if scheme.compare(&g, f) != Some(std::cmp::Ordering::Less) => {
                            Some(g)
                        }
                        _ => Some(f.clone()),
                    };
                }
                if *st != Status::Unimportant {
                    all_unimportant = false;
                    // The most actionable status wins: affected over the others.
                    if status == Status::Unimportant || *st == Status::Affected {
                        status = *st;
                    }
                }
            }
            // Advisory-level ratings after the package's own.
            for &i in members {
                let a = &advisory_cache[&hits[i].0];
                for r in &a.ratings {
                    if !ratings.contains(r) {
                        ratings.push(r.clone());
                    }
                }
            }
            // NVD's scores for the CVEs, after every feed's own.
            let cves: Vec<String> = ids
                .iter()
                .filter(|i| i.is_cve())
                .map(|i| i.to_string())
                .collect();
            let (kev, epss) = exploitation(db, &cves)?;
            for cve in cves {
                if !nvd_cache.contains_key(&cve) {
                    let found = db.advisory_by_id(&vulndb::feed::nvd::advisory_id(&cve))?;
                    nvd_cache.insert(cve.clone(), found);
                }
                let Some(n) = &nvd_cache[&cve] else { continue };
                advisories.push(n.id.clone());
                for r in &n.ratings {
                    if !ratings.contains(r) {
                        ratings.push(r.clone());
                    }
                }
                for c in &n.cvss {
                    if let Some(mut s) = severity::score(c)
                        && !scores.iter().any(|x| {
                            x.vector == s.vector && x.source == c.source.clone().unwrap_or_default()
                        })
                    {
                        s.source = c.source.clone().unwrap_or_else(|| n.id.to_string());
                        scores.push(s);
                    }
                }
            }
            if all_unimportant {
                status = Status::Unimportant;
            }
            let state = state_of(status, &fixed);
            if state == FixState::Unimportant && !opts.show_unimportant {
                out.hidden_unimportant += 1;
                continue;
            }
            advisories.sort();
            advisories.dedup();
            let id = primary_id(&ids, &advisories);
            ids.remove(&id);
            let chosen = severity::choose(&ratings, &scores, &opts.severity_priority);
            out.findings.push(Finding {
                id,
                aliases: ids.into_iter().collect(),
                advisories,
                package: PackageRef {
                    kind: p.kind.as_str().to_string(),
                    name: p.name.clone(),
                    version: p.version.clone(),
                    purl: p.purl.clone(),
                    source_name: p.source_name.clone(),
                    source_version: p.source_version.clone(),
                    locations: p.locations.iter().map(LocationRef::from).collect(),
                },
                ecosystem: q.ecosystem.clone(),
                matched: if q.via_source {
                    format!("source package {} {}", q.name, q.version)
                } else {
                    format!("{} {}", q.name, q.version)
                },
                fixed_version: if state == FixState::Fixed {
                    fixed
                } else {
                    None
                },
                state,
                severity: chosen.severity,
                severity_source: chosen.source,
                severity_detail: chosen.detail,
                ratings,
                cvss: scores,
                summary,
                references: refs.into_iter().collect(),
                kev,
                epss,
                due: None,
                suppressed: None,
                origin: None,
            });
        }
    }
    for (eco, n) in unreadable {
        out.notes.push(format!(
            "{n} advisory rows in {eco} could not be compared: the installed version is not valid in that ecosystem's version scheme"
        ));
    }
    sort_findings(&mut out.findings);
    Ok(out)
}

/// Most severe first, then package, then id.
pub fn sort_findings(f: &mut [Finding]) {
    f.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.package.name.cmp(&b.package.name))
            .then_with(|| a.package.version.cmp(&b.package.version))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// The risk order (`scan --sort risk`, as Grype ranks): findings in CISA's
/// KEV catalog first (ransomware use first among them), then by EPSS score
/// times a severity weight, then most severe, package, id.
pub fn sort_by_risk(f: &mut [Finding]) {
    let weight = |s: Severity| match s {
        Severity::Critical => 1.0,
        Severity::High => 0.75,
        Severity::Medium => 0.5,
        Severity::Low => 0.25,
        Severity::Unknown => 0.1,
    };
    let risk = |x: &Finding| x.epss.as_ref().map_or(0.0, |e| e.score) * weight(x.severity);
    f.sort_by(|a, b| {
        let kev = |x: &Finding| {
            (
                x.kev.is_some(),
                x.kev.as_ref().is_some_and(|k| k.ransomware),
            )
        };
        kev(b)
            .cmp(&kev(a))
            .then_with(|| risk(b).total_cmp(&risk(a)))
            .then_with(|| b.severity.cmp(&a.severity))
            .then_with(|| a.package.name.cmp(&b.package.name))
            .then_with(|| a.package.version.cmp(&b.package.version))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// Whether a package type is an OS package (for grouping in reports).
pub fn is_os_type(kind: &str) -> bool {
    matches!(kind, "deb" | "apk" | "rpm")
}

/// Counts by severity, over findings that are not suppressed.
pub fn counts(findings: &[Finding]) -> BTreeMap<Severity, usize> {
    let mut m: BTreeMap<Severity, usize> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
    for f in findings.iter().filter(|f| f.suppressed.is_none()) {
        *m.entry(f.severity).or_default() += 1;
    }
    m
}
