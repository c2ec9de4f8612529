//! A parser for the shell scripts of RUN instructions, made for the built-in
//! shell checks ([`crate::shell_checks`]).
//!
//! It reads POSIX sh and the bash syntax RUN scripts use (`[[ ]]`, `(( ))`,
//! `$'...'`, arrays, `<(...)`, `function`, `select`, here-strings) into a
//! small tree: lists, pipelines, simple and compound commands, and words
//! split into their pieces (quoted text, parameter expansions, command
//! substitutions) with their places in the script.
//!
//! Every construct is read once, left to right, by recursive descent with
//! a few characters of lookahead; the only look further ahead is the scan
//! that tells `((`/`$((` arithmetic from nested subshells, and nesting is
//! capped at [`MAX_NESTING`] levels. So time is linear in the script (times
//! that cap at worst) and the stack stays small whatever the input: a
//! general PEG parser we used before backtracked exponentially on inputs
//! found by fuzzing. Here-document bodies are read at the next newline, as
//! the shell does, and skipped.
//!
//! Positions are character indices in the script text (tabs and multi-byte
//! characters count one), also inside backticks, whose bodies are unescaped
//! and parsed with a map back to the script.

/// Nesting (commands in commands, substitutions, quotes in expansions)
/// beyond which a script is refused; real RUN scripts stay far below.
pub const MAX_NESTING: usize = 64;

/// Where and why a script does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Character index in the script.
    pub at: usize,
    /// What is wrong, in a few words.
    pub message: String,
}

/// A list of commands (the script, a body, a substitution).
#[derive(Debug, Default)]
pub struct Script {
    /// The and-or lists, in order.
    pub items: Vec<AndOr>,
}

/// `a && b || c`.
#[derive(Debug)]
pub struct AndOr {
    /// The pipelines, in order (the operators between them do not matter
    /// to the checks).
    pub pipelines: Vec<Pipeline>,
}

/// `[!] a | b`.
#[derive(Debug)]
pub struct Pipeline {
    /// Index of a leading `!`.
    pub bang: Option<usize>,
    /// The commands.
    pub commands: Vec<Command>,
}

/// One command of a pipeline.
#[derive(Debug)]
pub enum Command {
    /// Assignments, words and redirections.
    Simple(Simple),
    /// A compound command (or a function definition's body) and the
    /// redirections after it.
    Compound(Compound, Vec<Redirect>),
}

/// A compound command.
#[derive(Debug)]
pub enum Compound {
    /// `{ ...; }` or `( ... )`.
    Group(Script),
    /// `for`/`select NAME [in WORDS]; do ...; done`.
    For {
        /// The loop variable.
        var: String,
        /// The words after `in` (none: the positional parameters).
        values: Option<Vec<Word>>,
        /// The body.
        body: Script,
    },
    /// `for ((...))` and `((...))`: the arithmetic is not looked into.
    Arithmetic(Option<Script>),
    /// `case WORD in PATTERN) ...;; esac`.
    Case {
        /// The word after `case`.
        subject: Word,
        /// Patterns and bodies.
        arms: Vec<(Vec<Word>, Script)>,
    },
    /// `if`/`elif` conditions with their bodies, and the `else` body.
    If {
        /// `(condition, body)` pairs.
        branches: Vec<(Script, Script)>,
        /// The `else` body.
        otherwise: Option<Script>,
    },
    /// `while`/`until CONDITION; do BODY; done`.
    Loop {
        /// The condition list.
        condition: Script,
        /// The body.
        body: Script,
    },
    /// `[[ ... ]]`: its words (operators left out).
    Test(Vec<Word>),
}

/// A simple command.
#[derive(Debug, Default)]
pub struct Simple {
    /// Assignments and redirections before the command name.
    pub prefix: Vec<Item>,
    /// The command name.
    pub name: Option<Word>,
    /// Arguments (assignments only after declaration builtins) and
    /// redirections.
    pub suffix: Vec<Item>,
}

/// Part of a simple command.
#[derive(Debug)]
pub enum Item {
    /// A word.
    Word(Word),
    /// `NAME=value`, `NAME+=value`, `NAME[i]=value`, `NAME=(...)`.
    Assign(Assign),
    /// A redirection.
    Redirect(Redirect),
}

/// An assignment.
#[derive(Debug)]
pub struct Assign {
    /// Index of its first character.
    pub start: usize,
    /// The variable (without a subscript).
    pub name: String,
    /// `+=`.
    pub append: bool,
    /// The value of a scalar assignment.
    pub value: Option<Word>,
    /// The elements of an array assignment.
    pub elements: Vec<Word>,
}

/// A redirection.
#[derive(Debug)]
pub struct Redirect {
    /// The target word (none for a here-document).
    pub target: Option<Word>,
    /// Whether the target is split and globbed (a file name).
    pub split: bool,
}

/// A word and its pieces.
#[derive(Debug, Default)]
pub struct Word {
    /// Index of its first character.
    pub start: usize,
    /// Index after its last character.
    pub end: usize,
    /// Its source text, quotes included.
    pub raw: String,
    /// Its pieces.
    pub pieces: Vec<PieceAt>,
}

/// A piece and its place.
#[derive(Debug)]
pub struct PieceAt {
    /// Index of its first character.
    pub start: usize,
    /// Index after its last character.
    pub end: usize,
    /// The piece.
    pub piece: Piece,
}

/// A piece of a word.
#[derive(Debug)]
pub enum Piece {
    /// Unquoted text.
    Text(String),
    /// `'...'` or `$'...'` (the text between the quotes).
    Single(String),
    /// A backslash-escaped character.
    Escaped(char),
    /// `"..."` or `$"..."`.
    Double(Vec<PieceAt>),
    /// `$x`, `${...}`.
    Param(Param),
    /// `$(...)` or backticks.
    Substitution {
        /// The commands inside.
        body: Script,
        /// The text inside (unescaped for backticks).
        text: String,
        /// Written with backticks.
        backtick: bool,
    },
    /// `$((...))` or `$[...]`.
    Arithmetic,
    /// `<(...)` or `>(...)`.
    ProcessSubstitution(Script),
}

/// A parameter expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// What is expanded.
    pub name: ParamName,
    /// `${!x}`.
    pub indirect: bool,
    /// What is done with it.
    pub op: ParamOp,
}

/// The parameter of an expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamName {
    /// A variable.
    Named(String),
    /// `$1`, `${10}`.
    Positional,
    /// `$@ $* $# $? $- $$ $! $0`.
    Special(char),
    /// `${a[i]}`.
    Indexed(String),
    /// `${a[@]}`, `${a[*]}`.
    AllIndices(String),
}

/// The operator of an expansion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamOp {
    /// `$x`, `${x}`.
    None,
    /// `${#x}`.
    Length,
    /// `${x:+w}`, `${x+w}`.
    Alternative,
    /// `${x:-w}`, `${x:=w}`, `${x:?w}` and the forms without `:`.
    Default,
    /// Pattern removal, replacement, substring, case and transforms.
    Other,
    /// `${!prefix*}`, `${!a[@]}`: names or keys.
    Names,
}

/// Parses a script given as characters.
pub fn parse(text: &[char]) -> Result<Script, SyntaxError> {
    let mut p = Parser {
        s: text,
        map: None,
        i: 0,
        depth: 0,
        heredocs: Vec::new(),
        quoted: false,
    };
    p.whole()
}

/// A here-document whose body comes after the next newline.
struct Heredoc {
    delimiter: Vec<char>,
    strip_tabs: bool,
    at: usize,
}

/// How a run of word pieces ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// An ordinary word: at a blank or an operator character.
    Word,
    /// The right side of `=~` in `[[ ]]`: parentheses and `|` belong to it.
    Regex,
    /// The word of `${x:-word}`: at the `}` that closes the expansion.
    Expansion {
        /// Inside double quotes (single quotes are then plain text).
        quoted: bool,
        /// Where the `${` is.
        open: usize,
    },
}

const RESERVED: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for",
    "select", "function", "in", "{", "}", "!", "[[", "]]", "time",
];

/// Words that end a list: its caller decides whether it expected them.
const CLOSERS: &[&str] = &["then", "else", "elif", "fi", "do", "done", "esac", "}"];

/// Literal text gathered between the pieces of a word, and where it starts.
#[derive(Default)]
struct Run {
    text: String,
    start: usize,
}

impl Run {
    fn push(&mut self, c: char, at: usize) {
        if self.text.is_empty() {
            self.start = at;
        }
        self.text.push(c);
    }
}

struct Parser<'a> {
    s: &'a [char],
    /// Script index of each character, for backtick bodies.
    map: Option<&'a [usize]>,
    i: usize,
    depth: usize,
    heredocs: Vec<Heredoc>,
    /// Inside double quotes (and not in a substitution within them).
    quoted: bool,
}

type Res<T> = Result<T, SyntaxError>;

fn is_meta(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')'
    )
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Parser<'_> {
    fn whole(&mut self) -> Res<Script> {
        let script = self.list()?;
        self.linebreaks()?;
        if self.i < self.s.len() {
            return self.unexpected();
        }
        if let Some(h) = self.heredocs.first() {
            return Err(SyntaxError {
                at: self.global(h.at),
                message: "the here-document has no body".to_string(),
            });
        }
        Ok(script)
    }

    /// Script index of local index `i`.
    fn global(&self, i: usize) -> usize {
        match self.map {
            None => i,
            Some(m) => match m.get(i) {
                Some(&g) => g,
                None => m.last().map_or(0, |&g| g + 1),
            },
        }
    }

    /// Script index after the character before local index `i`.
    fn global_end(&self, i: usize) -> usize {
        match self.map {
            None => i,
            Some(_) if i == 0 => self.global(0),
            Some(_) => self.global(i - 1) + 1,
        }
    }

    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.s.get(self.i + k).copied()
    }

    fn at_str(&self, lit: &str) -> bool {
        lit.chars()
            .enumerate()
            .all(|(k, c)| self.s.get(self.i + k) == Some(&c))
    }

    fn error<T>(&self, at: usize, message: &str) -> Res<T> {
        Err(SyntaxError {
            at: self.global(at),
            message: message.to_string(),
        })
    }

    /// What is at the current position, for messages (not at the end).
    fn found_here(&self) -> String {
        match self.peek() {
            None => "the end".to_string(),
            Some('\n') => "end of line".to_string(),
            Some(_) => {
                let token: String = match self.reserved_here() {
                    Some(w) => w.to_string(),
                    None => self.s[self.i..]
                        .iter()
                        .take_while(|c| !c.is_whitespace())
                        .take(8)
                        .collect(),
                };
                format!("`{token}`")
            }
        }
    }

    fn unexpected<T>(&self) -> Res<T> {
        let message = match self.peek() {
            None => "the script ends too early".to_string(),
            Some(_) => format!("unexpected {}", self.found_here()),
        };
        Err(SyntaxError {
            at: self.global(self.i),
            message,
        })
    }

    fn enter(&mut self) -> Res<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return self.error(
                self.i,
                &format!("it nests deeper than {MAX_NESTING} levels"),
            );
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Skips spaces, tabs, carriage returns, `\`-newlines and a comment.
    fn blanks(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r') => self.i += 1,
                Some('\\') if self.peek_at(1) == Some('\n') => self.i += 2,
                Some('#') => {
                    while !matches!(self.peek(), None | Some('\n')) {
                        self.i += 1;
                    }
                }
                _ => return,
            }
        }
    }

    /// Skips blanks and newlines (reading the here-documents due).
    fn linebreaks(&mut self) -> Res<()> {
        loop {
            self.blanks();
            if self.peek() == Some('\n') {
                self.newline()?;
            } else {
                return Ok(());
            }
        }
    }

    /// Consumes a newline and the bodies of the here-documents started on
    /// its line.
    fn newline(&mut self) -> Res<()> {
        self.i += 1;
        let due = std::mem::take(&mut self.heredocs);
        for h in due {
            self.heredoc_body(&h)?;
        }
        Ok(())
    }

    fn heredoc_body(&mut self, h: &Heredoc) -> Res<()> {
        loop {
            if self.i >= self.s.len() {
                return self.error(
                    h.at,
                    "the here-document's closing delimiter line is missing",
                );
            }
            let end = self.s[self.i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(self.s.len(), |k| self.i + k);
            let mut line = &self.s[self.i..end];
            if h.strip_tabs {
                while let [first, rest @ ..] = line
                    && *first == '\t'
                {
                    line = rest;
                }
            }
            if let [rest @ .., '\r'] = line {
                line = rest;
            }
            self.i = (end + 1).min(self.s.len());
            if line == h.delimiter.as_slice() {
                return Ok(());
            }
        }
    }

    /// The reserved word at the current position, if the characters there
    /// make one whole word.
    fn reserved_here(&self) -> Option<&'static str> {
        let mut k = self.i;
        let mut word = String::new();
        while let Some(&c) = self.s.get(k) {
            if is_meta(c) || matches!(c, '\'' | '"' | '\\' | '$' | '`') {
                break;
            }
            word.push(c);
            k += 1;
            if word.len() > 8 {
                return None;
            }
        }
        if matches!(self.s.get(k), Some('\'' | '"' | '\\' | '$' | '`')) {
            return None;
        }
        RESERVED.iter().copied().find(|r| *r == word)
    }

    fn at_closer(&self) -> bool {
        match self.peek() {
            None | Some(')' | ';') => true,
            _ => self.reserved_here().is_some_and(|w| CLOSERS.contains(&w)),
        }
    }

    fn expect_reserved(&mut self, word: &'static str) -> Res<()> {
        self.linebreaks()?;
        if self.reserved_here() == Some(word) {
            self.i += word.len();
            Ok(())
        } else if self.i >= self.s.len() {
            self.error(self.i, &format!("`{word}` is missing"))
        } else {
            self.error(
                self.i,
                &format!("expected `{word}`, found {}", self.found_here()),
            )
        }
    }

    fn expect_char(&mut self, c: char) -> Res<()> {
        self.linebreaks()?;
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else if self.i >= self.s.len() {
            self.error(self.i, &format!("`{c}` is missing"))
        } else {
            self.unexpected()
        }
    }

    /// Commands up to a word or character that cannot start one.
    fn list(&mut self) -> Res<Script> {
        let mut items = Vec::new();
        loop {
            self.linebreaks()?;
            if self.at_closer() {
                break;
            }
            items.push(self.and_or()?);
            self.blanks();
            match self.peek() {
                Some(';') if !matches!(self.peek_at(1), Some(';' | '&')) => self.i += 1,
                Some('&') => self.i += 1,
                Some('\n') => self.newline()?,
                _ => break,
            }
        }
        Ok(Script { items })
    }

    /// A list that must hold a command (a condition or a body).
    fn body(&mut self) -> Res<Script> {
        let start = self.i;
        let list = self.list()?;
        if list.items.is_empty() {
            self.linebreaks()?;
            if self.i >= self.s.len() {
                return self.error(start, "a command is missing here");
            }
            return self.unexpected();
        }
        Ok(list)
    }

    fn and_or(&mut self) -> Res<AndOr> {
        let mut pipelines = vec![self.pipeline()?];
        loop {
            self.blanks();
            if self.at_str("&&") || self.at_str("||") {
                self.i += 2;
                self.linebreaks()?;
                pipelines.push(self.pipeline()?);
            } else {
                return Ok(AndOr { pipelines });
            }
        }
    }

    fn pipeline(&mut self) -> Res<Pipeline> {
        self.blanks();
        if self.reserved_here() == Some("time") {
            self.i += 4;
            self.blanks();
            if self.at_str("-p") && self.peek_at(2).is_none_or(is_meta) {
                self.i += 2;
                self.blanks();
            }
        }
        let mut bang = None;
        while self.reserved_here() == Some("!") {
            bang = Some(self.global(self.i));
            self.i += 1;
            self.blanks();
        }
        let mut commands = vec![self.command()?];
        loop {
            self.blanks();
            if self.peek() == Some('|') && self.peek_at(1) != Some('|') {
                self.i += 1;
                if self.peek() == Some('&') {
                    self.i += 1;
                }
                self.linebreaks()?;
                commands.push(self.command()?);
            } else {
                return Ok(Pipeline { bang, commands });
            }
        }
    }

    fn command(&mut self) -> Res<Command> {
        self.enter()?;
        let c = self.command_inner();
        self.leave();
        c
    }

    fn command_inner(&mut self) -> Res<Command> {
        self.blanks();
        let compound = if self.peek() == Some('(') {
            if self.peek_at(1) == Some('(')
                && let Some(end) = self.arithmetic_end(self.i + 2)
            {
                self.i = end;
                Compound::Arithmetic(None)
            } else {
                self.i += 1;
                let body = self.body()?;
                self.expect_char(')')?;
                Compound::Group(body)
            }
        } else {
            match self.reserved_here() {
                Some("{") => {
                    self.i += 1;
                    let body = self.body()?;
                    self.expect_reserved("}")?;
                    Compound::Group(body)
                }
                Some("if") => self.if_clause()?,
                Some(w @ ("while" | "until")) => {
                    self.i += w.len();
                    let condition = self.body()?;
                    let body = self.do_group()?;
                    Compound::Loop { condition, body }
                }
                Some(w @ ("for" | "select")) => {
                    self.i += w.len();
                    self.for_clause()?
                }
                Some("case") => self.case_clause()?,
                Some("[[") => self.test()?,
                Some("function") => {
                    self.i += "function".len();
                    self.blanks();
                    let name = self.word(Mode::Word)?;
                    if name.raw.is_empty() {
                        return self.unexpected();
                    }
                    self.blanks();
                    if self.peek() == Some('(') {
                        self.i += 1;
                        self.blanks();
                        self.expect_char(')')?;
                    }
                    return self.function_body();
                }
                Some(w) if CLOSERS.contains(&w) => {
                    return self.unexpected();
                }
                _ => {
                    if self.function_definition() {
                        return self.function_body();
                    }
                    return self.simple().map(Command::Simple);
                }
            }
        };
        let redirects = self.redirects()?;
        Ok(Command::Compound(compound, redirects))
    }

    /// Redirections after a compound command.
    fn redirects(&mut self) -> Res<Vec<Redirect>> {
        let mut out = Vec::new();
        loop {
            self.blanks();
            match self.redirect()? {
                Some(r) => out.push(r),
                None => return Ok(out),
            }
        }
    }

    /// `name ( )` ahead: consumes it.
    fn function_definition(&mut self) -> bool {
        let mut k = self.i;
        while let Some(&c) = self.s.get(k) {
            if is_meta(c) || matches!(c, '\'' | '"' | '\\' | '$' | '`' | '=') {
                break;
            }
            k += 1;
        }
        if k == self.i {
            return false;
        }
        let skip = |mut k: usize| {
            while matches!(self.s.get(k), Some(' ' | '\t')) {
                k += 1;
            }
            k
        };
        let open = skip(k);
        if self.s.get(open) != Some(&'(') {
            return false;
        }
        let close = skip(open + 1);
        if self.s.get(close) != Some(&')') {
            return false;
        }
        self.i = close + 1;
        true
    }

    fn function_body(&mut self) -> Res<Command> {
        self.linebreaks()?;
        let start = self.i;
        match self.command()? {
            c @ Command::Compound(..) => Ok(c),
            Command::Simple(_) => self.error(start, "a function body must be a compound command"),
        }
    }

    fn if_clause(&mut self) -> Res<Compound> {
        self.i += 2;
        let mut branches = Vec::new();
        let condition = self.body()?;
        self.expect_reserved("then")?;
        let body = self.body()?;
        branches.push((condition, body));
        loop {
            self.linebreaks()?;
            match self.reserved_here() {
                Some("elif") => {
                    self.i += 4;
                    let condition = self.body()?;
                    self.expect_reserved("then")?;
                    let body = self.body()?;
                    branches.push((condition, body));
                }
                Some("else") => {
                    self.i += 4;
                    let otherwise = self.body()?;
                    self.expect_reserved("fi")?;
                    return Ok(Compound::If {
                        branches,
                        otherwise: Some(otherwise),
                    });
                }
                _ => {
                    self.expect_reserved("fi")?;
                    return Ok(Compound::If {
                        branches,
                        otherwise: None,
                    });
                }
            }
        }
    }

    /// `do LIST done`, or bash's `{ LIST }` after a `for`.
    fn do_group(&mut self) -> Res<Script> {
        self.linebreaks()?;
        if self.reserved_here() == Some("{") {
            self.i += 1;
            let body = self.body()?;
            self.expect_reserved("}")?;
            return Ok(body);
        }
        self.expect_reserved("do")?;
        let body = self.body()?;
        self.expect_reserved("done")?;
        Ok(body)
    }

    fn for_clause(&mut self) -> Res<Compound> {
        self.blanks();
        if self.at_str("((") {
            let Some(end) = self.arithmetic_end(self.i + 2) else {
                return self.error(self.i, "the `for ((` is not closed with `))`");
            };
            self.i = end;
            self.blanks();
            if self.peek() == Some(';') {
                self.i += 1;
            }
            let body = self.do_group()?;
            return Ok(Compound::Arithmetic(Some(body)));
        }
        let name_at = self.i;
        let name = self.word(Mode::Word)?;
        if name.raw.is_empty()
            || !name.raw.starts_with(is_name_start)
            || !name.raw.chars().all(is_name_char)
        {
            return self.error(name_at, "`for` needs a variable name");
        }
        self.blanks();
        let mut values = None;
        if self.peek() == Some(';') {
            self.i += 1;
        } else {
            self.linebreaks()?;
            if self.reserved_here() == Some("in") {
                self.i += 2;
                let mut words = Vec::new();
                loop {
                    self.blanks();
                    match self.peek() {
                        None => break,
                        Some(';') => {
                            self.i += 1;
                            break;
                        }
                        Some('\n') => {
                            self.newline()?;
                            break;
                        }
                        _ => {}
                    }
                    let w = self.word(Mode::Word)?;
                    if w.raw.is_empty() {
                        return self.unexpected();
                    }
                    words.push(w);
                }
                values = Some(words);
            }
        }
        let body = self.do_group()?;
        Ok(Compound::For {
            var: name.raw,
            values,
            body,
        })
    }

    fn case_clause(&mut self) -> Res<Compound> {
        self.i += 4;
        self.blanks();
        let subject = self.word(Mode::Word)?;
        if subject.raw.is_empty() {
            return self.unexpected();
        }
        self.expect_reserved("in")?;
        let mut arms = Vec::new();
        loop {
            self.linebreaks()?;
            if self.reserved_here() == Some("esac") {
                self.i += 4;
                return Ok(Compound::Case { subject, arms });
            }
            if self.peek() == Some('(') {
                self.i += 1;
                self.blanks();
            }
            let mut patterns = Vec::new();
            loop {
                self.blanks();
                let w = self.word(Mode::Word)?;
                if w.raw.is_empty() {
                    return if self.i >= self.s.len() {
                        self.error(self.i, "`esac` is missing")
                    } else {
                        self.unexpected()
                    };
                }
                patterns.push(w);
                self.blanks();
                if self.peek() == Some('|') {
                    self.i += 1;
                } else {
                    break;
                }
            }
            self.expect_char(')')?;
            let body = self.list()?;
            arms.push((patterns, body));
            self.blanks();
            if self.at_str(";;&") {
                self.i += 3;
            } else if self.at_str(";;") || self.at_str(";&") {
                self.i += 2;
            } else {
                self.expect_reserved("esac")?;
                return Ok(Compound::Case { subject, arms });
            }
        }
    }

    /// `[[ ... ]]`.
    fn test(&mut self) -> Res<Compound> {
        let start = self.i;
        self.i += 2;
        let mut words = Vec::new();
        loop {
            self.linebreaks()?;
            if self.at_str("]]") && self.peek_at(2).is_none_or(is_meta) {
                self.i += 2;
                return Ok(Compound::Test(words));
            }
            match self.peek() {
                None => return self.error(start, "`[[` is not closed with `]]`"),
                Some('&') if self.peek_at(1) == Some('&') => self.i += 2,
                Some('|') if self.peek_at(1) == Some('|') => self.i += 2,
                Some('(' | ')' | '<' | '>') => self.i += 1,
                _ => {
                    let w = self.word(Mode::Word)?;
                    if w.raw.is_empty() {
                        return self.unexpected();
                    }
                    let regex = w.raw == "=~";
                    words.push(w);
                    if regex {
                        self.blanks();
                        let r = self.word(Mode::Regex)?;
                        if r.raw.is_empty() {
                            return self.unexpected();
                        }
                        words.push(r);
                    }
                }
            }
        }
    }

    fn simple(&mut self) -> Res<Simple> {
        let start = self.i;
        let mut cmd = Simple::default();
        let mut declaration = false;
        loop {
            self.blanks();
            if let Some(r) = self.redirect()? {
                let item = Item::Redirect(r);
                if cmd.name.is_none() {
                    cmd.prefix.push(item);
                } else {
                    cmd.suffix.push(item);
                }
                continue;
            }
            match self.peek() {
                None | Some('\n' | ';' | '&' | '|' | ')') => break,
                Some('(') => return self.unexpected(),
                _ => {}
            }
            if (cmd.name.is_none() || declaration)
                && let Some(a) = self.assignment()?
            {
                if cmd.name.is_none() {
                    cmd.prefix.push(Item::Assign(a));
                } else {
                    cmd.suffix.push(Item::Assign(a));
                }
                continue;
            }
            let w = self.word(Mode::Word)?;
            if w.raw.is_empty() {
                return self.unexpected();
            }
            if cmd.name.is_none() {
                let base = w.raw.rsplit('/').next().unwrap_or(&w.raw);
                declaration = matches!(
                    base,
                    "export" | "local" | "declare" | "readonly" | "typeset"
                );
                cmd.name = Some(w);
            } else {
                cmd.suffix.push(Item::Word(w));
            }
        }
        if cmd.prefix.is_empty() && cmd.name.is_none() {
            if self.i >= self.s.len() {
                return self.error(start, "a command is missing here");
            }
            return self.unexpected();
        }
        Ok(cmd)
    }

    /// `NAME=...` at the current position.
    fn assignment(&mut self) -> Res<Option<Assign>> {
        let start = self.i;
        let mut k = self.i;
        if !self.s.get(k).is_some_and(|&c| is_name_start(c)) {
            return Ok(None);
        }
        while self.s.get(k).is_some_and(|&c| is_name_char(c)) {
            k += 1;
        }
        let name: String = self.s[start..k].iter().collect();
        if self.s.get(k) == Some(&'[') {
            let mut depth = 0usize;
            loop {
                match self.s.get(k) {
                    Some('[') => depth += 1,
                    Some(']') => {
                        depth -= 1;
                        if depth == 0 {
                            k += 1;
                            break;
                        }
                    }
                    Some(&c) if c == '\n' || c == ' ' || c == '\t' => return Ok(None),
                    None => return Ok(None),
                    _ => {}
                }
                k += 1;
            }
        }
        let append = self.s.get(k) == Some(&'+');
        if append {
            k += 1;
        }
        if self.s.get(k) != Some(&'=') {
            return Ok(None);
        }
        self.i = k + 1;
        let mut assign = Assign {
            start: self.global(start),
            name,
            append,
            value: None,
            elements: Vec::new(),
        };
        if self.peek() == Some('(') {
            self.enter()?;
            self.i += 1;
            loop {
                self.linebreaks()?;
                match self.peek() {
                    Some(')') => {
                        self.i += 1;
                        break;
                    }
                    None => return self.error(start, "the array is not closed with `)`"),
                    _ => {}
                }
                let w = self.word(Mode::Word)?;
                if w.raw.is_empty() {
                    return self.unexpected();
                }
                assign.elements.push(w);
            }
            self.leave();
        } else {
            assign.value = Some(self.word(Mode::Word)?);
        }
        Ok(Some(assign))
    }

    /// A redirection at the current position.
    fn redirect(&mut self) -> Res<Option<Redirect>> {
        let start = self.i;
        let mut k = self.i;
        while self.s.get(k).is_some_and(char::is_ascii_digit) {
            k += 1;
        }
        if k == start && self.s.get(k) == Some(&'{') {
            let mut j = k + 1;
            while self.s.get(j).is_some_and(|&c| is_name_char(c)) {
                j += 1;
            }
            if j > k + 1 && self.s.get(j) == Some(&'}') {
                k = j + 1;
            }
        }
        self.i = k;
        enum Kind {
            File,
            Duplicate,
            HereString,
            Heredoc(bool),
        }
        const OPS: &[(&str, u8)] = &[
            ("<<<", 2),
            ("<<-", 4),
            ("<<", 3),
            ("<>", 0),
            ("<&", 1),
            (">&", 1),
            (">>", 0),
            (">|", 0),
            ("&>>", 5),
            ("&>", 5),
            ("<", 0),
            (">", 0),
        ];
        let op = OPS
            .iter()
            .find(|(op, kind)| self.at_str(op) && (*kind != 5 || k == start));
        let Some(&(op, kind)) = op else {
            self.i = start;
            return Ok(None);
        };
        // `<(...)` and `>(...)` are process substitutions, words
        if matches!(op, "<" | ">") && self.peek_at(1) == Some('(') {
            self.i = start;
            return Ok(None);
        }
        let kind = match kind {
            1 => Kind::Duplicate,
            2 => Kind::HereString,
            3 => Kind::Heredoc(false),
            4 => Kind::Heredoc(true),
            _ => Kind::File,
        };
        self.i += op.len();
        self.blanks();
        let target = self.word(Mode::Word)?;
        if target.raw.is_empty() {
            return self.error(start, "the redirection has no target");
        }
        Ok(Some(match kind {
            Kind::Heredoc(strip_tabs) => {
                let delimiter = target
                    .raw
                    .chars()
                    .filter(|c| !matches!(c, '\'' | '"' | '\\'))
                    .collect();
                self.heredocs.push(Heredoc {
                    delimiter,
                    strip_tabs,
                    at: start,
                });
                Redirect {
                    target: None,
                    split: false,
                }
            }
            Kind::Duplicate | Kind::HereString => Redirect {
                target: Some(target),
                split: false,
            },
            Kind::File => Redirect {
                target: Some(target),
                split: true,
            },
        }))
    }

    /// The index after the `))` that closes an arithmetic expression whose
    /// text starts at `from`, or `None` when its parentheses close with a
    /// single `)` (so it is a subshell or substitution in parentheses) or
    /// never close.
    fn arithmetic_end(&self, from: usize) -> Option<usize> {
        let mut depth = 0usize;
        let mut k = from;
        while let Some(&c) = self.s.get(k) {
            match c {
                '(' => depth += 1,
                ')' if depth > 0 => depth -= 1,
                ')' => {
                    return (self.s.get(k + 1) == Some(&')')).then_some(k + 2);
                }
                '\\' => k += 1,
                '\'' | '"' | '`' => {
                    let close = self.s[k + 1..].iter().position(|&x| x == c)?;
                    k += close + 1;
                }
                _ => {}
            }
            k += 1;
        }
        None
    }

    /// A word (possibly empty) at the current position.
    fn word(&mut self, mode: Mode) -> Res<Word> {
        let start = self.i;
        let pieces = self.pieces(mode)?;
        Ok(Word {
            start: self.global(start),
            end: self.global_end(self.i),
            raw: self.s[start..self.i].iter().collect(),
            pieces,
        })
    }

    fn pieces(&mut self, mode: Mode) -> Res<Vec<PieceAt>> {
        let word_start = self.i;
        let mut out = Vec::new();
        let mut run = Run::default();
        let mut parens = 0usize;
        let mut braces = 0usize;
        loop {
            let Some(c) = self.peek() else {
                if let Mode::Expansion { open, .. } = mode {
                    return self.error(open, "`${` is not closed with `}`");
                }
                break;
            };
            let special = match mode {
                Mode::Word => is_meta(c),
                Mode::Regex => match c {
                    '(' => {
                        parens += 1;
                        false
                    }
                    ')' if parens > 0 => {
                        parens -= 1;
                        false
                    }
                    '|' | '<' | '>' => false,
                    _ => is_meta(c),
                },
                Mode::Expansion { .. } => match c {
                    '{' => {
                        braces += 1;
                        false
                    }
                    '}' if braces > 0 => {
                        braces -= 1;
                        false
                    }
                    '}' => true,
                    _ => false,
                },
            };
            if special {
                if matches!(c, '<' | '>')
                    && self.peek_at(1) == Some('(')
                    && self.i == word_start
                    && mode == Mode::Word
                {
                    let at = self.i;
                    self.enter()?;
                    self.i += 2;
                    let outer = std::mem::replace(&mut self.quoted, false);
                    let body = self.list()?;
                    self.expect_char(')')?;
                    self.quoted = outer;
                    self.leave();
                    self.push_piece(&mut out, at, Piece::ProcessSubstitution(body));
                    continue;
                }
                break;
            }
            let piece_start = self.i;
            let piece = match c {
                '\\' => match self.peek_at(1) {
                    Some('\n') => {
                        self.i += 2;
                        continue;
                    }
                    Some(e) => {
                        self.i += 2;
                        Piece::Escaped(e)
                    }
                    None => {
                        run.push('\\', piece_start);
                        self.i += 1;
                        continue;
                    }
                },
                '\'' if !matches!(mode, Mode::Expansion { quoted: true, .. }) => {
                    self.single_quoted()?
                }
                '"' => self.double_quoted()?,
                '$' => match self.dollar()? {
                    Some(p) => p,
                    None => {
                        run.push('$', piece_start);
                        continue;
                    }
                },
                '`' => self.backticks()?,
                _ => {
                    run.push(c, piece_start);
                    self.i += 1;
                    continue;
                }
            };
            self.flush(&mut run, piece_start, &mut out);
            self.push_piece(&mut out, piece_start, piece);
        }
        self.flush(&mut run, self.i, &mut out);
        Ok(out)
    }

    /// Ends the literal text gathered in `run` at `end`, as a piece.
    fn flush(&self, run: &mut Run, end: usize, out: &mut Vec<PieceAt>) {
        if !run.text.is_empty() {
            out.push(PieceAt {
                start: self.global(run.start),
                end: self.global_end(end),
                piece: Piece::Text(std::mem::take(&mut run.text)),
            });
        }
    }

    fn push_piece(&self, out: &mut Vec<PieceAt>, start: usize, piece: Piece) {
        out.push(PieceAt {
            start: self.global(start),
            end: self.global_end(self.i),
            piece,
        });
    }

    fn single_quoted(&mut self) -> Res<Piece> {
        let start = self.i;
        let Some(len) = self.s[start + 1..].iter().position(|&c| c == '\'') else {
            return self.error(start, "the single quote is not closed");
        };
        self.i = start + len + 2;
        Ok(Piece::Single(
            self.s[start + 1..start + 1 + len].iter().collect(),
        ))
    }

    fn double_quoted(&mut self) -> Res<Piece> {
        let start = self.i;
        self.enter()?;
        self.i += 1;
        let outer = std::mem::replace(&mut self.quoted, true);
        let mut inner = Vec::new();
        let mut run = Run::default();
        loop {
            let Some(c) = self.peek() else {
                return self.error(start, "the double quote is not closed");
            };
            let piece_start = self.i;
            let piece = match c {
                '"' => break,
                '\\' => match self.peek_at(1) {
                    Some('\n') => {
                        self.i += 2;
                        continue;
                    }
                    Some(e @ ('$' | '`' | '"' | '\\')) => {
                        self.i += 2;
                        Piece::Escaped(e)
                    }
                    _ => {
                        run.push('\\', piece_start);
                        self.i += 1;
                        continue;
                    }
                },
                '$' => match self.dollar()? {
                    Some(p) => p,
                    None => {
                        run.push('$', piece_start);
                        continue;
                    }
                },
                '`' => self.backticks()?,
                _ => {
                    run.push(c, piece_start);
                    self.i += 1;
                    continue;
                }
            };
            self.flush(&mut run, piece_start, &mut inner);
            self.push_piece(&mut inner, piece_start, piece);
        }
        self.flush(&mut run, self.i, &mut inner);
        self.i += 1;
        self.quoted = outer;
        self.leave();
        Ok(Piece::Double(inner))
    }

    /// The expansion at a `$`; `None` when the `$` is plain text (it is
    /// then consumed).
    fn dollar(&mut self) -> Res<Option<Piece>> {
        let start = self.i;
        let next = self.peek_at(1);
        let piece = match next {
            Some('(') => {
                if self.peek_at(2) == Some('(')
                    && let Some(end) = self.arithmetic_end(start + 3)
                {
                    self.i = end;
                    return Ok(Some(Piece::Arithmetic));
                }
                self.enter()?;
                self.i += 2;
                let outer = std::mem::replace(&mut self.quoted, false);
                let body_start = self.i;
                let body = self.list()?;
                self.linebreaks()?;
                let body_end = self.i;
                if self.peek() != Some(')') {
                    return if self.i >= self.s.len() {
                        self.error(start, "`$(` is not closed with `)`")
                    } else {
                        self.unexpected()
                    };
                }
                self.i += 1;
                self.quoted = outer;
                self.leave();
                Piece::Substitution {
                    body,
                    text: self.s[body_start..body_end].iter().collect(),
                    backtick: false,
                }
            }
            Some('{') => self.braced_parameter()?,
            Some('[') => {
                let mut depth = 0usize;
                let mut k = start + 1;
                loop {
                    match self.s.get(k) {
                        Some('[') => depth += 1,
                        Some(']') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        None => return self.error(start, "`$[` is not closed with `]`"),
                        _ => {}
                    }
                    k += 1;
                }
                self.i = k + 1;
                Piece::Arithmetic
            }
            Some('\'' | '"') if self.quoted => {
                self.i += 1;
                return Ok(None);
            }
            Some('\'') => {
                let mut k = start + 2;
                loop {
                    match self.s.get(k) {
                        Some('\\') => k += 2,
                        Some('\'') => break,
                        None => return self.error(start, "the `$'` quote is not closed"),
                        _ => k += 1,
                    }
                }
                self.i = k + 1;
                Piece::Single(self.s[start + 2..k].iter().collect())
            }
            Some('"') => {
                self.i += 1;
                self.double_quoted()?
            }
            Some(c) if is_name_start(c) => {
                let mut k = start + 1;
                while self.s.get(k).is_some_and(|&c| is_name_char(c)) {
                    k += 1;
                }
                self.i = k;
                Piece::Param(Param {
                    name: ParamName::Named(self.s[start + 1..k].iter().collect()),
                    indirect: false,
                    op: ParamOp::None,
                })
            }
            Some(c) if c.is_ascii_digit() => {
                self.i += 2;
                Piece::Param(Param {
                    name: if c == '0' {
                        ParamName::Special('0')
                    } else {
                        ParamName::Positional
                    },
                    indirect: false,
                    op: ParamOp::None,
                })
            }
            Some(c @ ('@' | '*' | '#' | '?' | '-' | '$' | '!')) => {
                self.i += 2;
                Piece::Param(Param {
                    name: ParamName::Special(c),
                    indirect: false,
                    op: ParamOp::None,
                })
            }
            _ => {
                self.i += 1;
                return Ok(None);
            }
        };
        Ok(Some(piece))
    }

    /// `${...}`.
    fn braced_parameter(&mut self) -> Res<Piece> {
        let start = self.i;
        self.enter()?;
        self.i += 2;
        let mut op = ParamOp::None;
        let mut indirect = false;
        let is_special =
            |c: Option<char>| matches!(c, Some('@' | '*' | '#' | '?' | '-' | '$' | '!'));
        if self.peek() == Some('#') && self.peek_at(1) != Some('}') {
            op = ParamOp::Length;
            self.i += 1;
        } else if self.peek() == Some('!') && self.peek_at(1) != Some('}') {
            indirect = true;
            self.i += 1;
        }
        let name_start = self.i;
        let name = match self.peek() {
            Some(c) if is_name_start(c) => {
                while self.peek().is_some_and(is_name_char) {
                    self.i += 1;
                }
                ParamName::Named(self.s[name_start..self.i].iter().collect())
            }
            Some(c) if c.is_ascii_digit() => {
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
                if c == '0' && self.i == name_start + 1 {
                    ParamName::Special('0')
                } else {
                    ParamName::Positional
                }
            }
            c if is_special(c) => {
                self.i += 1;
                ParamName::Special(c.unwrap_or('@'))
            }
            // bash rejects it only when expanding; ShellCheck reads it as
            // an expansion of something unknown, and so do we
            _ => ParamName::Named(String::new()),
        };
        let name = match (name, self.peek()) {
            (ParamName::Named(n), Some('[')) => {
                let index_start = self.i + 1;
                let mut depth = 0usize;
                loop {
                    match self.peek() {
                        Some('[') => depth += 1,
                        Some(']') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        None => {
                            return self.error(start, "the subscript in `${...}` is not closed");
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
                let index: String = self.s[index_start..self.i].iter().collect();
                self.i += 1;
                if index == "@" || index == "*" {
                    ParamName::AllIndices(n)
                } else {
                    ParamName::Indexed(n)
                }
            }
            (name, _) => name,
        };
        if indirect {
            if matches!(name, ParamName::AllIndices(_)) {
                op = ParamOp::Names;
            } else if matches!(self.peek(), Some('*' | '@')) && self.peek_at(1) == Some('}') {
                self.i += 1;
                op = ParamOp::Names;
            }
        }
        let word_op = match (self.peek(), self.peek_at(1)) {
            (Some('}'), _) => None,
            _ if op == ParamOp::Length => Some(ParamOp::Length),
            (Some(':'), Some('-' | '=' | '?')) => {
                self.i += 2;
                Some(ParamOp::Default)
            }
            (Some(':'), Some('+')) => {
                self.i += 2;
                Some(ParamOp::Alternative)
            }
            (Some('-' | '=' | '?'), _) => {
                self.i += 1;
                Some(ParamOp::Default)
            }
            (Some('+'), _) => {
                self.i += 1;
                Some(ParamOp::Alternative)
            }
            (Some('#' | '%' | '/' | ':' | '^' | ',' | '@'), _) => {
                self.i += 1;
                Some(ParamOp::Other)
            }
            // not an operator bash knows: read on to the `}` all the same
            _ => Some(ParamOp::Other),
        };
        if let Some(word_op) = word_op {
            if op == ParamOp::None {
                op = word_op;
            }
            // the word is read to find the end; its pieces are not checked
            let quoted = self.quoted;
            self.pieces(Mode::Expansion {
                quoted,
                open: start,
            })?;
        }
        if self.peek() != Some('}') {
            return self.error(start, "`${` is not closed with `}`");
        }
        self.i += 1;
        self.leave();
        Ok(Piece::Param(Param { name, indirect, op }))
    }

    /// A backtick substitution: its body is unescaped and parsed with a
    /// map back to the script (the places ShellCheck gives).
    fn backticks(&mut self) -> Res<Piece> {
        let start = self.i;
        self.enter()?;
        self.i += 1;
        let mut body = Vec::new();
        let mut map = Vec::new();
        // ShellCheck places what is inside as if the unescaped text were
        // written from the opening backtick on: columns on a line shift
        // left by the backslashes removed before them
        let mut at = self.global(self.i);
        loop {
            match self.peek() {
                None => return self.error(start, "the backtick is not closed"),
                Some('`') => {
                    self.i += 1;
                    break;
                }
                Some('\\') if matches!(self.peek_at(1), Some('$' | '`' | '\\')) => {
                    body.push(self.s[self.i + 1]);
                    map.push(at);
                    at += 1;
                    self.i += 2;
                }
                Some(c) => {
                    body.push(c);
                    map.push(at);
                    at = if c == '\n' {
                        self.global(self.i) + 1
                    } else {
                        at + 1
                    };
                    self.i += 1;
                }
            }
        }
        let mut inner = Parser {
            s: &body,
            map: Some(&map),
            i: 0,
            depth: self.depth,
            heredocs: Vec::new(),
            quoted: false,
        };
        let script = inner.whole()?;
        self.leave();
        Ok(Piece::Substitution {
            body: script,
            text: body.iter().collect(),
            backtick: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Script, SyntaxError> {
        parse(&s.chars().collect::<Vec<_>>())
    }

    fn simple(s: &Script) -> &Simple {
        match &s.items[0].pipelines[0].commands[0] {
            Command::Simple(c) => c,
            other => panic!("not simple: {other:?}"),
        }
    }

    #[test]
    fn simple_commands_words_and_pieces() {
        let s = parse_str("A=1 B=\"x y\" cmd -o \"$x\" ${y:-z} $(date) `id` >out 2>&1").unwrap();
        let c = simple(&s);
        assert_eq!(c.prefix.len(), 2);
        assert_eq!(c.name.as_ref().unwrap().raw, "cmd");
        assert_eq!(c.suffix.len(), 7);
        let Item::Word(w) = &c.suffix[1] else {
            panic!()
        };
        assert_eq!((w.start, w.end), (19, 23));
        let [
            PieceAt {
                piece: Piece::Double(inner),
                ..
            },
        ] = w.pieces.as_slice()
        else {
            panic!("{w:?}")
        };
        assert!(matches!(
            &inner[0],
            PieceAt {
                start: 20,
                end: 22,
                piece: Piece::Param(_)
            }
        ));
        let Item::Word(w) = &c.suffix[4] else {
            panic!()
        };
        let [
            PieceAt {
                piece:
                    Piece::Substitution {
                        backtick: true,
                        text,
                        ..
                    },
                ..
            },
        ] = w.pieces.as_slice()
        else {
            panic!("{w:?}")
        };
        assert_eq!(text, "id");
    }

    #[test]
    fn compound_commands() {
        for ok in [
            "if a; then b; elif c; then d; else e; fi",
            "while read -r l; do echo \"$l\"; done < f",
            "for x in a b; do :; done; for y; do :; done; for ((i=0;i<3;i++)); do :; done",
            "case $x in a|b) x ;; (c) ;; *) y;; esac",
            "case $x in\n  a) echo\n  ;;\nesac",
            "{ a; b; } > f; (c; d) | e",
            "f() { :; }; function g { :; }; function h() ( : )",
            "[[ -f $x && $y =~ ^(a|b)$ ]] || ! [ x ]",
            "((i++)); x=$((1 + (2 * 3))); y=$( (echo) )",
            "a=(1 \"2 3\" $x); declare -a b=(x y); export C=$(d)",
            "cat <<EOF\n$x `y`\nEOF\necho $(cat <<-X\n\tbody\n\tX\n)",
            "echo ${#a[@]} ${!p*} ${a[${i}]} ${x//a/b} ${x:1:2} \"${x:-it's}\"",
            "echo a # comment ) ;;\n# only a comment",
            "diff <(a) >(b); time -p make; coproc x",
            "echo \\\n  a && \\\n b",
            "case x in x) echo $(case y in y) z;; esac);; esac",
        ] {
            if let Err(e) = parse_str(ok) {
                panic!("{ok:?}: {e:?}");
            }
        }
    }

    #[test]
    fn syntax_errors_say_where() {
        for (bad, at) in [
            ("if true; then", 13),
            ("echo 'a", 5),
            ("echo \"a", 5),
            ("echo $(a", 5),
            ("echo ${a", 5),
            ("a && ", 5),
            ("echo )", 5),
            ("cat <<EOF\nx\n", 4),
            ("for 1 in a; do :; done", 4),
            ("{ a }", 5),
            ("echo `a", 5),
            ("fi", 0),
            ("; a", 0),
        ] {
            let e = parse_str(bad).unwrap_err();
            assert_eq!(e.at, at, "{bad:?}: {e:?}");
        }
    }

    #[test]
    fn backtick_positions_map_back() {
        let s = parse_str("echo `a \\`b $x\\``").unwrap();
        let c = simple(&s);
        let Item::Word(w) = &c.suffix[0] else {
            panic!()
        };
        let Piece::Substitution { body, .. } = &w.pieces[0].piece else {
            panic!()
        };
        let Command::Simple(inner) = &body.items[0].pipelines[0].commands[0] else {
            panic!()
        };
        let Item::Word(w) = &inner.suffix[0] else {
            panic!()
        };
        // the inner backticks are escaped in the script
        let Piece::Substitution { body, .. } = &w.pieces[0].piece else {
            panic!("{w:?}")
        };
        let Command::Simple(inner) = &body.items[0].pipelines[0].commands[0] else {
            panic!()
        };
        let Item::Word(x) = &inner.suffix[0] else {
            panic!()
        };
        // at the column ShellCheck gives: the removed backslashes shift it
        assert_eq!(x.start, 11);
        assert_eq!(x.raw, "$x");
    }

    #[test]
    fn nesting_is_capped_and_time_linear() {
        let deep = format!("{}{}", "( ".repeat(200), ") ".repeat(200));
        assert!(
            parse_str(&deep)
                .unwrap_err()
                .message
                .contains("nests deeper")
        );
        // `((` ... `))` with nothing else is arithmetic, however deep
        let arithmetic = format!("{}{}", "(".repeat(200), ")".repeat(200));
        assert!(parse_str(&arithmetic).is_ok());
        let deep = "$(".repeat(100);
        assert!(parse_str(&deep).is_err());
        // inputs that made the PEG parser exponential
        let long = "${A[".repeat(50) + &"]}".repeat(50);
        assert!(parse_str(&format!("x={long}")).is_ok());
        let many = "((((((((((((((((((((((((((()".to_string();
        assert!(parse_str(&many).is_err());
        let wide = "a[1]b[2]`c`$[1]".repeat(500);
        let _ = parse_str(&wide);
    }
}
