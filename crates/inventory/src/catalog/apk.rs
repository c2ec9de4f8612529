//! apk: `lib/apk/db/installed` (`P:` name, `V:` version, `A:` arch, `L:`
//! license, `o:` origin = source package, `m:` maintainer, `D:` dependencies
//! and `p:` provides, both with `so:`/`cmd:` names, `F:`/`R:` owned files).

use std::collections::HashMap;

use super::{Ctx, Owners, purl};
use crate::model::{Distro, Package, PackageType};

/// `so:libz.so.1=1.3.1` → `so:libz.so.1`; `zlib>=1.2` → `zlib`.
fn strip_constraint(dep: &str) -> &str {
    dep.split(['=', '<', '>', '~']).next().unwrap_or(dep)
}

pub(super) fn catalog(ctx: &Ctx<'_>, distro: Option<&Distro>) -> (Vec<Package>, Owners<'static>) {
    let Some(bytes) = ctx.analysis.tree.read("lib/apk/db/installed") else {
        return (vec![], Owners::default());
    };
    let text = String::from_utf8_lossy(bytes);
    let location = ctx.location("lib/apk/db/installed");
    let distro_q = distro
        .map(|d| format!("{}-{}", d.id, d.version_id))
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut owners = Owners::default();
    for block in text.split("\n\n") {
        let mut f: HashMap<char, String> = HashMap::new();
        let mut dir = String::new();
        let mut files = Vec::new();
        for line in block.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let Some(k) = k.chars().next().filter(|_| k.len() == 1) else {
                continue;
            };
            match k {
                'F' => dir = v.to_string(),
                'R' => files.push(if dir.is_empty() {
                    v.to_string()
                } else {
                    format!("{dir}/{v}")
                }),
                _ => {
                    f.entry(k).or_insert_with(|| v.to_string());
                }
            }
        }
        let (Some(name), Some(version)) = (f.get(&'P'), f.get(&'V')) else {
            continue;
        };
        for file in files {
            owners.insert(file.into(), name.clone().into());
        }
        let arch = f.get(&'A').cloned();
        out.push(Package {
            kind: PackageType::Apk,
            name: name.clone(),
            version: version.clone(),
            purl: purl(
                "apk",
                Some(distro.map_or("alpine", |d| d.id.as_str())),
                name,
                version,
                &[
                    ("arch", arch.as_deref().unwrap_or("")),
                    ("distro", &distro_q),
                ],
            ),
            source_name: Some(f.get(&'o').cloned().unwrap_or_else(|| name.clone())),
            source_version: Some(version.clone()),
            arch,
            licenses: f.get(&'L').map(|l| vec![l.clone()]).unwrap_or_default(),
            locations: vec![location.clone()],
            owned_by: None,
            supplier: f.get(&'m').cloned(),
            relations: crate::model::Relations {
                // `so:libc.musl-x86_64.so.1`, `cmd:sh`, `zlib>=1.2`; `!x` is a conflict
                wants: f
                    .get(&'D')
                    .map(|d| {
                        d.split_whitespace()
                            .filter(|x| !x.starts_with('!'))
                            .map(|x| vec![strip_constraint(x).to_string()])
                            .collect()
                    })
                    .unwrap_or_default(),
                provides: f
                    .get(&'p')
                    .map(|p| {
                        p.split_whitespace()
                            .map(|x| strip_constraint(x).to_string())
                            .collect()
                    })
                    .unwrap_or_default(),
                depends_on: Vec::new(),
            },
        });
    }
    (out, owners)
}
