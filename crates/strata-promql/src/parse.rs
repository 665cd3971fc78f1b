//! The project's `parse()`: `promql-parser` 0.11.1 behind a Prometheus-faithful checker, plus
//! pre-processing for the parser's known gaps.
//!
//! Every query first goes through the checker (`parse::syntax`, with its own lexer in
//! `parse::lexer`): a lexer, recursive-descent recogniser and type checker that reject exactly
//! what Prometheus 3.5 rejects, with Prometheus' message and `line:col` position
//! (`1:17: parse error: unclosed left parenthesis`). Only queries it accepts are handed to
//! `promql-parser`, whose AST the evaluator uses.
//!
//! Gaps of `promql-parser` handled here (documented in `docs/promql.md`):
//! - backtick (raw) strings containing a backslash are rejected by the parser: they are rewritten
//!   into double-quoted strings with the backslashes and quotes escaped;
//! - number literals with `_` separators (`1_000`) are rejected: the underscores between digits
//!   are removed;
//! - duration expressions (`foo[5m+1m]`, `offset (2*2)`) are evaluated and replaced by plain
//!   millisecond durations (module `parse::duration`);
//! - label names with colons in grouping lists (`by (a:b)`) are quoted, zero offsets
//!   (`offset 0s`) are dropped, and a letter the Prometheus lexer reads as a subquery colon
//!   (`x[5 m]` is `x[5:]`) becomes `:` (rewrites computed by the checker);
//! - should `promql-parser` still reject a query the checker accepted, its error is returned
//!   prefixed with `parse error:` (without a position).

mod duration;
mod functions;
mod goregex;
mod lexer;
mod positions;
pub(crate) mod quote;
mod syntax;

pub use positions::{NodePositions, PositionRange, node_positions, start_pos_input};

use promql_parser::parser::Expr;
use strata_model::{MatchOp, Matcher};

use crate::error::{Error, Result};

/// Which optional parts of the language the parser accepts (Prometheus' feature flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Experimental functions (`mad_over_time`, `sort_by_label`, `info`, …) and the
    /// `limitk` / `limit_ratio` aggregations (`--enable-feature=promql-experimental-functions`).
    pub experimental_functions: bool,
    /// Duration arithmetic in ranges, subquery steps and offsets, e.g. `x[5m+1m]`
    /// (`--enable-feature=promql-duration-expr`).
    pub duration_expressions: bool,
}

impl Default for ParseOptions {
    /// Everything enabled: the engine itself refuses experimental functions at evaluation when
    /// its configuration disables them.
    fn default() -> Self {
        ParseOptions {
            experimental_functions: true,
            duration_expressions: true,
        }
    }
}

/// Parses a PromQL expression, with every optional feature enabled.
///
/// Errors are Prometheus 3.5's, e.g. `1:17: parse error: unclosed left parenthesis`.
pub fn parse(query: &str) -> Result<Expr> {
    parse_with_options(query, ParseOptions::default())
}

/// Parses a PromQL expression, accepting the optional features `options` enables.
pub fn parse_with_options(query: &str, options: ParseOptions) -> Result<Expr> {
    let rewrites = syntax::check_expr(
        query,
        syntax::Features {
            experimental_functions: options.experimental_functions,
            duration_expressions: options.duration_expressions,
        },
    )
    .map_err(Error::Parse)?;
    let query = syntax::apply_rewrites(query, &rewrites);
    let pre = duration::rewrite(&preprocess(&query));
    promql_parser::parser::parse(&pre).map_err(|e| Error::Parse(format!("parse error: {e}")))
}

/// Parses a series selector (`match[]` of `/api/v1/series`, `/labels`, …) as Prometheus'
/// `parser.ParseMetricSelector`: a metric name and/or `{…}` matchers and nothing else. Returns
/// the matchers (the metric name's last). Like Prometheus, it does not reject selectors that
/// match everything (`{}`); callers check that.
pub fn parse_metric_selector(selector: &str) -> Result<Vec<Matcher>> {
    let matchers = syntax::metric_selector(selector).map_err(Error::Parse)?;
    matchers
        .into_iter()
        .map(|m| {
            let op = match m.op {
                lexer::Kind::Neq => MatchOp::NotEqual,
                lexer::Kind::EqlRegex => MatchOp::Regex,
                lexer::Kind::NeqRegex => MatchOp::NotRegex,
                _ => MatchOp::Equal,
            };
            Matcher::new(op, m.name, m.value).map_err(|e| Error::Parse(format!("parse error: {e}")))
        })
        .collect()
}

/// Parses a duration as Prometheus' `model.ParseDuration` (`1h30m`, `15s`, `100ms`: units
/// `y w d h m s ms` in that order, each at most once), with Go's error texts; returns
/// milliseconds.
pub fn parse_prometheus_duration_ms(text: &str) -> std::result::Result<i64, String> {
    syntax::parse_duration_millis(text)
}

/// Parses a PromQL duration (`1m`, `1h30m`, `10s`, `100ms`), optionally negative, or a bare
/// number of seconds, into milliseconds (the times and steps of promqltest scripts).
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(f) = crate::promqltest::parse_float(s) {
        return Some((f * 1000.0).round() as i64);
    }
    match s.strip_prefix('-') {
        Some(body) => syntax::parse_duration_millis(body).ok().map(|ms| -ms),
        None => syntax::parse_duration_millis(s).ok(),
    }
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

    #[test]
    fn reports_prometheus_errors() {
        let err = |q: &str| parse(q).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            err("sum(rate(up[5m])"),
            "1:17: parse error: unclosed left parenthesis"
        );
        assert_eq!(
            err("up{job==\"a\"}"),
            "1:8: parse error: unexpected \"=\" in label matching, expected string"
        );
        assert_eq!(
            err(""),
            "unknown position: parse error: no expression found in input"
        );
        assert_eq!(err("a\n  +"), "2:4: parse error: unexpected end of input");
    }

    #[test]
    fn parses_series_selectors() {
        let ms = parse_metric_selector("up{a=~\"x.*\"}").unwrap();
        assert_eq!(ms.len(), 2);
        assert_eq!(ms[1].name, "__name__");
        let err = parse_metric_selector("up[5m]").unwrap_err().to_string();
        assert_eq!(err, "1:3: parse error: unexpected \"[\"");
        assert!(parse_metric_selector("{}").unwrap().is_empty());
    }
}
