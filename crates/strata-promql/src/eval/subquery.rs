//! Subqueries: the inner expression evaluated as a range query on its own step grid.

use std::collections::HashMap;
use std::sync::Arc;

use promql_parser::parser::SubqueryExpr;
use strata_model::Labels;

use super::window::{Buffered, RangeWindows, VecIter};
use super::{Evaluator, V, Val, offset_ms};
use crate::error::{Error, Result};
use crate::{Point, PointValue};

impl Evaluator<'_> {
    /// Evaluates a subquery's inner expression over every window the current steps need, and
    /// returns those windows. With `top` (the subquery is the query's result), the samples the
    /// inner expression read count towards the query's total, at the last step; as a function
    /// argument they do not (Prometheus counts the windows the function reads instead).
    pub(crate) fn subquery_windows(
        &mut self,
        sq: &SubqueryExpr,
        top: bool,
    ) -> Result<RangeWindows> {
        let range = sq.range.as_millis() as i64;
        let step = match sq.step {
            Some(s) if s.as_millis() > 0 => s.as_millis() as i64,
            _ => self.cfg.default_subquery_step_ms(),
        };
        let a = self.ref_time(self.start, &sq.at, &sq.offset);
        let b = self.ref_time(self.end, &sq.at, &sq.offset);
        let (lo, hi) = (a.min(b), a.max(b));
        // The first step after `lo - range` that is a multiple of the step.
        let first = lo - range;
        let mut inner_start = step * first.div_euclid(step);
        if inner_start <= first {
            inner_start += step;
        }
        let saved = (self.start, self.end, self.step);
        let saved_at = (self.at_adjust_time, self.at_shift);
        // Prometheus recomputes `@` offsets for the subquery's expression only when its first
        // step differs from the enclosing level's start; otherwise the subquery's own offset
        // stays folded into them.
        if inner_start != self.start || sq.at.is_some() {
            self.at_adjust_time = inner_start;
            self.at_shift = 0;
        } else {
            self.at_shift += offset_ms(&sq.offset);
        }
        // The inner evaluation reads into a child count, without per-step figures.
        let saved_total = self.counter.total;
        let saved_per_step = self.counter.per_step.take();
        self.counter.total = 0;
        let series = if inner_start > hi {
            Ok(Vec::new())
        } else {
            self.start = inner_start;
            self.end = hi;
            self.step = step;
            let r = self.eval(&sq.expr);
            let series = match r {
                Ok(Val::Vector(steps)) => Ok(self.collect_series(steps)),
                Ok(Val::Scalar(vals)) => Ok(vec![(
                    Arc::new(Labels::empty()),
                    false,
                    vals.iter()
                        .enumerate()
                        .map(|(i, f)| Point {
                            t: self.ts(i),
                            v: PointValue::Float(*f),
                        })
                        .collect(),
                )]),
                Ok(_) => Err(Error::BadData(
                    "subquery is only allowed on instant vector".into(),
                )),
                Err(e) => Err(e),
            };
            (self.start, self.end, self.step) = saved;
            series
        };
        (self.at_adjust_time, self.at_shift) = saved_at;
        let inner_total = self.counter.total;
        self.counter.total = saved_total;
        self.counter.per_step = saved_per_step;
        if top {
            let last = self.steps() - 1;
            self.count_read(last, inner_total);
        }
        let series = series?;
        let held: i64 = series
            .iter()
            .flat_map(|(_, _, pts)| pts.iter())
            .map(|p| match &p.v {
                PointValue::Float(_) => 1,
                PointValue::Histogram(h) => super::stats::hpoint_size(h),
            })
            .sum();
        let at = sq.at.as_ref().map(|_| self.ref_time(0, &sq.at, &None));
        Ok(RangeWindows {
            series: series
                .into_iter()
                .map(|(labels, drop, pts)| Buffered::new(labels, drop, Box::new(VecIter::new(pts))))
                .collect(),
            range,
            at,
            offset: offset_ms(&sq.offset),
            held,
        })
    }

    /// Groups per-step vectors into series of points, in first-seen order.
    fn collect_series(&self, steps: Vec<Vec<super::Elem>>) -> Vec<(Arc<Labels>, bool, Vec<Point>)> {
        let mut index: HashMap<Arc<Labels>, usize> = HashMap::new();
        // Elements of one series usually share one `Arc`: look it up by address first (`out`
        // keeps every `Arc` alive, so addresses are not reused meanwhile).
        let mut by_ptr: HashMap<usize, usize> = HashMap::new();
        let mut out: Vec<(Arc<Labels>, bool, Vec<Point>)> = Vec::new();
        for (i, v) in steps.into_iter().enumerate() {
            let t = self.ts(i);
            for e in v {
                let ptr = Arc::as_ptr(&e.labels) as usize;
                let idx = match by_ptr.get(&ptr) {
                    Some(&idx) if Arc::ptr_eq(&out[idx].0, &e.labels) => idx,
                    _ => {
                        let idx = *index.entry(e.labels.clone()).or_insert_with(|| {
                            // Prometheus 3.5 does not carry the pending name removal through a
                            // subquery: a name-keeping function over it (`last_over_time`) keeps
                            // the name.
                            out.push((e.labels.clone(), false, Vec::new()));
                            out.len() - 1
                        });
                        if Arc::ptr_eq(&out[idx].0, &e.labels) {
                            by_ptr.insert(ptr, idx);
                        }
                        idx
                    }
                };
                let pv = match e.v {
                    V::F(f) => PointValue::Float(f),
                    V::H(h) => PointValue::Histogram(h),
                };
                out[idx].2.push(Point { t, v: pv });
            }
        }
        out
    }
}
