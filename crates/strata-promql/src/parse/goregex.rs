//! The syntax errors Go's `regexp/syntax` (Perl flavour, as Prometheus compiles label-matcher
//! regexes) reports, with its wording and its choice of the offending fragment:
//! `error parsing regexp: missing closing ): `(``.
//!
//! This walks the pattern the way Go's parser does (left to right, first error wins; unclosed
//! groups are reported at the end) but builds nothing. Unicode class names that Go would not
//! know are approximated by what the `regex` crate knows.

/// What Go's parser keeps on its stack, as far as the checks here care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Top {
    /// Nothing to repeat (start of the pattern).
    Empty,
    /// `(` or `|`: a repetition operator here has no argument.
    Pseudo,
    /// Something a repetition operator can apply to.
    Atom,
}

fn err(code: &str, expr: &str) -> String {
    format!("error parsing regexp: {code}: `{expr}`")
}

const POSIX_CLASSES: [&str; 14] = [
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// Returns Go's error text for a pattern it would reject, or `None`.
pub(crate) fn go_regex_error(pattern: &str) -> Option<String> {
    check(pattern).err()
}

fn check(s: &str) -> Result<(), String> {
    let mut t = s;
    // Each open group remembers nothing but its existence; `tops` holds the stack top state
    // per nesting level.
    let mut tops: Vec<Top> = vec![Top::Empty];
    let mut last_repeat: Option<usize> = None;
    let off = |rest: &str| s.len() - rest.len();
    while let Some(c) = t.chars().next() {
        let mut repeat: Option<usize> = None;
        match c {
            '(' => {
                if t.as_bytes().get(1) == Some(&b'?') {
                    t = perl_flags(t, &mut tops)?;
                } else {
                    tops.push(Top::Pseudo);
                    t = &t[1..];
                }
            }
            '|' => {
                if let Some(top) = tops.last_mut() {
                    *top = Top::Pseudo;
                }
                t = &t[1..];
            }
            ')' => {
                if tops.len() < 2 {
                    return Err(err("unexpected )", s));
                }
                tops.pop();
                if let Some(top) = tops.last_mut() {
                    *top = Top::Atom;
                }
                t = &t[1..];
            }
            '[' => {
                t = class(t)?;
                set_atom(&mut tops);
            }
            '*' | '+' | '?' => {
                let before = off(t);
                let after = repeat_op(s, before, before + 1, last_repeat, &tops)?;
                repeat = Some(before);
                t = &s[after..];
            }
            '{' => match parse_repeat(t) {
                None => {
                    set_atom(&mut tops);
                    t = &t[1..];
                }
                Some((min, max, rest)) => {
                    let before = off(t);
                    let end = off(rest);
                    if !(0..=1000).contains(&min) || max > 1000 || (max >= 0 && min > max) {
                        return Err(err("invalid repeat count", &s[before..end]));
                    }
                    let after = repeat_op(s, before, end, last_repeat, &tops)?;
                    repeat = Some(before);
                    t = &s[after..];
                }
            },
            '\\' => {
                let b = t.as_bytes();
                match b.get(1) {
                    Some(b'A' | b'b' | b'B' | b'z') => {
                        set_atom(&mut tops);
                        t = &t[2..];
                    }
                    Some(b'C') => return Err(err("invalid escape sequence", &t[..2])),
                    Some(b'Q') => {
                        let body = &t[2..];
                        let (lit, rest) = match body.find("\\E") {
                            Some(i) => (&body[..i], &body[i + 2..]),
                            None => (body, ""),
                        };
                        if !lit.is_empty() {
                            set_atom(&mut tops);
                        }
                        t = rest;
                    }
                    Some(b'p' | b'P') => {
                        t = unicode_class(t)?;
                        set_atom(&mut tops);
                    }
                    Some(b'd' | b'D' | b's' | b'S' | b'w' | b'W') => {
                        set_atom(&mut tops);
                        t = &t[2..];
                    }
                    _ => {
                        t = escape(t)?;
                        set_atom(&mut tops);
                    }
                }
            }
            other => {
                set_atom(&mut tops);
                t = &t[other.len_utf8()..];
            }
        }
        last_repeat = repeat;
    }
    if tops.len() != 1 {
        return Err(err("missing closing )", s));
    }
    Ok(())
}

fn set_atom(tops: &mut [Top]) {
    if let Some(top) = tops.last_mut() {
        *top = Top::Atom;
    }
}

/// Checks a repetition operator spanning `s[before..end]`; returns where parsing continues
/// (past a non-greedy `?`).
fn repeat_op(
    s: &str,
    before: usize,
    end: usize,
    last_repeat: Option<usize>,
    tops: &[Top],
) -> Result<usize, String> {
    let mut after = end;
    if s.as_bytes().get(after) == Some(&b'?') {
        after += 1;
    }
    if let Some(lr) = last_repeat {
        return Err(err("invalid nested repetition operator", &s[lr..after]));
    }
    if tops.last() != Some(&Top::Atom) {
        return Err(err(
            "missing argument to repetition operator",
            &s[before..after],
        ));
    }
    Ok(after)
}

/// Parses `{min}`, `{min,}` or `{min,max}`; `None` when `{` is a literal.
fn parse_repeat(s: &str) -> Option<(i64, i64, &str)> {
    let rest = &s[1..];
    let (min, mut rest) = parse_int(rest)?;
    let max;
    if let Some(r) = rest.strip_prefix(',') {
        if r.is_empty() {
            return None;
        }
        if let Some(r2) = r.strip_prefix('}') {
            return Some((min, -1, r2));
        }
        let (m, r3) = parse_int(r)?;
        max = m;
        rest = r3;
    } else {
        max = min;
    }
    let rest = rest.strip_prefix('}')?;
    let min = if max < -1 { -1 } else { min };
    Some((min, max, rest))
}

/// Digits without leading zeros; values of 10^8 and more become -1 (too big).
fn parse_int(s: &str) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    if b.first().is_none_or(|c| !c.is_ascii_digit()) {
        return None;
    }
    if b.len() >= 2 && b[0] == b'0' && b[1].is_ascii_digit() {
        return None;
    }
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut v: i64 = 0;
    for &d in &b[..n] {
        if v >= 100_000_000 {
            v = -2;
            break;
        }
        v = v * 10 + i64::from(d - b'0');
    }
    Some((v, &s[n..]))
}

/// `(?…`: flags, non-capturing groups, named captures.
fn perl_flags<'a>(s: &'a str, tops: &mut Vec<Top>) -> Result<&'a str, String> {
    let b = s.as_bytes();
    let named = (b.len() > 4 && b[2] == b'P' && b[3] == b'<') || (b.len() > 3 && b[2] == b'<');
    if named {
        let begin = if b[2] == b'P' { 4 } else { 3 };
        let Some(end) = s.find('>') else {
            return Err(err("invalid named capture", s));
        };
        let name = &s[begin..end];
        if name.is_empty() || !name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) {
            return Err(err("invalid named capture", &s[..=end]));
        }
        tops.push(Top::Pseudo);
        return Ok(&s[end + 1..]);
    }
    let mut t = &s[2..];
    let mut negated = false;
    let mut saw_flag = false;
    while let Some(c) = t.chars().next() {
        t = &t[c.len_utf8()..];
        match c {
            'i' | 'm' | 's' | 'U' => saw_flag = true,
            '-' => {
                if negated {
                    break;
                }
                negated = true;
                saw_flag = false;
            }
            ':' | ')' => {
                if negated && !saw_flag {
                    break;
                }
                if c == ':' {
                    tops.push(Top::Pseudo);
                }
                return Ok(t);
            }
            _ => break,
        }
    }
    Err(err(
        "invalid or unsupported Perl syntax",
        &s[..s.len() - t.len()],
    ))
}

/// `\p{Name}` / `\pL` (and `\P…`).
fn unicode_class(s: &str) -> Result<&str, String> {
    let t = &s[2..];
    let Some(c) = t.chars().next() else {
        return Err(err("invalid character class range", s));
    };
    let (seq, rest) = if c == '{' {
        match t.find('}') {
            Some(end) => (&s[..2 + end + 1], &t[end + 1..]),
            None => return Err(err("invalid character class range", s)),
        }
    } else {
        (&s[..2 + c.len_utf8()], &t[c.len_utf8()..])
    };
    let name = seq[2..].trim_start_matches('{').trim_end_matches('}');
    let name = name.strip_prefix('^').unwrap_or(name);
    let known = name == "Any" || regex::Regex::new(&format!("\\p{{{name}}}")).is_ok();
    if !known {
        return Err(err("invalid character class range", seq));
    }
    Ok(rest)
}

/// An escape outside classes that is not a class or assertion; returns the rest.
fn escape(s: &str) -> Result<&str, String> {
    escape_char(s).map(|(_, rest)| rest)
}

/// Parses an escape (`s` starts with `\`) into the character it stands for.
fn escape_char(s: &str) -> Result<(u32, &str), String> {
    let t = &s[1..];
    let Some(c) = t.chars().next() else {
        return Err(err("trailing backslash at end of expression", ""));
    };
    let mut rest = &t[c.len_utf8()..];
    let invalid = |rest: &str| Err(err("invalid escape sequence", &s[..s.len() - rest.len()]));
    match c {
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((c as u32, rest)),
        '1'..='7'
            if !rest
                .as_bytes()
                .first()
                .is_some_and(|d| (b'0'..=b'7').contains(d)) =>
        {
            invalid(rest)
        }
        '0'..='7' => {
            let mut r = c as u32 - '0' as u32;
            for _ in 1..3 {
                match rest.as_bytes().first() {
                    Some(d @ b'0'..=b'7') => {
                        r = r * 8 + u32::from(d - b'0');
                        rest = &rest[1..];
                    }
                    _ => break,
                }
            }
            Ok((r, rest))
        }
        'x' => {
            let Some(c1) = rest.chars().next() else {
                return invalid(rest);
            };
            rest = &rest[c1.len_utf8()..];
            if c1 == '{' {
                let mut r: u32 = 0;
                let mut n = 0;
                loop {
                    let Some(d) = rest.chars().next() else {
                        return invalid(rest);
                    };
                    rest = &rest[d.len_utf8()..];
                    if d == '}' {
                        break;
                    }
                    let Some(v) = d.to_digit(16) else {
                        return invalid(rest);
                    };
                    r = r * 16 + v;
                    if r > 0x10_FFFF {
                        return invalid(rest);
                    }
                    n += 1;
                }
                if n == 0 {
                    return invalid(rest);
                }
                return Ok((r, rest));
            }
            let c2 = rest.chars().next();
            if let Some(c2) = c2 {
                rest = &rest[c2.len_utf8()..];
            }
            match (c1.to_digit(16), c2.and_then(|d| d.to_digit(16))) {
                (Some(x), Some(y)) => Ok((x * 16 + y, rest)),
                _ => invalid(rest),
            }
        }
        'a' => Ok((7, rest)),
        'f' => Ok((12, rest)),
        'n' => Ok((10, rest)),
        'r' => Ok((13, rest)),
        't' => Ok((9, rest)),
        'v' => Ok((11, rest)),
        _ => invalid(rest),
    }
}

/// A character class `[…]`; returns the rest after `]`.
fn class(s: &str) -> Result<&str, String> {
    let mut t = &s[1..];
    if t.starts_with('^') {
        t = &t[1..];
    }
    let mut first = true;
    while t.is_empty() || !t.starts_with(']') || first {
        first = false;
        if t.len() > 2
            && t.starts_with("[:")
            && let Some(i) = t[2..].find(":]")
        {
            let name = &t[..i + 4];
            let inner = &name[2..name.len() - 2];
            let inner = inner.strip_prefix('^').unwrap_or(inner);
            if !POSIX_CLASSES.contains(&inner) {
                return Err(err("invalid character class range", name));
            }
            t = &t[i + 4..];
            continue;
        }
        if t.starts_with("\\p") || t.starts_with("\\P") {
            t = unicode_class(t)?;
            continue;
        }
        if t.len() >= 2
            && t.starts_with('\\')
            && matches!(t.as_bytes()[1], b'd' | b'D' | b's' | b'S' | b'w' | b'W')
        {
            t = &t[2..];
            continue;
        }
        let range_start = t;
        let (lo, rest) = class_char(t, s)?;
        t = rest;
        if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
            let (hi, rest) = class_char(&t[1..], s)?;
            t = rest;
            if hi < lo {
                return Err(err(
                    "invalid character class range",
                    &range_start[..range_start.len() - t.len()],
                ));
            }
        }
    }
    Ok(&t[1..])
}

fn class_char<'a>(t: &'a str, whole: &str) -> Result<(u32, &'a str), String> {
    let Some(c) = t.chars().next() else {
        return Err(err("missing closing ]", whole));
    };
    if c == '\\' {
        return escape_char(t);
    }
    Ok((c as u32, &t[c.len_utf8()..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_like_go() {
        let e = |p: &str| go_regex_error(p).unwrap_or_default();
        assert_eq!(e("("), "error parsing regexp: missing closing ): `(`");
        assert_eq!(e("[a-"), "error parsing regexp: missing closing ]: `[a-`");
        assert_eq!(
            e("*"),
            "error parsing regexp: missing argument to repetition operator: `*`"
        );
        assert_eq!(
            e("a**"),
            "error parsing regexp: invalid nested repetition operator: `**`"
        );
        assert_eq!(e("a)"), "error parsing regexp: unexpected ): `a)`");
        assert_eq!(
            e(r"\q"),
            r"error parsing regexp: invalid escape sequence: `\q`"
        );
        assert_eq!(
            e("[z-a]"),
            "error parsing regexp: invalid character class range: `z-a`"
        );
        assert_eq!(
            e("(?=a)"),
            "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"
        );
        assert_eq!(
            e("a{1001}"),
            "error parsing regexp: invalid repeat count: `{1001}`"
        );
        for ok in [
            "",
            "a|b",
            "(?i)foo",
            "(?P<x>a)",
            "[[:alpha:]]",
            r"\d+\.\d*",
            "a{2,3}?",
            "{",
            "^*",
        ] {
            assert_eq!(go_regex_error(ok), None, "{ok}");
        }
    }
}
