//! A small shell tokenizer for RUN scripts: enough structure (simple commands,
//! pipelines, words with byte offsets) for rules to reason about commands.
//! It is not a shell parser; ShellCheck does the deep analysis when installed.

/// One word of a command, unquoted, with its byte range in the Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Text with quotes and escapes removed.
    pub text: String,
    /// Start offset in the Dockerfile.
    pub start: usize,
    /// End offset in the Dockerfile.
    pub end: usize,
}

/// A simple command: its words in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimpleCommand {
    /// All words, including leading assignments and wrappers such as `sudo`.
    pub words: Vec<Word>,
    /// Index of the pipeline this command belongs to.
    pub pipeline: usize,
}

const WRAPPERS: &[&str] = &[
    "sudo",
    "env",
    "exec",
    "nohup",
    "time",
    "command",
    "eatmydata",
    "gosu",
];
const KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "do", "while", "until", "!", "{",
];

impl SimpleCommand {
    /// Words after leading `NAME=value` assignments, shell keywords and wrappers
    /// such as `sudo -E` or `env X=1`; the first one is the program.
    pub fn effective(&self) -> &[Word] {
        let mut w = &self.words[..];
        loop {
            match w.first() {
                Some(first)
                    if is_assignment(&first.text) || KEYWORDS.contains(&first.text.as_str()) =>
                {
                    w = &w[1..]
                }
                Some(first) if WRAPPERS.contains(&basename(&first.text)) => {
                    let wrapper = basename(&first.text).to_string();
                    w = &w[1..];
                    // skip the wrapper's own options (and `-u user`)
                    while let Some(f) = w.first() {
                        if f.text.starts_with('-') {
                            let takes_arg = wrapper == "sudo"
                                && matches!(
                                    f.text.as_str(),
                                    "-u" | "-g" | "-C" | "-h" | "-p" | "-U"
                                );
                            w = &w[1..];
                            if takes_arg && !w.is_empty() {
                                w = &w[1..];
                            }
                        } else if wrapper == "env" && is_assignment(&f.text) {
                            w = &w[1..];
                        } else if wrapper == "gosu" {
                            // gosu USER cmd...
                            w = &w[1..];
                            break;
                        } else {
                            break;
                        }
                    }
                }
                _ => return w,
            }
        }
    }

    /// The program name (basename of the first effective word).
    pub fn program(&self) -> Option<&str> {
        self.effective().first().map(|w| basename(&w.text))
    }

    /// Effective arguments after the program.
    pub fn args(&self) -> &[Word] {
        let e = self.effective();
        if e.is_empty() { e } else { &e[1..] }
    }

    /// Byte range covering the whole command.
    pub fn span(&self) -> std::ops::Range<usize> {
        match (self.words.first(), self.words.last()) {
            (Some(a), Some(b)) => a.start..b.end,
            _ => 0..0,
        }
    }
}

fn is_assignment(s: &str) -> bool {
    match s.split_once('=') {
        Some((k, _)) => {
            !k.is_empty()
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !k.as_bytes()[0].is_ascii_digit()
        }
        None => false,
    }
}

/// `/usr/bin/apt-get` → `apt-get`.
pub fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// A tokenized script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    /// Simple commands in order.
    pub commands: Vec<SimpleCommand>,
    /// Whether a `|` pipe (not `||`) appears.
    pub has_pipe: bool,
}

impl Script {
    /// Commands sharing a pipeline, in order.
    pub fn pipelines(&self) -> Vec<Vec<&SimpleCommand>> {
        let mut out: Vec<Vec<&SimpleCommand>> = Vec::new();
        for c in &self.commands {
            if out.len() <= c.pipeline {
                out.resize_with(c.pipeline + 1, Vec::new);
            }
            out[c.pipeline].push(c);
        }
        out.retain(|p| !p.is_empty());
        out
    }
}

/// Tokenizes `text`, which starts at byte `base` of the Dockerfile.
///
/// `continuation` is true for Dockerfile shell-form text, where `\` + newline
/// joins lines and comment lines inside a continuation are dropped; false
/// for heredoc bodies, which are plain scripts.
pub fn tokenize(text: &str, base: usize, escape: u8, continuation: bool) -> Script {
    let b = text.as_bytes();
    let mut script = Script::default();
    let mut pipeline = 0usize;
    let mut cur = SimpleCommand::default();
    let mut word = String::new();
    let mut word_start: Option<usize> = None;
    let mut i = 0;

    macro_rules! end_word {
        () => {
            if let Some(s) = word_start.take() {
                cur.words.push(Word {
                    text: std::mem::take(&mut word),
                    start: base + s,
                    end: base + i,
                });
            }
        };
    }
    macro_rules! end_cmd {
        ($pipe:expr) => {
            end_word!();
            if !cur.words.is_empty() {
                cur.pipeline = pipeline;
                script.commands.push(std::mem::take(&mut cur));
            }
            if !$pipe {
                pipeline += 1;
            }
        };
    }

    while i < b.len() {
        let c = b[i];
        // Dockerfile line continuation: escape char + optional spaces + newline.
        if continuation && c == escape {
            let mut j = i + 1;
            while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
                j += 1;
            }
            if j < b.len() && (b[j] == b'\n' || b[j] == b'\r') {
                end_word!();
                i = j;
                while i < b.len() && (b[i] == b'\n' || b[i] == b'\r') {
                    i += 1;
                }
                // comment or empty lines inside a continuation are skipped
                loop {
                    let mut k = i;
                    while k < b.len() && (b[k] == b' ' || b[k] == b'\t') {
                        k += 1;
                    }
                    if k < b.len() && b[k] == b'#' {
                        while k < b.len() && b[k] != b'\n' {
                            k += 1;
                        }
                        i = (k + 1).min(b.len());
                    } else if k < b.len() && (b[k] == b'\n' || b[k] == b'\r') {
                        i = k + 1;
                    } else {
                        break;
                    }
                }
                continue;
            }
        }
        match c {
            b' ' | b'\t' => {
                end_word!();
                i += 1;
            }
            b'\n' | b'\r' => {
                end_word!();
                i += 1;
                end_cmd!(false);
            }
            b'#' if word_start.is_none() => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'\'' => {
                word_start.get_or_insert(i);
                let open = i;
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                word.push_str(&text[open + 1..i.min(text.len())]);
                i += 1;
            }
            b'"' => {
                word_start.get_or_insert(i);
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    let ch = text[i..].chars().next().unwrap_or(' ');
                    word.push(ch);
                    i += ch.len_utf8();
                }
                i += 1;
            }
            b'\\' if i + 1 < b.len() => {
                word_start.get_or_insert(i);
                let ch = text[i + 1..].chars().next().unwrap_or(' ');
                word.push(ch);
                i += 1 + ch.len_utf8();
            }
            b'&' | b'|' | b';' | b'(' | b')' => {
                // `$(` and `${` stay inside words
                if c == b'(' && word.ends_with('$') {
                    word.push('(');
                    i += 1;
                    continue;
                }
                if c == b')' && word.contains("$(") {
                    word.push(')');
                    i += 1;
                    continue;
                }
                if c == b'&' && (word.ends_with('>') || word.ends_with('<')) {
                    word.push('&');
                    i += 1;
                    continue;
                }
                if c == b'|' && i + 1 < b.len() && b[i + 1] == b'|' {
                    end_cmd!(false);
                    i += 2;
                } else if c == b'|' {
                    end_cmd!(true);
                    script.has_pipe = true;
                    i += 1;
                } else if c == b'&' && i + 1 < b.len() && b[i + 1] == b'&' {
                    end_cmd!(false);
                    i += 2;
                } else {
                    end_cmd!(false);
                    i += 1;
                }
            }
            _ => {
                word_start.get_or_insert(i);
                let ch = text[i..].chars().next().unwrap_or(' ');
                word.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    end_word!();
    if !cur.words.is_empty() {
        cur.pipeline = pipeline;
        script.commands.push(cur);
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progs(s: &Script) -> Vec<&str> {
        s.commands.iter().filter_map(|c| c.program()).collect()
    }

    #[test]
    fn splits_commands_and_pipes() {
        let s = tokenize(
            "apt-get update && apt-get install -y 'a b' \"c\" | tee x; echo $(date)",
            0,
            b'\\',
            true,
        );
        assert_eq!(progs(&s), ["apt-get", "apt-get", "tee", "echo"]);
        assert!(s.has_pipe);
        assert_eq!(
            s.commands[1]
                .args()
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>(),
            ["install", "-y", "a b", "c"]
        );
        assert_eq!(s.pipelines().len(), 3);
        assert!(!tokenize("a || b", 0, b'\\', true).has_pipe);
    }

    #[test]
    fn continuations_and_comments() {
        let text = "apt-get install \\\n    # a comment\n    curl \\\n  && rm -rf x";
        let s = tokenize(text, 10, b'\\', true);
        assert_eq!(progs(&s), ["apt-get", "rm"]);
        let curl = &s.commands[0].words[2];
        assert_eq!(curl.text, "curl");
        assert_eq!(&text[curl.start - 10..curl.end - 10], "curl");
    }

    #[test]
    fn wrappers_and_assignments() {
        let s = tokenize(
            "DEBIAN_FRONTEND=noninteractive sudo -E apt-get install x",
            0,
            b'\\',
            true,
        );
        assert_eq!(s.commands[0].program(), Some("apt-get"));
        let s = tokenize("if /usr/bin/pip install x; then echo; fi", 0, b'\\', true);
        assert_eq!(s.commands[0].program(), Some("pip"));
        let s = tokenize("echo a 2>&1 | sh", 0, b'\\', true);
        assert_eq!(s.commands.len(), 2);
    }
}
