//! The reference runner's `@` variants of instant evals: every selector and subquery without
//! `@` gets `@ <eval time>`, and the query is re-evaluated at other times, where it must return
//! the same result. This checks that `@` pins evaluation independent of the query time.

use std::time::{Duration, UNIX_EPOCH};

use promql_parser::parser::{AtModifier, Expr};

/// Functions whose result depends on the evaluation time even with constant arguments.
const AT_UNSAFE: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
];

fn at_of(ms: i64) -> AtModifier {
    let t = if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    };
    AtModifier::At(t)
}

/// Sets `@ ms` on every selector and subquery that lacks one, outside subqueries that have
/// one. Returns false when the expression uses a function that is unsafe for this test.
fn pin(e: &mut Expr, ms: i64) -> bool {
    match e {
        Expr::VectorSelector(vs) => {
            // `@ start()`/`@ end()` have no timestamp yet in Prometheus' AST: they are pinned too.
            if !matches!(vs.at, Some(AtModifier::At(_))) {
                vs.at = Some(at_of(ms));
            }
            true
        }
        Expr::MatrixSelector(m) => {
            if !matches!(m.vs.at, Some(AtModifier::At(_))) {
                m.vs.at = Some(at_of(ms));
            }
            true
        }
        Expr::Subquery(sq) => {
            // Inside a subquery with `@`, selectors keep following the subquery's steps.
            if !matches!(sq.at, Some(AtModifier::At(_))) {
                sq.at = Some(at_of(ms));
            }
            true
        }
        Expr::Aggregate(a) => {
            let ok = a.param.as_mut().is_none_or(|p| pin(p, ms));
            pin(&mut a.expr, ms) && ok
        }
        Expr::Unary(u) => pin(&mut u.expr, ms),
        Expr::Binary(b) => {
            let l = pin(&mut b.lhs, ms);
            pin(&mut b.rhs, ms) && l
        }
        Expr::Paren(p) => pin(&mut p.expr, ms),
        Expr::Call(c) => {
            let mut ok = !AT_UNSAFE.contains(&c.func.name);
            for a in c.args.args.iter_mut() {
                ok = pin(a, ms) && ok;
            }
            ok
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => true,
    }
}

/// Returns the pinned expression and the times to evaluate it at, or `None` when the query
/// is not eligible.
pub(super) fn variants(expr: &Expr, eval_ms: i64) -> Option<(Expr, Vec<i64>)> {
    let mut e = expr.clone();
    if !pin(&mut e, eval_ms) {
        return None;
    }
    let times = if eval_ms == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![-10 * eval_ms, 0, eval_ms / 5, eval_ms, 10 * eval_ms]
    };
    Some((e, times))
}
