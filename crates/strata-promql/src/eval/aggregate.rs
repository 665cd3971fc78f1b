//! Aggregation operators (`sum`, `avg`, `topk`, `quantile`, `count_values`, `limitk`, …).

use std::collections::HashMap;
use std::sync::Arc;

use promql_parser::parser::token;
use promql_parser::parser::{AggregateExpr, LabelModifier};
use strata_model::{Labels, METRIC_NAME};

use super::{Elem, Evaluator, V, Val};
use crate::FloatHistogram;
use crate::error::{Error, Result};
use crate::functions::math::{kahan_inc, quantile};

/// Returns the grouping label set of a series.
fn group_labels(l: &Labels, m: &Option<LabelModifier>) -> Labels {
    let mut out = l.clone();
    match m {
        None => Labels::empty(),
        Some(LabelModifier::Include(names)) => {
            out.retain(|lab| names.labels.iter().any(|n| n == &lab.name));
            out
        }
        Some(LabelModifier::Exclude(names)) => {
            out.retain(|lab| {
                lab.name != METRIC_NAME && !names.labels.iter().any(|n| n == &lab.name)
            });
            out
        }
    }
}

/// Group keys memoised across the steps of one aggregation: a series keeps its `Arc<Labels>`
/// from step to step, so its key is computed once, and equal keys share one `Arc` (used as the
/// output labels, which keeps building the output matrix cheap). The maps hold the `Arc`s, so
/// their addresses are not reused while the cache lives.
#[derive(Default)]
struct GroupKeys {
    by_input: HashMap<usize, (Arc<Labels>, Arc<Labels>)>,
    interned: HashMap<Labels, Arc<Labels>>,
}

impl GroupKeys {
    fn key(&mut self, l: &Arc<Labels>, m: &Option<LabelModifier>) -> Arc<Labels> {
        let ptr = Arc::as_ptr(l) as usize;
        if let Some((_, k)) = self.by_input.get(&ptr) {
            return k.clone();
        }
        let k = group_labels(l, m);
        let k = self
            .interned
            .entry(k)
            .or_insert_with_key(|k| Arc::new(k.clone()))
            .clone();
        self.by_input.insert(ptr, (l.clone(), k.clone()));
        k
    }
}

/// Running state of one group.
#[derive(Debug)]
struct Group {
    labels: Arc<Labels>,
    count: f64,
    sum: f64,
    c: f64,
    mean: f64,
    incremental: bool,
    hist: Option<FloatHistogram>,
    has_float: bool,
    has_hist: bool,
    hist_failed: bool,
    value: f64,
    members: Vec<Elem>,
    drop_name: bool,
}

impl Group {
    fn new(labels: Arc<Labels>) -> Self {
        Group {
            labels,
            count: 0.0,
            sum: 0.0,
            c: 0.0,
            mean: 0.0,
            incremental: false,
            hist: None,
            has_float: false,
            has_hist: false,
            hist_failed: false,
            value: f64::NAN,
            members: Vec::new(),
            drop_name: false,
        }
    }
}

fn metric_name_of(l: &Labels) -> String {
    l.metric_name().unwrap_or("").to_string()
}

impl Evaluator<'_> {
    pub(crate) fn eval_aggregate(&mut self, a: &AggregateExpr) -> Result<Val> {
        self.annos.enter(crate::annotations::Context::aggregate(a));
        let r = self.eval_aggregate_inner(a);
        self.annos.leave();
        r
    }

    fn eval_aggregate_inner(&mut self, a: &AggregateExpr) -> Result<Val> {
        let op = a.op.id();
        if matches!(op, token::T_LIMITK | token::T_LIMIT_RATIO)
            && !self.cfg.enable_experimental_functions
        {
            return Err(Error::Parse(
                "parse error: limitk() and limit_ratio() are experimental and must be enabled with --enable-feature=promql-experimental-functions".into(),
            ));
        }
        let n = self.steps();
        let mut param_f: Option<Vec<f64>> = None;
        let mut param_s: Option<String> = None;
        if let Some(p) = &a.param {
            match self.eval(p)? {
                Val::Scalar(v) => param_f = Some(v),
                Val::Str(s) => param_s = Some(s),
                _ => return Err(Error::BadData("invalid aggregation parameter".into())),
            }
        }
        let input = self.eval_vector(&a.expr)?;
        let mut out = Vec::with_capacity(n);
        let mut keys = GroupKeys::default();
        for (i, v) in input.into_iter().enumerate() {
            self.check("query execution")?;
            let p = param_f.as_ref().map(|p| p[i]);
            let step = match op {
                token::T_TOPK | token::T_BOTTOMK | token::T_LIMITK | token::T_LIMIT_RATIO => {
                    self.agg_select(op, p.unwrap_or(f64::NAN), &a.modifier, v, &mut keys)?
                }
                token::T_COUNT_VALUES => {
                    self.agg_count_values(param_s.as_deref().unwrap_or(""), &a.modifier, v)?
                }
                _ => self.agg_simple(op, p, &a.modifier, v, &mut keys),
            };
            out.push(step);
        }
        Ok(Val::Vector(out))
    }

    fn agg_simple(
        &mut self,
        op: u16,
        param: Option<f64>,
        m: &Option<LabelModifier>,
        v: Vec<Elem>,
        keys: &mut GroupKeys,
    ) -> Vec<Elem> {
        let mut index: HashMap<usize, usize> = HashMap::new();
        let mut groups: Vec<Group> = Vec::new();
        // Prometheus 3.5 gives group `i` the pending name removal of input series `i`.
        let input_drops: Vec<bool> = v.iter().map(|e| e.drop_name).collect();
        if op == token::T_QUANTILE
            && let Some(q) = param
            && !(0.0..=1.0).contains(&q)
        {
            self.annos.warn_opt(
                self.annos.param(),
                format!(
                    "quantile value should be between 0 and 1, got {}",
                    crate::functions::fmt_g(q)
                ),
            );
        }
        for e in v {
            let key = keys.key(&e.labels, m);
            let gi = match index.get(&(Arc::as_ptr(&key) as usize)) {
                Some(&gi) => gi,
                None => {
                    index.insert(Arc::as_ptr(&key) as usize, groups.len());
                    groups.push(Group::new(key));
                    groups.len() - 1
                }
            };
            let g = &mut groups[gi];
            match &e.v {
                V::F(f) => {
                    let f = *f;
                    g.has_float = true;
                    g.count += 1.0;
                    match op {
                        token::T_SUM => (g.sum, g.c) = kahan_inc(f, g.sum, g.c),
                        token::T_AVG => {
                            if g.count == 1.0 {
                                g.sum = f;
                                g.c = 0.0;
                                continue;
                            }
                            if !g.incremental {
                                let (ns, nc) = kahan_inc(f, g.sum, g.c);
                                if !ns.is_infinite() {
                                    (g.sum, g.c) = (ns, nc);
                                    continue;
                                }
                                g.incremental = true;
                                g.mean = g.sum / (g.count - 1.0);
                                g.c /= g.count - 1.0;
                            }
                            let q = (g.count - 1.0) / g.count;
                            (g.mean, g.c) = kahan_inc(f / g.count, q * g.mean, q * g.c);
                        }
                        token::T_MIN if g.count == 1.0 || g.value > f || g.value.is_nan() => {
                            g.value = f
                        }
                        token::T_MAX if g.count == 1.0 || g.value < f || g.value.is_nan() => {
                            g.value = f
                        }
                        token::T_STDDEV | token::T_STDVAR => {
                            if g.count == 1.0 {
                                g.mean = f;
                                g.value = if f.is_finite() { 0.0 } else { f64::NAN };
                            } else {
                                let delta = f - g.mean;
                                g.mean += delta / g.count;
                                g.value += delta * (f - g.mean);
                            }
                        }
                        token::T_QUANTILE => g.members.push(e.clone()),
                        _ => {}
                    }
                }
                V::H(h) => match op {
                    token::T_SUM | token::T_AVG => {
                        g.has_hist = true;
                        g.count += 1.0;
                        if g.hist_failed {
                            continue;
                        }
                        // Sums add up; averages use Prometheus' incremental mean.
                        let next = match &g.hist {
                            None => Ok((**h).clone()),
                            Some(acc) if op == token::T_SUM => acc.add(h),
                            Some(acc) => acc.mean_step(h, g.count),
                        };
                        match next {
                            Ok(x) => g.hist = Some(x),
                            Err(err) => {
                                g.hist_failed = true;
                                crate::functions::warn_incompatible(
                                    self,
                                    &err,
                                    &metric_name_of(&e.labels),
                                );
                            }
                        }
                    }
                    token::T_COUNT | token::T_GROUP => g.count += 1.0,
                    token::T_MIN | token::T_MAX | token::T_QUANTILE => {
                        let name = match op {
                            token::T_MIN => "min",
                            token::T_MAX => "max",
                            _ => "quantile",
                        };
                        self.annos.info_opt(
                            self.annos.operand(),
                            format!("ignored histogram in {name} aggregation"),
                        );
                    }
                    token::T_STDDEV | token::T_STDVAR => {
                        let name = if op == token::T_STDDEV {
                            "stddev"
                        } else {
                            "stdvar"
                        };
                        self.annos.info_opt(
                            self.annos.operand(),
                            format!("ignored histogram in {name} aggregation"),
                        );
                    }
                    _ => {}
                },
            }
        }
        let mut out = Vec::with_capacity(groups.len());
        for (gi, mut g) in groups.into_iter().enumerate() {
            g.drop_name = input_drops.get(gi).copied().unwrap_or(false);
            let v = match op {
                token::T_SUM | token::T_AVG => {
                    if g.has_hist && g.has_float {
                        self.annos.warn_opt(
                            self.annos.operand(),
                            "encountered a mix of histograms and floats for aggregation",
                        );
                        continue;
                    }
                    if g.has_hist {
                        if g.hist_failed {
                            continue;
                        }
                        let Some(h) = g.hist else { continue };
                        V::H(Arc::new(h.compacted()))
                    } else if op == token::T_SUM {
                        V::F(g.sum + g.c)
                    } else if g.incremental {
                        V::F(g.mean + g.c)
                    } else {
                        V::F(g.sum / g.count + g.c / g.count)
                    }
                }
                token::T_COUNT => V::F(g.count),
                token::T_GROUP => V::F(1.0),
                token::T_MIN | token::T_MAX => {
                    if !g.has_float {
                        continue;
                    }
                    V::F(g.value)
                }
                token::T_STDDEV | token::T_STDVAR => {
                    if !g.has_float {
                        continue;
                    }
                    let var = g.value / g.count;
                    V::F(if op == token::T_STDDEV {
                        var.sqrt()
                    } else {
                        var
                    })
                }
                token::T_QUANTILE => {
                    if !g.has_float {
                        continue;
                    }
                    let mut vals: Vec<f64> = g.members.iter().filter_map(|e| e.v.float()).collect();
                    V::F(quantile(param.unwrap_or(f64::NAN), &mut vals))
                }
                _ => continue,
            };
            out.push(Elem {
                labels: g.labels,
                v,
                drop_name: g.drop_name,
            });
        }
        out
    }

    fn agg_count_values(
        &mut self,
        label: &str,
        m: &Option<LabelModifier>,
        v: Vec<Elem>,
    ) -> Result<Vec<Elem>> {
        if !crate::functions::labels::valid_label_name(label) {
            return Err(Error::Execution(format!(
                "invalid label name {}",
                crate::parse::go_quote(label)
            )));
        }
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut out: Vec<Elem> = Vec::new();
        for e in v {
            let s = match &e.v {
                V::F(f) => crate::functions::fmt_go(*f),
                V::H(h) => h.to_go_string(),
            };
            let mut key = group_labels(&e.labels, m);
            key.set(label, &s);
            match index.get(&key) {
                Some(&i) => {
                    if let V::F(c) = &mut out[i].v {
                        *c += 1.0;
                    }
                }
                None => {
                    out.push(Elem {
                        labels: Arc::new(key.clone()),
                        v: V::F(1.0),
                        drop_name: false,
                    });
                    index.insert(key, out.len() - 1);
                }
            }
        }
        Ok(out)
    }

    fn agg_select(
        &mut self,
        op: u16,
        p: f64,
        m: &Option<LabelModifier>,
        v: Vec<Elem>,
        keys: &mut GroupKeys,
    ) -> Result<Vec<Elem>> {
        let mut index: HashMap<usize, usize> = HashMap::new();
        let mut groups: Vec<Vec<Elem>> = Vec::new();
        if op == token::T_LIMIT_RATIO {
            // Prometheus checks the parameter only when there is something to select from.
            if p.is_nan() && !v.is_empty() {
                return Err(Error::Execution("Ratio value NaN is NaN".into()));
            }
            if !(-1.0..=1.0).contains(&p) {
                self.annos.warn_opt(
                    self.annos.param(),
                    format!(
                        "ratio value should be between -1 and 1, got {}, capping to {}",
                        crate::functions::fmt_g(p),
                        if p < 0.0 { -1 } else { 1 }
                    ),
                );
            }
        } else if !v.is_empty()
            && !(-9.223_372_036_854_776e18..=9.223_372_036_854_776e18).contains(&p)
        {
            // NaN fails the range check too, as in Prometheus.
            return Err(Error::Execution(format!(
                "Scalar value {} overflows int64",
                crate::functions::fmt_g(p)
            )));
        }
        for e in v {
            let key = keys.key(&e.labels, m);
            let gi = match index.get(&(Arc::as_ptr(&key) as usize)) {
                Some(&gi) => gi,
                None => {
                    groups.push(Vec::new());
                    index.insert(Arc::as_ptr(&key) as usize, groups.len() - 1);
                    groups.len() - 1
                }
            };
            groups[gi].push(e);
        }
        let mut out = Vec::new();
        match op {
            token::T_LIMITK => {
                let k = p as i64;
                if k < 1 {
                    return Ok(out);
                }
                for g in groups {
                    out.extend(g.into_iter().take(k as usize));
                }
            }
            token::T_LIMIT_RATIO => {
                let r = p.clamp(-1.0, 1.0);
                for g in groups {
                    for e in g {
                        if crate::functions::labels::ratio_selected(&e.labels, r) {
                            out.push(e);
                        }
                    }
                }
            }
            _ => {
                let k = p as i64;
                if k < 1 {
                    return Ok(out);
                }
                let top = op == token::T_TOPK;
                for g in groups {
                    let mut floats: Vec<Elem> = Vec::new();
                    for e in g {
                        match e.v {
                            V::F(_) => floats.push(e),
                            V::H(_) => {
                                let name = if top { "topk" } else { "bottomk" };
                                self.annos.info_opt(
                                    self.annos.node(),
                                    format!("ignored histogram in {name} aggregation"),
                                );
                            }
                        }
                    }
                    // Stable sort keeps input order among equal values, NaN always last.
                    floats.sort_by(|a, b| {
                        let (x, y) = (
                            a.v.float().unwrap_or(f64::NAN),
                            b.v.float().unwrap_or(f64::NAN),
                        );
                        match (x.is_nan(), y.is_nan()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            _ => {
                                if top {
                                    y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal)
                                } else {
                                    x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
                                }
                            }
                        }
                    });
                    out.extend(floats.into_iter().take(k as usize));
                }
            }
        }
        Ok(out)
    }
}
