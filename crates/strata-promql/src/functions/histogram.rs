//! Histogram functions: `histogram_quantile` over classic buckets and native histograms, and the
//! `histogram_*` accessors of native histograms.

use std::collections::HashMap;
use std::sync::Arc;

use promql_parser::parser::Expr;
use strata_model::Labels;

use crate::FloatHistogram;
use crate::error::Result;
use crate::eval::{Elem, Evaluator, V, Val};

fn name_of(l: &Labels) -> String {
    l.metric_name().unwrap_or("").to_string()
}

/// The metric name Prometheus would see on `e` (empty once a function or operator has
/// dropped it; the engine removes names late).
fn visible_name(e: &Elem) -> String {
    if e.drop_name {
        String::new()
    } else {
        name_of(&e.labels)
    }
}

/// Tolerance below which bucket count differences are treated as float noise.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// Quantile over classic buckets `(upper bound, cumulative count)`. Returns the value and
/// whether monotonicity had to be forced.
pub(crate) fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return (f64::NAN, false);
    }
    // Coalesce buckets with the same bound.
    let mut co: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for b in buckets {
        match co.last_mut() {
            Some(l) if l.0 == b.0 => l.1 += b.1,
            _ => co.push(b),
        }
    }
    let mut forced = false;
    let mut prev = co[0].1;
    for b in co.iter_mut().skip(1) {
        let curr = b.1;
        if curr == prev {
            continue;
        }
        if super::math::almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            b.1 = prev;
            continue;
        }
        if curr < prev {
            b.1 = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    if co.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = co[co.len() - 1].1;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let b = co[..co.len() - 1]
        .iter()
        .position(|x| x.1 >= rank)
        .unwrap_or(co.len() - 1);
    if b == co.len() - 1 {
        return (co[co.len() - 2].0, forced);
    }
    if b == 0 && co[0].0 <= 0.0 {
        return (co[0].0, forced);
    }
    let mut start = 0.0;
    let end = co[b].0;
    let mut count = co[b].1;
    if b > 0 {
        start = co[b - 1].0;
        count -= co[b - 1].1;
        rank -= co[b - 1].1;
    }
    (start + (end - start) * (rank / count), forced)
}

/// Fraction of observations between `lower` and `upper` in classic buckets
/// `(upper bound, cumulative count)`, as Prometheus 3.5 computes it: linear interpolation
/// within a bucket, the lowest bucket reaching down to -Inf (so bounds inside it give NaN),
/// no monotonicity repair.
pub(crate) fn bucket_fraction(lower: f64, upper: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    let mut co: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for b in buckets {
        match co.last_mut() {
            Some(l) if l.0 == b.0 => l.1 += b.1,
            _ => co.push(b),
        }
    }
    let count = co[co.len() - 1].1;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, None, None);
    for (i, (ub, c)) in co.iter().enumerate() {
        let lb = if i > 0 {
            co[i - 1].0
        } else {
            f64::NEG_INFINITY
        };
        let interp = |v: f64| rank + (c - rank) * (v - lb) / (ub - lb);
        if lower_rank.is_none() && lb >= lower {
            lower_rank = Some(rank);
        }
        if upper_rank.is_none() && lb >= upper {
            upper_rank = Some(rank);
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        if lower_rank.is_none() && lb < lower && *ub > lower {
            lower_rank = Some(interp(lower));
        }
        if upper_rank.is_none() && lb < upper && *ub > upper {
            upper_rank = Some(interp(upper));
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        rank = *c;
    }
    // As in Prometheus, a NaN rank (a bound inside the -Inf bucket) stays NaN.
    let clamp = |r: Option<f64>| match r {
        Some(r) if r.partial_cmp(&count) != Some(std::cmp::Ordering::Greater) => r,
        _ => count,
    };
    (clamp(upper_rank) - clamp(lower_rank)) / count
}

/// Quantile of a native histogram, as Prometheus 3.5 computes it. The flag tells whether NaN
/// observations influenced it (`Some(true)`: the result is NaN because of them,
/// `Some(false)`: it is skewed higher).
pub(crate) fn native_quantile(q: f64, h: &FloatHistogram) -> (f64, Option<bool>) {
    if q < 0.0 {
        return (f64::NEG_INFINITY, None);
    }
    if q > 1.0 {
        return (f64::INFINITY, None);
    }
    if h.count == 0.0 || q.is_nan() {
        return (f64::NAN, None);
    }
    let buckets = h.bucket_list();
    let nan_sum = h.sum.is_nan();
    let forward = nan_sum || q < 0.5;
    let mut rank = if forward {
        q * h.count
    } else {
        (1.0 - q) * h.count
    };
    let order: Vec<usize> = if forward {
        (0..buckets.len()).collect()
    } else {
        (0..buckets.len()).rev().collect()
    };
    let (mut count, mut bucket, mut pos) = (0.0, (0.0, 0.0, 0.0), order.len());
    for (k, &i) in order.iter().enumerate() {
        let b = buckets[i];
        if b.2 == 0.0 {
            continue;
        }
        bucket = b;
        count += b.2;
        if count >= rank {
            pos = k + 1;
            break;
        }
    }
    let (mut lower, mut upper, bc) = bucket;
    if !h.uses_custom_buckets() && lower < 0.0 && upper > 0.0 {
        if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
            lower = 0.0;
        } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
            upper = 0.0;
        }
    } else if h.uses_custom_buckets() {
        if lower == f64::NEG_INFINITY {
            if upper <= 0.0 {
                return (upper, None);
            }
            lower = 0.0;
        } else if upper == f64::INFINITY {
            return (lower, None);
        }
    }
    if count > h.count {
        count = h.count;
    }
    if count < rank {
        if nan_sum {
            return (f64::NAN, Some(true));
        }
        return (upper, None);
    }
    if forward {
        rank -= count - bc;
    } else {
        rank = count - rank;
    }
    let mut skew = None;
    if nan_sum {
        for &i in &order[pos.min(order.len())..] {
            count += buckets[i].2;
        }
        if count < h.count {
            skew = Some(false);
        }
    }
    let fraction = rank / bc;
    if h.uses_custom_buckets() || (lower <= 0.0 && upper >= 0.0) {
        return (lower + (upper - lower) * fraction, skew);
    }
    let (log_lower, log_upper) = (lower.abs().log2(), upper.abs().log2());
    let v = if lower > 0.0 {
        (log_lower + (log_upper - log_lower) * fraction).exp2()
    } else {
        -(log_upper + (log_lower - log_upper) * (1.0 - fraction)).exp2()
    };
    (v, skew)
}

/// Fraction of observations of a native histogram between `lower` and `upper`, as Prometheus
/// 3.5 computes it. The flag tells whether NaN observations were excluded.
pub(crate) fn native_fraction(lower: f64, upper: f64, h: &FloatHistogram) -> (f64, bool) {
    if h.count == 0.0 || lower.is_nan() || upper.is_nan() {
        return (f64::NAN, false);
    }
    if lower >= upper {
        return (0.0, false);
    }
    let buckets = h.bucket_list();
    let (mut count, mut rank) = (0.0, 0.0);
    let (mut lower_rank, mut upper_rank) = (None, None);
    let mut consumed = buckets.len();
    for (k, &(bl, bu, bc)) in buckets.iter().enumerate() {
        count += bc;
        let (mut bl, mut bu) = (bl, bu);
        let mut zero_bucket = false;
        if bl <= 0.0 && bu >= 0.0 {
            zero_bucket = true;
            if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
                bl = 0.0;
            } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
                bu = 0.0;
            }
        }
        let linear = |v: f64| rank + bc * (v - bl) / (bu - bl);
        let exponential = |v: f64| {
            let (ll, lu, lv) = (bl.abs().log2(), bu.abs().log2(), v.abs().log2());
            let fraction = if v > 0.0 {
                (lv - ll) / (lu - ll)
            } else {
                1.0 - (lv - lu) / (ll - lu)
            };
            rank + bc * fraction
        };
        let interp = |v: f64| {
            if h.uses_custom_buckets() || zero_bucket {
                linear(v)
            } else {
                exponential(v)
            }
        };
        if lower_rank.is_none() && bl >= lower {
            lower_rank = Some(rank);
        }
        if upper_rank.is_none() && bl >= upper {
            upper_rank = Some(rank);
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            consumed = k + 1;
            break;
        }
        if lower_rank.is_none() && bl < lower && bu > lower {
            lower_rank = Some(interp(lower));
        }
        if upper_rank.is_none() && bl < upper && bu > upper {
            upper_rank = Some(interp(upper));
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            consumed = k + 1;
            break;
        }
        rank += bc;
    }
    let mut nan_excluded = false;
    if h.sum.is_nan() {
        for b in &buckets[consumed.min(buckets.len())..] {
            count += b.2;
        }
        nan_excluded = count < h.count;
    } else {
        count = h.count;
    }
    let clamp = |r: Option<f64>| match r {
        Some(r) if r.partial_cmp(&count) != Some(std::cmp::Ordering::Greater) => r,
        _ => count,
    };
    (
        (clamp(upper_rank) - clamp(lower_rank)) / h.count,
        nan_excluded,
    )
}

/// Variance of a native histogram's observations, estimated from bucket midpoints as
/// Prometheus 3.5 does (arithmetic means for custom buckets, geometric for exponential ones).
fn native_stdvar(h: &FloatHistogram) -> f64 {
    let mean = h.sum / h.count;
    let (mut v, mut c) = (0.0, 0.0);
    for (lo, hi, cnt) in h.bucket_list() {
        if cnt == 0.0 {
            continue;
        }
        let val = if h.uses_custom_buckets() {
            (hi + lo) / 2.0
        } else if lo <= 0.0 && hi >= 0.0 {
            0.0
        } else if hi < 0.0 {
            -(hi * lo).sqrt()
        } else {
            (hi * lo).sqrt()
        };
        let d = val - mean;
        (v, c) = super::math::kahan_inc(cnt * d * d, v, c);
    }
    (v + c) / h.count
}

/// Evaluates the `histogram_*` functions.
pub(crate) fn eval(ev: &mut Evaluator<'_>, name: &str, args: &[&Expr]) -> Result<Val> {
    match name {
        "histogram_quantile" => {
            let q = ev.eval_scalar(args[0])?;
            let v = ev.eval_vector(args[1])?;
            let mut out = Vec::with_capacity(v.len());
            for (i, s) in v.into_iter().enumerate() {
                out.push(quantile_step(ev, Mode::Quantile(q[i]), s));
            }
            Ok(Val::Vector(out))
        }
        "histogram_fraction" => {
            let lo = ev.eval_scalar(args[0])?;
            let hi = ev.eval_scalar(args[1])?;
            let v = ev.eval_vector(args[2])?;
            let mut out = Vec::with_capacity(v.len());
            for (i, s) in v.into_iter().enumerate() {
                out.push(quantile_step(ev, Mode::Fraction(lo[i], hi[i]), s));
            }
            Ok(Val::Vector(out))
        }
        _ => {
            let v = ev.eval_vector(args[0])?;
            let out = v
                .into_iter()
                .map(|s| {
                    s.into_iter()
                        .filter_map(|e| {
                            let V::H(h) = &e.v else { return None };
                            let f = match name {
                                "histogram_count" => h.count,
                                "histogram_sum" => h.sum,
                                "histogram_avg" => h.sum / h.count,
                                "histogram_stdvar" => native_stdvar(h),
                                _ => native_stdvar(h).sqrt(),
                            };
                            Some(Elem {
                                labels: e.labels,
                                v: V::F(f),
                                drop_name: true,
                            })
                        })
                        .collect()
                })
                .collect();
            Ok(Val::Vector(out))
        }
    }
}

/// What a histogram function computes per group.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Quantile(f64),
    Fraction(f64, f64),
}

fn quantile_step(ev: &mut Evaluator<'_>, mode: Mode, s: Vec<Elem>) -> Vec<Elem> {
    let (q, fname) = match mode {
        Mode::Quantile(q) => (q, "histogram_quantile"),
        Mode::Fraction(..) => (0.5, "histogram_fraction"),
    };
    if !(0.0..=1.0).contains(&q) {
        ev.annos.warn_opt(
            ev.annos.arg(0),
            format!(
                "quantile value should be between 0 and 1, got {}",
                crate::functions::fmt_g(q)
            ),
        );
    }
    // The histogram argument: `histogram_quantile(q, h)`, `histogram_fraction(lo, hi, h)`.
    let input_arg = if matches!(mode, Mode::Fraction(..)) {
        2
    } else {
        1
    };
    struct G {
        labels: Labels,
        name: String,
        buckets: Vec<(f64, f64)>,
        native: Option<Arc<FloatHistogram>>,
    }
    let mut groups: Vec<G> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out = Vec::new();
    for e in s {
        match &e.v {
            V::F(f) => {
                let le = e.labels.get("le").and_then(parse_le);
                let Some(le) = le else {
                    ev.annos.warn_opt(ev.annos.arg(input_arg), format!(
                        "bucket label \"le\" is missing or has a malformed value of \"{}\" for metric name \"{}\"",
                        e.labels.get("le").unwrap_or(""),
                        visible_name(&e)
                    ));
                    continue;
                };
                let mut key = (*e.labels).clone();
                key.remove("le");
                let gi = *index.entry(key.clone()).or_insert_with(|| {
                    groups.push(G {
                        labels: key,
                        name: visible_name(&e),
                        buckets: vec![],
                        native: None,
                    });
                    groups.len() - 1
                });
                groups[gi].buckets.push((le, *f));
            }
            V::H(h) => {
                let key = (*e.labels).clone();
                let gi = *index.entry(key.clone()).or_insert_with(|| {
                    groups.push(G {
                        labels: key,
                        name: visible_name(&e),
                        buckets: vec![],
                        native: None,
                    });
                    groups.len() - 1
                });
                groups[gi].native = Some(h.clone());
            }
        }
    }
    for g in groups {
        if g.native.is_some() && !g.buckets.is_empty() {
            ev.annos.warn_opt(
                ev.annos.arg(input_arg),
                format!(
                    "vector contains a mix of classic and native histograms for metric name \"{}\"",
                    g.name
                ),
            );
            continue;
        }
        let v = if let (Some(h), Mode::Fraction(lo, hi)) = (&g.native, mode) {
            let (v, nan_excluded) = native_fraction(lo, hi, h);
            if nan_excluded {
                ev.annos.info_opt(ev.annos.arg(0), format!(
                    "input to histogram_fraction has NaN observations, which are excluded from all fractions for metric name \"{}\"",
                    g.name
                ));
            }
            v
        } else if let Mode::Fraction(lo, hi) = mode {
            bucket_fraction(lo, hi, g.buckets)
        } else if let Some(h) = g.native {
            let (v, nan) = native_quantile(q, &h);
            match nan {
                Some(true) => ev.annos.info_opt(ev.annos.arg(0), format!(
                    "input to histogram_quantile has NaN observations, result is NaN for metric name \"{}\"",
                    g.name
                )),
                Some(false) => ev.annos.info_opt(ev.annos.arg(0), format!(
                    "input to histogram_quantile has NaN observations, result is skewed higher for metric name \"{}\"",
                    g.name
                )),
                None => {}
            }
            v
        } else {
            let (v, forced) = bucket_quantile(q, g.buckets);
            if forced {
                ev.annos.info_opt(ev.annos.arg(1), format!(
                    "input to {fname} needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name \"{}\"",
                    g.name
                ));
            }
            v
        };
        out.push(Elem {
            labels: Arc::new(g.labels),
            v: V::F(v),
            drop_name: true,
        });
    }
    out
}

fn parse_le(s: &str) -> Option<f64> {
    crate::promqltest::parse_float(s)
}

/// Warns about two histograms that cannot be combined.
pub(crate) fn warn_incompatible(
    ev: &mut Evaluator<'_>,
    e: &crate::histogram::HistogramError,
    name: &str,
) {
    match e {
        crate::histogram::HistogramError::IncompatibleSchema => ev.annos.warn_opt(ev.annos.operand(), format!(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"{name}\""
        )),
        crate::histogram::HistogramError::IncompatibleBounds => ev.annos.warn_opt(ev.annos.operand(), format!(
            "vector contains histograms with incompatible custom buckets for metric name \"{name}\""
        )),
    }
}

/// `rate`/`increase`/`delta` over native histograms, as Prometheus' `histogramRate`.
pub(crate) fn hist_rate(
    ev: &mut Evaluator<'_>,
    name: &str,
    hs: &[(i64, Arc<FloatHistogram>)],
    start: i64,
    end: i64,
    range_s: f64,
    labels: &Labels,
) -> Result<Option<V>> {
    use crate::histogram::CounterResetHint::Gauge;
    if hs.len() < 2 {
        return Ok(None);
    }
    let metric = name_of(labels);
    let counter = name != "delta";
    let last = &hs[hs.len() - 1].1;
    let mut prev: FloatHistogram = (*hs[0].1).clone();
    if counter && (prev.counter_reset_hint == Gauge || last.counter_reset_hint == Gauge) {
        ev.annos.warn_opt(
            ev.annos.operand(),
            format!("this native histogram metric is not a counter: \"{metric}\""),
        );
    }
    let mut custom = prev.uses_custom_buckets();
    if counter && hs[1].1.detect_reset(&prev) {
        let second = &hs[1].1;
        prev = FloatHistogram {
            schema: second.schema,
            custom_values: second.custom_values.clone(),
            ..Default::default()
        };
        custom = second.uses_custom_buckets();
    }
    if last.uses_custom_buckets() != custom {
        warn_incompatible(
            ev,
            &crate::histogram::HistogramError::IncompatibleSchema,
            &metric,
        );
        return Ok(None);
    }
    for (_, h) in &hs[1..hs.len() - 1] {
        if !counter {
            continue;
        }
        if h.counter_reset_hint == Gauge {
            ev.annos.warn_opt(
                ev.annos.operand(),
                format!("this native histogram metric is not a counter: \"{metric}\""),
            );
        }
        if h.uses_custom_buckets() != custom {
            warn_incompatible(
                ev,
                &crate::histogram::HistogramError::IncompatibleSchema,
                &metric,
            );
            return Ok(None);
        }
    }
    let mut acc = match last.sub(&prev) {
        Ok(d) => d,
        Err(e) => {
            warn_incompatible(ev, &e, &metric);
            return Ok(None);
        }
    };
    if counter {
        let mut p: &FloatHistogram = &prev;
        for (_, h) in &hs[1..] {
            if h.detect_reset(p) {
                match acc.add(p) {
                    Ok(x) => acc = x,
                    Err(e) => {
                        warn_incompatible(ev, &e, &metric);
                        return Ok(None);
                    }
                }
            }
            p = h;
        }
    } else if hs[0].1.counter_reset_hint != Gauge || last.counter_reset_hint != Gauge {
        ev.annos.warn_opt(
            ev.annos.operand(),
            format!("this native histogram metric is not a gauge: \"{metric}\""),
        );
    }
    let factor = super::range::extrapolation_factor(
        hs[0].0,
        hs[hs.len() - 1].0,
        hs.len(),
        start,
        end,
        false,
        0.0,
        0.0,
        name == "rate",
        range_s,
    );
    let mut r = acc.scaled(factor);
    r.counter_reset_hint = Gauge;
    Ok(Some(V::H(Arc::new(r.compacted()))))
}
