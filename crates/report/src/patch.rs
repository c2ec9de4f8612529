//! `safeimage patch`'s table: the image and its release, the packages
//! replaced (from → to), the findings fixed and the patch layer, one
//! platform at a time.

/// The outcome as a table.
pub fn table(o: &patch::flow::Outcome) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}, {}){}",
        o.source,
        o.release,
        o.platform,
        if o.hardened { ", hardened" } else { "" }
    );
    if let Some(p) = &o.previous {
        let _ = writeln!(out, "replaced the previous patch layer {}", p.layer);
    }
    if o.upgrades.is_empty() {
        let _ = writeln!(out, "nothing to patch: no fixable OS finding selected");
    } else {
        let w = o.upgrades.iter().map(|u| u.name.len()).max().unwrap_or(0);
        let _ = writeln!(out, "{} packages upgraded:", o.upgrades.len());
        for u in &o.upgrades {
            let _ = writeln!(out, "  {:<w$}  {} -> {}", u.name, u.from, u.to);
            for c in u.kept_conffiles.iter().chain(&u.kept_changed) {
                let _ = writeln!(out, "  {:<w$}  kept the image's changed {c}", "");
            }
        }
        let _ = writeln!(
            out,
            "{} findings fixed; {} before, {} after",
            o.fixed.len(),
            o.findings_before,
            o.findings_after
        );
        if let (Some(l), Some(b)) = (&o.layer, o.layer_bytes) {
            let _ = writeln!(
                out,
                "patch layer {l}: {:.1} MB, {} files written, {} deleted",
                b as f64 / 1e6,
                o.files,
                o.deleted
            );
        }
    }
    out
}
