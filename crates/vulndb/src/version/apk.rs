//! Alpine package versions, ordered like apk-tools: dot-separated numbers,
//! an optional letter, `_suffix[N]` (`_alpha` < `_beta` < `_pre` < `_rc` <
//! none < `_cvs` < `_svn` < `_git` < `_hg` < `_p`), then `-rN`.

use std::cmp::Ordering;

#[derive(Debug, PartialEq, Eq)]
enum Tok<'a> {
    Num(&'a str),
    Letter(u8),
    Suffix(i8, &'a str),
    Rev(&'a str),
    End,
}

fn suffix_rank(s: &str) -> Option<i8> {
    Some(match s {
        "alpha" => -4,
        "beta" => -3,
        "pre" => -2,
        "rc" => -1,
        "cvs" => 1,
        "svn" => 2,
        "git" => 3,
        "hg" => 4,
        "p" => 5,
        _ => return None,
    })
}

fn tokens(s: &str) -> Vec<Tok<'_>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            let st = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Tok::Num(&s[st..i]));
        } else if c == b'.' {
            i += 1;
        } else if c == b'_' {
            i += 1;
            let st = i;
            while i < b.len() && b[i].is_ascii_lowercase() {
                i += 1;
            }
            let rank = suffix_rank(&s[st..i]).unwrap_or(0);
            let ns = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Tok::Suffix(rank, &s[ns..i]));
        } else if c == b'-' && b.get(i + 1) == Some(&b'r') {
            i += 2;
            let st = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Tok::Rev(&s[st..i]));
        } else if c.is_ascii_lowercase() {
            out.push(Tok::Letter(c));
            i += 1;
        } else {
            i += 1;
        }
    }
    out.push(Tok::End);
    out
}

fn num_cmp(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Compare two apk versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    let ta = tokens(a.trim());
    let tb = tokens(b.trim());
    for (x, y) in ta.iter().zip(tb.iter()) {
        let o = match (x, y) {
            (Tok::Num(p), Tok::Num(q)) => num_cmp(p, q),
            (Tok::Letter(p), Tok::Letter(q)) => p.cmp(q),
            (Tok::Suffix(r1, n1), Tok::Suffix(r2, n2)) => r1.cmp(r2).then_with(|| num_cmp(n1, n2)),
            (Tok::Rev(p), Tok::Rev(q)) => num_cmp(p, q),
            (Tok::End, Tok::End) => Ordering::Equal,
            _ => rank(x).cmp(&rank(y)),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Order between different token kinds at the same position: a pre-release
/// suffix sorts before the end, a post-release suffix, a letter or a further
/// number after it.
fn rank(t: &Tok<'_>) -> i32 {
    match t {
        Tok::Suffix(r, _) if *r < 0 => 0,
        Tok::End => 1,
        Tok::Rev(_) => 2,
        Tok::Suffix(_, _) => 3,
        Tok::Letter(_) => 4,
        Tok::Num(_) => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Orderings from apk-tools' version rules (apk-version(8) and
    // Alpine's APKBUILD reference).
    #[test]
    fn documented_orderings() {
        let ascending = [
            "1.0_alpha",
            "1.0_alpha2",
            "1.0_beta",
            "1.0_pre1",
            "1.0_rc1",
            "1.0",
            "1.0-r1",
            "1.0-r2",
            "1.0-r10",
            "1.0_cvs20200101",
            "1.0_svn",
            "1.0_git20230101",
            "1.0_hg",
            "1.0_p1",
            "1.0_p2",
            "1.0a",
            "1.0b",
            "1.0.1",
            "1.1",
            "1.10",
            "2",
        ];
        for w in ascending.windows(2) {
            assert_eq!(compare(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
            assert_eq!(
                compare(w[1], w[0]),
                Ordering::Greater,
                "{} > {}",
                w[1],
                w[0]
            );
        }
        assert_eq!(compare("3.1.4-r01", "3.1.4-r1"), Ordering::Equal);
        assert_eq!(compare("1.2.3_p1-r0", "1.2.3-r5"), Ordering::Greater);
        assert_eq!(compare("3.3.2-r0", "3.3.10-r0"), Ordering::Less);
    }
}
