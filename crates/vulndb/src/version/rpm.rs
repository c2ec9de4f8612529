//! RPM versions (`[epoch:]version[-release]`), ordered like rpm's
//! `rpmvercmp`: alternating digit and letter segments, other characters are
//! separators, digits beat letters, `~` sorts before everything (even the
//! end) and `^` after the end but before any further segment.

use std::cmp::Ordering;

/// Compare two RPM EVR strings.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = split_evr(a);
    let (eb, vb, rb) = split_evr(b);
    ea.cmp(&eb)
        .then_with(|| rpmvercmp(va, vb))
        .then_with(|| match (ra, rb) {
            (Some(x), Some(y)) => rpmvercmp(x, y),
            // A missing release matches any release (rpm's rule for ranges).
            _ => Ordering::Equal,
        })
}

fn split_evr(s: &str) -> (u64, &str, Option<&str>) {
    let s = s.trim();
    let (epoch, rest) = match s.split_once(':') {
        Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
        _ => (0, s),
    };
    match rest.rsplit_once('-') {
        Some((v, r)) => (epoch, v, Some(r)),
        None => (epoch, rest, None),
    }
}

/// rpm's segment comparison of one version or release string.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        while i < a.len() && !a[i].is_ascii_alphanumeric() && a[i] != b'~' && a[i] != b'^' {
            i += 1;
        }
        while j < b.len() && !b[j].is_ascii_alphanumeric() && b[j] != b'~' && b[j] != b'^' {
            j += 1;
        }
        // Tilde: older than anything, including the end.
        let ta = i < a.len() && a[i] == b'~';
        let tb = j < b.len() && b[j] == b'~';
        if ta || tb {
            if ta && tb {
                i += 1;
                j += 1;
                continue;
            }
            return if ta {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        // Caret: newer than the end, older than any further segment.
        let ca = i < a.len() && a[i] == b'^';
        let cb = j < b.len() && b[j] == b'^';
        if ca || cb {
            if i >= a.len() {
                return Ordering::Less;
            }
            if j >= b.len() {
                return Ordering::Greater;
            }
            if ca && cb {
                i += 1;
                j += 1;
                continue;
            }
            return if ca {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if i >= a.len() || j >= b.len() {
            break;
        }
        let numeric = a[i].is_ascii_digit();
        let (si, sj) = (i, j);
        if numeric {
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
        } else {
            while i < a.len() && a[i].is_ascii_alphabetic() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_alphabetic() {
                j += 1;
            }
        }
        let (x, y) = (&a[si..i], &b[sj..j]);
        if y.is_empty() {
            // Segment types differ: a number beats letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if numeric {
            let x = trim_zeros(x);
            let y = trim_zeros(y);
            x.len().cmp(&y.len()).then_with(|| x.cmp(y))
        } else {
            x.cmp(y)
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    let ra = i < a.len();
    let rb = j < b.len();
    match (ra, rb) {
        (false, false) => Ordering::Equal,
        (true, _) => Ordering::Greater,
        (_, true) => Ordering::Less,
    }
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b'0').count();
    &s[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    // Examples from rpm's own test suite (rpmvercmp.at) and the rpm docs.
    #[test]
    fn rpmvercmp_documented_examples() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1.0", Ordering::Equal),
            ("1.0", "2.0", Ordering::Less),
            ("2.0.1", "2.0.1", Ordering::Equal),
            ("2.0", "2.0.1", Ordering::Less),
            ("2.0.1a", "2.0.1", Ordering::Greater),
            ("5.5p1", "5.5p2", Ordering::Less),
            ("5.5p10", "5.5p1", Ordering::Greater),
            ("10xyz", "10.1xyz", Ordering::Less),
            ("xyz10", "xyz10.1", Ordering::Less),
            ("xyz.4", "8", Ordering::Less),
            ("xyz.4", "2", Ordering::Less),
            ("5.5p2", "5.6p1", Ordering::Less),
            ("5.6p1", "6.5p1", Ordering::Less),
            ("6.0.rc1", "6.0", Ordering::Greater),
            ("10b2", "10a1", Ordering::Greater),
            ("1.0aa", "1.0a", Ordering::Greater),
            ("10.0001", "10.1", Ordering::Equal),
            ("10.0001", "10.0039", Ordering::Less),
            ("4.999.9", "5.0", Ordering::Less),
            ("20101121", "20101122", Ordering::Less),
            ("2_0", "2_0", Ordering::Equal),
            ("2.0", "2_0", Ordering::Equal),
            ("a", "a", Ordering::Equal),
            ("a+", "a_", Ordering::Equal),
            ("+", "_", Ordering::Equal),
            ("1.0~rc1", "1.0~rc1", Ordering::Equal),
            ("1.0~rc1", "1.0", Ordering::Less),
            ("1.0~rc1", "1.0~rc2", Ordering::Less),
            ("1.0~rc1~git123", "1.0~rc1", Ordering::Less),
            ("1.0^", "1.0", Ordering::Greater),
            ("1.0^git1", "1.0", Ordering::Greater),
            ("1.0^git1", "1.0^git2", Ordering::Less),
            ("1.0^git1", "1.01", Ordering::Less),
            ("1.0^20160101", "1.0.1", Ordering::Less),
            ("1.0~rc1^git1", "1.0~rc1", Ordering::Greater),
            ("1.0^git1~pre", "1.0^git1", Ordering::Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(rpmvercmp(a, b), *want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn epoch_and_release() {
        assert_eq!(compare("1:1.0-1", "2.0-1"), Ordering::Greater);
        assert_eq!(compare("1.0-2.el9", "1.0-10.el9"), Ordering::Less);
        assert_eq!(compare("0:3.0.7-24.el9", "3.0.7-24.el9"), Ordering::Equal);
        assert_eq!(compare("3.0.7", "3.0.7-24.el9"), Ordering::Equal);
    }
}
