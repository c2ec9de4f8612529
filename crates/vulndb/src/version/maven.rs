//! Maven versions, ordered like Maven's `ComparableVersion`: items split on
//! `.`, `-` and digit/letter transitions (each `-` or transition opens a
//! sub-list), trailing "null" items dropped, numbers before qualifiers, and
//! qualifiers ordered alpha < beta < milestone < rc < snapshot < (release) <
//! sp < anything else (alphabetically).

use std::cmp::Ordering;

#[derive(Debug, Clone)]
enum Item {
    Int(String),
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

fn qualifier_key(q: &str) -> String {
    match QUALIFIERS.iter().position(|x| *x == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

fn release_key() -> String {
    qualifier_key("")
}

fn string_item(s: &str, followed_by_digit: bool) -> Item {
    let s = if followed_by_digit && s.len() == 1 {
        match s {
            "a" => "alpha",
            "b" => "beta",
            "m" => "milestone",
            other => other,
        }
    } else {
        s
    };
    let s = match s {
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    Item::Str(s.to_string())
}

fn parse_item(s: &str, digit: bool) -> Item {
    if digit {
        Item::Int(s.trim_start_matches('0').to_string())
    } else {
        string_item(s, false)
    }
}

fn is_null(i: &Item) -> bool {
    match i {
        Item::Int(v) => v.is_empty(),
        Item::Str(s) => qualifier_key(s) == release_key(),
        Item::List(l) => l.is_empty(),
    }
}

fn normalize(l: &mut Vec<Item>) {
    let mut i = l.len();
    while i > 0 {
        i -= 1;
        if is_null(&l[i]) {
            l.remove(i);
        } else if !matches!(l[i], Item::List(_)) {
            break;
        }
    }
}

/// Parse into the nested item list.
fn parse(v: &str) -> Vec<Item> {
    let v = v.trim().to_ascii_lowercase();
    // Stack of open lists; each '-' or digit/letter switch opens a new one
    // nested in the current one.
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let chars: Vec<char> = v.chars().collect();
    let mut start = 0;
    let mut digit = false;
    let cur = |st: &mut Vec<Vec<Item>>| st.len() - 1;
    for (i, &c) in chars.iter().enumerate() {
        let sub: String = chars[start..i].iter().collect();
        if c == '.' {
            let top = cur(&mut stack);
            if i == start {
                stack[top].push(Item::Int(String::new()));
            } else {
                stack[top].push(parse_item(&sub, digit));
            }
            start = i + 1;
        } else if c == '-' {
            let top = cur(&mut stack);
            if i == start {
                stack[top].push(Item::Int(String::new()));
            } else {
                stack[top].push(parse_item(&sub, digit));
            }
            start = i + 1;
            stack.push(Vec::new());
        } else if c.is_ascii_digit() {
            if !digit && i > start {
                let top = cur(&mut stack);
                stack[top].push(string_item(&sub, true));
                start = i;
                stack.push(Vec::new());
            }
            digit = true;
        } else {
            if digit && i > start {
                let top = cur(&mut stack);
                stack[top].push(parse_item(&sub, true));
                start = i;
                stack.push(Vec::new());
            }
            digit = false;
        }
    }
    if chars.len() > start {
        let sub: String = chars[start..].iter().collect();
        // A trailing `.qualifier` is read as `-qualifier` (Maven 3.9).
        if !digit && !stack[stack.len() - 1].is_empty() {
            stack.push(Vec::new());
        }
        let top = stack.len() - 1;
        stack[top].push(parse_item(&sub, digit));
    }
    // Close the nested lists from the innermost out, normalising each.
    while stack.len() > 1 {
        let mut l = stack.pop().unwrap_or_default();
        normalize(&mut l);
        let top = stack.len() - 1;
        stack[top].push(Item::List(l));
    }
    let mut root = stack.pop().unwrap_or_default();
    normalize(&mut root);
    root
}

fn cmp_null(a: &Item) -> Ordering {
    match a {
        Item::Int(v) => {
            if v.is_empty() {
                Ordering::Equal
            } else {
                Ordering::Greater
            }
        }
        Item::Str(s) => qualifier_key(s).cmp(&release_key()),
        Item::List(l) => match l.first() {
            None => Ordering::Equal,
            Some(f) => cmp_null(f),
        },
    }
}

fn cmp_item(a: &Item, b: &Item) -> Ordering {
    match (a, b) {
        (Item::Int(x), Item::Int(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
        (Item::Int(_), _) => Ordering::Greater,
        (Item::Str(_), Item::Int(_)) => Ordering::Less,
        (Item::Str(x), Item::Str(y)) => qualifier_key(x).cmp(&qualifier_key(y)),
        (Item::Str(_), Item::List(_)) => Ordering::Less,
        (Item::List(_), Item::Int(_)) => Ordering::Less,
        (Item::List(_), Item::Str(_)) => Ordering::Greater,
        (Item::List(x), Item::List(y)) => cmp_list(x, y),
    }
}

fn cmp_list(x: &[Item], y: &[Item]) -> Ordering {
    let n = x.len().max(y.len());
    for i in 0..n {
        let o = match (x.get(i), y.get(i)) {
            (None, None) => Ordering::Equal,
            (None, Some(r)) => cmp_null(r).reverse(),
            (Some(l), None) => cmp_null(l),
            (Some(l), Some(r)) => cmp_item(l, r),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Compare two Maven versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    cmp_list(&parse(a), &parse(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The examples from Maven's version-order specification (POM reference,
    // "Version Order Specification").
    #[test]
    fn spec_examples() {
        let less = [
            ("1", "1.1"),
            ("1-snapshot", "1"),
            ("1", "1-sp"),
            ("1-foo2", "1-foo10"),
            ("1.foo", "1-1"),
            ("1-1", "1.1"),
            ("1-ga", "1-sp"),
            ("1-sp-1", "1-ga-1"),
            ("1-alpha", "1-beta"),
            ("1-beta", "1-milestone"),
            ("1-milestone", "1-rc"),
            ("1-rc", "1-snapshot"),
            ("1.0-SNAPSHOT", "1.0"),
            ("2.0.0.RC1", "2.0.0"),
            ("2.9", "2.10"),
            ("2.12.7.1", "2.13.0"),
        ];
        for (a, b) in less {
            assert_eq!(compare(a, b), Ordering::Less, "{a} < {b}");
            assert_eq!(compare(b, a), Ordering::Greater, "{b} > {a}");
        }
        let equal = [
            ("1.foo", "1-foo"),
            ("1.ga", "1-ga"),
            ("1-ga", "1-0"),
            ("1-0", "1.0"),
            ("1.0", "1"),
            ("1-a1", "1-alpha-1"),
            ("1.0.0", "1"),
            ("1-cr1", "1-rc1"),
            ("1.0.final", "1"),
        ];
        for (a, b) in equal {
            assert_eq!(compare(a, b), Ordering::Equal, "{a} == {b}");
        }
        assert_eq!(compare("1-sp.1", "1-ga.1"), Ordering::Greater);
    }
}
