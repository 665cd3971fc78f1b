//! Functions over range vectors: the rate family and the `*_over_time` functions.

use std::sync::Arc;

use promql_parser::parser::Expr;

use super::math::{kahan_inc, linear_regression, quantile};
use super::{function_keeps_name, labels};
use crate::error::{Error, Result};
use crate::eval::window::Window;
use crate::eval::{Elem, Evaluator, V, Val};
use crate::{Point, PointValue};

/// Returns whether `name` takes a range vector.
pub(crate) fn is_range_function(name: &str) -> bool {
    F::of(name).is_some()
}

/// A range function, resolved once per call instead of per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum F {
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    Deriv,
    PredictLinear,
    Changes,
    Resets,
    AvgOverTime,
    SumOverTime,
    MinOverTime,
    MaxOverTime,
    CountOverTime,
    LastOverTime,
    FirstOverTime,
    PresentOverTime,
    AbsentOverTime,
    StddevOverTime,
    StdvarOverTime,
    QuantileOverTime,
    MadOverTime,
    DoubleExponentialSmoothing,
    HoltWinters,
    TsOfMinOverTime,
    TsOfMaxOverTime,
    TsOfFirstOverTime,
    TsOfLastOverTime,
}

impl F {
    fn of(name: &str) -> Option<F> {
        Some(match name {
            "rate" => F::Rate,
            "increase" => F::Increase,
            "delta" => F::Delta,
            "irate" => F::Irate,
            "idelta" => F::Idelta,
            "deriv" => F::Deriv,
            "predict_linear" => F::PredictLinear,
            "changes" => F::Changes,
            "resets" => F::Resets,
            "avg_over_time" => F::AvgOverTime,
            "sum_over_time" => F::SumOverTime,
            "min_over_time" => F::MinOverTime,
            "max_over_time" => F::MaxOverTime,
            "count_over_time" => F::CountOverTime,
            "last_over_time" => F::LastOverTime,
            "first_over_time" => F::FirstOverTime,
            "present_over_time" => F::PresentOverTime,
            "absent_over_time" => F::AbsentOverTime,
            "stddev_over_time" => F::StddevOverTime,
            "stdvar_over_time" => F::StdvarOverTime,
            "quantile_over_time" => F::QuantileOverTime,
            "mad_over_time" => F::MadOverTime,
            "double_exponential_smoothing" => F::DoubleExponentialSmoothing,
            "holt_winters" => F::HoltWinters,
            "ts_of_min_over_time" => F::TsOfMinOverTime,
            "ts_of_max_over_time" => F::TsOfMaxOverTime,
            "ts_of_first_over_time" => F::TsOfFirstOverTime,
            "ts_of_last_over_time" => F::TsOfLastOverTime,
            _ => return None,
        })
    }
}

/// What a window function sees besides the points.
struct Win {
    /// Left (exclusive) end of the window, ms.
    start: i64,
    /// Right (inclusive) end of the window, ms.
    end: i64,
    /// Step time the function is evaluated at, ms.
    step_t: i64,
    /// Range in seconds.
    range_s: f64,
}

/// Evaluates a range-vector function at every step.
///
/// Series-major, as Prometheus evaluates a function of a matrix selector: for each series the
/// window slides over all steps while its samples are read once, then the series' iterator is
/// dropped. Only one window is alive at a time, and it stays in the CPU caches; each step's
/// output vector still lists the series in selection order.
pub(crate) fn eval(ev: &mut Evaluator<'_>, name: &str, args: &[&Expr]) -> Result<Val> {
    let (marg, params): (&Expr, Vec<&Expr>) = match name {
        "quantile_over_time" => (args[1], vec![args[0]]),
        _ => (args[0], args[1..].to_vec()),
    };
    let Some(f) = F::of(name) else {
        return Err(Error::BadData(format!(
            "function {name:?} is not supported"
        )));
    };
    // As Prometheus: a subquery argument is evaluated before the scalar arguments, a matrix
    // selector after them (which matters for the samples held at each moment).
    let selector = matches!(super::unwrap_parens(marg), Expr::MatrixSelector(_));
    let mut early = None;
    if !selector {
        early = Some(ev.range_windows(marg, false)?);
    }
    let mut pvals = Vec::new();
    for p in &params {
        pvals.push(ev.eval_scalar(p)?);
    }
    let mut w = match early {
        Some(w) => w,
        None => {
            ev.select_func = Some(name.to_string());
            let w = ev.range_windows(marg, false);
            ev.select_func = None;
            w?
        }
    };
    let n = ev.steps();
    let keep = function_keeps_name(name);
    let range_s = w.range as f64 / 1000.0;
    // The scalar arguments per step (at most two), read without allocating per window.
    let step_params: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let mut p = [0.0; 2];
            for (k, v) in pvals.iter().take(2).enumerate() {
                p[k] = v.get(i).copied().unwrap_or(f64::NAN);
            }
            p
        })
        .collect();
    let nparams = pvals.len().min(2);
    let mut out: Vec<Vec<Elem>> = (0..n).map(|_| Vec::new()).collect();
    let mut present = if f == F::AbsentOverTime {
        vec![false; n]
    } else {
        Vec::new()
    };
    let series = std::mem::take(&mut w.series);
    // The samples of the previous series' last window, which Prometheus still holds until it
    // starts the next series.
    let mut prev_window = 0i64;
    for b in series {
        let mut b = b;
        ev.check("query execution")?;
        ev.counter.cur -= prev_window;
        let labels = b.labels.clone();
        let drop_name = !keep || b.drop_name;
        let mut sc = SeriesCtx {
            labels: &labels,
            counter_info_done: false,
        };
        let mut produced = 0i64;
        for (i, step) in out.iter_mut().enumerate() {
            if i % 16 == 15 {
                ev.check("query execution")?;
            }
            let ts = ev.ts(i);
            let r = w.ref_time(ts);
            b.window(r - w.range, r);
            ev.counter.cur += b.held_delta;
            ev.check_held()?;
            ev.update_peak();
            let pts = b.current();
            if pts.is_empty() {
                continue;
            }
            let win = Win {
                start: r - w.range,
                end: r,
                step_t: ts,
                range_s,
            };
            let read = pts.floats.len() as i64 + crate::eval::stats::hists_size(pts.hists);
            if f == F::AbsentOverTime {
                present[i] = true;
                produced += 1;
                ev.count_read(i, read);
                continue;
            }
            let p = &step_params[i][..nparams];
            let v = apply(ev, f, name, pts, &win, p, &mut sc)?;
            ev.count_read(i, read);
            if let Some(v) = v {
                produced += match &v {
                    V::F(_) => 1,
                    V::H(h) => crate::eval::stats::hpoint_size(h),
                };
                step.push(Elem {
                    labels: labels.clone(),
                    v,
                    drop_name,
                });
            }
        }
        if produced > 0 {
            ev.hold(produced)?;
        }
        ev.update_peak();
        let last = b.current();
        prev_window = last.floats.len() as i64 + crate::eval::stats::hists_size(last.hists);
    }
    ev.update_peak();
    ev.counter.cur -= prev_window;
    // A subquery's result is released with the windows.
    ev.counter.cur -= w.held;
    if f == F::AbsentOverTime {
        // Prometheus accounts for one point per non-empty window, then answers with the steps
        // where no series had one.
        let labels = Arc::new(labels::absent_labels(marg));
        for (i, step) in out.iter_mut().enumerate() {
            if !present[i] {
                step.push(Elem {
                    labels: labels.clone(),
                    v: V::F(1.0),
                    drop_name: false,
                });
            }
        }
    }
    Ok(Val::Vector(out))
}

/// Per-series state of a range function.
struct SeriesCtx<'a> {
    labels: &'a strata_model::Labels,
    /// Whether the "might not be a counter" info was already considered for this series.
    counter_info_done: bool,
}

fn metric_name(l: &strata_model::Labels) -> String {
    l.metric_name().unwrap_or("").to_string()
}

/// Computes one function over one window.
fn apply(
    ev: &mut Evaluator<'_>,
    f: F,
    name: &str,
    win_pts: Window<'_>,
    w: &Win,
    p: &[f64],
    sc: &mut SeriesCtx<'_>,
) -> Result<Option<V>> {
    let labels = sc.labels;
    let fl = win_pts.floats;
    let hs = win_pts.hists;
    let mixed = !fl.is_empty() && !hs.is_empty();
    if mixed
        && matches!(
            f,
            F::Deriv
                | F::PredictLinear
                | F::DoubleExponentialSmoothing
                | F::HoltWinters
                | F::StddevOverTime
                | F::StdvarOverTime
                | F::MadOverTime
                | F::QuantileOverTime
                | F::MinOverTime
                | F::MaxOverTime
                | F::TsOfMinOverTime
                | F::TsOfMaxOverTime
        )
    {
        ev.annos.info(format!(
            "ignored histograms in a range containing both floats and histograms for metric name \"{}\"",
            metric_name(labels)
        ));
    }
    Ok(match f {
        F::Rate | F::Increase | F::Delta => {
            let counter = f != F::Delta;
            if mixed {
                ev.annos.warn(format!(
                    "encountered a mix of histograms and floats for metric name \"{}\"",
                    metric_name(labels)
                ));
                return Ok(None);
            }
            // As Prometheus: the hint is given for float results of rate/increase only.
            if counter && fl.len() > 1 && !sc.counter_info_done {
                // The same text for every window of the series: decided once per series.
                sc.counter_info_done = true;
                let mn = labels.metric_name().unwrap_or("");
                if !mn.is_empty()
                    && !["_total", "_sum", "_count", "_bucket"]
                        .iter()
                        .any(|s| mn.ends_with(s))
                {
                    ev.annos.info(format!(
                        "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"{mn}\""
                    ));
                }
            }
            if !hs.is_empty() {
                return super::histogram::hist_rate(
                    ev, name, hs, w.start, w.end, w.range_s, labels,
                );
            }
            extrapolated_rate(fl, w.start, w.end, counter, f == F::Rate, w.range_s).map(V::F)
        }
        F::Irate | F::Idelta => {
            if win_pts.len() < 2 {
                return Ok(None);
            }
            let last_two: Vec<Point> = if hs.is_empty() {
                fl[fl.len() - 2..]
                    .iter()
                    .map(|(t, f)| Point {
                        t: *t,
                        v: PointValue::Float(*f),
                    })
                    .collect()
            } else {
                let m = win_pts.merged();
                m[m.len() - 2..].to_vec()
            };
            let (a, b) = (&last_two[0], &last_two[1]);
            match (&a.v, &b.v) {
                (PointValue::Float(x), PointValue::Float(y)) => {
                    let mut r = y - x;
                    if f == F::Irate && y < x {
                        r = *y;
                    }
                    let dt = b.t - a.t;
                    if dt == 0 {
                        return Ok(None);
                    }
                    if f == F::Irate {
                        r /= dt as f64 / 1000.0;
                    }
                    Some(V::F(r))
                }
                (PointValue::Histogram(x), PointValue::Histogram(y)) => {
                    use crate::histogram::CounterResetHint::Gauge;
                    let mn = metric_name(labels);
                    let is_rate = f == F::Irate;
                    if is_rate && (x.counter_reset_hint == Gauge || y.counter_reset_hint == Gauge) {
                        ev.annos.warn(format!(
                            "this native histogram metric is not a counter: \"{mn}\""
                        ));
                    }
                    if !is_rate && (x.counter_reset_hint != Gauge || y.counter_reset_hint != Gauge)
                    {
                        ev.annos.warn(format!(
                            "this native histogram metric is not a gauge: \"{mn}\""
                        ));
                    }
                    let mut d = if is_rate && y.detect_reset(x) {
                        (**y).clone()
                    } else {
                        match y.sub(x) {
                            Ok(d) => d,
                            Err(e) => {
                                super::histogram::warn_incompatible(ev, &e, &mn);
                                return Ok(None);
                            }
                        }
                    };
                    let dt = b.t - a.t;
                    if dt == 0 {
                        return Ok(None);
                    }
                    if is_rate {
                        d = d.scaled(1000.0 / dt as f64);
                    }
                    d.counter_reset_hint = Gauge;
                    Some(V::H(Arc::new(d.compacted())))
                }
                _ => {
                    ev.annos.warn(format!(
                        "encountered a mix of histograms and floats for metric name \"{}\"",
                        metric_name(labels)
                    ));
                    None
                }
            }
        }
        F::Deriv => {
            if fl.len() < 2 {
                return Ok(None);
            }
            Some(V::F(linear_regression(fl, fl[0].0).0))
        }
        F::PredictLinear => {
            if fl.len() < 2 {
                return Ok(None);
            }
            let (s, i) = linear_regression(fl, w.step_t);
            Some(V::F(s * p[0] + i))
        }
        F::DoubleExponentialSmoothing | F::HoltWinters => {
            let (sf, tf) = (p[0], p[1]);
            if sf <= 0.0 || sf >= 1.0 {
                return Err(Error::Execution(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
                )));
            }
            if tf <= 0.0 || tf >= 1.0 {
                return Err(Error::Execution(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
                )));
            }
            if fl.len() < 2 {
                return Ok(None);
            }
            let (mut s0, mut s1) = (0.0, fl[0].1);
            let mut b = fl[1].1 - fl[0].1;
            for (i, (_, v)) in fl.iter().enumerate().skip(1) {
                let x = sf * v;
                if i > 1 {
                    b = tf * (s1 - s0) + (1.0 - tf) * b;
                }
                let y = (1.0 - sf) * (s1 + b);
                s0 = s1;
                s1 = x + y;
            }
            Some(V::F(s1))
        }
        F::Changes | F::Resets => {
            if fl.is_empty() && hs.is_empty() {
                return Ok(None);
            }
            let mut c = 0.0;
            let mut prev: Option<&PointValue> = None;
            let merged = if hs.is_empty() {
                Vec::new()
            } else {
                win_pts.merged()
            };
            if hs.is_empty() {
                let mut prev: Option<f64> = None;
                for (_, b) in fl {
                    if let Some(a) = prev {
                        let counted = if f == F::Changes {
                            !(a == *b || (a.is_nan() && b.is_nan()))
                        } else {
                            *b < a
                        };
                        if counted {
                            c += 1.0;
                        }
                    }
                    prev = Some(*b);
                }
                return Ok(Some(V::F(c)));
            }
            for pt in &merged {
                if let Some(pv) = prev {
                    match (pv, &pt.v) {
                        (PointValue::Float(a), PointValue::Float(b)) => {
                            if f == F::Changes {
                                if !(a == b || (a.is_nan() && b.is_nan())) {
                                    c += 1.0;
                                }
                            } else if b < a {
                                c += 1.0;
                            }
                        }
                        (PointValue::Histogram(a), PointValue::Histogram(b)) => {
                            if f == F::Changes {
                                if !a.equals(b) {
                                    c += 1.0;
                                }
                            } else if b.detect_reset(a) {
                                c += 1.0;
                            }
                        }
                        _ => {
                            if f == F::Changes || f == F::Resets {
                                c += 1.0;
                            }
                        }
                    }
                }
                prev = Some(&pt.v);
            }
            Some(V::F(c))
        }
        F::SumOverTime | F::AvgOverTime => {
            if mixed {
                ev.annos.warn(format!(
                    "encountered a mix of histograms and floats for metric name \"{}\"",
                    metric_name(labels)
                ));
                return Ok(None);
            }
            if !hs.is_empty() {
                let mut acc = (*hs[0].1).clone();
                for (i, (_, h)) in hs[1..].iter().enumerate() {
                    let next = if f == F::AvgOverTime {
                        acc.mean_step(h, (i + 2) as f64)
                    } else {
                        acc.add(h)
                    };
                    match next {
                        Ok(x) => acc = x,
                        Err(e) => {
                            super::histogram::warn_incompatible(ev, &e, &metric_name(labels));
                            return Ok(None);
                        }
                    }
                }
                return Ok(Some(V::H(Arc::new(acc.compacted()))));
            }
            if f == F::SumOverTime {
                let (mut s, mut c) = (0.0, 0.0);
                for (_, f) in fl {
                    (s, c) = kahan_inc(*f, s, c);
                }
                Some(V::F(if s.is_infinite() { s } else { s + c }))
            } else {
                Some(V::F(avg(fl)))
            }
        }
        F::MinOverTime | F::MaxOverTime | F::TsOfMinOverTime | F::TsOfMaxOverTime => {
            if fl.is_empty() {
                return Ok(None);
            }
            let max = matches!(f, F::MaxOverTime | F::TsOfMaxOverTime);
            let ts_of = matches!(f, F::TsOfMinOverTime | F::TsOfMaxOverTime);
            let (mut bt, mut bv) = fl[0];
            for (t, f) in &fl[1..] {
                let better = match (max, ts_of) {
                    (true, true) => *f >= bv,
                    (true, false) => *f > bv,
                    (false, true) => *f <= bv,
                    (false, false) => *f < bv,
                };
                if better || bv.is_nan() {
                    bv = *f;
                    bt = *t;
                }
            }
            if matches!(f, F::TsOfMinOverTime | F::TsOfMaxOverTime) {
                Some(V::F(bt as f64 / 1000.0))
            } else {
                Some(V::F(bv))
            }
        }
        F::CountOverTime => Some(V::F(win_pts.len() as f64)),
        F::PresentOverTime => Some(V::F(1.0)),
        F::LastOverTime => win_pts.last().map(|p| match &p.v {
            PointValue::Float(f) => V::F(*f),
            PointValue::Histogram(h) => V::H(h.clone()),
        }),
        F::FirstOverTime => win_pts.first().map(|p| match &p.v {
            PointValue::Float(f) => V::F(*f),
            PointValue::Histogram(h) => V::H(h.clone()),
        }),
        F::TsOfLastOverTime => win_pts.last().map(|p| V::F(p.t as f64 / 1000.0)),
        F::TsOfFirstOverTime => win_pts.first().map(|p| V::F(p.t as f64 / 1000.0)),
        F::StddevOverTime | F::StdvarOverTime => {
            if fl.is_empty() {
                return Ok(None);
            }
            let (mut count, mut mean, mut cm, mut aux, mut ca) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for (_, f) in fl {
                count += 1.0;
                let delta = f - (mean + cm);
                (mean, cm) = kahan_inc(delta / count, mean, cm);
                (aux, ca) = kahan_inc(delta * (f - (mean + cm)), aux, ca);
            }
            let var = (aux + ca) / count;
            Some(V::F(if f == F::StddevOverTime {
                var.sqrt()
            } else {
                var
            }))
        }
        F::QuantileOverTime => {
            if fl.is_empty() {
                return Ok(None);
            }
            if !(0.0..=1.0).contains(&p[0]) {
                ev.annos.warn(format!(
                    "quantile value should be between 0 and 1, got {}",
                    crate::functions::fmt_g(p[0])
                ));
            }
            let mut vals: Vec<f64> = fl.iter().map(|x| x.1).collect();
            Some(V::F(quantile(p[0], &mut vals)))
        }
        F::MadOverTime => {
            if fl.is_empty() {
                return Ok(None);
            }
            let mut vals: Vec<f64> = fl.iter().map(|x| x.1).collect();
            let median = quantile(0.5, &mut vals);
            let mut dev: Vec<f64> = vals.iter().map(|v| (v - median).abs()).collect();
            Some(V::F(quantile(0.5, &mut dev)))
        }
        _ => {
            return Err(Error::BadData(format!(
                "function {name:?} is not supported"
            )));
        }
    })
}

/// Mean of float points as Prometheus computes it (Kahan sum, incremental on overflow).
fn avg(fl: &[(i64, f64)]) -> f64 {
    if fl.len() == 1 {
        return fl[0].1;
    }
    let (mut sum, mut c, mut mean, mut incremental) = (fl[0].1, 0.0, 0.0, false);
    let mut count = 1.0;
    for (_, f) in &fl[1..] {
        count += 1.0;
        if !incremental {
            let (ns, nc) = kahan_inc(*f, sum, c);
            if !ns.is_infinite() {
                (sum, c) = (ns, nc);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(f / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

/// Prometheus' extrapolated rate over float points of the window `(start, end]`.
pub(crate) fn extrapolated_rate(
    fl: &[(i64, f64)],
    start: i64,
    end: i64,
    counter: bool,
    is_rate: bool,
    range_s: f64,
) -> Option<f64> {
    if fl.len() < 2 {
        return None;
    }
    let (first_t, first_v) = fl[0];
    let (last_t, last_v) = fl[fl.len() - 1];
    let mut result = last_v - first_v;
    if counter {
        let mut prev = first_v;
        for (_, v) in &fl[1..] {
            if *v < prev {
                result += prev;
            }
            prev = *v;
        }
    }
    Some(
        result
            * extrapolation_factor(
                first_t,
                last_t,
                fl.len(),
                start,
                end,
                counter,
                result,
                first_v,
                is_rate,
                range_s,
            ),
    )
}

/// Returns the factor that extends a raw increase over the sampled interval to the window.
#[allow(clippy::too_many_arguments)]
pub(crate) fn extrapolation_factor(
    first_t: i64,
    last_t: i64,
    n: usize,
    start: i64,
    end: i64,
    counter: bool,
    result: f64,
    first_v: f64,
    is_rate: bool,
    range_s: f64,
) -> f64 {
    let mut to_start = (first_t - start) as f64 / 1000.0;
    let mut to_end = (end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg_between = sampled / (n - 1) as f64;
    let threshold = avg_between * 1.1;
    if to_start >= threshold {
        to_start = avg_between / 2.0;
    }
    if counter && result > 0.0 && first_v >= 0.0 {
        let to_zero = sampled * (first_v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg_between / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= range_s;
    }
    factor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_extrapolates_to_window_edges_when_samples_are_regular() {
        // Samples every 10s over (0, 60]: 10..=60, counter increases by 1 per sample.
        let fl: Vec<(i64, f64)> = (1..=6).map(|i| (i * 10_000, 10.0 + i as f64)).collect();
        let r = extrapolated_rate(&fl, 0, 60_000, true, true, 60.0).unwrap_or(f64::NAN);
        assert!((r - 0.1).abs() < 1e-12, "{r}");
    }

    #[test]
    fn rate_does_not_extrapolate_below_zero() {
        // Counter starting at 0 near the window start must not extrapolate past zero.
        let fl = vec![(30_000, 0.0), (40_000, 10.0), (50_000, 20.0)];
        let inc = extrapolated_rate(&fl, 0, 60_000, true, false, 60.0).unwrap_or(f64::NAN);
        // To start: limited to zero point (0s); to end: 10s <= 11s threshold.
        assert!((inc - 30.0).abs() < 1e-9, "{inc}");
    }

    #[test]
    fn rate_needs_two_samples_and_handles_resets() {
        assert!(extrapolated_rate(&[(10, 1.0)], 0, 60_000, true, true, 60.0).is_none());
        let fl = vec![(0, 5.0), (10_000, 1.0)];
        let inc = extrapolated_rate(&fl, 0, 10_000, true, false, 10.0).unwrap_or(f64::NAN);
        assert!((inc - 1.0).abs() < 1e-9 || inc > 0.0);
    }
}
