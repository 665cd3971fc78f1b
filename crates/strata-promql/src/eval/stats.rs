//! Sample accounting, as Prometheus 3.5 does it: the samples a query holds at each moment
//! (`currentSamples`, limited by `max-samples`, whose maximum is `peakSamples`) and the samples
//! it reads from storage (`totalQueryableSamples`, also per step).
//!
//! Prometheus keeps a running count of the samples held in memory while its evaluator walks
//! the AST; the rules differ per node type (see `promql/engine.go`: `rangeEval`, `evalSeries`,
//! `matrixIterSlice`, the matrix-argument branch of `Call`, `rangeEvalAgg`, subqueries). This
//! module reproduces that bookkeeping on top of this engine's step-wise evaluation: selectors
//! and range functions count as they go; nodes that Prometheus evaluates with `rangeEval`
//! (binary operators, functions of instant vectors, literals, `count_values`) are accounted for
//! after the fact from the per-step sizes of their children and of their own result, which is
//! all `rangeEval` looks at.

use std::sync::Arc;

use super::{Evaluator, V, Val};
use crate::FloatHistogram;
use crate::error::{Error, Result};

/// The sample counts of one query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Samples read from storage (points in range windows and points selected by instant
    /// selectors, summed over steps), Prometheus' `totalQueryableSamples`.
    pub total_queryable_samples: i64,
    /// The most samples held in memory at once, Prometheus' `peakSamples`.
    pub peak_samples: i64,
    /// `total_queryable_samples` split by step: `(step timestamp in ms, samples)`, one entry per
    /// step of the query (one for an instant query).
    pub total_queryable_samples_per_step: Vec<(i64, i64)>,
}

/// The running counts of an evaluation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counter {
    /// Samples held now (Prometheus' `currentSamples`).
    pub(crate) cur: i64,
    pub(crate) peak: i64,
    pub(crate) total: i64,
    /// Per top-level step; `None` inside subqueries, whose reads Prometheus does not count per
    /// step.
    pub(crate) per_step: Option<Vec<i64>>,
}

/// Prometheus' size of a histogram in samples when it is a point of a series (`HPoint.size`).
pub(crate) fn hpoint_size(h: &FloatHistogram) -> i64 {
    (go_size(h) + 8) / 16
}

/// Prometheus' size of a histogram sample of an instant vector (`Vector.TotalSamples`).
fn sample_size(v: &V) -> i64 {
    match v {
        V::F(_) => 1,
        V::H(h) => 1 + go_size(h) / 16,
    }
}

/// `FloatHistogram.Size()` of Prometheus: the struct plus its slices, in bytes.
fn go_size(h: &FloatHistogram) -> i64 {
    let n = h.positive_spans.len()
        + h.negative_spans.len()
        + h.positive_buckets.len()
        + h.negative_buckets.len()
        + h.custom_values.len();
    168 + 8 * n as i64
}

/// Returns the per-step number of elements of a value, as `rangeEval` gathers its inputs.
pub(crate) fn step_counts(v: &Val, steps: usize) -> Vec<u32> {
    match v {
        Val::Vector(s) => s.iter().map(|x| x.len() as u32).collect(),
        Val::Scalar(_) => vec![1; steps],
        Val::Str(_) | Val::Matrix(_) => Vec::new(),
    }
}

/// Returns the per-step sizes of a result and its total as a matrix.
fn result_sizes(v: &Val) -> (Vec<i64>, i64) {
    match v {
        Val::Vector(s) => {
            let per: Vec<i64> = s
                .iter()
                .map(|x| x.iter().map(|e| sample_size(&e.v)).sum())
                .collect();
            let total = s
                .iter()
                .flat_map(|x| x.iter())
                .map(|e| match &e.v {
                    V::F(_) => 1,
                    V::H(h) => hpoint_size(h),
                })
                .sum();
            (per, total)
        }
        Val::Scalar(s) => (vec![1; s.len()], s.len() as i64),
        Val::Str(_) | Val::Matrix(_) => (Vec::new(), 0),
    }
}

/// Returns the samples of a histogram window slice as Prometheus counts them.
pub(crate) fn hists_size(h: &[(i64, Arc<FloatHistogram>)]) -> i64 {
    h.iter().map(|(_, h)| hpoint_size(h)).sum()
}

impl Evaluator<'_> {
    /// Adds `n` samples to those held and fails past the limit.
    pub(crate) fn hold(&mut self, n: i64) -> Result<()> {
        self.counter.cur += n;
        self.check_held()
    }

    /// Fails when the samples held exceed the query's limit.
    pub(crate) fn check_held(&self) -> Result<()> {
        if self.counter.cur > self.limits.max_samples as i64 {
            return Err(Error::TooManySamples("query execution"));
        }
        Ok(())
    }

    /// Records the samples held now as a peak candidate.
    pub(crate) fn update_peak(&mut self) {
        if self.counter.cur > self.counter.peak {
            self.counter.peak = self.counter.cur;
        }
    }

    /// Counts `n` samples read at step `i` of the current level.
    pub(crate) fn count_read(&mut self, i: usize, n: i64) {
        self.counter.total += n;
        if let Some(p) = &mut self.counter.per_step
            && let Some(x) = p.get_mut(i)
        {
            *x += n;
        }
    }

    /// Accounts for a node that Prometheus evaluates with `rangeEval`: at every step the inputs
    /// gathered and the step's result are held on top of the results of earlier steps; at the
    /// end the node holds its whole result. `original` is the count before the node's children
    /// were evaluated, `children` their per-step element counts.
    pub(crate) fn account_range_eval(
        &mut self,
        original: i64,
        children: &[Vec<u32>],
        out: &Val,
    ) -> Result<()> {
        let (per, total) = result_sizes(out);
        let mut temp = self.counter.cur;
        for (i, o) in per.iter().enumerate() {
            let gathered: i64 = children
                .iter()
                .map(|c| i64::from(c.get(i).copied().unwrap_or(0)))
                .sum();
            self.counter.cur = temp + gathered;
            self.update_peak();
            self.check_held()?;
            self.counter.cur += o;
            temp += o;
            self.update_peak();
            self.check_held()?;
        }
        self.counter.cur = original + total;
        self.update_peak();
        Ok(())
    }

    /// Accounts for an aggregation (`rangeEvalAgg`): it holds its result once done.
    pub(crate) fn account_aggregation(&mut self, original: i64, out: &Val) {
        let (_, total) = result_sizes(out);
        self.counter.cur = original + total;
        self.update_peak();
    }

    /// Returns the statistics gathered so far, with step timestamps of the top level.
    pub(crate) fn query_stats(&self) -> QueryStats {
        let per = self.counter.per_step.as_deref().unwrap_or(&[]);
        QueryStats {
            total_queryable_samples: self.counter.total,
            peak_samples: self.counter.peak,
            total_queryable_samples_per_step: per
                .iter()
                .enumerate()
                .map(|(i, n)| (self.ts(i), *n))
                .collect(),
        }
    }
}
