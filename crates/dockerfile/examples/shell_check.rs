//! Runs the built-in shell checks on script files and prints one line per
//! finding: `FILE<TAB>CODE<TAB>LINE<TAB>COLUMN`, as
//! `scripts/shell-differential` compares them with ShellCheck's. With
//! `--bash` the scripts are read as bash, else as sh.

use std::io::Write;

use dockerfile::shell_checks::{Dialect, check};

fn main() {
    let mut dialect = Dialect::Sh;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for arg in std::env::args().skip(1) {
        if arg == "--bash" {
            dialect = Dialect::Bash;
            continue;
        }
        let Ok(bytes) = std::fs::read(&arg) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for h in check(&text, dialect) {
            writeln!(out, "{arg}\t{}\t{}\t{}", h.code, h.line, h.column).expect("stdout");
        }
    }
}
