//! The evaluator: walks the AST and produces, for every node, its value at every step.
//!
//! Every instant-vector node evaluates to one vector per step; range-vector nodes are only
//! evaluated as function arguments, window by window, pulling samples from the store's
//! iterators (see [`window`]). Memory therefore follows the samples inside the current windows
//! plus the per-step results, never a selector's whole range.

mod aggregate;
mod binary;
mod selector;
pub(crate) mod stats;
mod subquery;
pub(crate) mod window;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use promql_parser::parser::{AtModifier, Expr, Offset};
use strata_model::{Labels, METRIC_NAME};

/// Type-and-unit metadata labels, dropped together with the metric name.
pub(crate) const TYPE_LABEL: &str = "__type__";
/// See [`TYPE_LABEL`].
pub(crate) const UNIT_LABEL: &str = "__unit__";

/// Returns the labels without `__name__` and its companions `__type__` and `__unit__`.
pub(crate) fn drop_metric_name(l: &Labels) -> Labels {
    let mut out = l.clone();
    out.retain(|x| x.name != METRIC_NAME && x.name != TYPE_LABEL && x.name != UNIT_LABEL);
    out
}

use crate::annotations::Annotations;
use crate::engine::EngineConfig;
use crate::error::{Error, Result};
use crate::value::{QueryResult, RangeSeries, Sample, Value};
use crate::{FloatHistogram, Queryable};

/// A sample value inside the evaluator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V {
    /// A float.
    F(f64),
    /// A native histogram.
    H(Arc<FloatHistogram>),
}

impl V {
    pub(crate) fn float(&self) -> Option<f64> {
        match self {
            V::F(f) => Some(*f),
            V::H(_) => None,
        }
    }
}

/// One element of an instant vector inside the evaluator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Elem {
    /// Shared so that a series' labels are not copied at every step.
    pub(crate) labels: Arc<Labels>,
    pub(crate) v: V,
    /// Whether `__name__` must be removed before the result leaves the engine (delayed name
    /// removal, so that `label_replace` and friends can still see it).
    pub(crate) drop_name: bool,
}

/// A series of a range vector (subquery results, matrix selectors at the top level).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MSeries {
    pub(crate) labels: Arc<Labels>,
    pub(crate) points: Vec<crate::Point>,
    pub(crate) drop_name: bool,
}

/// The value of a node at every step.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Scalar(Vec<f64>),
    Vector(Vec<Vec<Elem>>),
    Str(String),
    /// A range vector evaluated at a single instant.
    Matrix(Vec<MSeries>),
}

/// Time and cancellation limits of one query.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) deadline: Option<Instant>,
    pub(crate) cancel: Option<Arc<AtomicBool>>,
    pub(crate) max_samples: usize,
}

/// Evaluation state of one query.
pub(crate) struct Evaluator<'a> {
    pub(crate) store: &'a dyn Queryable,
    pub(crate) cfg: &'a EngineConfig,
    pub(crate) limits: Limits,
    /// Steps of the current evaluation level (a subquery changes them while it runs).
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) step: i64,
    /// The query's own start and end, for `@ start()` and `@ end()`.
    pub(crate) query_start: i64,
    pub(crate) query_end: i64,
    pub(crate) lookback: i64,
    pub(crate) annos: Annotations,
    /// Name of the range function whose argument is being selected, for [`SelectHints`].
    ///
    /// [`SelectHints`]: crate::SelectHints
    pub(crate) select_func: Option<String>,
    /// Time at which `@` offsets were last computed (see [`Evaluator::selector_ref_time`]).
    pub(crate) at_adjust_time: i64,
    /// Offsets of the subqueries entered since then, in milliseconds.
    pub(crate) at_shift: i64,
    /// Samples held and read, counted as Prometheus does (see [`stats`]).
    pub(crate) counter: stats::Counter,
    /// Per-step element counts of the values of the nodes evaluated so far under the nodes
    /// being evaluated (a stack, one entry per finished child), for [`stats`].
    child_counts: Vec<Vec<u32>>,
    checks: u32,
}

impl std::fmt::Debug for Evaluator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("start", &self.start)
            .field("end", &self.end)
            .field("step", &self.step)
            .finish()
    }
}

/// Returns the signed offset of a modifier in milliseconds.
pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
    }
}

/// Returns milliseconds since the epoch of a `SystemTime` (negative before it).
pub(crate) fn system_time_ms(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(
        store: &'a dyn Queryable,
        cfg: &'a EngineConfig,
        limits: Limits,
        start: i64,
        end: i64,
        step: i64,
        lookback: i64,
    ) -> Self {
        let step = if step <= 0 { 1 } else { step };
        let steps = ((end - start) / step).max(0) as usize + 1;
        Evaluator {
            store,
            cfg,
            limits,
            start,
            end,
            step,
            query_start: start,
            query_end: end,
            lookback,
            annos: Annotations::default(),
            select_func: None,
            at_adjust_time: start,
            at_shift: 0,
            counter: stats::Counter {
                per_step: Some(vec![0; steps]),
                ..Default::default()
            },
            child_counts: Vec::new(),
            checks: 0,
        }
    }

    /// Returns the number of steps of the current level.
    pub(crate) fn steps(&self) -> usize {
        ((self.end - self.start) / self.step) as usize + 1
    }

    /// Returns the timestamp of step `i`.
    pub(crate) fn ts(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    /// Fails when the query ran out of time or was cancelled. Cheap: checks the clock rarely.
    pub(crate) fn check(&mut self, during: &'static str) -> Result<()> {
        self.checks = self.checks.wrapping_add(1);
        if let Some(c) = &self.limits.cancel
            && c.load(Ordering::Relaxed)
        {
            return Err(Error::Canceled(during));
        }
        if self.checks.is_multiple_of(64)
            && let Some(d) = self.limits.deadline
            && Instant::now() > d
        {
            return Err(Error::Timeout(during));
        }
        Ok(())
    }

    /// Returns the reference time of a selector at step time `ts`, after `@` and `offset`.
    pub(crate) fn ref_time(
        &self,
        ts: i64,
        at: &Option<AtModifier>,
        offset: &Option<Offset>,
    ) -> i64 {
        let base = match at {
            None => ts,
            Some(AtModifier::Start) => self.query_start,
            Some(AtModifier::End) => self.query_end,
            Some(AtModifier::At(t)) => system_time_ms(*t),
        };
        base - offset_ms(offset)
    }

    /// Returns the reference time of a selector (not a subquery) at step time `ts`. With `@`,
    /// this reproduces Prometheus 3.5's offset bookkeeping: `@` is turned into an offset from
    /// the time the offsets were last computed, minus the offsets of the subqueries entered
    /// since, so a subquery whose first step is the enclosing level's start shifts the `@`
    /// inside it by the subquery's offset.
    pub(crate) fn selector_ref_time(
        &self,
        ts: i64,
        at: &Option<AtModifier>,
        offset: &Option<Offset>,
    ) -> i64 {
        let r = self.ref_time(ts, at, offset);
        if at.is_some() {
            r + (self.start - self.at_adjust_time) + self.at_shift
        } else {
            r
        }
    }

    /// Evaluates the query's top expression and shapes the result.
    pub(crate) fn run_top(&mut self, expr: &Expr) -> Result<QueryResult> {
        let instant = self.start == self.end;
        let val = self.eval(expr)?;
        let value = match val {
            Val::Scalar(v) => {
                if instant {
                    Value::Scalar {
                        t: self.start,
                        v: v.first().copied().unwrap_or(f64::NAN),
                    }
                } else {
                    Value::Matrix(vec![RangeSeries {
                        labels: Labels::empty(),
                        floats: v
                            .iter()
                            .enumerate()
                            .map(|(i, f)| (self.ts(i), *f))
                            .collect(),
                        histograms: vec![],
                    }])
                }
            }
            Val::Str(s) => {
                if !instant {
                    return Err(Error::BadData(
                        "invalid expression type \"string\" for range query, must be Scalar or instant Vector".into(),
                    ));
                }
                Value::String {
                    t: self.start,
                    v: s,
                }
            }
            Val::Matrix(ms) => {
                if !instant {
                    return Err(Error::BadData(
                        "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector".into(),
                    ));
                }
                let mut out = Vec::with_capacity(ms.len());
                for m in ms {
                    let labels = if m.drop_name {
                        drop_metric_name(&m.labels)
                    } else {
                        Arc::unwrap_or_clone(m.labels)
                    };
                    let mut rs = RangeSeries {
                        labels,
                        ..Default::default()
                    };
                    for p in m.points {
                        match p.v {
                            crate::PointValue::Float(f) => rs.floats.push((p.t, f)),
                            crate::PointValue::Histogram(h) => rs.histograms.push((p.t, h)),
                        }
                    }
                    out.push(rs);
                }
                check_unique(out.iter().map(|r| &r.labels))?;
                out.sort_by(|a, b| a.labels.cmp(&b.labels));
                Value::Matrix(out)
            }
            Val::Vector(steps) => {
                if instant {
                    let v = steps.into_iter().next().unwrap_or_default();
                    let out: Vec<Sample> = v
                        .into_iter()
                        .map(|e| {
                            let labels = if e.drop_name {
                                drop_metric_name(&e.labels)
                            } else {
                                Arc::unwrap_or_clone(e.labels)
                            };
                            let (f, h) = match e.v {
                                V::F(f) => (f, None),
                                V::H(h) => (0.0, Some(h)),
                            };
                            Sample {
                                labels,
                                t: self.start,
                                f,
                                h,
                            }
                        })
                        .collect();
                    check_unique(out.iter().map(|s| &s.labels))?;
                    Value::Vector(out)
                } else {
                    Value::Matrix(self.steps_to_matrix(steps)?)
                }
            }
        };
        Ok(QueryResult {
            value,
            annotations: std::mem::take(&mut self.annos),
            stats: self.query_stats(),
        })
    }

    /// Turns per-step vectors into series, as Prometheus does: a series is identified by its
    /// labels *before* pending name removal, its removal flag is the one of its first sample, and
    /// two series whose labels coincide after removal are an error even if they never share a
    /// step.
    ///
    /// Elements of one series usually share one `Arc<Labels>` across steps, so the series is
    /// found by pointer first (the map keeps the `Arc` alive, so addresses are not reused).
    fn steps_to_matrix(&mut self, steps: Vec<Vec<Elem>>) -> Result<Vec<RangeSeries>> {
        use std::collections::HashMap;
        let mut by_labels: HashMap<Arc<Labels>, usize> = HashMap::new();
        let mut by_ptr: HashMap<usize, (Arc<Labels>, usize)> = HashMap::new();
        let mut series: Vec<(Arc<Labels>, bool, RangeSeries)> = Vec::new();
        for (i, v) in steps.into_iter().enumerate() {
            let t = self.ts(i);
            for e in v {
                let ptr = Arc::as_ptr(&e.labels) as usize;
                let idx = match by_ptr.get(&ptr) {
                    Some((_, idx)) => *idx,
                    None => {
                        let idx = match by_labels.get(&e.labels) {
                            Some(&idx) => idx,
                            None => {
                                series.push((
                                    e.labels.clone(),
                                    e.drop_name,
                                    RangeSeries::default(),
                                ));
                                by_labels.insert(e.labels.clone(), series.len() - 1);
                                series.len() - 1
                            }
                        };
                        by_ptr.insert(ptr, (e.labels.clone(), idx));
                        idx
                    }
                };
                let rs = &mut series[idx].2;
                let dup = rs.floats.last().is_some_and(|p| p.0 == t)
                    || rs.histograms.last().is_some_and(|p| p.0 == t);
                if dup {
                    return Err(Error::Execution(
                        "vector cannot contain metrics with the same labelset".into(),
                    ));
                }
                match e.v {
                    V::F(f) => rs.floats.push((t, f)),
                    V::H(h) => rs.histograms.push((t, h)),
                }
            }
        }
        let mut out: Vec<RangeSeries> = series
            .into_iter()
            .map(|(labels, drop, mut rs)| {
                rs.labels = if drop {
                    drop_metric_name(&labels)
                } else {
                    Arc::unwrap_or_clone(labels)
                };
                rs
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        if out.windows(2).any(|w| w[0].labels == w[1].labels) {
            return Err(Error::Execution(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
        Ok(out)
    }

    /// Evaluates any expression at every step of the current level, keeping Prometheus'
    /// sample accounting (see [`stats`]).
    pub(crate) fn eval(&mut self, expr: &Expr) -> Result<Val> {
        self.check("query execution")?;
        let frame = self.child_counts.len();
        if self.start != self.end && step_invariant(expr) && !is_literal(expr) {
            let v = self.eval_step_invariant(expr)?;
            self.child_counts.truncate(frame);
            self.child_counts.push(stats::step_counts(&v, self.steps()));
            return Ok(v);
        }
        let original = self.counter.cur;
        let v = self.eval_node(expr)?;
        match accounting(expr) {
            Accounting::RangeEval => {
                let children = self.child_counts.split_off(frame);
                self.account_range_eval(original, &children, &v)?;
            }
            Accounting::Aggregation => self.account_aggregation(original, &v),
            Accounting::TimestampOfSelector => {
                // The selector's samples are held only during their step in Prometheus.
                self.counter.cur = original;
                let counts = stats::step_counts(&v, self.steps());
                self.account_range_eval(original, &[counts], &v)?;
            }
            Accounting::Own => {}
        }
        self.child_counts.truncate(frame);
        self.child_counts.push(stats::step_counts(&v, self.steps()));
        Ok(v)
    }

    /// Evaluates a step-invariant expression (one whose value is the same at every step, such
    /// as `x @ 100` or `sum(rate(x[5m] @ end()))`) once, at the first step, and repeats the
    /// result at every step, as Prometheus does with the `StepInvariantExpr` nodes its
    /// preprocessing wraps around them. Its reads count once per step, as in Prometheus.
    fn eval_step_invariant(&mut self, expr: &Expr) -> Result<Val> {
        let n = self.steps();
        let saved_end = self.end;
        let saved_total = self.counter.total;
        let saved_per_step = self.counter.per_step.take();
        self.counter.total = 0;
        self.end = self.start;
        let r = self.eval(expr);
        self.end = saved_end;
        let inner_total = self.counter.total;
        self.counter.total = saved_total;
        self.counter.per_step = saved_per_step;
        for i in 0..n {
            self.count_read(i, inner_total);
        }
        let v = r?;
        Ok(match v {
            Val::Vector(mut steps) => {
                let first = steps.pop().unwrap_or_default();
                let per_step: i64 = first
                    .iter()
                    .map(|e| match &e.v {
                        V::F(_) => 1,
                        V::H(h) => stats::hpoint_size(h),
                    })
                    .sum();
                self.hold(per_step * (n as i64 - 1))?;
                self.update_peak();
                Val::Vector(vec![first; n])
            }
            Val::Scalar(v) => {
                let x = v.first().copied().unwrap_or(f64::NAN);
                self.hold(n as i64 - 1)?;
                self.update_peak();
                Val::Scalar(vec![x; n])
            }
            other => other,
        })
    }

    fn eval_node(&mut self, expr: &Expr) -> Result<Val> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; self.steps()])),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => {
                let v = self.eval(&u.expr)?;
                Ok(match v {
                    Val::Scalar(s) => Val::Scalar(s.into_iter().map(|f| -f).collect()),
                    Val::Vector(steps) => Val::Vector(
                        steps
                            .into_iter()
                            .map(|v| {
                                v.into_iter()
                                    .map(|mut e| {
                                        e.v = match e.v {
                                            V::F(f) => V::F(-f),
                                            V::H(h) => V::H(Arc::new(h.scaled(-1.0))),
                                        };
                                        e.drop_name = true;
                                        e
                                    })
                                    .collect()
                            })
                            .collect(),
                    ),
                    other => other,
                })
            }
            Expr::Binary(b) => self.eval_binary(b),
            Expr::Aggregate(a) => self.eval_aggregate(a),
            Expr::Call(c) => crate::functions::eval_call(self, c),
            Expr::VectorSelector(vs) => self.eval_vector_selector(vs, false),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                let ts = self.start;
                let subquery = matches!(expr, Expr::Subquery(_));
                let mut w = self.range_windows(expr, true)?;
                let mut out = Vec::new();
                for i in 0..w.len() {
                    let win = w.window_at(i, ts);
                    let n = win.floats.len() as i64 + stats::hists_size(win.hists);
                    let pts = win.merged();
                    if !subquery {
                        // A matrix selector holds and reads its windows (a subquery's result
                        // was counted when it was evaluated).
                        self.count_read(0, n);
                        self.hold(n)?;
                        self.update_peak();
                    }
                    if !pts.is_empty() {
                        out.push(MSeries {
                            labels: w.labels(i).clone(),
                            points: pts,
                            drop_name: w.drop_name(i),
                        });
                    }
                }
                Ok(Val::Matrix(out))
            }
            Expr::Extension(_) => Err(Error::BadData("unsupported expression extension".into())),
        }
    }

    /// Evaluates an expression that must be an instant vector.
    pub(crate) fn eval_vector(&mut self, expr: &Expr) -> Result<Vec<Vec<Elem>>> {
        match self.eval(expr)? {
            Val::Vector(v) => Ok(v),
            _ => Err(Error::BadData("expected instant vector".into())),
        }
    }

    /// Evaluates an expression that must be a scalar.
    pub(crate) fn eval_scalar(&mut self, expr: &Expr) -> Result<Vec<f64>> {
        match self.eval(expr)? {
            Val::Scalar(v) => Ok(v),
            _ => Err(Error::BadData("expected scalar".into())),
        }
    }
}

/// Returns whether an expression has the same value at every step, by Prometheus' rules
/// (`preprocessExprHelper`): literals, selectors and subqueries with `@`, and operators and
/// functions (other than the time-dependent ones) of only such expressions.
fn step_invariant(expr: &Expr) -> bool {
    match expr {
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => true,
        Expr::VectorSelector(vs) => vs.at.is_some(),
        Expr::MatrixSelector(ms) => ms.vs.at.is_some(),
        Expr::Subquery(sq) => sq.at.is_some(),
        Expr::Paren(p) => step_invariant(&p.expr),
        Expr::Unary(u) => step_invariant(&u.expr),
        Expr::Aggregate(a) => step_invariant(&a.expr),
        Expr::Binary(b) => step_invariant(&b.lhs) && step_invariant(&b.rhs),
        Expr::Call(c) => {
            !matches!(
                c.func.name,
                "days_in_month"
                    | "day_of_month"
                    | "day_of_week"
                    | "day_of_year"
                    | "hour"
                    | "minute"
                    | "month"
                    | "year"
                    | "predict_linear"
                    | "time"
                    | "timestamp"
            ) && c.args.args.iter().all(|a| step_invariant(a))
        }
        Expr::Extension(_) => false,
    }
}

/// Literals are evaluated at every step even where Prometheus wraps them as step invariant.
fn is_literal(expr: &Expr) -> bool {
    matches!(expr, Expr::NumberLiteral(_) | Expr::StringLiteral(_))
}

/// How a node's samples are accounted for (see [`stats`]).
enum Accounting {
    /// Prometheus' `rangeEval`: from the per-step sizes of the children and the result.
    RangeEval,
    /// `rangeEvalAgg`: the result is held once the node is done.
    Aggregation,
    /// `timestamp(selector)`: a `rangeEval` whose selector samples are held one step at a time.
    TimestampOfSelector,
    /// The node counts as it goes (selectors, range functions, subqueries) or passes its
    /// child's value through.
    Own,
}

fn accounting(expr: &Expr) -> Accounting {
    use promql_parser::parser::token;
    match expr {
        Expr::NumberLiteral(_) | Expr::Binary(_) => Accounting::RangeEval,
        Expr::Aggregate(a) if a.op.id() == token::T_COUNT_VALUES => Accounting::RangeEval,
        Expr::Aggregate(_) => Accounting::Aggregation,
        Expr::Call(c) => {
            let name = c.func.name;
            if crate::functions::is_range_function(name)
                || matches!(name, "label_replace" | "label_join" | "info")
            {
                Accounting::Own
            } else if name == "timestamp"
                && c.args.args.first().is_some_and(|a| {
                    matches!(crate::functions::unwrap_parens(a), Expr::VectorSelector(_))
                })
            {
                Accounting::TimestampOfSelector
            } else {
                Accounting::RangeEval
            }
        }
        _ => Accounting::Own,
    }
}

/// Fails when two series share a label set.
fn check_unique<'l>(labels: impl Iterator<Item = &'l Labels>) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for l in labels {
        if !seen.insert(l) {
            return Err(Error::Execution(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
    }
    Ok(())
}

/// Returns the Prometheus name of an expression's type, as used in error messages.
pub(crate) fn type_name(e: &Expr) -> &'static str {
    use promql_parser::parser::value::ValueType;
    match e.value_type() {
        ValueType::Scalar => "scalar",
        ValueType::String => "string",
        ValueType::Vector => "instant vector",
        ValueType::Matrix => "range vector",
    }
}
