//! The project's `parse()`: `promql-parser` 0.11.1 plus pre-processing for its known gaps.
//!
//! Gaps handled here (documented in `docs/promql.md`):
//! - backtick (raw) strings containing a backslash are rejected by the parser: they are rewritten
//!   into double-quoted strings with the backslashes and quotes escaped;
//! - number literals with `_` separators (`1_000`) are rejected: the underscores between digits
//!   are removed;
//! - duration expressions (`foo[5m+1m]`, `offset (2*2)`) are evaluated and replaced by plain
//!   millisecond durations (module `parse::duration`);
//! - the parser's errors carry no position: they are prefixed with `parse error:` so that callers
//!   see Prometheus' error shape, without the `line:col`.

mod duration;

use promql_parser::parser::Expr;

use crate::error::{Error, Result};

/// Parses a PromQL expression.
pub fn parse(query: &str) -> Result<Expr> {
    let pre = duration::rewrite(&preprocess(query));
    promql_parser::parser::parse(&pre).map_err(|e| Error::Parse(format!("parse error: {e}")))
}

/// Parses a PromQL duration (`1m`, `1h30m`, `10s`, `100ms`) or a bare number of seconds,
/// into milliseconds.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(f) = crate::promqltest::parse_float(s) {
        return Some((f * 1000.0).round() as i64);
    }
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let mut total: i64 = 0;
    let b = body.as_bytes();
    let mut i = 0;
    if b.is_empty() {
        return None;
    }
    while i < b.len() {
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if st == i {
            return None;
        }
        let n: i64 = body[st..i].parse().ok()?;
        let us = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let mult = match &body[us..i] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return None,
        };
        total += n * mult;
    }
    Some(if neg { -total } else { total })
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// First code point of the private-use range that stands for bytes of invalid UTF-8.
pub(crate) const INVALID_BYTE_BASE: u32 = 0x10_FF00;

/// Decodes a run of `\xHH` escapes into UTF-8 text. Byte sequences that are not valid UTF-8
/// (Go strings may hold them, Rust strings cannot) become private-use code points
/// `U+10FF00 + byte`, which label-name validation rejects and error messages print back as
/// `\xHH`. Returns the text and the number of input chars consumed (0 if none).
fn decode_byte_escapes(c: &[char]) -> (String, usize) {
    let mut bytes = Vec::new();
    let mut i = 0;
    while i + 3 < c.len() && c[i] == '\\' && c[i + 1] == 'x' {
        let hex: String = c[i + 2..i + 4].iter().collect();
        let Ok(b) = u8::from_str_radix(&hex, 16) else {
            break;
        };
        bytes.push(b);
        i += 4;
    }
    if bytes.is_empty() {
        return (String::new(), 0);
    }
    let mut out = String::new();
    let mut rest: &[u8] = &bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                let n = e.error_len().unwrap_or(bad.len()).max(1);
                for b in &bad[..n] {
                    out.push(
                        char::from_u32(INVALID_BYTE_BASE + u32::from(*b)).unwrap_or('\u{fffd}'),
                    );
                }
                rest = &bad[n..];
            }
        }
    }
    (out, i)
}

/// Quotes a string as Go's `%q` would for strings holding invalid UTF-8 bytes (see
/// [`INVALID_BYTE_BASE`]).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        let cp = ch as u32;
        if (INVALID_BYTE_BASE..INVALID_BYTE_BASE + 0x100).contains(&cp) {
            out.push_str(&format!("\\x{:02x}", cp - INVALID_BYTE_BASE));
        } else if ch == '"' || ch == '\\' {
            out.push('\\');
            out.push(ch);
        } else {
            out.push(ch);
        }
    }
    out.push('"');
    out
}

/// Returns whether a string holds bytes that are not valid UTF-8 in the original query.
pub(crate) fn has_invalid_utf8(s: &str) -> bool {
    s.chars()
        .any(|ch| (INVALID_BYTE_BASE..INVALID_BYTE_BASE + 0x100).contains(&(ch as u32)))
}

/// Rewrites the constructs that `promql-parser` rejects but Prometheus accepts.
pub(crate) fn preprocess(q: &str) -> String {
    let chars: Vec<char> = q.chars().collect();
    let mut out = String::with_capacity(q.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' => {
                // Copy a quoted string verbatim, honouring escapes; `\xHH` byte escapes are
                // decoded here (see `decode_byte_escapes`).
                out.push(c);
                i += 1;
                while i < chars.len() {
                    if chars[i] == '\\' && chars.get(i + 1) == Some(&'x') {
                        let (decoded, used) = decode_byte_escapes(&chars[i..]);
                        if used > 0 {
                            for ch in decoded.chars() {
                                match ch {
                                    '"' | '\'' | '\\' => {
                                        out.push('\\');
                                        out.push(ch);
                                    }
                                    other => out.push(other),
                                }
                            }
                            i += used;
                            continue;
                        }
                    }
                    out.push(chars[i]);
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        out.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if chars[i - 1] == c {
                        break;
                    }
                }
            }
            '`' => {
                let mut j = i + 1;
                let mut body = String::new();
                while j < chars.len() && chars[j] != '`' {
                    body.push(chars[j]);
                    j += 1;
                }
                if j < chars.len() && (body.contains('\\')) {
                    out.push('"');
                    for b in body.chars() {
                        match b {
                            '\\' => out.push_str("\\\\"),
                            '"' => out.push_str("\\\""),
                            '\n' => out.push_str("\\n"),
                            other => out.push(other),
                        }
                    }
                    out.push('"');
                } else {
                    out.push('`');
                    out.push_str(&body);
                    if j < chars.len() {
                        out.push('`');
                    }
                }
                i = j + 1;
            }
            '#' => {
                // A comment runs to the end of the line.
                while i < chars.len() && chars[i] != '\n' {
                    out.push(chars[i]);
                    i += 1;
                }
            }
            d if d.is_ascii_digit() && (i == 0 || !is_ident(chars[i - 1])) => {
                while i < chars.len() && (is_ident(chars[i]) || chars[i] == '.') {
                    let ch = chars[i];
                    let between_digits = ch == '_'
                        && i > 0
                        && chars[i - 1].is_ascii_hexdigit()
                        && i + 1 < chars.len()
                        && chars[i + 1].is_ascii_hexdigit();
                    if !between_digits {
                        out.push(ch);
                    }
                    i += 1;
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_backtick_strings_with_backslashes() {
        assert_eq!(preprocess(r"f(`\d+`)"), r#"f("\\d+")"#);
        assert_eq!(preprocess("f(`abc`)"), "f(`abc`)");
    }

    #[test]
    fn removes_digit_separators_only_in_numbers() {
        assert_eq!(preprocess("1_000 + foo_1_0"), "1000 + foo_1_0");
        assert_eq!(preprocess(r#"x{a="1_0"}"#), r#"x{a="1_0"}"#);
    }

    #[test]
    fn decodes_byte_escapes() {
        assert_eq!(preprocess(r#"f("\xc3\xa9")"#), "f(\"\u{e9}\")");
        let p = preprocess(r#"f("a\xc5z")"#);
        assert!(has_invalid_utf8(&p));
        assert_eq!(go_quote("a\u{10ffc5}z"), r#""a\xc5z""#);
    }

    #[test]
    fn parses_through_the_wrapper() {
        assert!(parse("sum(rate(x[5m])) by (a)").is_ok());
        assert!(parse("1_000").is_ok());
        assert!(parse("sum(").is_err());
    }
}
