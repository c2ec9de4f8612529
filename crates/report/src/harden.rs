//! `safeimage harden`'s table: sizes before and after, vulnerabilities
//! before and after, what was kept, how it runs, the checks that passed and
//! where it was written or pushed.

fn mb(n: u64) -> String {
    format!("{:.1} MB", n as f64 / 1e6)
}

/// The report as a table.
pub fn table(
    r: &harden::Report,
    output: &str,
    vulns: Option<([usize; 4], [usize; 4])>,
    pushed: &[String],
    seconds: f64,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let ratio = |b: u64, a: u64| {
        if a == 0 {
            String::new()
        } else {
            format!("{:.1}x smaller", b as f64 / a as f64)
        }
    };
    let _ = writeln!(
        out,
        "hardened {} ({}) from {}{}",
        r.entrypoint,
        r.user,
        r.source,
        r.source_digest
            .as_deref()
            .map(|d| format!("@{d}"))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "{:<16}{:>12}{:>12}", "", "before", "after");
    let _ = writeln!(
        out,
        "{:<16}{:>12}{:>12}  {}",
        "compressed",
        mb(r.before.compressed),
        mb(r.after.compressed),
        ratio(r.before.compressed, r.after.compressed)
    );
    let _ = writeln!(
        out,
        "{:<16}{:>12}{:>12}  {}",
        "uncompressed",
        mb(r.before.uncompressed),
        mb(r.after.uncompressed),
        ratio(r.before.uncompressed, r.after.uncompressed)
    );
    if let Some((b, a)) = vulns {
        let f = |c: [usize; 4]| format!("{}/{}/{}/{}", c[0], c[1], c[2], c[3]);
        let _ = writeln!(
            out,
            "{:<16}{:>12}{:>12}  (critical/high/medium/low)",
            "vulnerabilities",
            f(b),
            f(a)
        );
    }
    let _ = writeln!(out, "files kept      {}", r.files);
    let pk: Vec<String> = r.packages.iter().map(|(n, v)| format!("{n} {v}")).collect();
    let _ = writeln!(out, "packages kept   {}: {}", pk.len(), pk.join(", "));
    let mut command = r.entrypoint_cmd.clone();
    command.extend(r.cmd.iter().cloned());
    let _ = writeln!(out, "runs            {}", command.join(" "));
    for (c, said) in &r.checks {
        let _ = writeln!(out, "check           {c}: ok ({said})");
    }
    for n in &r.notes {
        let _ = writeln!(out, "note            {n}");
    }
    let _ = writeln!(out, "written         {output} ({})", r.digest);
    if let (Some(d), Some(s)) = (&r.debug_digest, &r.debug) {
        let _ = writeln!(
            out,
            "debug sibling   -debug tag ({d}, {})",
            mb(s.compressed)
        );
    }
    for p in pushed {
        let _ = writeln!(out, "pushed          {p}");
    }
    let _ = writeln!(out, "in {seconds:.1} s");
    out
}
