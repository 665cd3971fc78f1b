//! Native histogram values (float representation), as Prometheus' `histogram.FloatHistogram`.
//!
//! Buckets are stored as spans plus absolute float counts, like Prometheus. Operations work on
//! a sparse `index → count` view and return histograms in canonical form (no empty buckets),
//! which is what Prometheus' `Compact(0)` yields, so results compare structurally.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The schema of histograms with custom bucket bounds (NHCB).
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// Whether a histogram follows a counter reset, as Prometheus' `CounterResetHint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CounterResetHint {
    /// Unknown (the default).
    #[default]
    Unknown,
    /// A counter reset happened just before this histogram.
    CounterReset,
    /// No counter reset happened.
    NotCounterReset,
    /// The histogram is a gauge: counter resets do not apply.
    Gauge,
}

/// A run of consecutive buckets: `offset` from the end of the previous span, `length` buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Gap (in bucket indexes) from the end of the previous span, or the first index.
    pub offset: i32,
    /// Number of buckets.
    pub length: u32,
}

/// Two histograms cannot be combined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistogramError {
    /// One histogram has custom buckets, the other exponential ones.
    #[error("histograms have incompatible schemas")]
    IncompatibleSchema,
    /// Custom-bucket histograms with different bounds.
    #[error("histograms have incompatible custom bucket bounds")]
    IncompatibleBounds,
}

/// A native histogram sample with float counts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FloatHistogram {
    /// Bucket schema: -4..=8 exponential, -53 for custom buckets.
    pub schema: i32,
    /// Width of the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: f64,
    /// Total observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// Counter reset hint.
    pub counter_reset_hint: CounterResetHint,
    /// Spans of positive buckets.
    pub positive_spans: Vec<Span>,
    /// Absolute counts of positive buckets, in span order.
    pub positive_buckets: Vec<f64>,
    /// Spans of negative buckets.
    pub negative_spans: Vec<Span>,
    /// Absolute counts of negative buckets, in span order.
    pub negative_buckets: Vec<f64>,
    /// Upper bounds of custom buckets (schema -53), +Inf implied last.
    pub custom_values: Vec<f64>,
}

/// Expands spans and counts into `index → count`.
fn to_map(spans: &[Span], buckets: &[f64]) -> BTreeMap<i32, f64> {
    // Each span's offset is relative to the end of the previous span. Malformed input (more
    // span slots than buckets, huge offsets) is cut short rather than trusted.
    let mut m = BTreeMap::new();
    let mut idx = 0i32;
    let mut b = 0usize;
    for s in spans {
        idx = idx.wrapping_add(s.offset);
        for _ in 0..s.length {
            let Some(c) = buckets.get(b) else { return m };
            *m.entry(idx).or_insert(0.0) += *c;
            b += 1;
            idx = idx.wrapping_add(1);
        }
    }
    m
}

/// Builds spans and counts from `index → count`, dropping empty buckets.
fn from_map(m: &BTreeMap<i32, f64>) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut buckets = Vec::new();
    let mut next: Option<i32> = None;
    for (&i, &c) in m {
        if c == 0.0 {
            continue;
        }
        match next {
            Some(n) if n == i => {
                if let Some(s) = spans.last_mut() {
                    s.length += 1;
                }
            }
            Some(n) => spans.push(Span {
                offset: i.wrapping_sub(n),
                length: 1,
            }),
            None => spans.push(Span {
                offset: i,
                length: 1,
            }),
        }
        buckets.push(c);
        next = Some(i.wrapping_add(1));
    }
    (spans, buckets)
}

/// Maps a bucket index to a coarser schema.
fn reduce_index(idx: i32, from: i32, to: i32) -> i32 {
    // Valid schemas differ by at most 12; the clamp only keeps malformed input from panicking.
    ((idx - 1) >> (from - to).clamp(0, 31)) + 1
}

fn reduce_map(m: &BTreeMap<i32, f64>, from: i32, to: i32) -> BTreeMap<i32, f64> {
    if from == to {
        return m.clone();
    }
    let mut out = BTreeMap::new();
    for (&i, &c) in m {
        *out.entry(reduce_index(i, from, to)).or_insert(0.0) += c;
    }
    out
}

impl FloatHistogram {
    /// Returns whether the histogram uses custom bucket bounds.
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// Returns the positive buckets as `index → count`.
    pub fn positive_map(&self) -> BTreeMap<i32, f64> {
        to_map(&self.positive_spans, &self.positive_buckets)
    }

    /// Returns the negative buckets as `index → count`.
    pub fn negative_map(&self) -> BTreeMap<i32, f64> {
        to_map(&self.negative_spans, &self.negative_buckets)
    }

    fn with_maps(&self, pos: &BTreeMap<i32, f64>, neg: &BTreeMap<i32, f64>) -> FloatHistogram {
        let (ps, pb) = from_map(pos);
        let (ns, nb) = from_map(neg);
        FloatHistogram {
            positive_spans: ps,
            positive_buckets: pb,
            negative_spans: ns,
            negative_buckets: nb,
            ..self.clone()
        }
    }

    /// Returns the histogram in canonical form: no empty buckets.
    pub fn compacted(&self) -> FloatHistogram {
        self.with_maps(&self.positive_map(), &self.negative_map())
    }

    /// Returns the histogram divided by `f`; division by zero removes all buckets, as in
    /// Prometheus.
    pub fn divided(&self, f: f64) -> FloatHistogram {
        let mut h = self.clone();
        h.count /= f;
        h.sum /= f;
        h.zero_count /= f;
        if f == 0.0 {
            h.positive_spans.clear();
            h.positive_buckets.clear();
            h.negative_spans.clear();
            h.negative_buckets.clear();
            return h;
        }
        h.positive_buckets.iter_mut().for_each(|b| *b /= f);
        h.negative_buckets.iter_mut().for_each(|b| *b /= f);
        h
    }

    /// Returns the running mean after adding the `count`-th histogram `next` to `mean`
    /// (Prometheus' incremental mean: `mean + next/count - mean/count`).
    pub fn mean_step(
        &self,
        next: &FloatHistogram,
        count: f64,
    ) -> Result<FloatHistogram, HistogramError> {
        let to_add = next.divided(count).sub(&self.divided(count))?;
        self.add(&to_add)
    }

    /// Returns the histogram with every count and the sum multiplied by `f`.
    pub fn scaled(&self, f: f64) -> FloatHistogram {
        let mut h = self.clone();
        h.count *= f;
        h.sum *= f;
        h.zero_count *= f;
        h.positive_buckets.iter_mut().for_each(|b| *b *= f);
        h.negative_buckets.iter_mut().for_each(|b| *b *= f);
        h
    }

    /// Returns the upper bound of positive bucket `idx` of an exponential schema, computed as
    /// Prometheus does (a power of two times an exact fraction, so bounds are bit-identical).
    pub fn exp_upper_bound(schema: i32, idx: i32) -> f64 {
        fn ldexp(frac: f64, exp: i32) -> f64 {
            // Split the scaling so that intermediate powers never overflow.
            let half = exp / 2;
            frac * 2f64.powi(half) * 2f64.powi(exp - half)
        }
        if !(-4..=8).contains(&schema) {
            // Not a valid exponential schema: a plain (not bit-exact) power of two.
            return 2f64.powf(f64::from(idx) * 2f64.powi(-schema));
        }
        if schema <= 0 {
            let exp = (i64::from(idx) << -schema).clamp(-2000, 2000) as i32;
            if exp == 1024 {
                return f64::MAX;
            }
            return ldexp(1.0, exp);
        }
        let frac_idx = idx & ((1 << schema) - 1);
        let frac = 2f64.powf(f64::from(frac_idx) / f64::from(1 << schema) - 1.0);
        let exp = (idx >> schema) + 1;
        if frac == 0.5 && exp == 1025 {
            return f64::MAX;
        }
        ldexp(frac, exp)
    }

    /// Returns `self + sign * other`, at the coarser schema and the wider zero bucket.
    fn combine(&self, other: &FloatHistogram, sign: f64) -> Result<FloatHistogram, HistogramError> {
        if self.uses_custom_buckets() != other.uses_custom_buckets() {
            return Err(HistogramError::IncompatibleSchema);
        }
        if self.uses_custom_buckets() && self.custom_values != other.custom_values {
            return Err(HistogramError::IncompatibleBounds);
        }
        let schema = self.schema.min(other.schema);
        let mut pos = reduce_map(&self.positive_map(), self.schema, schema);
        let mut neg = reduce_map(&self.negative_map(), self.schema, schema);
        for (i, c) in reduce_map(&other.positive_map(), other.schema, schema) {
            *pos.entry(i).or_insert(0.0) += sign * c;
        }
        for (i, c) in reduce_map(&other.negative_map(), other.schema, schema) {
            *neg.entry(i).or_insert(0.0) += sign * c;
        }
        let mut zero_count = self.zero_count + sign * other.zero_count;
        let zt = self.zero_threshold.max(other.zero_threshold);
        if !self.uses_custom_buckets() && self.zero_threshold != other.zero_threshold {
            // Buckets that now lie inside the wider zero bucket move into it.
            for m in [&mut pos, &mut neg] {
                let inside: Vec<i32> = m
                    .keys()
                    .copied()
                    .filter(|i| Self::exp_upper_bound(schema, *i) <= zt)
                    .collect();
                for i in inside {
                    zero_count += m.remove(&i).unwrap_or(0.0);
                }
            }
        }
        let mut h = FloatHistogram {
            schema,
            zero_threshold: zt,
            zero_count,
            count: self.count + sign * other.count,
            sum: self.sum + sign * other.sum,
            counter_reset_hint: CounterResetHint::Unknown,
            custom_values: self.custom_values.clone(),
            ..Default::default()
        };
        if self.counter_reset_hint == CounterResetHint::Gauge
            || other.counter_reset_hint == CounterResetHint::Gauge
        {
            h.counter_reset_hint = CounterResetHint::Gauge;
        }
        Ok(h.with_maps(&pos, &neg))
    }

    /// Returns `self + other`.
    pub fn add(&self, other: &FloatHistogram) -> Result<FloatHistogram, HistogramError> {
        self.combine(other, 1.0)
    }

    /// Returns `self - other`.
    pub fn sub(&self, other: &FloatHistogram) -> Result<FloatHistogram, HistogramError> {
        self.combine(other, -1.0)
    }

    /// Returns whether two histograms are identical (in canonical form).
    pub fn equals(&self, other: &FloatHistogram) -> bool {
        let (a, b) = (self.compacted(), other.compacted());
        a.schema == b.schema
            && a.zero_threshold == b.zero_threshold
            && a.zero_count.to_bits() == b.zero_count.to_bits()
            && a.count.to_bits() == b.count.to_bits()
            && a.sum.to_bits() == b.sum.to_bits()
            && a.positive_spans == b.positive_spans
            && a.negative_spans == b.negative_spans
            && a.positive_buckets
                .iter()
                .map(|x| x.to_bits())
                .eq(b.positive_buckets.iter().map(|x| x.to_bits()))
            && a.negative_buckets
                .iter()
                .map(|x| x.to_bits())
                .eq(b.negative_buckets.iter().map(|x| x.to_bits()))
            && a.custom_values == b.custom_values
    }

    /// Returns whether `self`, following `prev`, shows a counter reset.
    pub fn detect_reset(&self, prev: &FloatHistogram) -> bool {
        match self.counter_reset_hint {
            // The same histogram seen twice (e.g. repeated by a subquery) is not a second reset.
            CounterResetHint::CounterReset => return !self.equals(prev),
            CounterResetHint::NotCounterReset => return false,
            // Gauge histograms are checked like unknown ones, as Prometheus does.
            CounterResetHint::Unknown | CounterResetHint::Gauge => {}
        }
        if self.count < prev.count {
            return true;
        }
        if self.uses_custom_buckets() != prev.uses_custom_buckets() {
            return true;
        }
        if self.uses_custom_buckets() && self.custom_values != prev.custom_values {
            return true;
        }
        if self.schema > prev.schema || self.zero_threshold < prev.zero_threshold {
            return true;
        }
        if self.zero_threshold == prev.zero_threshold && self.zero_count < prev.zero_count {
            return true;
        }
        let schema = self.schema.min(prev.schema);
        for (cur, old) in [
            (self.positive_map(), prev.positive_map()),
            (self.negative_map(), prev.negative_map()),
        ] {
            let cur = reduce_map(&cur, self.schema, schema);
            let old = reduce_map(&old, prev.schema, schema);
            for (i, c) in &old {
                if cur.get(i).copied().unwrap_or(0.0) < *c {
                    return true;
                }
            }
        }
        false
    }

    /// Returns the buckets as `(lower, upper, count)` in ascending order of bounds, as
    /// Prometheus' `AllBucketIterator` yields them: the zero bucket only when it holds
    /// observations, bucket bounds that reach into the zero bucket clipped to its threshold,
    /// and for custom buckets a first bucket from -Inf and a last one to +Inf.
    pub fn bucket_list(&self) -> Vec<(f64, f64, f64)> {
        let mut out = Vec::new();
        if self.uses_custom_buckets() {
            for (i, c) in self.positive_map() {
                let i = i.max(0) as usize;
                let lower = if i == 0 {
                    f64::NEG_INFINITY
                } else {
                    self.custom_values
                        .get(i - 1)
                        .copied()
                        .unwrap_or(f64::INFINITY)
                };
                let upper = self.custom_values.get(i).copied().unwrap_or(f64::INFINITY);
                out.push((lower, upper, c));
            }
            return out;
        }
        let zt = self.zero_threshold;
        for (i, c) in self.negative_map().iter().rev() {
            let mut upper = -Self::exp_upper_bound(self.schema, i - 1);
            let lower = -Self::exp_upper_bound(self.schema, *i);
            if upper < 0.0 && upper > -zt {
                upper = -zt;
            }
            out.push((lower, upper, *c));
        }
        if self.zero_count > 0.0 {
            out.push((-zt, zt, self.zero_count));
        }
        for (i, c) in self.positive_map() {
            let mut lower = Self::exp_upper_bound(self.schema, i - 1);
            let upper = Self::exp_upper_bound(self.schema, i);
            if lower > 0.0 && lower < zt {
                lower = zt;
            }
            out.push((lower, upper, c));
        }
        out
    }

    /// Returns the non-empty buckets as the Prometheus HTTP API encodes them:
    /// `(boundary rule, lower, upper, count)`, where the rule is 0 for `(lower, upper]`, 1 for
    /// `[lower, upper)`, 2 for `(lower, upper)` and 3 for `[lower, upper]` (the zero bucket).
    pub fn api_buckets(&self) -> Vec<(u8, f64, f64, f64)> {
        let custom = self.uses_custom_buckets();
        self.bucket_list()
            .into_iter()
            .filter(|b| b.2 != 0.0)
            .map(|(lo, hi, c)| {
                let rule = if !custom && lo == -self.zero_threshold && hi == self.zero_threshold {
                    3
                } else if !custom && hi <= 0.0 {
                    1
                } else {
                    0
                };
                (rule, lo, hi, c)
            })
            .collect()
    }

    /// Formats the histogram in the promqltest notation, `{{schema:0 count:1 …}}`.
    pub fn to_test_string(&self) -> String {
        let mut s = String::from("{{");
        let _ = write!(
            s,
            "schema:{} count:{} sum:{}",
            self.schema, self.count, self.sum
        );
        if self.zero_count != 0.0 {
            let _ = write!(s, " z_bucket:{}", self.zero_count);
        }
        if self.zero_threshold != 0.0 {
            let _ = write!(s, " z_bucket_w:{}", self.zero_threshold);
        }
        let c = self.compacted();
        if !c.positive_buckets.is_empty() {
            let _ = write!(
                s,
                " spans:{:?} buckets:{:?}",
                c.positive_spans, c.positive_buckets
            );
        }
        if !c.negative_buckets.is_empty() {
            let _ = write!(
                s,
                " n_spans:{:?} n_buckets:{:?}",
                c.negative_spans, c.negative_buckets
            );
        }
        if !self.custom_values.is_empty() {
            let _ = write!(s, " custom_values:{:?}", self.custom_values);
        }
        s.push_str("}}");
        s
    }
}

/// Formats a float as Go's `%g`.
fn go_g(f: f64) -> String {
    crate::functions::fmt_g(f)
}

impl FloatHistogram {
    /// Formats the histogram as Prometheus' `FloatHistogram.String()`, e.g.
    /// `{count:2, sum:3, [-2,-1):1, (0.5,1]:1}`.
    pub fn to_go_string(&self) -> String {
        let mut s = format!("{{count:{}, sum:{}", go_g(self.count), go_g(self.sum));
        let custom = self.uses_custom_buckets();
        for (lo, hi, c) in self.bucket_list() {
            if c == 0.0 {
                continue;
            }
            let zero = !custom && lo == -self.zero_threshold && hi == self.zero_threshold;
            let (open, close) = if zero {
                ('[', ']')
            } else if hi <= 0.0 && !custom {
                ('[', ')')
            } else {
                ('(', ']')
            };
            let _ = write!(s, ", {open}{},{}{close}:{}", go_g(lo), go_g(hi), go_g(c));
        }
        s.push('}');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(schema: i32, offset: i32, buckets: &[f64]) -> FloatHistogram {
        FloatHistogram {
            schema,
            count: buckets.iter().sum(),
            positive_spans: vec![Span {
                offset,
                length: buckets.len() as u32,
            }],
            positive_buckets: buckets.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn add_reduces_to_coarser_schema() {
        let a = h(1, 0, &[1.0, 2.0, 3.0, 4.0]);
        let b = h(0, 0, &[1.0, 1.0]);
        let s = a.add(&b).unwrap_or_default();
        assert_eq!(s.schema, 0);
        // Schema 1 indexes 0,1,2,3 map to schema 0 indexes 0,1,1,2.
        let m = s.positive_map();
        assert_eq!(m.get(&0), Some(&2.0));
        assert_eq!(m.get(&1), Some(&6.0));
        assert_eq!(m.get(&2), Some(&4.0));
    }

    #[test]
    fn compaction_drops_empty_buckets() {
        let a = h(0, 0, &[1.0, 0.0, 3.0]).compacted();
        assert_eq!(
            a.positive_spans,
            vec![
                Span {
                    offset: 0,
                    length: 1
                },
                Span {
                    offset: 1,
                    length: 1
                }
            ]
        );
    }
}
