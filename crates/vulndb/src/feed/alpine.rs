//! Alpine secdb files (`https://secdb.alpinelinux.org/v3.NN/main.json`):
//! per package, fixed version → the ids it fixes. Each id becomes an
//! advisory `ALPINE-<id>` (alias the id) affecting versions before the fix;
//! a fixed version of `0` means the release was never affected.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{FeedError, Record};
use crate::model::{Advisory, AdvisoryId, Affected, Event, Range, RangeKind, Status};

#[derive(Deserialize)]
struct Secdb {
    distroversion: String,
    #[serde(default)]
    packages: Vec<PkgWrap>,
}

#[derive(Deserialize)]
struct PkgWrap {
    pkg: Pkg,
}

#[derive(Deserialize)]
struct Pkg {
    name: String,
    #[serde(default)]
    secfixes: BTreeMap<String, Option<Vec<String>>>,
}

fn ids(entry: &str) -> impl Iterator<Item = &str> {
    entry.split_whitespace().filter(|t| {
        let mut parts = t.splitn(2, '-');
        let p = parts.next().unwrap_or("");
        parts.next().is_some_and(|r| !r.is_empty())
            && !p.is_empty()
            && p.chars().all(|c| c.is_ascii_uppercase())
    })
}

/// Parse one secdb file.
pub fn from_value(v: Value) -> Result<Vec<Record>, FeedError> {
    let db: Secdb = serde_json::from_value(v)?;
    let release = db.distroversion.trim();
    if !release.starts_with('v') {
        return Err(FeedError::Invalid(format!(
            "distroversion `{release}` is not like `v3.20`"
        )));
    }
    let ecosystem = format!("Alpine:{release}");
    let mut by_id: BTreeMap<String, Record> = BTreeMap::new();
    for PkgWrap { pkg } in db.packages {
        for (fixed, entries) in pkg.secfixes {
            if fixed.trim() == "0" {
                continue;
            }
            for entry in entries.unwrap_or_default() {
                for id in ids(&entry) {
                    let (Ok(own), Ok(alias)) = (
                        format!("ALPINE-{id}").parse::<AdvisoryId>(),
                        id.parse::<AdvisoryId>(),
                    ) else {
                        continue;
                    };
                    let rec = by_id.entry(id.to_string()).or_insert_with(|| Record {
                        advisory: Advisory {
                            id: own,
                            aliases: vec![alias],
                            feed: "alpine-secdb".into(),
                            ..Advisory::default()
                        },
                        affected: Vec::new(),
                    });
                    rec.affected.push(Affected {
                        ecosystem: ecosystem.clone(),
                        name: pkg.name.clone(),
                        ranges: vec![Range {
                            kind: RangeKind::Ecosystem,
                            events: vec![
                                Event::Introduced("0".into()),
                                Event::Fixed(fixed.clone()),
                            ],
                        }],
                        versions: Vec::new(),
                        status: Status::Affected,
                        rating: None,
                    });
                }
            }
        }
    }
    Ok(by_id.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secfixes() {
        let recs = from_value(
            json!({"distroversion": "v3.20", "reponame": "main", "packages": [
            {"pkg": {"name": "openssl", "secfixes": {
                "3.3.2-r0": ["CVE-2024-6119"],
                "3.1.4-r1": ["CVE-2023-5678 CVE-2023-5363"],
                "0": ["CVE-2022-0001"]}}}]}),
        )
        .unwrap();
        let ids: Vec<_> = recs.iter().map(|r| r.advisory.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "ALPINE-CVE-2023-5363",
                "ALPINE-CVE-2023-5678",
                "ALPINE-CVE-2024-6119"
            ]
        );
        assert_eq!(recs[2].affected[0].ecosystem, "Alpine:v3.20");
        assert!(from_value(json!({"distroversion": "3.20", "packages": []})).is_err());
    }
}
