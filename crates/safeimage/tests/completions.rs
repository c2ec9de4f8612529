//! `safeimage completions` and `safeimage man`: the bash script completes
//! commands and flags when bash runs it, and every man page renders
//! without a warning through groff.

use std::process::Command;

fn safeimage(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_safeimage"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What bash offers after `words` (the last one being completed).
fn complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source {}; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; _safeimage safeimage '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    // (bash calls the function with the command, the word and the one before)
    let out = Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_commands_and_their_flags() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("safeimage.bash");
    std::fs::write(&script, safeimage(&["completions", "bash"])).unwrap();
    let commands = complete(&script, &["safeimage", "s"]);
    for c in ["sbom", "scan", "secrets", "sign"] {
        assert!(commands.iter().any(|w| w == c), "{c} in {commands:?}");
    }
    assert!(!commands.iter().any(|w| w == "lint"), "{commands:?}");
    let flags = complete(&script, &["safeimage", "scan", "--fail-on-u"]);
    assert_eq!(flags, vec!["--fail-on-unreadable"]);
    let flags = complete(&script, &["safeimage", "sbom", "--no-v"]);
    assert_eq!(flags, vec!["--no-verify-diff-ids"]);
}

#[test]
fn zsh_fish_and_powershell_scripts_name_every_command() {
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let s = safeimage(&["completions", shell]);
        for c in [
            "lint", "sbom", "scan", "secrets", "harden", "run", "audit", "man",
        ] {
            assert!(s.contains(c), "{shell}: {c}");
        }
    }
}

#[test]
fn a_man_page_per_command_rendered_by_groff_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    safeimage(&["man", "--out-dir", dir.path().to_str().unwrap()]);
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    for p in [
        "safeimage.1",
        "safeimage-scan.1",
        "safeimage-db-update.1",
        "safeimage-audit-verify.1",
    ] {
        assert!(pages.iter().any(|x| x == p), "{p} in {pages:?}");
    }
    for p in &pages {
        let out = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww"])
            .arg(dir.path().join(p))
            .output()
            .expect("groff (Debian: groff-base)");
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && warnings.is_empty(),
            "{p}: {warnings}"
        );
        if p == "safeimage-scan.1" {
            // groff's terminal output overstrikes bold: `c\bc`
            let mut text = String::new();
            for c in String::from_utf8_lossy(&out.stdout).chars() {
                if c == '\u{8}' {
                    text.pop();
                } else {
                    text.push(c);
                }
            }
            assert!(text.contains("fail-on-unreadable"), "{text}");
        }
    }
    // without --out-dir: the top page on stdout
    assert!(safeimage(&["man"]).contains(".TH safeimage 1"));
}
