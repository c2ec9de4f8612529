//! `[scan]` in the config file, read here because this crate owns it: the
//! advisory DB, its maximum age, ignore files, OpenVEX documents and the
//! severity source priority. Problems are collected with file:line:column.

use std::path::{Path, PathBuf};

use settings::Document;

use crate::severity::{Source, default_priority};
use crate::suppress::{self, Rule, SuppressError, VexStatement};

/// Scan settings from the config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanSettings {
    /// Advisory DB (default: the cache's).
    pub db: Option<PathBuf>,
    /// Refuse an older DB (hours; 0 = no limit).
    pub max_age_hours: u64,
    /// Refuse a DB whose downloaded feeds have no record newer than this.
    pub max_feed_age_days: Option<u64>,
    /// Ignore files (`.safeimage-ignore.yaml` format or `.trivyignore`).
    pub ignore_files: Vec<PathBuf>,
    /// OpenVEX documents.
    pub vex: Vec<PathBuf>,
    /// Severity source priority.
    pub severity_priority: Vec<Source>,
    /// Public keys one of which must have signed an `oci://` DB before it
    /// is pulled (empty: none required).
    pub db_keys: Vec<PathBuf>,
    /// The largest DB an `oci://` pull accepts, in MiB.
    pub db_max_mib: Option<u64>,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            db: None,
            max_age_hours: 120,
            max_feed_age_days: None,
            ignore_files: Vec::new(),
            vex: Vec::new(),
            severity_priority: default_priority(),
            db_keys: Vec::new(),
            db_max_mib: None,
        }
    }
}

const KEYS: &[&str] = &[
    "db",
    "max_age_hours",
    "max_feed_age_days",
    "ignore_files",
    "vex",
    "severity_source",
    "db_keys",
    "db_max_mib",
];

impl ScanSettings {
    /// Reads `[scan]`; relative paths are resolved against `dir`.
    pub fn read(doc: &mut Document<'_>, dir: &Path) -> Self {
        let mut s = ScanSettings::default();
        let Some(val) = doc.take("scan") else {
            return s;
        };
        let v = &mut doc.reader;
        let Some(t) = v.table(&val, "scan") else {
            return s;
        };
        for (k, x) in t {
            let what = format!("scan.{}", k.name);
            match k.name.as_ref() {
                // a path, or `oci://REGISTRY/REPO:TAG` (a DB pushed with `db push`)
                "db" => {
                    s.db = v.string(x, &what).map(|p| {
                        if p.starts_with("oci://") {
                            PathBuf::from(p)
                        } else {
                            settings::resolve_path(dir, &p)
                        }
                    })
                }
                "max_age_hours" => {
                    if let Some(i) = v.integer(x, &what) {
                        if i < 0 {
                            v.err(x.span, "`scan.max_age_hours` must be 0 or more");
                        } else {
                            s.max_age_hours = i as u64;
                        }
                    }
                }
                "max_feed_age_days" => {
                    if let Some(i) = v.integer(x, &what) {
                        if i < 1 {
                            v.err(x.span, "`scan.max_feed_age_days` must be 1 or more");
                        } else {
                            s.max_feed_age_days = Some(i as u64);
                        }
                    }
                }
                "ignore_files" => {
                    s.ignore_files = v
                        .string_list(x, &what)
                        .iter()
                        .map(|p| settings::resolve_path(dir, p))
                        .collect()
                }
                "vex" => {
                    s.vex = v
                        .string_list(x, &what)
                        .iter()
                        .map(|p| settings::resolve_path(dir, p))
                        .collect()
                }
                "severity_source" => {
                    let mut p = Vec::new();
                    for (name, span) in v.strings(x, &what) {
                        match name.parse::<Source>() {
                            Ok(src) => p.push(src),
                            Err(e) => v.err(span, format!("`scan.severity_source`: {e}")),
                        }
                    }
                    s.severity_priority = p;
                }
                "db_keys" => {
                    s.db_keys = v
                        .string_list(x, &what)
                        .iter()
                        .map(|p| settings::resolve_path(dir, p))
                        .collect()
                }
                "db_max_mib" => {
                    if let Some(i) = v.integer(x, &what) {
                        if i < 1 {
                            v.err(x.span, "`scan.db_max_mib` must be 1 or more");
                        } else {
                            s.db_max_mib = Some(i as u64);
                        }
                    }
                }
                other => v.unknown(k.span, "scan", other, KEYS),
            }
        }
        s
    }

    /// Reads the ignore files and VEX documents it names.
    pub fn suppressions(&self) -> Result<(Vec<Rule>, Vec<VexStatement>), SuppressError> {
        let mut rules = Vec::new();
        for f in &self.ignore_files {
            rules.extend(suppress::read_rules(f)?);
        }
        let mut vex = Vec::new();
        for f in &self.vex {
            vex.extend(suppress::read_openvex(f)?);
        }
        Ok((rules, vex))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_feed_age_limit() {
        let mut doc = Document::parse("/srv/f.toml", "[scan]\nmax_feed_age_days = 30\n");
        assert_eq!(
            ScanSettings::read(&mut doc, Path::new("/srv")).max_feed_age_days,
            Some(30)
        );
        doc.finish().unwrap();
        let mut doc = Document::parse("/srv/f.toml", "[scan]\nmax_feed_age_days = 0\n");
        ScanSettings::read(&mut doc, Path::new("/srv"));
        assert!(
            doc.finish()
                .unwrap_err()
                .to_string()
                .contains(":2:21: `scan.max_feed_age_days` must be 1 or more")
        );
    }

    #[test]
    fn reads_scan_section_with_problems_located() {
        let text = "[scan]\ndb = \"db/a.db\"\nmax_age_hours = -1\nseverity_source = [\"debian\", \"cvss_v3\", \"b@d\"]\ncolour = 1\n";
        let mut doc = Document::parse("/srv/f.toml", text);
        let s = ScanSettings::read(&mut doc, Path::new("/srv"));
        assert_eq!(s.db.as_deref(), Some(Path::new("/srv/db/a.db")));
        assert_eq!(s.max_age_hours, 120);
        assert_eq!(s.severity_priority.len(), 2);
        let e = doc.finish().unwrap_err();
        let all = e.to_string();
        assert_eq!(e.0.len(), 3, "{all}");
        assert!(
            all.contains(":3:17: `scan.max_age_hours` must be 0 or more"),
            "{all}"
        );
        assert!(all.contains("unknown severity source `b@d`"), "{all}");
        assert!(
            all.contains(":5:1: unknown key `colour` in [scan]"),
            "{all}"
        );
    }
}
