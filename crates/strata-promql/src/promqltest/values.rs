//! The series notation of promqltest scripts: `metric{a="b"} 1+2x3 _ stale {{schema:0 …}}`.

use std::sync::Arc;

use strata_model::{Labels, METRIC_NAME};

use crate::histogram::{CounterResetHint, FloatHistogram, Span};

/// One value of a sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum SeqValue {
    /// `_`: no sample at this position.
    Omitted,
    /// A float (staleness markers are the stale NaN).
    Float(f64),
    /// A native histogram; the flag says whether a counter reset hint was given.
    Histogram(Arc<FloatHistogram>, bool),
}

/// Parses a float as Go's `strconv.ParseFloat` and the PromQL lexer accept it.
pub fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let lower = body.to_ascii_lowercase();
    let v = if lower == "inf" || lower == "infinity" {
        f64::INFINITY
    } else if lower == "nan" {
        f64::NAN
    } else if let Some(hex) = lower.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()? as f64
    } else {
        let clean: String = body.chars().filter(|c| *c != '_').collect();
        if clean.is_empty()
            || !clean
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == '.')
        {
            return None;
        }
        clean.parse::<f64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// Splits a value list into tokens, keeping `{{ … }}` together.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' && chars.get(i + 1) == Some(&'{') {
            depth += 1;
            cur.push_str("{{");
            i += 2;
            continue;
        }
        if c == '}' && chars.get(i + 1) == Some(&'}') && depth > 0 {
            depth -= 1;
            cur.push_str("}}");
            i += 2;
            continue;
        }
        if c.is_whitespace() && depth == 0 {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
        i += 1;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses `{{schema:0 sum:1 count:2 buckets:[1 1] …}}`.
pub fn parse_histogram(s: &str) -> Result<(FloatHistogram, bool), String> {
    let inner = s
        .trim()
        .strip_prefix("{{")
        .and_then(|x| x.strip_suffix("}}"))
        .ok_or_else(|| format!("bad histogram {s:?}"))?;
    let mut h = FloatHistogram::default();
    let mut hint_set = false;
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    let (mut off, mut noff) = (0i32, 0i32);
    let chars: Vec<char> = inner.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let ks = i;
        while i < chars.len() && chars[i] != ':' {
            i += 1;
        }
        let key: String = chars[ks..i].iter().collect::<String>().trim().to_string();
        i += 1;
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let vs = i;
        if i < chars.len() && chars[i] == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            i += 1;
        } else {
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
        }
        let val: String = chars[vs..i.min(chars.len())].iter().collect();
        let num = |v: &str| parse_float(v).ok_or_else(|| format!("bad number {v:?} in histogram"));
        let list = |v: &str| -> Result<Vec<f64>, String> {
            v.trim_start_matches('[')
                .trim_end_matches(']')
                .split_whitespace()
                .map(num)
                .collect()
        };
        match key.as_str() {
            "schema" => h.schema = num(&val)? as i32,
            "sum" => h.sum = num(&val)?,
            "count" => h.count = num(&val)?,
            "z_bucket" => h.zero_count = num(&val)?,
            "z_bucket_w" => h.zero_threshold = num(&val)?,
            "buckets" => pos = list(&val)?,
            "n_buckets" => neg = list(&val)?,
            "offset" => off = num(&val)? as i32,
            "n_offset" => noff = num(&val)? as i32,
            "custom_values" => h.custom_values = list(&val)?,
            "counter_reset_hint" => {
                hint_set = true;
                h.counter_reset_hint = match val.as_str() {
                    "reset" => CounterResetHint::CounterReset,
                    "not_reset" => CounterResetHint::NotCounterReset,
                    "gauge" => CounterResetHint::Gauge,
                    _ => CounterResetHint::Unknown,
                }
            }
            other => return Err(format!("unknown histogram field {other:?}")),
        }
    }
    if !pos.is_empty() {
        h.positive_spans = vec![Span {
            offset: off,
            length: pos.len() as u32,
        }];
        h.positive_buckets = pos;
    }
    if !neg.is_empty() {
        h.negative_spans = vec![Span {
            offset: noff,
            length: neg.len() as u32,
        }];
        h.negative_buckets = neg;
    }
    Ok((h, hint_set))
}

/// Expands one token into values.
fn expand(tok: &str) -> Result<Vec<SeqValue>, String> {
    if tok == "_" {
        return Ok(vec![SeqValue::Omitted]);
    }
    if let Some(n) = tok.strip_prefix("_x") {
        let n: usize = n.parse().map_err(|_| format!("bad repeat {tok:?}"))?;
        return Ok(vec![SeqValue::Omitted; n]);
    }
    if tok == "stale" {
        return Ok(vec![SeqValue::Float(strata_model::stale_nan())]);
    }
    if tok.starts_with("{{") {
        return expand_histogram(tok);
    }
    // a, axn, a+bxn, a-bxn
    // `axn` repeats; `0x59` is a repetition too (promqltest has no hex sample values).
    let (head, times) = match tok.rfind('x') {
        Some(i) if i + 1 < tok.len() && tok[i + 1..].chars().all(|c| c.is_ascii_digit()) => (
            &tok[..i],
            Some(
                tok[i + 1..]
                    .parse::<usize>()
                    .map_err(|_| format!("bad repeat {tok:?}"))?,
            ),
        ),
        _ => (tok, None),
    };
    let Some(times) = times else {
        return parse_float(tok)
            .map(|f| vec![SeqValue::Float(f)])
            .ok_or_else(|| format!("bad value {tok:?}"));
    };
    // Split head into start and increment at a sign that is not at position 0 or after 'e'.
    let b = head.as_bytes();
    let mut split = None;
    for i in 1..b.len() {
        if (b[i] == b'+' || b[i] == b'-') && !matches!(b[i - 1], b'e' | b'E') {
            split = Some(i);
        }
    }
    let (start, inc) = match split {
        Some(i) => {
            let s = parse_float(&head[..i]).ok_or_else(|| format!("bad value {tok:?}"))?;
            let d = parse_float(&head[i + 1..]).ok_or_else(|| format!("bad value {tok:?}"))?;
            (s, if b[i] == b'-' { -d } else { d })
        }
        None => (
            parse_float(head).ok_or_else(|| format!("bad value {tok:?}"))?,
            0.0,
        ),
    };
    let mut out = Vec::with_capacity(times + 1);
    let mut cur = start;
    for _ in 0..=times {
        out.push(SeqValue::Float(cur));
        cur += inc;
    }
    Ok(out)
}

fn expand_histogram(tok: &str) -> Result<Vec<SeqValue>, String> {
    let end = tok
        .find("}}")
        .ok_or_else(|| format!("bad histogram {tok:?}"))?
        + 2;
    let (first, hint) = parse_histogram(&tok[..end])?;
    let rest = &tok[end..];
    if rest.is_empty() {
        return Ok(vec![SeqValue::Histogram(Arc::new(first), hint)]);
    }
    if let Some(n) = rest.strip_prefix('x') {
        let n: usize = n.parse().map_err(|_| format!("bad repeat {tok:?}"))?;
        return Ok(vec![SeqValue::Histogram(Arc::new(first), hint); n + 1]);
    }
    let sign = if rest.starts_with('+') {
        1.0
    } else if rest.starts_with('-') {
        -1.0
    } else {
        return Err(format!("bad histogram sequence {tok:?}"));
    };
    let rest = &rest[1..];
    let end2 = rest
        .find("}}")
        .ok_or_else(|| format!("bad histogram {tok:?}"))?
        + 2;
    let (inc, _) = parse_histogram(&rest[..end2])?;
    let n: usize = rest[end2..]
        .strip_prefix('x')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("bad repeat {tok:?}"))?;
    let mut out = Vec::with_capacity(n + 1);
    let mut cur = first;
    for _ in 0..=n {
        out.push(SeqValue::Histogram(Arc::new(cur.clone()), hint));
        let next = if sign > 0.0 {
            cur.add(&inc)
        } else {
            cur.sub(&inc)
        };
        let mut next = next.map_err(|e| e.to_string())?;
        next.counter_reset_hint = cur.counter_reset_hint;
        // Keep the increment's own layout where the start had none.
        cur = next;
    }
    Ok(out)
}

/// Parses the labels part of a series line (`name{a="b"}`, `{a="b"}`, `name`, `{}`).
pub fn parse_labels(s: &str) -> Result<Labels, String> {
    let s = s.trim();
    if s == "{}" {
        return Ok(Labels::empty());
    }
    let expr = promql_parser::parser::parse(s).map_err(|e| format!("bad series {s:?}: {e}"))?;
    let promql_parser::parser::Expr::VectorSelector(vs) = expr else {
        return Err(format!("bad series {s:?}"));
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(n) = vs.name {
        pairs.push((METRIC_NAME.to_string(), n));
    }
    for m in vs.matchers.matchers {
        pairs.push((m.name, m.value));
    }
    Labels::from_pairs(pairs).map_err(|e| e.to_string())
}

/// Splits a series line into its labels part and its values part.
pub(crate) fn split_series(line: &str) -> (String, String) {
    let line = line.trim();
    let mut in_quote: Option<char> = None;
    let mut depth = 0;
    for (i, c) in line.char_indices() {
        match in_quote {
            Some(q) => {
                if c == q {
                    in_quote = None;
                }
                if c == '\\' {
                    continue;
                }
            }
            None => match c {
                '"' | '\'' | '`' => in_quote = Some(c),
                '{' => depth += 1,
                '}' => depth -= 1,
                c if c.is_whitespace() && depth == 0 => {
                    return (line[..i].to_string(), line[i..].trim().to_string());
                }
                _ => {}
            },
        }
    }
    (line.to_string(), String::new())
}

/// Parses a values list.
pub fn parse_values(s: &str) -> Result<Vec<SeqValue>, String> {
    let mut out = Vec::new();
    for t in tokens(s) {
        out.extend(expand(&t)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_sequences() {
        let v = parse_values("1+2x2 _ 5x1 stale -1-1x1").unwrap_or_default();
        assert_eq!(v.len(), 3 + 1 + 2 + 1 + 2);
        assert_eq!(v[2], SeqValue::Float(5.0));
        assert_eq!(v[8], SeqValue::Float(-2.0));
    }

    #[test]
    fn parses_histograms() {
        let v = parse_values("{{schema:0 sum:1 count:2 buckets:[1 1]}}x2").unwrap_or_default();
        assert_eq!(v.len(), 3);
    }
}
