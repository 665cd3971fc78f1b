//! Calendar functions (`hour`, `day_of_week`, `year`, …), in UTC.

use promql_parser::parser::Expr;
use strata_model::Labels;

use crate::error::Result;
use crate::eval::{Elem, Evaluator, V, Val};

/// Returns (year, month 1-12, day 1-31) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Computes a calendar field of a Unix time in seconds.
fn field(name: &str, secs: f64) -> f64 {
    // Go's `int64(f)` truncates toward zero; NaN, infinities and out-of-range values become
    // the minimum int64, which Go's calendar wraps to 292277026596-12-04 15:30:08 UTC (a
    // Sunday, day 339 of its year). Prometheus returns those fields; so do we.
    if !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&secs) {
        return match name {
            "minute" => 30.0,
            "hour" => 15.0,
            "day_of_week" => 0.0,
            "day_of_month" => 4.0,
            "day_of_year" => 339.0,
            "days_in_month" => 31.0,
            "month" => 12.0,
            _ => 292_277_026_596.0,
        };
    }
    let s = secs.trunc() as i64;
    let days = s.div_euclid(86_400);
    let sod = s.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    match name {
        "minute" => ((sod / 60) % 60) as f64,
        "hour" => (sod / 3600) as f64,
        "day_of_week" => (days + 4).rem_euclid(7) as f64,
        "day_of_month" => d as f64,
        "day_of_year" => {
            let mut doy = d;
            for mm in 1..m {
                doy += days_in(y, mm);
            }
            doy as f64
        }
        "days_in_month" => days_in(y, m) as f64,
        "month" => m as f64,
        _ => y as f64,
    }
}

/// Evaluates a calendar function, over `vector(time())` when called without argument.
pub(crate) fn eval(ev: &mut Evaluator<'_>, name: &str, args: &[&Expr]) -> Result<Val> {
    if args.is_empty() {
        let n = ev.steps();
        return Ok(Val::Vector(
            (0..n)
                .map(|i| {
                    let t = ev.ts(i) as f64 / 1000.0;
                    vec![Elem {
                        labels: std::sync::Arc::new(Labels::empty()),
                        v: V::F(field(name, t)),
                        drop_name: false,
                    }]
                })
                .collect(),
        ));
    }
    let v = ev.eval_vector(args[0])?;
    Ok(Val::Vector(super::map_steps(v, |_, f| {
        Some(field(name, f))
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_fields() {
        // 2024-02-29 12:34:00 UTC
        let t = 1_709_210_040.0;
        assert_eq!(field("year", t), 2024.0);
        assert_eq!(field("month", t), 2.0);
        assert_eq!(field("day_of_month", t), 29.0);
        assert_eq!(field("days_in_month", t), 29.0);
        assert_eq!(field("hour", t), 12.0);
        assert_eq!(field("minute", t), 34.0);
        assert_eq!(field("day_of_week", t), 4.0);
        assert_eq!(field("day_of_year", t), 60.0);
        assert_eq!(field("hour", f64::NAN), 15.0);
        assert_eq!(field("year", f64::INFINITY), 292_277_026_596.0);
    }
}
