//! Semantic versions as npm orders them (node-semver: build metadata ignored,
//! a pre-release sorts before its release, numeric identifiers before
//! alphanumeric ones), and npm range expressions (`||`, hyphen ranges,
//! X-ranges, `~`, `^`, with npm's pre-release rule: a pre-release satisfies a
//! set only if a comparator in it names a pre-release of the same
//! `major.minor.patch`).

use std::cmp::Ordering;
use std::fmt;

/// Largest number npm accepts (JavaScript's `Number.MAX_SAFE_INTEGER`).
const MAX_SAFE: u64 = 9_007_199_254_740_991;

/// A pre-release identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ident {
    /// Digits only.
    Num(u64),
    /// Anything else.
    Alnum(String),
}

impl Ord for Ident {
    fn cmp(&self, o: &Self) -> Ordering {
        match (self, o) {
            (Ident::Num(a), Ident::Num(b)) => a.cmp(b),
            (Ident::Num(_), Ident::Alnum(_)) => Ordering::Less,
            (Ident::Alnum(_), Ident::Num(_)) => Ordering::Greater,
            (Ident::Alnum(a), Ident::Alnum(b)) => a.cmp(b),
        }
    }
}
impl PartialOrd for Ident {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// A semantic version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
    /// Pre-release identifiers.
    pub pre: Vec<Ident>,
}

impl Version {
    fn new(major: u64, minor: u64, patch: u64, pre: Vec<Ident>) -> Self {
        Version {
            major,
            minor,
            patch,
            pre,
        }
    }
    /// Parse strictly (an optional leading `v`, as npm allows).
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        if s.len() > 256 {
            return None;
        }
        let s = s.strip_prefix('v').unwrap_or(s);
        let (core, rest) = match s.find(['-', '+']) {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        };
        let mut it = core.split('.');
        let major = num(it.next()?)?;
        let minor = num(it.next()?)?;
        let patch = num(it.next()?)?;
        if it.next().is_some() {
            return None;
        }
        let (pre, build) = match rest.strip_prefix('-') {
            Some(r) => match r.split_once('+') {
                Some((p, b)) => (Some(p), Some(b)),
                None => (Some(r), None),
            },
            None => (None, rest.strip_prefix('+')),
        };
        if rest.starts_with('+') || build.is_some() {
            let b = build?;
            if b.split('.')
                .any(|x| x.is_empty() || !x.bytes().all(ident_char))
            {
                return None;
            }
        }
        let pre = match pre {
            None => Vec::new(),
            Some(p) => parse_pre(p)?,
        };
        Some(Version::new(major, minor, patch, pre))
    }
}

fn ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

fn num(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    let n: u64 = s.parse().ok()?;
    (n <= MAX_SAFE).then_some(n)
}

fn parse_pre(p: &str) -> Option<Vec<Ident>> {
    p.split('.')
        .map(|x| {
            if x.is_empty() || !x.bytes().all(ident_char) {
                None
            } else if x.bytes().all(|c| c.is_ascii_digit()) {
                num(x).map(Ident::Num)
            } else {
                Some(Ident::Alnum(x.to_string()))
            }
        })
        .collect()
}

impl Ord for Version {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&o.pre),
            })
    }
}
impl PartialOrd for Version {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        for (i, p) in self.pre.iter().enumerate() {
            f.write_str(if i == 0 { "-" } else { "." })?;
            match p {
                Ident::Num(n) => write!(f, "{n}")?,
                Ident::Alnum(s) => f.write_str(s)?,
            }
        }
        Ok(())
    }
}

/// Compare two versions; `None` if either is not a valid semver.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(Version::parse(a)?.cmp(&Version::parse(b)?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

#[derive(Debug, Clone)]
struct Comparator {
    op: Op,
    v: Version,
}

impl Comparator {
    fn test(&self, v: &Version) -> bool {
        let o = v.cmp(&self.v);
        match self.op {
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
            Op::Eq => o == Ordering::Equal,
        }
    }
}

/// An npm range: a union of comparator sets (an empty set matches anything).
#[derive(Debug, Clone)]
pub struct Range {
    sets: Vec<Vec<Comparator>>,
}

/// Why a range did not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid npm range `{0}`")]
pub struct RangeError(pub String);

/// A partial version: numbers, or `None` for a missing/X component.
#[derive(Debug)]
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: Vec<Ident>,
}

fn parse_partial(s: &str) -> Option<Partial> {
    let s = s.trim_start_matches(['v', '=']);
    if s.is_empty() {
        return None;
    }
    let (core, rest) = match s.find(['-', '+']) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let mut parts = core.split('.');
    let comp = |p: Option<&str>| -> Option<Option<u64>> {
        match p {
            None => Some(None),
            Some("x" | "X" | "*") => Some(None),
            Some(n) => num(n).map(Some),
        }
    };
    let major = comp(Some(parts.next()?))?;
    let minor = comp(parts.next())?;
    let patch = comp(parts.next())?;
    if parts.next().is_some() {
        return None;
    }
    // Pre-release and build only after a full M.m.p.
    let pre = if rest.is_empty() {
        Vec::new()
    } else {
        patch?;
        let (p, b) = match rest.strip_prefix('-') {
            Some(r) => match r.split_once('+') {
                Some((p, b)) => (Some(p), Some(b)),
                None => (Some(r), None),
            },
            None => (None, rest.strip_prefix('+')),
        };
        if let Some(b) = b
            && b.split('.')
                .any(|x| x.is_empty() || !x.bytes().all(ident_char))
        {
            return None;
        }
        match p {
            Some(p) => parse_pre(p)?,
            None => Vec::new(),
        }
    };
    // "1.x.3" is read as "1.x".
    let (minor, patch) = if minor.is_none() {
        (None, None)
    } else {
        (minor, patch)
    };
    let major_x = major.is_none();
    Some(Partial {
        major,
        minor: if major_x { None } else { minor },
        patch: if major_x { None } else { patch },
        pre,
    })
}

fn v(m: u64, n: u64, p: u64) -> Version {
    Version::new(m, n, p, Vec::new())
}
fn v0(m: u64, n: u64, p: u64) -> Version {
    Version::new(m, n, p, vec![Ident::Num(0)])
}
fn c(op: Op, v: Version) -> Comparator {
    Comparator { op, v }
}

/// Nothing matches this (npm writes it `<0.0.0-0`).
fn nothing() -> Comparator {
    c(Op::Lt, v0(0, 0, 0))
}

fn tilde(p: &Partial) -> Vec<Comparator> {
    match (p.major, p.minor, p.patch) {
        (None, _, _) => vec![],
        (Some(m), None, _) => vec![c(Op::Ge, v(m, 0, 0)), c(Op::Lt, v0(m + 1, 0, 0))],
        (Some(m), Some(n), None) => vec![c(Op::Ge, v(m, n, 0)), c(Op::Lt, v0(m, n + 1, 0))],
        (Some(m), Some(n), Some(x)) => vec![
            c(Op::Ge, Version::new(m, n, x, p.pre.clone())),
            c(Op::Lt, v0(m, n + 1, 0)),
        ],
    }
}

fn caret(p: &Partial) -> Vec<Comparator> {
    match (p.major, p.minor, p.patch) {
        (None, _, _) => vec![],
        (Some(m), None, _) => vec![c(Op::Ge, v(m, 0, 0)), c(Op::Lt, v0(m + 1, 0, 0))],
        (Some(m), Some(n), None) => {
            if m == 0 {
                vec![c(Op::Ge, v(0, n, 0)), c(Op::Lt, v0(0, n + 1, 0))]
            } else {
                vec![c(Op::Ge, v(m, n, 0)), c(Op::Lt, v0(m + 1, 0, 0))]
            }
        }
        (Some(m), Some(n), Some(x)) => {
            let lo = c(Op::Ge, Version::new(m, n, x, p.pre.clone()));
            let hi = if m != 0 {
                v0(m + 1, 0, 0)
            } else if n != 0 {
                v0(0, n + 1, 0)
            } else {
                v0(0, 0, x + 1)
            };
            vec![lo, c(Op::Lt, hi)]
        }
    }
}

fn xrange(op: Option<Op>, p: &Partial) -> Vec<Comparator> {
    let any_x = p.patch.is_none();
    let op = if op == Some(Op::Eq) && any_x {
        None
    } else {
        op
    };
    let Some(major) = p.major else {
        return match op {
            Some(Op::Gt) | Some(Op::Lt) => vec![nothing()],
            _ => vec![],
        };
    };
    match op {
        Some(mut o) if any_x => {
            let (mut m, mut n) = (major, p.minor.unwrap_or(0));
            let minor_x = p.minor.is_none();
            if o == Op::Gt {
                o = Op::Ge;
                if minor_x {
                    m += 1;
                    n = 0;
                } else {
                    n += 1;
                }
            } else if o == Op::Le {
                o = Op::Lt;
                if minor_x {
                    m += 1;
                } else {
                    n += 1;
                }
            }
            let ver = if o == Op::Lt { v0(m, n, 0) } else { v(m, n, 0) };
            vec![c(o, ver)]
        }
        _ if p.minor.is_none() => vec![c(Op::Ge, v(major, 0, 0)), c(Op::Lt, v0(major + 1, 0, 0))],
        _ if any_x => {
            let n = p.minor.unwrap_or(0);
            vec![c(Op::Ge, v(major, n, 0)), c(Op::Lt, v0(major, n + 1, 0))]
        }
        o => {
            let ver = Version::new(
                major,
                p.minor.unwrap_or(0),
                p.patch.unwrap_or(0),
                p.pre.clone(),
            );
            vec![c(o.unwrap_or(Op::Eq), ver)]
        }
    }
}

fn hyphen(from: &Partial, to: &Partial) -> Vec<Comparator> {
    let mut out = Vec::new();
    if let Some(m) = from.major {
        let ver = match (from.minor, from.patch) {
            (None, _) => v(m, 0, 0),
            (Some(n), None) => v(m, n, 0),
            (Some(n), Some(x)) => Version::new(m, n, x, from.pre.clone()),
        };
        out.push(c(Op::Ge, ver));
    }
    if let Some(m) = to.major {
        out.push(match (to.minor, to.patch) {
            (None, _) => c(Op::Lt, v0(m + 1, 0, 0)),
            (Some(n), None) => c(Op::Lt, v0(m, n + 1, 0)),
            (Some(n), Some(x)) => c(Op::Le, Version::new(m, n, x, to.pre.clone())),
        });
    }
    out
}

fn parse_set(s: &str) -> Option<Vec<Comparator>> {
    let s = s.trim();
    let words: Vec<&str> = s.split_whitespace().collect();
    if words.len() == 3 && words[1] == "-" {
        return Some(hyphen(&parse_partial(words[0])?, &parse_partial(words[2])?));
    }
    // Join an operator written apart from its version (`>= 1.2.3`).
    let mut toks: Vec<String> = Vec::new();
    let mut pending: Option<String> = None;
    for w in words {
        let is_op = matches!(w, "<" | "<=" | ">" | ">=" | "=" | "~" | "~>" | "^");
        match pending.take() {
            Some(op) => toks.push(format!("{op}{w}")),
            None if is_op => pending = Some(w.to_string()),
            None => toks.push(w.to_string()),
        }
    }
    if pending.is_some() {
        return None;
    }
    let mut out = Vec::new();
    for t in toks {
        let t = t.as_str();
        let (kind, rest) = if let Some(r) = t.strip_prefix("~>") {
            ("~", r)
        } else if let Some(r) = t.strip_prefix('~') {
            ("~", r)
        } else if let Some(r) = t.strip_prefix('^') {
            ("^", r)
        } else if let Some(r) = t.strip_prefix(">=") {
            (">=", r)
        } else if let Some(r) = t.strip_prefix("<=") {
            ("<=", r)
        } else if let Some(r) = t.strip_prefix('>') {
            (">", r)
        } else if let Some(r) = t.strip_prefix('<') {
            ("<", r)
        } else if let Some(r) = t.strip_prefix('=') {
            ("=", r)
        } else {
            ("", t)
        };
        let p = parse_partial(rest)?;
        out.extend(match kind {
            "~" => tilde(&p),
            "^" => caret(&p),
            ">=" => xrange(Some(Op::Ge), &p),
            "<=" => xrange(Some(Op::Le), &p),
            ">" => xrange(Some(Op::Gt), &p),
            "<" => xrange(Some(Op::Lt), &p),
            "=" => xrange(Some(Op::Eq), &p),
            _ => xrange(None, &p),
        });
    }
    Some(out)
}

impl Range {
    /// Parse an npm range expression.
    pub fn parse(s: &str) -> Result<Range, RangeError> {
        let sets = s
            .split("||")
            .map(parse_set)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| RangeError(s.to_string()))?;
        Ok(Range { sets })
    }

    /// Whether `v` satisfies the range (npm's rules, pre-releases excluded
    /// unless a comparator in the same set names one of the same tuple).
    pub fn satisfies(&self, v: &Version) -> bool {
        self.sets.iter().any(|set| {
            if !set.iter().all(|c| c.test(v)) {
                return false;
            }
            if v.pre.is_empty() {
                return true;
            }
            set.iter().any(|c| {
                !c.v.pre.is_empty()
                    && (c.v.major, c.v.minor, c.v.patch) == (v.major, v.minor, v.patch)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sat(r: &str, ver: &str) -> bool {
        Range::parse(r)
            .unwrap()
            .satisfies(&Version::parse(ver).unwrap())
    }

    #[test]
    fn ordering() {
        let asc = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.10.0",
            "2.0.0",
        ];
        for w in asc.windows(2) {
            assert_eq!(compare(w[0], w[1]), Some(Ordering::Less), "{w:?}");
        }
        assert_eq!(compare("1.0.0+build", "1.0.0"), Some(Ordering::Equal));
        assert_eq!(compare("01.0.0", "1.0.0"), None);
    }

    #[test]
    fn ranges() {
        assert!(sat("^1.2.3", "1.9.0"));
        assert!(!sat("^1.2.3", "2.0.0"));
        assert!(!sat("^1.2.3", "2.0.0-0"));
        assert!(sat("^0.2.3", "0.2.9"));
        assert!(!sat("^0.2.3", "0.3.0"));
        assert!(sat("~1.2", "1.2.9"));
        assert!(sat("1.2.3 - 2.3", "2.3.9"));
        assert!(!sat("1.2.3 - 2.3", "2.4.0"));
        assert!(sat(">=1.2.7 <1.3.0 || >=2", "2.1.0"));
        assert!(!sat(">1.2.3-alpha.3", "3.4.5-alpha.9"));
        assert!(sat(">1.2.3-alpha.3", "1.2.3-alpha.7"));
        assert!(sat("*", "1.0.0"));
        assert!(!sat("*", "1.0.0-rc.1"));
        assert!(sat(">= 1.2.3", "1.2.3"));
        assert!(!sat("<1", "1.0.0"));
        assert!(Range::parse(">=").is_err());
    }
}
