//! Scans a directory tree with the built-in rules and prints the findings
//! redacted (`cargo run --release -p secrets --example scan_dir -- DIR`):
//! a quick check of the rule set for false positives on real trees.
#![allow(clippy::print_stdout)]

use std::path::Path;

fn walk(root: &Path, dir: &Path, e: &secrets::Engine, n: &mut (usize, u64, usize)) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for ent in rd.flatten() {
        let p = ent.path();
        let Ok(t) = ent.file_type() else { continue };
        if t.is_dir() {
            walk(root, &p, e, n);
        } else if t.is_file() {
            let Ok(data) = std::fs::read(&p) else {
                continue;
            };
            n.0 += 1;
            n.1 += data.len() as u64;
            if data.iter().take(8192).any(|b| *b == 0) {
                continue;
            }
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            for h in e.scan(&rel, &data) {
                n.2 += 1;
                println!(
                    "{rel}:{}:{} {} {} {}",
                    h.line,
                    h.column,
                    h.rule,
                    h.severity.as_str(),
                    secrets::redact(&h.secret)
                );
            }
        }
    }
}

fn main() {
    let dir = std::env::args().nth(1).expect("a directory");
    let e = secrets::Engine::builtin().expect("built-in rules");
    let start = std::time::Instant::now();
    let mut n = (0, 0, 0);
    walk(Path::new(&dir), Path::new(&dir), &e, &mut n);
    let s = start.elapsed().as_secs_f64();
    println!(
        "{} files, {:.1} MB, {} findings in {s:.2} s ({:.0} MB/s)",
        n.0,
        n.1 as f64 / 1e6,
        n.2,
        n.1 as f64 / 1e6 / s
    );
}
