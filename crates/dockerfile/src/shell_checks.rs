//! Native shell checks on RUN scripts, reported with ShellCheck's codes, so
//! the findings Hadolint users rely on (SC2086, SC2046, SC2155, ...) come
//! without the ShellCheck binary.
//!
//! Scripts are parsed with `brush-parser` (a maintained POSIX/bash parser
//! with source positions); words are split into their pieces (quoted text,
//! parameter expansions, command substitutions) and walked with the context
//! that decides whether the shell would split and glob them. Variables that
//! the script only ever assigns plain, space-free values (and `$#`, `$?`,
//! `$$`, `$!`) are not reported, as ShellCheck does not report them.
//!
//! Positions are 1-based lines and columns (characters, tabs count one) in
//! the script text, the same coordinates ShellCheck's `json1` output uses, so
//! both are mapped to the Dockerfile the same way. Checks never print.

use std::collections::HashMap;
use std::io::Cursor;

use brush_parser::ast;
use brush_parser::word::{Parameter, ParameterExpr, SpecialParameter, WordPiece};
use findings::Level;

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

/// Nesting (brackets, substitutions) beyond which a script is not parsed:
/// the parser recurses per level, and no real script comes near it.
const MAX_NESTING: usize = 64;

/// Parentheses nesting beyond which a script is not parsed: the parser
/// backtracks between subshells and arithmetic at every level, doubling its
/// time per level (measured: 20 levels take 35 ms, 26 take seconds). Real
/// RUN scripts stay far below.
const MAX_PARENS: usize = 14;

/// Checks one script. A script that does not parse yields one SC1072
/// finding at the place the parser stopped and nothing else.
pub fn check(text: &str, dialect: Dialect) -> Vec<ScHit> {
    let opts = brush_parser::ParserOptions {
        sh_mode: dialect == Dialect::Sh,
        // off in scripts unless `shopt -s extglob`, and a source of backtracking
        enable_extended_globbing: false,
        ..Default::default()
    };
    if nesting(text) > MAX_NESTING
        || paren_depth(text) > MAX_PARENS
        || subscript_depth(text) > MAX_SUBSCRIPTS
    {
        return vec![hit(
            1072,
            Pos { line: 1, col: 1 },
            1,
            format!(
                "The script nests brackets deeper than {MAX_PARENS} levels; it was not checked."
            ),
        )];
    }
    if let Some(at) = heredoc_without_word(text) {
        return vec![hit(
            1072,
            at,
            2,
            "`<<` needs a delimiter word after it.".to_string(),
        )];
    }
    if let Some(at) = broken_subscript(text) {
        return vec![hit(
            1072,
            at,
            2,
            "An array subscript in `${name[...]}` is not closed with `]`.".to_string(),
        )];
    }
    if let Some(at) = oversized_number(text) {
        return vec![hit(
            1072,
            at,
            1,
            "A file descriptor or directory-stack number this large is not valid shell."
                .to_string(),
        )];
    }
    let program = match parse(text, &opts) {
        Ok(p) => p,
        Err((line, col)) => {
            return vec![hit(
                1072,
                Pos { line, col },
                1,
                "The shell cannot parse this script; fix the syntax here first.".to_string(),
            )];
        }
    };
    let mut w = Walker {
        opts: &opts,
        dialect,
        assigns: HashMap::new(),
        safe: HashMap::new(),
        errexit: false,
        cond: false,
        collect: true,
        hits: Vec::new(),
        depth: 0,
        budget: MAX_SUBSTITUTIONS,
    };
    let root = Frame::new(Pos { line: 1, col: 1 }, text);
    w.program(&program, &root, true);
    w.safe = resolve(&w.assigns);
    w.collect = false;
    w.budget = MAX_SUBSTITUTIONS;
    w.program(&program, &root, true);
    let mut hits = w.hits;
    hits.sort_by_key(|h| (h.line, h.column, h.code));
    hits.dedup();
    hits
}

/// `Err((line, column))` where parsing stopped.
fn parse(text: &str, opts: &brush_parser::ParserOptions) -> Result<ast::Program, (u32, u32)> {
    // A carriage return is an ordinary word character to the shell, but the
    // tokenizer loops without end on some (`<<` CR `<#`, found by fuzzing);
    // a space in its place keeps every position.
    let cleaned;
    let text = if text.contains('\r') {
        cleaned = text.replace('\r', " ");
        cleaned.as_str()
    } else {
        text
    };
    // the program parser runs the word grammar over assignment words; a
    // word it cannot take in reasonable time stops the script here
    let tokens =
        contained(|| brush_parser::tokenize_str_with_options(text, &opts.tokenizer_options()));
    if let Some(Ok(tokens)) = &tokens {
        for t in tokens {
            if let brush_parser::Token::Word(w, loc) = t
                && !word_is_tractable(w)
            {
                return Err((loc.start.line as u32, loc.start.column as u32));
            }
        }
    }
    let parsed = contained(|| {
        let mut parser = brush_parser::Parser::new(Cursor::new(text.as_bytes()), opts);
        parser.parse_program()
    });
    let Some(parsed) = parsed else {
        // the parser itself failed (a bug of its own on odd input)
        return Err((1, 1));
    };
    parsed.map_err(|e| {
        use brush_parser::ParseError as E;
        let pos = match &e {
            E::ParsingNear(p) => Some(p.clone()),
            E::Tokenizing { position, .. } => position.clone(),
            _ => None,
        };
        match pos {
            Some(p) => (p.line as u32, p.column as u32),
            None => {
                let lines = text.lines().count().max(1);
                (lines as u32, 1)
            }
        }
    })
}

/// Whether the word parser can take `word` in reasonable time. It
/// backtracks exponentially over brackets, backticks and `$[` arithmetic
/// (found by fuzzing: 470 bytes of them took 0.6 s, longer ones minutes);
/// real RUN words stay far below these counts. A word beyond them is left
/// out of the word-level checks.
fn word_is_tractable(word: &str) -> bool {
    let count = |c: char| word.chars().filter(|&x| x == c).count();
    word.len() <= 8192 && count('[') <= 8 && count('`') <= 8 && !word.contains("$[")
}

/// Runs a brush-parser call, turning a panic inside it into `None`.
///
/// The parser has `unwrap`s its own fuzzing does not reach (found with ours:
/// a here-string inside nested substitutions at the end of the text); a
/// linter must report such a script as not checked, not crash on it. Panic
/// hooks keep these contained panics quiet with [`is_contained_panic`].
fn contained<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

/// Whether a panic was raised inside the shell parser, where [`check`]
/// catches it: panic hooks use this to stay quiet about those (the script
/// is reported as SC1072) while still reporting every other panic.
pub fn is_contained_panic(info: &std::panic::PanicHookInfo<'_>) -> bool {
    info.location()
        .is_some_and(|l| l.file().contains("brush-parser"))
}

/// A `<<` (or `<<-`) with no word after it: the shell rejects it, and the
/// tokenizer loops without end on some of them at the end of the text
/// (found by fuzzing: `$(<<` followed by spaces).
fn heredoc_without_word(text: &str) -> Option<Pos> {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(off) = text[i..].find("<<") {
        let at = i + off;
        let mut j = at + 2;
        if b.get(j) == Some(&b'<') {
            // `<<<` here-string
            i = j + 1;
            continue;
        }
        if b.get(j) == Some(&b'-') {
            j += 1;
        }
        while matches!(b.get(j), Some(b' ' | b'\t' | b'\r')) {
            j += 1;
        }
        if matches!(
            b.get(j),
            None | Some(b'\n' | b')' | b';' | b'&' | b'|' | b'<' | b'>' | b'#' | b'(')
        ) {
            return Some(advance(Pos { line: 1, col: 1 }, &text[..at]));
        }
        // a delimiter that is empty once quotes are removed (`<<''`): the
        // tokenizer never ends on it (found by fuzzing)
        let word_end = text[j..]
            .find(|c: char| {
                c.is_whitespace() || matches!(c, ';' | '&' | '|' | '<' | '>' | '(' | ')')
            })
            .map_or(text.len(), |k| j + k);
        if text[j..word_end]
            .chars()
            .all(|c| matches!(c, '\'' | '"' | '\\'))
        {
            return Some(advance(Pos { line: 1, col: 1 }, &text[..at]));
        }
        i = at + 2;
    }
    None
}

/// A `${name[` whose `[` is not closed before the expansion's `}`: bash
/// rejects it ("bad substitution"), and the word parser backtracks
/// exponentially over several of them (found by fuzzing: four take 0.1 s,
/// six take 30 s).
fn broken_subscript(text: &str) -> Option<Pos> {
    let b = text.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        if !(b[i] == b'$' && b[i + 1] == b'{') {
            i += 1;
            continue;
        }
        let mut j = i + 2;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
            j += 1;
        }
        if j == i + 2 || b.get(j) != Some(&b'[') {
            i += 2;
            continue;
        }
        let (mut braces, mut brackets, mut k) = (0usize, 1usize, j + 1);
        let closed = loop {
            match b.get(k) {
                None => break false,
                Some(b'$') if b.get(k + 1) == Some(&b'{') => {
                    braces += 1;
                    k += 1;
                }
                Some(b'}') if braces == 0 => break false,
                Some(b'}') => braces -= 1,
                Some(b'[') => brackets += 1,
                Some(b']') => {
                    brackets -= 1;
                    if brackets == 0 {
                        break true;
                    }
                }
                _ => {}
            }
            k += 1;
        };
        if !closed {
            return Some(advance(Pos { line: 1, col: 1 }, &text[..i]));
        }
        i += 2;
    }
    None
}

/// A run of 10 or more digits right before `<`/`>` (a file descriptor) or
/// after `~+`/`~-` (a directory-stack index): no shell accepts them, and the
/// parser cannot represent them.
fn oversized_number(text: &str) -> Option<Pos> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let long = i - start >= 10;
            let fd = matches!(b.get(i), Some(b'<' | b'>'));
            let tilde = start >= 2 && b[start - 2] == b'~' && matches!(b[start - 1], b'+' | b'-');
            if long && (fd || tilde) {
                return Some(advance(Pos { line: 1, col: 1 }, &text[..start]));
            }
        } else {
            i += 1;
        }
    }
    None
}

/// Command substitutions parsed per pass over a script: nested backticks
/// can multiply the bodies to look at (found by fuzzing); real RUN scripts
/// have a few dozen at most.
const MAX_SUBSTITUTIONS: usize = 256;

/// Array subscripts nested in array subscripts (`${a[${b[${c[1]}]}]}`)
/// beyond which a script is not parsed: the word parser's time grows about
/// tenfold per level (measured: 4 levels 46 ms, 5 levels 0.8 s).
const MAX_SUBSCRIPTS: usize = 3;

/// How deep `${name[` expansions nest (unclosed ones count).
fn subscript_depth(text: &str) -> usize {
    let b = text.as_bytes();
    let mut stack: Vec<bool> = Vec::new();
    let (mut arrays, mut max) = (0usize, 0usize);
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && b.get(i + 1) == Some(&b'{') {
            let mut j = i + 2;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            let array = j > i + 2 && b.get(j) == Some(&b'[');
            stack.push(array);
            if array {
                arrays += 1;
                max = max.max(arrays);
            }
            i += 2;
            continue;
        }
        if b[i] == b'}' && stack.pop() == Some(true) {
            arrays -= 1;
        }
        i += 1;
    }
    max
}

/// Maximum nesting of parentheses alone.
fn paren_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for c in text.bytes() {
        match c {
            b'(' => {
                depth += 1;
                max = max.max(depth);
            }
            b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Maximum bracket nesting, counted without regard to quoting (an upper
/// bound of what the parser will recurse through).
fn nesting(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for c in text.bytes() {
        match c {
            b'(' | b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b')' | b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
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

/// A text being walked (the script, or the body of a command substitution)
/// and where it starts in the script.
struct Frame {
    base: Pos,
    chars: Vec<char>,
    /// Character index where each line starts.
    line_starts: Vec<usize>,
}

impl Frame {
    /// Script position of character `i` of this frame.
    fn new(base: Pos, text: &str) -> Frame {
        let chars: Vec<char> = text.chars().collect();
        let line_starts = std::iter::once(0)
            .chain(
                chars
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == '\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        Frame {
            base,
            chars,
            line_starts,
        }
    }

    fn at_index(&self, i: usize) -> Pos {
        let i = i.min(self.chars.len());
        let line = self.line_starts.partition_point(|&s| s <= i).max(1);
        let col = i - self.line_starts[line - 1] + 1;
        self.map(line, col)
    }

    /// Script position of the first character of a token the parser says
    /// starts at character `i`. The parser's start can sit on whitespace or
    /// a `\`-newline continuation before the token (and its line and column
    /// do not count continuations), so those are skipped here.
    fn token_at(&self, mut i: usize) -> Pos {
        loop {
            match (self.chars.get(i), self.chars.get(i + 1)) {
                (Some(' ' | '\t'), _) => i += 1,
                (Some('\\'), Some('\n')) => i += 2,
                (Some('\\'), Some('\r')) if self.chars.get(i + 2) == Some(&'\n') => i += 3,
                _ => break,
            }
        }
        self.at_index(i)
    }

    /// Script position of a line and column inside this frame.
    fn map(&self, line: usize, col: usize) -> Pos {
        let (line, col) = (line as u32, col as u32);
        if line <= 1 {
            Pos {
                line: self.base.line,
                col: self.base.col + col.saturating_sub(1),
            }
        } else {
            Pos {
                line: self.base.line + line - 1,
                col,
            }
        }
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

struct Walker<'o> {
    opts: &'o brush_parser::ParserOptions,
    dialect: Dialect,
    assigns: HashMap<String, Vec<Value>>,
    safe: HashMap<String, bool>,
    errexit: bool,
    /// Inside a condition (`if`/`while` test, left of `&&`/`||`, after `!`).
    cond: bool,
    /// First pass: collect assignments and `set -e`; second pass: report.
    collect: bool,
    hits: Vec<ScHit>,
    depth: usize,
    /// Command substitutions still to be parsed in this pass.
    budget: usize,
}

impl Walker<'_> {
    fn report(&mut self, code: u32, at: Pos, len: u32, message: &str) {
        if !self.collect {
            self.hits.push(hit(code, at, len, message.to_string()));
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

    fn program(&mut self, p: &ast::Program, f: &Frame, top: bool) {
        let n = p.complete_commands.len();
        for (i, list) in p.complete_commands.iter().enumerate() {
            self.list(list, f, top && i + 1 == n);
        }
    }

    /// `last` is true when the list's final item ends the whole script.
    fn list(&mut self, l: &ast::CompoundList, f: &Frame, last: bool) {
        let n = l.0.len();
        for (i, item) in l.0.iter().enumerate() {
            self.and_or(&item.0, f, last && i + 1 == n);
        }
    }

    /// Every pipeline but the last of `a && b || c` is a condition, and so
    /// is everything nested in it (a loop followed by `&& next`).
    fn and_or(&mut self, a: &ast::AndOrList, f: &Frame, last: bool) {
        let outer = self.cond;
        let chained = !a.additional.is_empty();
        let pipelines: Vec<&ast::Pipeline> = std::iter::once(&a.first)
            .chain(a.additional.iter().map(|x| match x {
                ast::AndOr::And(p) | ast::AndOr::Or(p) => p,
            }))
            .collect();
        let n = pipelines.len();
        for (i, p) in pipelines.into_iter().enumerate() {
            self.cond = outer || i + 1 < n;
            self.pipeline(p, f, outer || chained, last);
        }
        self.cond = outer;
    }

    /// `tested`: the pipeline's status is looked at (a condition, or part
    /// of an `&&`/`||` chain), so a `!` in front of it is meant.
    fn pipeline(&mut self, p: &ast::Pipeline, f: &Frame, tested: bool, last: bool) {
        if p.bang
            && !tested
            && !self.cond
            && !last
            && self.errexit
            && !self.collect
            && let Some(at) = p.seq.first().and_then(|c| self.bang_pos(c, f))
        {
            self.report(
                    2251,
                    at,
                    1,
                    "This `!` does not make the script fail under `set -e`; use `&& exit 1` or check `$?`.",
                );
        }
        if p.seq.len() > 1
            && let Some(ast::Command::Simple(s)) = p.seq.first()
        {
            self.useless_cat(s, f);
        }
        let outer = self.cond;
        self.cond |= p.bang;
        for c in &p.seq {
            self.command(c, f);
        }
        self.cond = outer;
    }

    /// Position of the `!` before a pipeline's first command.
    fn bang_pos(&self, c: &ast::Command, f: &Frame) -> Option<Pos> {
        let start = command_start(c)?;
        let mut i = start.index.min(f.chars.len());
        while i > 0 {
            i -= 1;
            if f.chars[i] == '!' {
                return Some(f.at_index(i));
            }
        }
        None
    }

    fn command(&mut self, c: &ast::Command, f: &Frame) {
        match c {
            ast::Command::Simple(s) => self.simple(s, f),
            ast::Command::Compound(cc, redirects) => {
                self.compound(cc, f);
                if let Some(r) = redirects {
                    for io in &r.0 {
                        self.redirect(io, f);
                    }
                }
            }
            ast::Command::Function(def) => {
                self.compound(&def.body.0, f);
            }
            ast::Command::ExtendedTest(t, _) => self.ext_test(&t.expr, f),
        }
    }

    fn compound(&mut self, cc: &ast::CompoundCommand, f: &Frame) {
        use ast::CompoundCommand as C;
        match cc {
            C::Arithmetic(_) | C::ArithmeticForClause(_) => {}
            C::BraceGroup(b) => self.list(&b.list, f, false),
            C::Subshell(s) => self.list(&s.list, f, false),
            C::ForClause(fc) => {
                match &fc.values {
                    Some(values) => {
                        for v in values {
                            let value = self.value_of(v);
                            self.assign(&fc.variable_name, value);
                            self.for_value(v, f);
                        }
                    }
                    None => self.assign(&fc.variable_name, Value::Unsafe),
                }
                self.list(&fc.body.list, f, false);
            }
            C::CaseClause(cc) => {
                self.word(&cc.value, f, Ctx::NoSplit);
                for item in &cc.cases {
                    for p in &item.patterns {
                        self.word(p, f, Ctx::NoSplit);
                    }
                    if let Some(l) = &item.cmd {
                        self.list(l, f, false);
                    }
                }
            }
            C::IfClause(i) => {
                self.condition(&i.condition, f);
                self.list(&i.then, f, false);
                for e in i.elses.iter().flatten() {
                    if let Some(c) = &e.condition {
                        self.condition(c, f);
                    }
                    self.list(&e.body, f, false);
                }
            }
            C::WhileClause(w) | C::UntilClause(w) => {
                self.condition(&w.0, f);
                self.list(&w.1.list, f, false);
            }
            C::Coprocess(c) => self.command(&c.body, f),
        }
    }

    /// A list whose status is tested (`if`, `while`): nothing in it is an
    /// unchecked `cd` or a `!` that skips errexit.
    fn condition(&mut self, l: &ast::CompoundList, f: &Frame) {
        let outer = self.cond;
        self.cond = true;
        self.list(l, f, false);
        self.cond = outer;
    }

    fn ext_test(&mut self, e: &ast::ExtendedTestExpr, f: &Frame) {
        use ast::ExtendedTestExpr as E;
        match e {
            E::And(a, b) | E::Or(a, b) => {
                self.ext_test(a, f);
                self.ext_test(b, f);
            }
            E::Not(a) | E::Parenthesized(a) => self.ext_test(a, f),
            E::UnaryTest(_, w) => self.word(w, f, Ctx::NoSplit),
            E::BinaryTest(_, a, b) => {
                self.word(a, f, Ctx::NoSplit);
                self.word(b, f, Ctx::NoSplit);
            }
        }
    }

    fn redirect(&mut self, io: &ast::IoRedirect, f: &Frame) {
        match io {
            ast::IoRedirect::File(_, _, target) => match target {
                ast::IoFileRedirectTarget::Filename(w) => self.word(w, f, Ctx::Split),
                ast::IoFileRedirectTarget::Duplicate(w) => self.word(w, f, Ctx::NoSplit),
                ast::IoFileRedirectTarget::ProcessSubstitution(_, s) => {
                    self.list(&s.list, f, false)
                }
                ast::IoFileRedirectTarget::Fd(_) => {}
            },
            ast::IoRedirect::HereString(_, w) => self.word(w, f, Ctx::NoSplit),
            ast::IoRedirect::OutputAndError(w, _) => self.word(w, f, Ctx::Split),
            ast::IoRedirect::HereDocument(..) => {}
        }
    }

    fn simple(&mut self, s: &ast::SimpleCommand, f: &Frame) {
        let program = s.word_or_name.as_ref().map(|w| w.value.as_str());
        let name = program.map(|p| p.rsplit('/').next().unwrap_or(p));
        let declaration = name.is_some_and(|n| DECLARATIONS.contains(&n));
        if self.collect && name == Some("set") {
            self.errexit |= sets_errexit(s);
        }
        for item in s.prefix.iter().flat_map(|p| p.0.iter()) {
            self.item(item, f, false, None);
        }
        if let Some(w) = &s.word_or_name {
            self.word(w, f, Ctx::Split);
        }
        let args: Vec<&ast::CommandPrefixOrSuffixItem> =
            s.suffix.iter().flat_map(|x| x.0.iter()).collect();
        let mut after_dashdash = false;
        for item in &args {
            match item {
                ast::CommandPrefixOrSuffixItem::Word(w) => {
                    if w.value == "--" {
                        after_dashdash = true;
                    }
                    if name == Some("read") && !w.value.starts_with('-') {
                        self.assign(&w.value, Value::Unsafe);
                    }
                    if !after_dashdash && !matches!(name, Some("echo" | "printf")) {
                        self.glob_as_option(w, f);
                    }
                    self.word(w, f, Ctx::Split);
                }
                other => self.item(other, f, declaration, name),
            }
        }
        if name == Some("cd")
            && !self.cond
            && !self.errexit
            && !self.collect
            && let Some(w) = &s.word_or_name
            && let Some(at) = word_pos(w, f)
        {
            self.report(
                        2164,
                        at,
                        2,
                        "cd can fail and the script would go on in the wrong directory; use `cd ... || exit`.",
                    );
        }
    }

    /// A prefix assignment, a suffix assignment-like word, or a redirection.
    fn item(
        &mut self,
        item: &ast::CommandPrefixOrSuffixItem,
        f: &Frame,
        declaration: bool,
        program: Option<&str>,
    ) {
        match item {
            ast::CommandPrefixOrSuffixItem::IoRedirect(io) => self.redirect(io, f),
            ast::CommandPrefixOrSuffixItem::Word(w) => self.word(w, f, Ctx::Split),
            ast::CommandPrefixOrSuffixItem::ProcessSubstitution(_, s) => {
                self.list(&s.list, f, false)
            }
            ast::CommandPrefixOrSuffixItem::AssignmentWord(a, w) => {
                if program.is_some() && !declaration {
                    // `make CC=$x`: an ordinary argument
                    self.word(w, f, Ctx::Split);
                    return;
                }
                let name = match &a.name {
                    ast::AssignmentName::VariableName(n) => n.as_str(),
                    ast::AssignmentName::ArrayElementName(n, _) => n.as_str(),
                };
                let value = match &a.value {
                    ast::AssignmentValue::Scalar(v) => {
                        let value = if a.append {
                            Value::Unsafe
                        } else {
                            self.value_of(v)
                        };
                        self.assign(name, value);
                        Some(v)
                    }
                    ast::AssignmentValue::Array(_) => {
                        self.assign(name, Value::Unsafe);
                        None
                    }
                };
                let Some(v) = value else {
                    self.word(w, f, Ctx::NoSplit);
                    return;
                };
                let at = word_pos(w, f);
                if declaration
                    && has_substitution(&self.pieces(&v.value))
                    && let Some(at) = at
                {
                    self.report(
                            2155,
                            at,
                            name.chars().count() as u32,
                            "Declare and assign separately: the command substitution's exit status is lost here.",
                        );
                }
                // the value's pieces, positioned after `NAME=` (or `NAME+=`)
                let prefix = w.value.find('=').map_or(0, |i| i + 1);
                let ctx = if declaration && self.dialect == Dialect::Sh {
                    Ctx::Split
                } else {
                    Ctx::NoSplit
                };
                self.word_text(&w.value, prefix, at, ctx);
            }
        }
    }

    /// SC2044: `for x in $(find ...)`.
    fn for_value(&mut self, w: &ast::Word, f: &Frame) {
        let pieces = self.pieces(&w.value);
        if let [piece] = pieces.as_slice() {
            let inner = match &piece.piece {
                WordPiece::CommandSubstitution(s) | WordPiece::BackquotedCommandSubstitution(s) => {
                    Some(s)
                }
                _ => None,
            };
            if let Some(s) = inner
                && first_word(s) == Some("find")
                && let Some(at) = word_pos(w, f)
            {
                self.report(
                            2044,
                            at,
                            2,
                            "Looping over find's output breaks on names with spaces; use find -exec or a while-read loop.",
                        );
            }
        }
        self.word(w, f, Ctx::NoSplit);
    }

    /// SC2035: an argument that is an unquoted glob starting with `*`.
    fn glob_as_option(&mut self, w: &ast::Word, f: &Frame) {
        let pieces = self.pieces(&w.value);
        if let Some(first) = pieces.first()
            && let WordPiece::Text(t) = &first.piece
            && t.starts_with('*')
            && let Some(at) = word_pos(w, f)
        {
            self.report(
                            2035,
                            at,
                            w.value.chars().count() as u32,
                            "A name matched by this glob that starts with `-` becomes an option; write ./* or put -- before it.",
                        );
        }
    }

    /// SC2002: `cat file | cmd`.
    fn useless_cat(&mut self, s: &ast::SimpleCommand, f: &Frame) {
        if s.prefix.is_some() || s.word_or_name.as_ref().map(|w| w.value.as_str()) != Some("cat") {
            return;
        }
        let args: Vec<&ast::CommandPrefixOrSuffixItem> =
            s.suffix.iter().flat_map(|x| x.0.iter()).collect();
        if let [ast::CommandPrefixOrSuffixItem::Word(w)] = args.as_slice() {
            // `cat $files` may name several files once split
            let splits = self.pieces(&w.value).iter().any(|p| {
                !matches!(
                    p.piece,
                    WordPiece::Text(_)
                        | WordPiece::SingleQuotedText(_)
                        | WordPiece::DoubleQuotedSequence(_)
                        | WordPiece::EscapeSequence(_)
                )
            });
            if !w.value.starts_with('-')
                && !splits
                && let Some(at) = word_pos(w, f)
            {
                self.report(
                        2002,
                        at,
                        w.value.chars().count() as u32,
                        "cat of one file into a pipe: let the next command read the file, or redirect it with <.",
                    );
            }
        }
    }

    fn pieces(&self, text: &str) -> Vec<brush_parser::word::WordPieceWithSource> {
        if !word_is_tractable(text) {
            return Vec::new();
        }
        contained(|| brush_parser::word::parse(text, self.opts))
            .and_then(Result::ok)
            .unwrap_or_default()
    }

    /// Classifies an assignment's value.
    fn value_of(&self, w: &ast::Word) -> Value {
        if w.value.is_empty() {
            return Value::Unsafe;
        }
        let mut deps = Vec::new();
        if pieces_safe(&self.pieces(&w.value), &mut deps) {
            Value::SafeIf(deps)
        } else {
            Value::Unsafe
        }
    }

    fn word(&mut self, w: &ast::Word, f: &Frame, ctx: Ctx) {
        let at = word_pos(w, f);
        self.word_text(&w.value, 0, at, ctx);
    }

    /// Checks the pieces of `text[from..]`, a word starting at `at`.
    fn word_text(&mut self, text: &str, from: usize, at: Option<Pos>, ctx: Ctx) {
        if !text.contains(['$', '`']) {
            return;
        }
        let Some(at) = at else { return };
        let pieces = self.pieces(&text[from..]);
        let origin = advance(at, &text[..from]);
        self.walk_pieces(&pieces, &text[from..], origin, ctx, false);
    }

    fn walk_pieces(
        &mut self,
        pieces: &[brush_parser::word::WordPieceWithSource],
        text: &str,
        origin: Pos,

        ctx: Ctx,
        quoted: bool,
    ) {
        for p in pieces {
            let start = text
                .get(..p.start_index)
                .map_or(origin, |t| advance(origin, t));
            let len = text
                .get(p.start_index..p.end_index)
                .map_or(1, |t| t.chars().count() as u32);
            match &p.piece {
                WordPiece::DoubleQuotedSequence(inner)
                | WordPiece::GettextDoubleQuotedSequence(inner) => {
                    self.walk_pieces(inner, text, origin, ctx, true);
                }
                WordPiece::ParameterExpansion(e)
                    if ctx == Ctx::Split && !quoted && self.splits(e) =>
                {
                    self.report(
                            2086,
                            start,
                            len,
                            "Unquoted expansion: the value is split on spaces and globbed; double-quote it.",
                        );
                }
                WordPiece::CommandSubstitution(body) => {
                    if ctx == Ctx::Split && !quoted {
                        self.report(
                            2046,
                            start,
                            len,
                            "Unquoted command substitution: its output is split on spaces and globbed; double-quote it.",
                        );
                    }
                    self.substitution(body, advance(start, "$("));
                }
                WordPiece::BackquotedCommandSubstitution(body) => {
                    if ctx == Ctx::Split && !quoted {
                        self.report(
                            2046,
                            start,
                            len,
                            "Unquoted command substitution: its output is split on spaces and globbed; double-quote it.",
                        );
                    }
                    self.report(
                        2006,
                        start,
                        len,
                        "Backticks are the legacy form of command substitution; use $(...).",
                    );
                    self.substitution(body, advance(start, "`"));
                }
                _ => {}
            }
        }
    }

    /// Walks the script inside `$(...)` or backticks, which starts at `at`.
    fn substitution(&mut self, body: &str, at: Pos) {
        if self.depth >= 8
            || self.budget == 0
            || nesting(body) > MAX_NESTING
            || paren_depth(body) > MAX_PARENS
            || subscript_depth(body) > MAX_SUBSCRIPTS
        {
            return;
        }
        self.budget -= 1;
        let Ok(program) = parse(body, self.opts) else {
            return;
        };
        self.depth += 1;
        let frame = Frame::new(at, body);
        self.program(&program, &frame, false);
        self.depth -= 1;
    }

    /// Whether an unquoted expansion is split into words by the shell in a
    /// way that matters (its value may hold spaces or glob characters).
    fn splits(&self, e: &ParameterExpr) -> bool {
        use ParameterExpr as P;
        let (parameter, indirect) = match e {
            P::Parameter {
                parameter,
                indirect,
            } => (parameter, *indirect),
            // `${#x}`: a number; `${x:+word}`: word or nothing
            P::ParameterLength { .. } | P::UseAlternativeValue { .. } => return false,
            P::UseDefaultValues { .. }
            | P::AssignDefaultValues { .. }
            | P::IndicateErrorIfNullOrUnset { .. } => return true,
            P::RemoveSmallestSuffixPattern {
                parameter,
                indirect,
                ..
            }
            | P::RemoveLargestSuffixPattern {
                parameter,
                indirect,
                ..
            }
            | P::RemoveSmallestPrefixPattern {
                parameter,
                indirect,
                ..
            }
            | P::RemoveLargestPrefixPattern {
                parameter,
                indirect,
                ..
            }
            | P::Substring {
                parameter,
                indirect,
                ..
            }
            | P::Transform {
                parameter,
                indirect,
                ..
            }
            | P::UppercaseFirstChar {
                parameter,
                indirect,
                ..
            }
            | P::UppercasePattern {
                parameter,
                indirect,
                ..
            }
            | P::LowercaseFirstChar {
                parameter,
                indirect,
                ..
            }
            | P::LowercasePattern {
                parameter,
                indirect,
                ..
            }
            | P::ReplaceSubstring {
                parameter,
                indirect,
                ..
            } => (parameter, *indirect),
            P::VariableNames { .. } | P::MemberKeys { .. } => return false,
        };
        if indirect {
            return true;
        }
        match parameter {
            Parameter::Named(n) => !self.safe.get(n).copied().unwrap_or(false),
            Parameter::Positional(_) => true,
            Parameter::Special(s) => match s {
                // `$@` is SC2068's business; `$*` splits
                SpecialParameter::AllPositionalParameters { concatenate } => *concatenate,
                SpecialParameter::ShellName => true,
                SpecialParameter::PositionalParameterCount
                | SpecialParameter::LastExitStatus
                | SpecialParameter::CurrentOptionFlags
                | SpecialParameter::ProcessId
                | SpecialParameter::LastBackgroundProcessId => false,
            },
            Parameter::NamedWithIndex { .. } => true,
            Parameter::NamedWithAllIndices { .. } => false,
        }
    }
}

/// Whether pieces make a value without spaces or glob characters; names of
/// the variables it is built from go to `deps`.
fn pieces_safe(pieces: &[brush_parser::word::WordPieceWithSource], deps: &mut Vec<String>) -> bool {
    let plain = |s: &str| !s.contains(|c: char| c.is_whitespace() || matches!(c, '*' | '?' | '['));
    pieces.iter().all(|p| match &p.piece {
        WordPiece::Text(s) | WordPiece::SingleQuotedText(s) | WordPiece::AnsiCQuotedText(s) => {
            plain(s)
        }
        WordPiece::EscapeSequence(s) => plain(s.trim_start_matches('\\')),
        WordPiece::DoubleQuotedSequence(inner) | WordPiece::GettextDoubleQuotedSequence(inner) => {
            pieces_safe(inner, deps)
        }
        WordPiece::ArithmeticExpression(_) => true,
        WordPiece::ParameterExpansion(ParameterExpr::Parameter {
            parameter,
            indirect: false,
        }) => match parameter {
            Parameter::Named(n) => {
                deps.push(n.clone());
                true
            }
            Parameter::Special(
                SpecialParameter::PositionalParameterCount
                | SpecialParameter::LastExitStatus
                | SpecialParameter::ProcessId
                | SpecialParameter::LastBackgroundProcessId,
            ) => true,
            _ => false,
        },
        _ => false,
    })
}

fn has_substitution(pieces: &[brush_parser::word::WordPieceWithSource]) -> bool {
    pieces.iter().any(|p| match &p.piece {
        WordPiece::CommandSubstitution(_) | WordPiece::BackquotedCommandSubstitution(_) => true,
        WordPiece::DoubleQuotedSequence(inner) | WordPiece::GettextDoubleQuotedSequence(inner) => {
            has_substitution(inner)
        }
        _ => false,
    })
}

/// `set -e`, `set -eux`, `set -o errexit`.
fn sets_errexit(s: &ast::SimpleCommand) -> bool {
    let words: Vec<&str> = s
        .suffix
        .iter()
        .flat_map(|x| x.0.iter())
        .filter_map(|i| match i {
            ast::CommandPrefixOrSuffixItem::Word(w) => Some(w.value.as_str()),
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

fn word_pos(w: &ast::Word, f: &Frame) -> Option<Pos> {
    w.loc.as_ref().map(|l| f.token_at(l.start.index))
}

fn command_start(c: &ast::Command) -> Option<brush_parser::SourcePosition> {
    match c {
        ast::Command::Simple(s) => {
            let from_prefix = s.prefix.as_ref().and_then(|p| {
                p.0.first().and_then(|i| match i {
                    ast::CommandPrefixOrSuffixItem::Word(w)
                    | ast::CommandPrefixOrSuffixItem::AssignmentWord(_, w) => {
                        w.loc.as_ref().map(|l| (*l.start).clone())
                    }
                    _ => None,
                })
            });
            from_prefix.or_else(|| {
                s.word_or_name
                    .as_ref()
                    .and_then(|w| w.loc.as_ref().map(|l| (*l.start).clone()))
            })
        }
        _ => {
            use brush_parser::ast::SourceLocation;
            c.location().map(|l| (*l.start).clone())
        }
    }
}

/// The position after `text`, starting at `at`.
fn advance(at: Pos, text: &str) -> Pos {
    let mut p = at;
    for c in text.chars() {
        if c == '\n' {
            p.line += 1;
            p.col = 1;
        } else {
            p.col += 1;
        }
    }
    p
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
        let deep = format!("{}{}", "(".repeat(200), ")".repeat(200));
        assert_eq!(check(&deep, Dialect::Bash)[0].code, 1072);
        // found by fuzzing: the parser's time doubles with every level
        assert_eq!(
            check("(((((((((((((((((((((((((()", Dialect::Bash)[0].code,
            1072
        );
        // found by fuzzing: the tokenizer never ends on this
        assert_eq!(check("<<\r<#", Dialect::Bash)[0].code, 1072);
        assert_eq!(check("$(<<  ", Dialect::Bash)[0].code, 1072);
        assert_eq!(check("<<'''' ", Dialect::Bash)[0].code, 1072);
        // found by fuzzing: a word with many brackets makes the program
        // parser (assignment words) exponential; it is refused first
        assert_eq!(
            check("a[1]b[2]c[3]d[4]e[5]f[6]g[7]h[8]i[9]=1", Dialect::Bash)[0].code,
            1072
        );
        // found by fuzzing: unclosed subscripts make the word parser exponential
        assert_eq!(
            check(
                "echo ${u[i,}${u[i,}${u[i,}${u[i,}${u[i,}${u[i,}",
                Dialect::Bash
            )[0]
            .code,
            1072
        );
        assert!(check("echo \"${a[${b}]}\" \"${c[1]}\"", Dialect::Bash).is_empty());
        // found by fuzzing: nested array subscripts make the parser exponential
        assert_eq!(
            check("x=${A[${A[${A[${A[${A[1]}]}]}]}]}", Dialect::Bash)[0].code,
            1072
        );
        assert!(check("x=${a[${b:-${c:-1}}]}; echo \"$x\"", Dialect::Bash).is_empty());
        // found by fuzzing: the parser panics on this; it is reported, not fatal
        assert_eq!(check("$({(<<<)\n<", Dialect::Bash)[0].code, 1072);
        assert!(
            check(
                "echo $((1 << 2)); cat <<EOF\nx\nEOF\ncat <<< \"$a\"",
                Dialect::Bash
            )
            .is_empty()
        );
        // found by fuzzing: the parser cannot hold these numbers
        assert_eq!(check("(9999999999999>=", Dialect::Bash)[0].code, 1072);
        assert_eq!(check("echo ~+99999999999", Dialect::Bash)[0].code, 1072);
        assert!(check("SOURCE_DATE_EPOCH=1700000000 make", Dialect::Sh).is_empty());
    }
}
