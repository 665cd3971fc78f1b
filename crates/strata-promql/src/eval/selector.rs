//! Instant-vector and matrix selectors.

use std::sync::Arc;

use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{Expr, VectorSelector};
use strata_model::{METRIC_NAME, MatchOp, Matcher};

use super::window::{Buffered, RangeWindows, is_stale};
use super::{Elem, Evaluator, V, Val, offset_ms};
use crate::error::{Error, Result};
use crate::{Point, PointValue, SampleIterator, SelectHints, Series};

/// Converts the parser's matchers of a selector into the model's, the metric name included.
/// Returns one list per `or` alternative.
pub(crate) fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Vec<Matcher>>> {
    let convert = |ms: &[promql_parser::label::Matcher]| -> Result<Vec<Matcher>> {
        let mut out = Vec::with_capacity(ms.len() + 1);
        if let Some(n) = &vs.name {
            out.push(Matcher::equal(METRIC_NAME, n.clone()));
        }
        for m in ms {
            let op = match m.op {
                PMatchOp::Equal => MatchOp::Equal,
                PMatchOp::NotEqual => MatchOp::NotEqual,
                PMatchOp::Re(_) => MatchOp::Regex,
                PMatchOp::NotRe(_) => MatchOp::NotRegex,
            };
            out.push(
                Matcher::new(op, m.name.clone(), m.value.clone())
                    .map_err(|e| Error::BadData(e.to_string()))?,
            );
        }
        Ok(out)
    };
    let mut all = vec![convert(&vs.matchers.matchers)?];
    for alt in &vs.matchers.or_matchers {
        all.push(convert(alt)?);
    }
    if vs.matchers.matchers.is_empty() && !vs.matchers.or_matchers.is_empty() {
        all.remove(0);
    }
    Ok(all)
}

/// The instant cursor of one series: the latest point at or before the reference time.
#[derive(Debug)]
struct Cursor {
    iter: Box<dyn SampleIterator>,
    pending: Option<Point>,
    last: Option<Point>,
    exhausted: bool,
}

impl Cursor {
    fn at(&mut self, r: i64, lookback: i64) -> Option<&Point> {
        let mint = r - lookback;
        if self.last.as_ref().is_some_and(|l| l.t > r) {
            // The reference moved backwards (only with unusual modifiers): nothing to reuse.
            self.last = None;
        }
        loop {
            let p = match self.pending.take() {
                Some(p) => p,
                None if self.exhausted => break,
                None => {
                    let stale_last = self.last.as_ref().is_none_or(|l| l.t <= mint);
                    let next = if stale_last {
                        self.iter.seek(mint.saturating_add(1))
                    } else {
                        self.iter.next_point()
                    };
                    match next {
                        Some(p) => p,
                        None => {
                            self.exhausted = true;
                            break;
                        }
                    }
                }
            };
            if p.t > r {
                self.pending = Some(p);
                break;
            }
            self.last = Some(p);
        }
        match &self.last {
            Some(p) if p.t > mint && !is_stale(p) => Some(p),
            _ => None,
        }
    }
}

impl Evaluator<'_> {
    /// Selects the series of a selector with points in `[mint, maxt]`, telling the store the
    /// range and the function the selection feeds (from `self.select_func`).
    pub(crate) fn select(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
        range_ms: i64,
    ) -> Result<Vec<Series>> {
        let hints = SelectHints {
            mint,
            maxt,
            step_ms: self.step,
            range_ms,
            func: self.select_func.clone(),
        };
        let alts = selector_matchers(vs)?;
        if alts.len() == 1 {
            return Ok(self.store.select(&hints, &alts[0])?);
        }
        let mut all: Vec<Series> = Vec::new();
        for ms in alts {
            for s in self.store.select(&hints, &ms)? {
                if !all.iter().any(|x| x.labels == s.labels) {
                    all.push(s);
                }
            }
        }
        all.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(all)
    }

    /// Returns the smallest and largest reference time of a selector over the current steps.
    fn ref_bounds(
        &self,
        at: &Option<promql_parser::parser::AtModifier>,
        off: &Option<promql_parser::parser::Offset>,
    ) -> (i64, i64) {
        let a = self.selector_ref_time(self.start, at, off);
        let b = self.selector_ref_time(self.end, at, off);
        (a.min(b), a.max(b))
    }

    /// Evaluates an instant-vector selector at every step. With `with_ts`, the value is the
    /// sample's timestamp in seconds (for `timestamp()`).
    pub(crate) fn eval_vector_selector(
        &mut self,
        vs: &VectorSelector,
        with_ts: bool,
    ) -> Result<Val> {
        let (lo, hi) = self.ref_bounds(&vs.at, &vs.offset);
        let series = self.select(vs, lo - self.lookback + 1, hi, 0)?;
        let mut cursors: Vec<(Arc<strata_model::Labels>, Cursor)> = series
            .into_iter()
            .map(|s| {
                (
                    Arc::new(s.labels),
                    Cursor {
                        iter: s.samples,
                        pending: None,
                        last: None,
                        exhausted: false,
                    },
                )
            })
            .collect();
        let n = self.steps();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            self.check("query execution")?;
            let r = self.selector_ref_time(self.ts(i), &vs.at, &vs.offset);
            let mut v = Vec::new();
            let mut read = 0i64;
            for (labels, c) in cursors.iter_mut() {
                if let Some(p) = c.at(r, self.lookback) {
                    let val = if with_ts {
                        read += 1;
                        V::F(p.t as f64 / 1000.0)
                    } else {
                        match &p.v {
                            PointValue::Float(f) => {
                                read += 1;
                                V::F(*f)
                            }
                            PointValue::Histogram(h) => {
                                read += super::stats::hpoint_size(h);
                                V::H(h.clone())
                            }
                        }
                    };
                    v.push(Elem {
                        labels: labels.clone(),
                        v: val,
                        drop_name: false,
                    });
                }
            }
            // As Prometheus' `evalSeries`: every selected sample is read and held.
            self.count_read(i, read);
            self.hold(read)?;
            out.push(v);
        }
        self.update_peak();
        Ok(Val::Vector(out))
    }

    /// Prepares the windows of a range-vector expression over the current steps. `top`: the
    /// expression is the query's result (not a function argument), so a subquery's reads count
    /// towards the query's.
    pub(crate) fn range_windows(&mut self, expr: &Expr, top: bool) -> Result<RangeWindows> {
        match expr {
            Expr::Paren(p) => self.range_windows(&p.expr, top),
            Expr::MatrixSelector(ms) => {
                let range = ms.range.as_millis() as i64;
                let (lo, hi) = self.ref_bounds(&ms.vs.at, &ms.vs.offset);
                let series = self.select(&ms.vs, lo - range + 1, hi, range)?;
                let at = ms
                    .vs
                    .at
                    .as_ref()
                    .map(|_| self.selector_ref_time(0, &ms.vs.at, &None));
                Ok(RangeWindows {
                    series: series
                        .into_iter()
                        .map(|s| Buffered::new(Arc::new(s.labels), false, s.samples))
                        .collect(),
                    range,
                    at,
                    offset: offset_ms(&ms.vs.offset),
                    held: 0,
                })
            }
            Expr::Subquery(sq) => self.subquery_windows(sq, top),
            _ => Err(Error::BadData(format!(
                "expected type range vector in call to function, got {}",
                super::type_name(expr)
            ))),
        }
    }
}
