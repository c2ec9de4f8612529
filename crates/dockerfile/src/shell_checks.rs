//! Native shell checks on RUN scripts, reported with ShellCheck's codes, so
//! the findings Hadolint users rely on (SC2086, SC2046, SC2155, ...) come
//! without the ShellCheck binary.
//!
//! Scripts are parsed with [`crate::shell_syntax`] (our linear-time parser
//! for POSIX sh and bash); words come split into their pieces (quoted text,
//! parameter expansions, command substitutions) and are walked with the
//! context that decides whether the shell would split and glob them. Variables that
//! the script only ever assigns plain, space-free values (and `$#`, `$?`,
//! `$$`, `$!`) are not reported, as ShellCheck does not report them.
//!
//! Positions are 1-based lines and columns (characters, tabs count one) in
//! the script text, the same coordinates ShellCheck's `json1` output uses, so
//! both are mapped to the Dockerfile the same way. Checks never print.

use std::collections::HashMap;

use findings::Level;

use crate::shell_syntax::{
    self as syn, Command, Compound, Item, Param, ParamName, ParamOp, Piece, PieceAt, Script,
    Simple, Word,
};

/// Which shell reads the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// POSIX `sh` (dash on Debian).
    Sh,
    /// bash.
    Bash,
}

impl Dialect {
    /// `sh` → [`Dialect::Sh`], `bash` → [`Dialect::Bash`].
    pub fn from_name(name: &str) -> Option<Dialect> {
        match name {
            "sh" => Some(Dialect::Sh),
            "bash" => Some(Dialect::Bash),
            _ => None,
        }
    }
}

/// One finding in script coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScHit {
    /// ShellCheck's number (`2086` for SC2086).
    pub code: u32,
    /// ShellCheck's level for that code.
    pub level: Level,
    /// What is wrong, in our words.
    pub message: String,
    /// 1-based line in the script.
    pub line: u32,
    /// 1-based column in the script.
    pub column: u32,
    /// End line.
    pub end_line: u32,
    /// End column (exclusive).
    pub end_column: u32,
}

/// The ShellCheck codes this module implements.
pub const CODES: &[u32] = &[1072, 2002, 2006, 2035, 2044, 2046, 2086, 2155, 2164, 2251];

/// Checks one script. A script that does not parse yields one SC1072
/// finding at the place the parser stopped and nothing else.
pub fn check(text: &str, dialect: Dialect) -> Vec<ScHit> {
    let chars: Vec<char> = text.chars().collect();
    let lines: Vec<usize> = std::iter::once(0)
        .chain(
            chars
                .iter()
                .enumerate()
                .filter(|(_, c)| **c == '\n')
                .map(|(i, _)| i + 1),
        )
        .collect();
    let program = match syn::parse(&chars) {
        Ok(p) => p,
        Err(e) => {
            let at = position(&lines, e.at);
            return vec![hit(
                1072,
                at,
                1,
                format!("The shell cannot parse this script: {}.", e.message),
            )];
        }
    };
    let mut w = Walker {
        dialect,
        lines,
        assigns: HashMap::new(),
        safe: HashMap::new(),
        errexit: false,
        cond: false,
        collect: true,
        hits: Vec::new(),
    };
    w.list(&program, true);
    w.safe = resolve(&w.assigns);
    w.collect = false;
    w.list(&program, true);
    let mut hits = w.hits;
    hits.sort_by_key(|h| (h.line, h.column, h.code));
    hits.dedup();
    hits
}

fn hit(code: u32, at: Pos, len: u32, message: String) -> ScHit {
    let level = match code {
        1072 => Level::Error,
        2046 | 2155 | 2164 | 2044 => Level::Warning,
        2006 | 2002 => Level::Style,
        _ => Level::Info,
    };
    ScHit {
        code,
        level,
        message,
        line: at.line,
        column: at.col,
        end_line: at.line,
        end_column: at.col + len,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pos {
    line: u32,
    col: u32,
}

/// 1-based line and column of character `i`, given where lines start.
fn position(lines: &[usize], i: usize) -> Pos {
    let line = lines.partition_point(|&s| s <= i).max(1);
    Pos {
        line: line as u32,
        col: (i - lines[line - 1] + 1) as u32,
    }
}

/// The value of one assignment, for deciding which variables are safe
/// unquoted.
#[derive(Debug, Clone)]
enum Value {
    /// May contain spaces or glob characters, or comes from outside.
    Unsafe,
    /// Safe if every variable named is safe.
    SafeIf(Vec<String>),
}

/// Variables whose every assignment is safe.
fn resolve(assigns: &HashMap<String, Vec<Value>>) -> HashMap<String, bool> {
    let mut safe: HashMap<String, bool> = assigns
        .iter()
        .map(|(k, v)| (k.clone(), v.iter().all(|x| matches!(x, Value::SafeIf(_)))))
        .collect();
    loop {
        let mut changed = false;
        for (name, values) in assigns {
            if !safe[name] {
                continue;
            }
            let ok = values.iter().all(|v| match v {
                Value::Unsafe => false,
                Value::SafeIf(deps) => deps.iter().all(|d| safe.get(d).copied().unwrap_or(false)),
            });
            if !ok {
                safe.insert(name.clone(), false);
                changed = true;
            }
        }
        if !changed {
            return safe;
        }
    }
}

/// How a word is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// Split and globbed (command arguments, redirection targets).
    Split,
    /// Not split (assignments, `[[ ]]`, `case`, here-strings, for lists).
    NoSplit,
}

const DECLARATIONS: &[&str] = &["export", "local", "declare", "readonly", "typeset"];

struct Walker {
    dialect: Dialect,
    /// Character index where each line of the script starts.
    lines: Vec<usize>,
    assigns: HashMap<String, Vec<Value>>,
    safe: HashMap<String, bool>,
    errexit: bool,
    /// Inside a condition (`if`/`while` test, left of `&&`/`||`, after `!`).
    cond: bool,
    /// First pass: collect assignments and `set -e`; second pass: report.
    collect: bool,
    hits: Vec<ScHit>,
}

impl Walker {
    fn pos(&self, i: usize) -> Pos {
        position(&self.lines, i)
    }

    fn report(&mut self, code: u32, at: usize, len: usize, message: &str) {
        if !self.collect {
            let at = self.pos(at);
            self.hits
                .push(hit(code, at, len.max(1) as u32, message.to_string()));
        }
    }

    fn assign(&mut self, name: &str, value: Value) {
        if self.collect {
            self.assigns
                .entry(name.to_string())
                .or_default()
                .push(value);
        }
    }

    /// `last` is true when the list's final item ends the whole script.
    fn list(&mut self, l: &Script, last: bool) {
        let n = l.items.len();
        for (i, item) in l.items.iter().enumerate() {
            self.and_or(item, last && i + 1 == n);
        }
    }

    /// Every pipeline but the last of `a && b || c` is a condition, and so
    /// is everything nested in it (a loop followed by `&& next`).
    fn and_or(&mut self, a: &syn::AndOr, last: bool) {
        let outer = self.cond;
        let n = a.pipelines.len();
        for (i, p) in a.pipelines.iter().enumerate() {
            self.cond = outer || i + 1 < n;
            self.pipeline(p, outer || n > 1, last);
        }
        self.cond = outer;
    }

    /// `tested`: the pipeline's status is looked at (a condition, or part
    /// of an `&&`/`||` chain), so a `!` in front of it is meant.
    fn pipeline(&mut self, p: &syn::Pipeline, tested: bool, last: bool) {
        if let Some(at) = p.bang
            && !tested
            && !self.cond
            && !last
            && self.errexit
        {
            self.report(
                2251,
                at,
                1,
                "This `!` does not make the script fail under `set -e`; use `&& exit 1` or check `$?`.",
            );
        }
        if p.commands.len() > 1
            && let Some(Command::Simple(s)) = p.commands.first()
        {
            self.useless_cat(s);
        }
        let outer = self.cond;
        self.cond |= p.bang.is_some();
        for c in &p.commands {
            self.command(c);
        }
        self.cond = outer;
    }

    fn command(&mut self, c: &Command) {
        match c {
            Command::Simple(s) => self.simple(s),
            Command::Compound(cc, redirects) => {
                self.compound(cc);
                for r in redirects {
                    self.redirect(r);
                }
            }
        }
    }

    fn compound(&mut self, cc: &Compound) {
        match cc {
            Compound::Arithmetic(None) => {}
            Compound::Arithmetic(Some(b)) | Compound::Group(b) => self.list(b, false),
            Compound::For { var, values, body } => {
                match values {
                    Some(values) => {
                        for v in values {
                            let value = value_of(v);
                            self.assign(var, value);
                            self.for_value(v);
                        }
                    }
                    None => self.assign(var, Value::Unsafe),
                }
                self.list(body, false);
            }
            Compound::Case { subject, arms } => {
                self.word(subject, Ctx::NoSplit);
                for (patterns, body) in arms {
                    for p in patterns {
                        self.word(p, Ctx::NoSplit);
                    }
                    self.list(body, false);
                }
            }
            Compound::If {
                branches,
                otherwise,
            } => {
                for (condition, body) in branches {
                    self.condition(condition);
                    self.list(body, false);
                }
                if let Some(b) = otherwise {
                    self.list(b, false);
                }
            }
            Compound::Loop { condition, body } => {
                self.condition(condition);
                self.list(body, false);
            }
            Compound::Test(words) => {
                for w in words {
                    self.word(w, Ctx::NoSplit);
                }
            }
        }
    }

    /// A list whose status is tested (`if`, `while`): nothing in it is an
    /// unchecked `cd` or a `!` that skips errexit.
    fn condition(&mut self, l: &Script) {
        let outer = self.cond;
        self.cond = true;
        self.list(l, false);
        self.cond = outer;
    }

    fn redirect(&mut self, r: &syn::Redirect) {
        if let Some(w) = &r.target {
            self.word(w, if r.split { Ctx::Split } else { Ctx::NoSplit });
        }
    }

    fn simple(&mut self, s: &Simple) {
        let program = s.name.as_ref().map(|w| w.raw.as_str());
        let name = program.map(|p| p.rsplit('/').next().unwrap_or(p));
        let declaration = name.is_some_and(|n| DECLARATIONS.contains(&n));
        if self.collect && name == Some("set") {
            self.errexit |= sets_errexit(s);
        }
        for item in &s.prefix {
            self.item(item, false);
        }
        if let Some(w) = &s.name {
            // ShellCheck does not report a command name that is one
            // expansion alone (`$cmd args`)
            let ctx = if w.pieces.len() == 1 {
                Ctx::NoSplit
            } else {
                Ctx::Split
            };
            self.word(w, ctx);
        }
        let mut after_dashdash = false;
        for item in &s.suffix {
            match item {
                Item::Word(w) => {
                    if w.raw == "--" {
                        after_dashdash = true;
                    }
                    if name == Some("read") && !w.raw.starts_with('-') {
                        self.assign(&w.raw, Value::Unsafe);
                    }
                    if !after_dashdash && !matches!(name, Some("echo" | "printf")) {
                        self.glob_as_option(w);
                    }
                    self.word(w, Ctx::Split);
                }
                other => self.item(other, declaration),
            }
        }
        if name == Some("cd")
            && !self.cond
            && !self.errexit
            && let Some(w) = &s.name
        {
            self.report(
                2164,
                w.start,
                2,
                "cd can fail and the script would go on in the wrong directory; use `cd ... || exit`.",
            );
        }
    }

    /// An assignment or a redirection (`declaration`: after `export` and
    /// the like).
    fn item(&mut self, item: &Item, declaration: bool) {
        match item {
            Item::Redirect(r) => self.redirect(r),
            Item::Word(w) => self.word(w, Ctx::Split),
            Item::Assign(a) => {
                let Some(v) = &a.value else {
                    self.assign(&a.name, Value::Unsafe);
                    for e in &a.elements {
                        self.word(e, Ctx::NoSplit);
                    }
                    return;
                };
                let value = if a.append { Value::Unsafe } else { value_of(v) };
                self.assign(&a.name, value);
                if declaration && has_substitution(&v.pieces) {
                    self.report(
                        2155,
                        a.start,
                        a.name.chars().count(),
                        "Declare and assign separately: the command substitution's exit status is lost here.",
                    );
                }
                let ctx = if declaration && self.dialect == Dialect::Sh {
                    Ctx::Split
                } else {
                    Ctx::NoSplit
                };
                self.word(v, ctx);
            }
        }
    }

    /// SC2044: `for x in $(find ...)`.
    fn for_value(&mut self, w: &Word) {
        if let [piece] = w.pieces.as_slice()
            && let Piece::Substitution { text, .. } = &piece.piece
            && first_word(text) == Some("find")
        {
            self.report(
                2044,
                w.start,
                2,
                "Looping over find's output breaks on names with spaces; use find -exec or a while-read loop.",
            );
        }
        self.word(w, Ctx::NoSplit);
    }

    /// SC2035: an argument that is an unquoted glob starting with `*`.
    fn glob_as_option(&mut self, w: &Word) {
        if let Some(first) = w.pieces.first()
            && let Piece::Text(t) = &first.piece
            && t.starts_with('*')
        {
            self.report(
                2035,
                w.start,
                w.raw.chars().count(),
                "A name matched by this glob that starts with `-` becomes an option; write ./* or put -- before it.",
            );
        }
    }

    /// SC2002: `cat file | cmd`.
    fn useless_cat(&mut self, s: &Simple) {
        if !s.prefix.is_empty() || s.name.as_ref().map(|w| w.raw.as_str()) != Some("cat") {
            return;
        }
        if let [Item::Word(w)] = s.suffix.as_slice() {
            // `cat $files` may name several files once split
            let splits = w.pieces.iter().any(|p| {
                !matches!(
                    p.piece,
                    Piece::Text(_) | Piece::Single(_) | Piece::Double(_) | Piece::Escaped(_)
                )
            });
            if !w.raw.starts_with('-') && !splits {
                self.report(
                    2002,
                    w.start,
                    w.raw.chars().count(),
                    "cat of one file into a pipe: let the next command read the file, or redirect it with <.",
                );
            }
        }
    }

    fn word(&mut self, w: &Word, ctx: Ctx) {
        self.pieces(&w.pieces, ctx, false);
    }

    fn pieces(&mut self, pieces: &[PieceAt], ctx: Ctx, quoted: bool) {
        for p in pieces {
            let len = p.end.saturating_sub(p.start);
            match &p.piece {
                Piece::Double(inner) => self.pieces(inner, ctx, true),
                Piece::Param(e) if ctx == Ctx::Split && !quoted && self.splits(e) => {
                    self.report(
                        2086,
                        p.start,
                        len,
                        "Unquoted expansion: the value is split on spaces and globbed; double-quote it.",
                    );
                }
                // an empty substitution is not reported, as in ShellCheck
                Piece::Substitution { body, .. } if body.items.is_empty() => {}
                Piece::Substitution { body, backtick, .. } => {
                    if ctx == Ctx::Split && !quoted {
                        self.report(
                            2046,
                            p.start,
                            len,
                            "Unquoted command substitution: its output is split on spaces and globbed; double-quote it.",
                        );
                    }
                    if *backtick {
                        self.report(
                            2006,
                            p.start,
                            len,
                            "Backticks are the legacy form of command substitution; use $(...).",
                        );
                    }
                    self.list(body, false);
                }
                Piece::ProcessSubstitution(body) => self.list(body, false),
                _ => {}
            }
        }
    }

    /// Whether an unquoted expansion is split into words by the shell in a
    /// way that matters (its value may hold spaces or glob characters).
    fn splits(&self, e: &Param) -> bool {
        match e.op {
            // `${#x}`: a number; `${x:+word}`: word or nothing
            ParamOp::Length | ParamOp::Alternative | ParamOp::Names => return false,
            ParamOp::Default => return true,
            ParamOp::None | ParamOp::Other => {}
        }
        if e.indirect {
            return true;
        }
        match &e.name {
            ParamName::Named(n) => !self.safe.get(n).copied().unwrap_or(false),
            ParamName::Positional | ParamName::Indexed(_) => true,
            // `$@` is SC2068's business; `$*` and `$0` split
            ParamName::Special(c) => matches!(c, '*' | '0'),
            ParamName::AllIndices(_) => false,
        }
    }
}

/// Classifies an assignment's value.
fn value_of(w: &Word) -> Value {
    if w.raw.is_empty() {
        return Value::Unsafe;
    }
    let mut deps = Vec::new();
    if pieces_safe(&w.pieces, &mut deps) {
        Value::SafeIf(deps)
    } else {
        Value::Unsafe
    }
}

/// Whether pieces make a value without spaces or glob characters; names of
/// the variables it is built from go to `deps`.
fn pieces_safe(pieces: &[PieceAt], deps: &mut Vec<String>) -> bool {
    let plain = |s: &str| !s.contains(|c: char| c.is_whitespace() || matches!(c, '*' | '?' | '['));
    pieces.iter().all(|p| match &p.piece {
        Piece::Text(s) | Piece::Single(s) => plain(s),
        Piece::Escaped(c) => plain(&c.to_string()),
        Piece::Double(inner) => pieces_safe(inner, deps),
        Piece::Arithmetic => true,
        Piece::Param(Param {
            name,
            indirect: false,
            op: ParamOp::None,
        }) => match name {
            ParamName::Named(n) => {
                deps.push(n.clone());
                true
            }
            ParamName::Special(c) => matches!(c, '#' | '?' | '$' | '!'),
            _ => false,
        },
        _ => false,
    })
}

fn has_substitution(pieces: &[PieceAt]) -> bool {
    pieces.iter().any(|p| match &p.piece {
        Piece::Substitution { .. } => true,
        Piece::Double(inner) => has_substitution(inner),
        _ => false,
    })
}

/// `set -e`, `set -eux`, `set -o errexit`.
fn sets_errexit(s: &Simple) -> bool {
    let words: Vec<&str> = s
        .suffix
        .iter()
        .filter_map(|i| match i {
            Item::Word(w) => Some(w.raw.as_str()),
            _ => None,
        })
        .collect();
    words.iter().enumerate().any(|(i, w)| {
        (w.starts_with('-') && !w.starts_with("--") && w[1..].contains('e') && *w != "-o")
            || (*w == "-o" && words.get(i + 1) == Some(&"errexit"))
    })
}

/// The first word of a command substitution's text.
fn first_word(s: &str) -> Option<&str> {
    s.split_whitespace()
        .next()
        .map(|w| w.rsplit('/').next().unwrap_or(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str, d: Dialect) -> Vec<(u32, u32, u32)> {
        check(text, d)
            .into_iter()
            .map(|h| (h.code, h.line, h.column))
            .collect()
    }

    #[test]
    fn unquoted_expansions_of_unknown_variables() {
        assert_eq!(codes("echo $x", Dialect::Sh), [(2086, 1, 6)]);
        assert_eq!(codes("echo \"$x\"", Dialect::Sh), []);
        assert_eq!(codes("x=foo; echo $x", Dialect::Sh), []);
        assert_eq!(codes("x=\"a b\"; echo $x", Dialect::Sh), [(2086, 1, 15)]);
        assert_eq!(codes("n=1; m=$n; echo $m", Dialect::Sh), []);
        assert_eq!(codes("echo $# $? ${#x} ${x:+y}", Dialect::Sh), []);
        assert_eq!(codes("echo ${x:-y}", Dialect::Sh), [(2086, 1, 6)]);
        assert_eq!(codes("[[ $x ]]; case $x in a) ;; esac", Dialect::Bash), []);
        assert_eq!(codes("for a in $x; do :; done", Dialect::Sh), []);
        assert_eq!(codes("echo hi > $f", Dialect::Sh), [(2086, 1, 11)]);
    }

    #[test]
    fn declarations_split_in_sh_only() {
        assert_eq!(
            codes("export A=$(b)", Dialect::Sh),
            [(2155, 1, 8), (2046, 1, 10)]
        );
        assert_eq!(codes("export A=$(b)", Dialect::Bash), [(2155, 1, 8)]);
        assert_eq!(codes("export A=\"$(b)\"", Dialect::Sh), [(2155, 1, 8)]);
        assert_eq!(codes("A=$(b) c", Dialect::Sh), []);
    }

    #[test]
    fn substitutions_are_checked_inside() {
        assert_eq!(
            codes("ls $(dirname $z)", Dialect::Sh),
            [(2046, 1, 4), (2086, 1, 14)]
        );
        assert_eq!(codes("echo \"$(echo $z)\"", Dialect::Sh), [(2086, 1, 14)]);
        assert_eq!(
            codes("echo `date`", Dialect::Sh),
            [(2006, 1, 6), (2046, 1, 6)]
        );
    }

    #[test]
    fn cd_bang_cat_glob_find() {
        assert_eq!(codes("cd /x; make", Dialect::Sh), [(2164, 1, 1)]);
        assert_eq!(codes("cd /x && make", Dialect::Sh), []);
        assert_eq!(codes("make && cd /x", Dialect::Sh), [(2164, 1, 9)]);
        // a loop on the left of && is a condition, and so is all inside it
        assert_eq!(
            codes("for m in a b; do cd /p; done && echo", Dialect::Sh),
            []
        );
        assert_eq!(
            codes("for m in a b; do cd /p; done", Dialect::Sh),
            [(2164, 1, 18)]
        );
        assert_eq!(codes("set -e; cd /x; make", Dialect::Sh), []);
        assert_eq!(codes("set -e\n! false\necho", Dialect::Sh), [(2251, 2, 1)]);
        assert_eq!(codes("! false\necho", Dialect::Sh), []);
        assert_eq!(codes("set -e\n! false", Dialect::Sh), []);
        assert_eq!(codes("cat f | grep a", Dialect::Sh), [(2002, 1, 5)]);
        assert_eq!(codes("cat -n f | grep a", Dialect::Sh), []);
        assert_eq!(codes("cat \"$f\" | grep a", Dialect::Sh), [(2002, 1, 5)]);
        assert_eq!(
            codes("x=$(cat /m/$a | xargs)", Dialect::Sh),
            [(2086, 1, 12)]
        );
        assert_eq!(codes("rm -rf *", Dialect::Sh), [(2035, 1, 8)]);
        assert_eq!(codes("echo *; ls -- *", Dialect::Sh), []);
        assert_eq!(
            codes("for a in $(find /x); do :; done", Dialect::Sh),
            [(2044, 1, 10)]
        );
    }

    #[test]
    fn parse_errors_and_deep_nesting() {
        let h = check("if true; then", Dialect::Sh);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].code, 1072);
        assert!(h[0].message.contains("missing"), "{h:?}");
        let deep = format!("{}{}", "( ".repeat(200), ") ".repeat(200));
        assert_eq!(check(&deep, Dialect::Bash)[0].code, 1072);
        // inputs found by fuzzing the PEG parser used before (hangs,
        // exponential time, panics): each is answered at once now
        assert_eq!(
            check("(((((((((((((((((((((((((()", Dialect::Bash)[0].code,
            1072
        );
        assert_eq!(check("<<\r<#", Dialect::Bash)[0].code, 1072);
        assert_eq!(check("$(<<  ", Dialect::Bash)[0].code, 1072);
        assert_eq!(check("<<'''' ", Dialect::Bash)[0].code, 1072);
        assert!(check("a[1]b[2]c[3]d[4]e[5]f[6]g[7]h[8]i[9]=1", Dialect::Bash).is_empty());
        assert_eq!(
            check(
                "echo ${u[i,}${u[i,}${u[i,}${u[i,}${u[i,}${u[i,}",
                Dialect::Bash
            )[0]
            .code,
            1072
        );
        assert!(check("echo \"${a[${b}]}\" \"${c[1]}\"", Dialect::Bash).is_empty());
        assert!(check("x=${A[${A[${A[${A[${A[1]}]}]}]}]}", Dialect::Bash).is_empty());
        assert!(check("x=${a[${b:-${c:-1}}]}; echo \"$x\"", Dialect::Bash).is_empty());
        assert_eq!(check("$({(<<<)\n<", Dialect::Bash)[0].code, 1072);
        assert!(
            check(
                "echo $((1 << 2)); cat <<EOF\nx\nEOF\ncat <<< \"$a\"",
                Dialect::Bash
            )
            .is_empty()
        );
        assert_eq!(check("(9999999999999>=", Dialect::Bash)[0].code, 1072);
        assert!(check("echo ~+99999999999", Dialect::Bash).is_empty());
        assert!(check("SOURCE_DATE_EPOCH=1700000000 make", Dialect::Sh).is_empty());
    }

    #[test]
    fn positions_after_continuations_and_in_backticks() {
        assert_eq!(
            codes("apt-get install \\\n    $pkgs && \\\n  cd /x", Dialect::Sh),
            [(2086, 2, 5), (2164, 3, 3)]
        );
        assert_eq!(
            codes("echo `ls \\`echo $d\\``", Dialect::Sh),
            [
                (2006, 1, 6),
                (2046, 1, 6),
                (2006, 1, 10),
                (2046, 1, 10),
                (2086, 1, 16)
            ]
        );
    }

    #[test]
    fn time_is_linear_on_inputs_that_were_exponential() {
        // a 734-byte assignment word with subscripts and quotes took 5 s in
        // the PEG parser; many times that size is instant here
        let word = "a[\"$x\"]=${b[`c`]}'['\"${d[1]}\"".repeat(400);
        let started = std::time::Instant::now();
        let _ = check(&word, Dialect::Bash);
        let _ = check(&"((a)".repeat(2000), Dialect::Bash);
        let _ = check(&"$(( $[ ${x[".repeat(2000), Dialect::Bash);
        // generous: a linear parser takes milliseconds
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
