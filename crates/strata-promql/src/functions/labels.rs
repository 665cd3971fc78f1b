//! Label functions: `label_replace`, `label_join`, `sort_by_label`, `absent` labels, and the
//! hash sampling of `limit_ratio`.

use std::sync::Arc;

use promql_parser::parser::Expr;
use regex::Regex;
use strata_model::{Labels, METRIC_NAME};

use super::unwrap_parens;
use crate::error::{Error, Result};
use crate::eval::{Evaluator, Val};

/// Returns whether `name` is a valid label name (any non-empty UTF-8 string, as in Prometheus 3).
pub(crate) fn valid_label_name(name: &str) -> bool {
    !name.is_empty() && !crate::parse::has_invalid_utf8(name)
}

fn string_arg(ev: &mut Evaluator<'_>, e: &Expr) -> Result<String> {
    match ev.eval(e)? {
        Val::Str(s) => Ok(s),
        _ => Err(Error::BadData("expected string argument".into())),
    }
}

/// `label_replace(v, dst, replacement, src, regex)`.
pub(crate) fn label_replace(ev: &mut Evaluator<'_>, args: &[&Expr]) -> Result<Val> {
    let dst = string_arg(ev, args[1])?;
    let repl = string_arg(ev, args[2])?;
    let src = string_arg(ev, args[3])?;
    let re_src = string_arg(ev, args[4])?;
    let re = Regex::new(&format!("^(?s:{re_src})$")).map_err(|_| {
        Error::Execution(format!(
            "invalid regular expression in label_replace(): {re_src}"
        ))
    })?;
    if !valid_label_name(&dst) {
        return Err(Error::Execution(format!(
            "invalid destination label name in label_replace(): {}",
            crate::parse::go_quote(&dst).trim_matches('"')
        )));
    }
    let v = ev.eval_vector(args[0])?;
    let out = v
        .into_iter()
        .map(|s| {
            s.into_iter()
                .map(|mut e| {
                    let val = e.labels.get(&src).unwrap_or("").to_string();
                    if let Some(caps) = re.captures(&val) {
                        let mut res = String::new();
                        caps.expand(&repl, &mut res);
                        Arc::make_mut(&mut e.labels).set(&dst, &res);
                        if dst == METRIC_NAME {
                            e.drop_name = false;
                        }
                    }
                    e
                })
                .collect()
        })
        .collect();
    Ok(Val::Vector(out))
}

/// `label_join(v, dst, separator, src...)`.
pub(crate) fn label_join(ev: &mut Evaluator<'_>, args: &[&Expr]) -> Result<Val> {
    let dst = string_arg(ev, args[1])?;
    let sep = string_arg(ev, args[2])?;
    let mut srcs = Vec::new();
    for a in &args[3..] {
        srcs.push(string_arg(ev, a)?);
    }
    if !valid_label_name(&dst) {
        return Err(Error::Execution(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let v = ev.eval_vector(args[0])?;
    let out = v
        .into_iter()
        .map(|s| {
            s.into_iter()
                .map(|mut e| {
                    let joined = srcs
                        .iter()
                        .map(|n| e.labels.get(n).unwrap_or(""))
                        .collect::<Vec<_>>()
                        .join(&sep);
                    Arc::make_mut(&mut e.labels).set(&dst, &joined);
                    if dst == METRIC_NAME {
                        e.drop_name = false;
                    }
                    e
                })
                .collect()
        })
        .collect();
    Ok(Val::Vector(out))
}

/// `sort_by_label(v, label...)` and its descending form.
pub(crate) fn sort_by_label(ev: &mut Evaluator<'_>, desc: bool, args: &[&Expr]) -> Result<Val> {
    let mut names = Vec::new();
    for a in &args[1..] {
        names.push(string_arg(ev, a)?);
    }
    let v = ev.eval_vector(args[0])?;
    let out = v
        .into_iter()
        .map(|mut s| {
            s.sort_by(|a, b| {
                for n in &names {
                    let (x, y) = (a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or(""));
                    let o = natural_cmp(x, y);
                    if o != std::cmp::Ordering::Equal {
                        return if desc { o.reverse() } else { o };
                    }
                }
                let o = a.labels.cmp(&b.labels);
                if desc { o.reverse() } else { o }
            });
            s
        })
        .collect();
    Ok(Val::Vector(out))
}

/// Compares strings with runs of digits compared as numbers.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let na = a[si..i].trim_start_matches('0');
            let nb = b[sj..j].trim_start_matches('0');
            let o = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        } else {
            if ab[i] != bb[j] {
                return ab[i].cmp(&bb[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j))
}

/// Returns the labels `absent()` reports: the equality matchers of a plain selector.
pub(crate) fn absent_labels(e: &Expr) -> Labels {
    let vs = match unwrap_parens(e) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::empty(),
    };
    let mut out = Labels::empty();
    let mut has = std::collections::HashSet::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if matches!(m.op, promql_parser::label::MatchOp::Equal) && !has.contains(&m.name) {
            out.set(&m.name, &m.value);
            has.insert(m.name.clone());
        } else {
            out.remove(&m.name);
        }
    }
    out
}

/// Returns Prometheus' label hash: xxhash64 of the default (`stringlabels`) encoding, where
/// every name and value is preceded by its length (one byte below 255, else 255 and three
/// little-endian bytes).
pub(crate) fn prometheus_hash(l: &Labels) -> u64 {
    fn put(b: &mut Vec<u8>, s: &str) {
        let n = s.len();
        if n < 255 {
            b.push(n as u8);
        } else {
            b.extend_from_slice(&[255, n as u8, (n >> 8) as u8, (n >> 16) as u8]);
        }
        b.extend_from_slice(s.as_bytes());
    }
    let mut b = Vec::new();
    for lab in l.iter() {
        put(&mut b, &lab.name);
        put(&mut b, &lab.value);
    }
    xxhash_rust::xxh64::xxh64(&b, 0)
}

/// Returns whether `limit_ratio(r, …)` keeps a series, by its label hash.
pub(crate) fn ratio_selected(l: &Labels, r: f64) -> bool {
    let off = prometheus_hash(l) as f64 / u64::MAX as f64;
    (r >= 0.0 && off < r) || (r < 0.0 && off >= 1.0 + r)
}
