//! PromQL functions: dispatch and the instant-vector functions.

mod histogram;
mod info;

pub(crate) use histogram::warn_incompatible;
pub(crate) mod labels;
pub(crate) mod math;
mod range;
pub(crate) use range::is_range_function;
mod time;

use promql_parser::parser::{Call, Expr};
use strata_model::Labels;

use crate::error::{Error, Result};
use crate::eval::{Elem, Evaluator, V, Val};

/// Formats a float as Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
pub(crate) fn fmt_go(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

/// Functions that keep `__name__` on their results.
pub(crate) fn keeps_name(name: &str) -> bool {
    matches!(
        name,
        "last_over_time"
            | "first_over_time"
            | "sort"
            | "sort_desc"
            | "sort_by_label"
            | "sort_by_label_desc"
            | "label_replace"
            | "label_join"
            | "info"
    )
}

/// Evaluates a function call at every step.
pub(crate) fn eval_call(ev: &mut Evaluator<'_>, c: &Call) -> Result<Val> {
    ev.annos.enter(crate::annotations::Context::call(c));
    let r = eval_call_inner(ev, c);
    ev.annos.leave();
    r
}

fn eval_call_inner(ev: &mut Evaluator<'_>, c: &Call) -> Result<Val> {
    let name = c.func.name;
    if c.func.experimental && !ev.cfg.enable_experimental_functions {
        return Err(Error::Parse(format!(
            "parse error: function {name:?} is not enabled"
        )));
    }
    let args: Vec<&Expr> = c.args.args.iter().map(|b| b.as_ref()).collect();
    // The parser checks arity; an AST built by hand may not have been.
    let declared = c.func.arg_types.len();
    let min_args = match c.func.variadic {
        0 => declared,
        v if v > 0 => declared.saturating_sub(v as usize),
        _ => declared.saturating_sub(1),
    };
    if args.len() < min_args {
        return Err(Error::BadData(format!(
            "expected at least {min_args} argument(s) in call to {name:?}, got {}",
            args.len()
        )));
    }
    if range::is_range_function(name) {
        return range::eval(ev, name, &args);
    }
    let n = ev.steps();
    match name {
        "time" => Ok(Val::Scalar(
            (0..n).map(|i| ev.ts(i) as f64 / 1000.0).collect(),
        )),
        "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; n])),
        "vector" => {
            let s = ev.eval_scalar(args[0])?;
            Ok(Val::Vector(
                s.into_iter()
                    .map(|f| {
                        vec![Elem {
                            labels: std::sync::Arc::new(Labels::empty()),
                            v: V::F(f),
                            drop_name: false,
                        }]
                    })
                    .collect(),
            ))
        }
        "scalar" => {
            let v = ev.eval_vector(args[0])?;
            Ok(Val::Scalar(
                v.into_iter()
                    .map(|s| {
                        let fl: Vec<f64> = s.iter().filter_map(|e| e.v.float()).collect();
                        if fl.len() == 1 { fl[0] } else { f64::NAN }
                    })
                    .collect(),
            ))
        }
        "timestamp" => {
            let inner = unwrap_parens(args[0]);
            let v = match inner {
                Expr::VectorSelector(vs) => match ev.eval_vector_selector(vs, true)? {
                    Val::Vector(v) => v,
                    _ => vec![],
                },
                other => {
                    let v = ev.eval_vector(other)?;
                    v.into_iter()
                        .enumerate()
                        .map(|(i, s)| {
                            let t = ev.ts(i) as f64 / 1000.0;
                            s.into_iter()
                                .map(|mut e| {
                                    e.v = V::F(t);
                                    e
                                })
                                .collect()
                        })
                        .collect()
                }
            };
            Ok(Val::Vector(set_drop(v)))
        }
        "absent" => {
            let v = ev.eval_vector(args[0])?;
            let labels = std::sync::Arc::new(labels::absent_labels(args[0]));
            Ok(Val::Vector(
                v.into_iter()
                    .map(|s| {
                        if s.is_empty() {
                            vec![Elem {
                                labels: labels.clone(),
                                v: V::F(1.0),
                                drop_name: false,
                            }]
                        } else {
                            vec![]
                        }
                    })
                    .collect(),
            ))
        }
        "sort" | "sort_desc" => {
            let desc = name == "sort_desc";
            let v = ev.eval_vector(args[0])?;
            Ok(Val::Vector(
                v.into_iter()
                    .map(|mut s| {
                        s.retain(|e| matches!(e.v, V::F(_)));
                        s.sort_by(|a, b| {
                            let (x, y) = (a.v.float().unwrap_or(0.0), b.v.float().unwrap_or(0.0));
                            match (x.is_nan(), y.is_nan()) {
                                (true, true) => std::cmp::Ordering::Equal,
                                (true, false) => std::cmp::Ordering::Greater,
                                (false, true) => std::cmp::Ordering::Less,
                                _ if desc => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                                _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                            }
                        });
                        s
                    })
                    .collect(),
            ))
        }
        "sort_by_label" | "sort_by_label_desc" => {
            labels::sort_by_label(ev, name.ends_with("desc"), &args)
        }
        "label_replace" => labels::label_replace(ev, &args),
        "label_join" => labels::label_join(ev, &args),
        "info" => info::eval(ev, &args),
        "clamp" | "clamp_min" | "clamp_max" => {
            let v = ev.eval_vector(args[0])?;
            let a = ev.eval_scalar(args[1])?;
            let b = if name == "clamp" {
                Some(ev.eval_scalar(args[2])?)
            } else {
                None
            };
            let mut out = Vec::with_capacity(v.len());
            for (i, s) in v.into_iter().enumerate() {
                let (lo, hi) = match name {
                    "clamp" => (a[i], b.as_ref().map(|b| b[i]).unwrap_or(f64::NAN)),
                    "clamp_min" => (a[i], f64::NAN),
                    _ => (f64::NAN, a[i]),
                };
                if name == "clamp" && hi < lo {
                    out.push(vec![]);
                    continue;
                }
                out.push(
                    s.into_iter()
                        .filter_map(|mut e| {
                            let f = e.v.float()?;
                            let r = match name {
                                "clamp" => go_max(lo, go_min(hi, f)),
                                "clamp_min" => go_max(lo, f),
                                _ => go_min(hi, f),
                            };
                            e.v = V::F(r);
                            e.drop_name = true;
                            Some(e)
                        })
                        .collect(),
                );
            }
            Ok(Val::Vector(out))
        }
        "round" => {
            let v = ev.eval_vector(args[0])?;
            let to = if args.len() > 1 {
                ev.eval_scalar(args[1])?
            } else {
                vec![1.0; n]
            };
            Ok(Val::Vector(map_steps(v, |i, f| {
                let inv = 1.0 / to[i];
                Some((f * inv + 0.5).floor() / inv)
            })))
        }
        "histogram_quantile" | "histogram_fraction" | "histogram_count" | "histogram_sum"
        | "histogram_avg" | "histogram_stddev" | "histogram_stdvar" => {
            histogram::eval(ev, name, &args)
        }
        "minute" | "hour" | "day_of_week" | "day_of_month" | "day_of_year" | "days_in_month"
        | "month" | "year" => time::eval(ev, name, &args),
        _ => {
            let Some(f) = math_fn(name) else {
                return Err(Error::BadData(format!(
                    "function {name:?} is not supported"
                )));
            };
            let v = ev.eval_vector(args[0])?;
            Ok(Val::Vector(map_steps(v, |_, x| Some(f(x)))))
        }
    }
}

/// Go's `math.Max` (NaN wins).
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min` (NaN wins).
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sgn" => |x: f64| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                x
            }
        },
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |x: f64| x * 180.0 / std::f64::consts::PI,
        "rad" => |x: f64| x * std::f64::consts::PI / 180.0,
        _ => return None,
    })
}

/// Applies `f(step, value)` to every float element; drops histograms and sets name dropping.
pub(crate) fn map_steps(
    v: Vec<Vec<Elem>>,
    f: impl Fn(usize, f64) -> Option<f64>,
) -> Vec<Vec<Elem>> {
    v.into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.into_iter()
                .filter_map(|mut e| {
                    let x = e.v.float()?;
                    e.v = V::F(f(i, x)?);
                    e.drop_name = true;
                    Some(e)
                })
                .collect()
        })
        .collect()
}

fn set_drop(v: Vec<Vec<Elem>>) -> Vec<Vec<Elem>> {
    v.into_iter()
        .map(|s| {
            s.into_iter()
                .map(|mut e| {
                    e.drop_name = true;
                    e
                })
                .collect()
        })
        .collect()
}

/// Strips parentheses.
pub(crate) fn unwrap_parens(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unwrap_parens(&p.expr),
        other => other,
    }
}

pub(crate) use self::keeps_name as function_keeps_name;

/// Formats a float as Go's `%g` (shortest representation, exponent outside `[1e-4, 1e21)`).
pub(crate) fn fmt_g(f: f64) -> String {
    if !f.is_finite() {
        return fmt_go(f);
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let exp = f.abs().log10().floor() as i32;
    if (-4..21).contains(&exp) {
        return format!("{f}");
    }
    let s = format!("{f:e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}
