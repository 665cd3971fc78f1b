//! Running one eval against the engine and comparing its result with the expectation.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use strata_model::{Labels, METRIC_NAME};

use super::script::{EvalCmd, Expect};
use super::values::SeqValue;
use crate::annotations::Level;
use crate::engine::{Engine, QueryOpts};
use crate::functions::math::almost_equal;
use crate::histogram::{CUSTOM_BUCKETS_SCHEMA, FloatHistogram, Span};
use crate::memstore::MemStore;
use crate::value::{QueryResult, Sample, Value};
use crate::{Point, PointValue};

const EPSILON: f64 = 0.000001;

/// Runs one eval; returns why it failed.
pub(super) fn run_eval(engine: &Engine, store: &MemStore, ev: &EvalCmd) -> Result<(), String> {
    let opts = QueryOpts::default();
    let res = match ev.step {
        Some(step) => engine.range_query(store, &ev.expr, ev.start, ev.end, step, &opts),
        None => engine.instant_query(store, &ev.expr, ev.start, &opts),
    };
    let res = match (res, &ev.fail) {
        (Err(e), Some(exp)) => {
            return if exp.matches(&e.to_string()) {
                Ok(())
            } else {
                Err(format!("expected error {exp:?} but got {e}"))
            };
        }
        (Err(e), None) => return Err(format!("error: {e}")),
        (Ok(_), Some(_)) => return Err("expected error but got none".into()),
        (Ok(r), None) => r,
    };
    check_annotations(ev, &res)?;
    compare(ev, &res.value)?;
    if ev.step.is_none() && !ev.ordered {
        range_mode_check(engine, store, ev, &res.value)?;
    }
    if ev.step.is_none() {
        at_modifier_check(engine, store, ev)?;
    }
    Ok(())
}

/// Re-runs an instant eval with `@ <eval time>` on every selector, at other times.
fn at_modifier_check(engine: &Engine, store: &MemStore, ev: &EvalCmd) -> Result<(), String> {
    let Ok(expr) = crate::parse::parse(&ev.expr) else {
        return Ok(());
    };
    let Some((pinned, times)) = super::at_modifier::variants(&expr, ev.start) else {
        return Ok(());
    };
    for t in times {
        let res = engine
            .instant_query_expr(store, &pinned, t, &QueryOpts::default())
            .map_err(|e| format!("@ variant at {t}: error: {e}"))?;
        check_annotations(ev, &res).map_err(|e| format!("@ variant at {t}: {e}"))?;
        compare(ev, &res.value).map_err(|e| format!("@ variant at {t}: {e}"))?;
        if !ev.ordered && !matches!(res.value, Value::Matrix(_) | Value::String { .. }) {
            let r = engine
                .range_query_expr(
                    store,
                    &pinned,
                    t - 60_000,
                    t + 60_000,
                    60_000,
                    &QueryOpts::default(),
                )
                .map_err(|e| format!("@ variant at {t} in range mode: {e}"))?;
            let Value::Matrix(m) = r.value else {
                return Err("range mode did not return a matrix".into());
            };
            check_middle(ev, &res.value, &m, t)
                .map_err(|e| format!("@ variant at {t} range mode: {e}"))?;
        }
    }
    Ok(())
}

fn check_annotations(ev: &EvalCmd, res: &QueryResult) -> Result<(), String> {
    if !ev.has_expect_lines
        && !ev.ordered
        && std::env::var("STRATA_PROMQLTEST_STRICT_ANNOTATIONS").is_ok()
    {
        // Legacy forms: `eval` allows no annotation, `eval_warn`/`eval_info` need one.
        let (w, i) = (res.warnings(), res.infos());
        if ev.warn.is_empty() && !w.is_empty() {
            return Err(format!("unexpected warnings: {w:?}"));
        }
        if ev.info.is_empty() && !i.is_empty() {
            return Err(format!("unexpected infos: {i:?}"));
        }
    }
    for (kind, exp, actual, none) in [
        // Prometheus' runner compares the texts without the position suffix.
        (
            "warn",
            &ev.warn,
            res.annotations.texts(Level::Warning),
            ev.no_warn,
        ),
        (
            "info",
            &ev.info,
            res.annotations.texts(Level::Info),
            ev.no_info,
        ),
    ] {
        if none && !actual.is_empty() {
            return Err(format!("unexpected {kind} annotations: {actual:?}"));
        }
        if exp.is_empty() {
            continue;
        }
        if actual.is_empty() {
            return Err(format!("expected {kind} annotations but none were found"));
        }
        for e in exp.iter() {
            if !actual.iter().any(|a| e.matches(a)) {
                return Err(format!(
                    "expected {kind} annotation {e:?}, found {actual:?}"
                ));
            }
        }
        let specific: Vec<&Expect> = exp.iter().filter(|e| !matches!(e, Expect::Any)).collect();
        if !specific.is_empty() {
            for a in &actual {
                if !specific.iter().any(|e| e.matches(a)) {
                    return Err(format!("unexpected {kind} annotation {a:?}"));
                }
            }
        }
    }
    Ok(())
}

/// Compares histograms as the reference runner does (canonical form, float tolerance).
fn hist_eq(exp: &FloatHistogram, got: &FloatHistogram, hint_set: bool) -> bool {
    let (e, g) = (exp.compacted(), got.compacted());
    let close = |a: f64, b: f64| almost_equal(a, b, EPSILON);
    e.schema == g.schema
        && close(e.count, g.count)
        && close(e.sum, g.sum)
        && (!e.uses_custom_buckets() || e.custom_values == g.custom_values)
        && e.zero_threshold == g.zero_threshold
        && close(e.zero_count, g.zero_count)
        && e.positive_spans == g.positive_spans
        && e.negative_spans == g.negative_spans
        && e.positive_buckets.len() == g.positive_buckets.len()
        && e.positive_buckets
            .iter()
            .zip(&g.positive_buckets)
            .all(|(a, b)| close(*a, *b))
        && e.negative_buckets.len() == g.negative_buckets.len()
        && e.negative_buckets
            .iter()
            .zip(&g.negative_buckets)
            .all(|(a, b)| close(*a, *b))
        && (!hint_set || e.counter_reset_hint == g.counter_reset_hint)
}

fn compare(ev: &EvalCmd, v: &Value) -> Result<(), String> {
    if let Some(s) = &ev.expected_string {
        return match v {
            Value::String { v, .. } if v == s => Ok(()),
            other => Err(format!("expected string {s:?}, got {other:?}")),
        };
    }
    let scalar_expected = ev.expected.len() == 1 && ev.expected[0].0.is_none();
    match v {
        Value::Scalar { v, .. } => {
            if !scalar_expected {
                return Err(format!("expected vector or matrix result, got scalar {v}"));
            }
            match &ev.expected[0].1[0] {
                SeqValue::Float(f) if almost_equal(*f, *v, EPSILON) => Ok(()),
                other => Err(format!("expected scalar {other:?}, got {v}")),
            }
        }
        Value::String { v, .. } => Err(format!("unexpected string result {v:?}")),
        Value::Vector(samples) => {
            if scalar_expected {
                return Err(format!("expected scalar, got vector {samples:?}"));
            }
            compare_vector(ev, samples)
        }
        Value::Matrix(series) => {
            if ev.ordered {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            if scalar_expected {
                return Err("expected scalar, got matrix".into());
            }
            let step = ev.step.unwrap_or(0);
            let expected: HashMap<&Labels, &Vec<SeqValue>> = ev
                .expected
                .iter()
                .filter_map(|(l, v)| l.as_ref().map(|l| (l, v)))
                .collect();
            for w in series.windows(2) {
                if w[0].labels > w[1].labels {
                    return Err("matrix results should always be sorted by labels".into());
                }
            }
            for s in series {
                let Some(exp) = expected.get(&s.labels) else {
                    return Err(format!(
                        "unexpected metric {} in result, has {:?} {:?}",
                        s.labels,
                        s.floats,
                        s.histograms.len()
                    ));
                };
                let mut ef = Vec::new();
                let mut eh = Vec::new();
                for (i, e) in exp.iter().enumerate() {
                    let t = ev.start + i as i64 * step;
                    if t > ev.end {
                        return Err(format!(
                            "expected {} points for {}, but query time range cannot return this many points",
                            exp.len(),
                            s.labels
                        ));
                    }
                    match e {
                        SeqValue::Omitted => {}
                        SeqValue::Float(f) => ef.push((t, *f)),
                        SeqValue::Histogram(h, hint) => eh.push((t, h.clone(), *hint)),
                    }
                }
                if ef.len() != s.floats.len() || eh.len() != s.histograms.len() {
                    return Err(format!(
                        "expected {} float points and {} histogram points for {}, got {:?} and {} histograms",
                        ef.len(),
                        eh.len(),
                        s.labels,
                        s.floats,
                        s.histograms.len()
                    ));
                }
                for (e, g) in ef.iter().zip(&s.floats) {
                    if e.0 != g.0 || !almost_equal(e.1, g.1, EPSILON) {
                        return Err(format!("expected {:?} for {} but got {:?}", e, s.labels, g));
                    }
                }
                for (e, g) in eh.iter().zip(&s.histograms) {
                    if e.0 != g.0 || !hist_eq(&e.1, &g.1, e.2) {
                        return Err(format!(
                            "expected histogram {} at {} for {} but got {} at {}",
                            e.1.to_test_string(),
                            e.0,
                            s.labels,
                            g.1.to_test_string(),
                            g.0
                        ));
                    }
                }
            }
            if series.len() != expected.len() {
                let missing: Vec<String> = expected
                    .keys()
                    .filter(|l| !series.iter().any(|s| &&s.labels == *l))
                    .map(|l| l.to_string())
                    .collect();
                return Err(format!("expected metrics not found: {missing:?}"));
            }
            Ok(())
        }
    }
}

fn compare_vector(ev: &EvalCmd, samples: &[Sample]) -> Result<(), String> {
    let expected: HashMap<&Labels, (usize, &Vec<SeqValue>)> = ev
        .expected
        .iter()
        .enumerate()
        .filter_map(|(i, (l, v))| l.as_ref().map(|l| (l, (i, v))))
        .collect();
    for (pos, s) in samples.iter().enumerate() {
        let Some((epos, vals)) = expected.get(&s.labels) else {
            return Err(format!(
                "unexpected metric {} in result, has value {}",
                s.labels,
                s.h.as_ref()
                    .map(|h| h.to_test_string())
                    .unwrap_or_else(|| s.f.to_string())
            ));
        };
        if ev.ordered && *epos != pos {
            return Err(format!(
                "expected metric {} at position {} but was at {}",
                s.labels,
                epos + 1,
                pos + 1
            ));
        }
        match (vals.first(), &s.h) {
            (Some(SeqValue::Float(f)), None) => {
                if !almost_equal(*f, s.f, EPSILON) {
                    return Err(format!("expected {f} for {} but got {}", s.labels, s.f));
                }
            }
            (Some(SeqValue::Histogram(h, hint)), Some(g)) => {
                if !hist_eq(h, g, *hint) {
                    return Err(format!(
                        "expected {} for {} but got {}",
                        h.to_test_string(),
                        s.labels,
                        g.to_test_string()
                    ));
                }
            }
            (e, g) => {
                return Err(format!(
                    "expected {e:?} for {} but got {:?}/{}",
                    s.labels,
                    g.as_ref().map(|h| h.to_test_string()),
                    s.f
                ));
            }
        }
    }
    if samples.len() != expected.len() {
        let missing: Vec<String> = expected
            .keys()
            .filter(|l| !samples.iter().any(|s| &&s.labels == *l))
            .map(|l| l.to_string())
            .collect();
        return Err(format!("expected metrics not found: {missing:?}"));
    }
    Ok(())
}

/// Re-runs an instant eval as a range query around its time and compares the middle step.
fn range_mode_check(
    engine: &Engine,
    store: &MemStore,
    ev: &EvalCmd,
    inst: &Value,
) -> Result<(), String> {
    if matches!(inst, Value::Matrix(_) | Value::String { .. }) {
        return Ok(());
    }
    let q = &ev.expr;
    if ["start()", "end()", "range()", "step()"]
        .iter()
        .any(|f| q.contains(f))
    {
        return Ok(());
    }
    let t = ev.start;
    let res = engine
        .range_query(
            store,
            q,
            t - 60_000,
            t + 60_000,
            60_000,
            &QueryOpts::default(),
        )
        .map_err(|e| format!("error in range mode: {e}"))?;
    let Value::Matrix(m) = res.value else {
        return Err("range mode did not return a matrix".into());
    };
    check_middle(ev, inst, &m, t)
}

/// Compares the step at `t` of a range result with the expectation.
fn check_middle(
    ev: &EvalCmd,
    inst: &Value,
    m: &[crate::value::RangeSeries],
    t: i64,
) -> Result<(), String> {
    let mut vec = Vec::new();
    for s in m {
        if let Some(p) = s.floats.iter().find(|p| p.0 == t) {
            vec.push(Sample {
                labels: s.labels.clone(),
                t,
                f: p.1,
                h: None,
            });
        } else if let Some(p) = s.histograms.iter().find(|p| p.0 == t) {
            vec.push(Sample {
                labels: s.labels.clone(),
                t,
                f: 0.0,
                h: Some(p.1.clone()),
            });
        }
    }
    let r = if let Value::Scalar { .. } = inst {
        compare(
            ev,
            &Value::Scalar {
                t,
                v: vec.first().map(|s| s.f).unwrap_or(f64::NAN),
            },
        )
    } else {
        compare(ev, &Value::Vector(vec))
    };
    r.map_err(|e| format!("range mode: {e}"))
}

/// Loads classic histogram series (`*_bucket` with `le`, `*_count`, `*_sum`) a second time as
/// native histograms with custom buckets, named without the `_bucket` suffix.
pub(super) fn load_nhcb(
    store: &mut MemStore,
    series: &[(Labels, Vec<SeqValue>)],
    interval_ms: i64,
) {
    // base labels (name without suffix) -> index -> (bounds -> count, count, sum)
    type Acc = BTreeMap<usize, (Vec<(f64, f64)>, Option<f64>, Option<f64>)>;
    let mut groups: BTreeMap<Labels, Acc> = BTreeMap::new();
    for (labels, vals) in series {
        let Some(name) = labels.metric_name() else {
            continue;
        };
        let (base, kind) = if let Some(b) = name.strip_suffix("_bucket") {
            (b, 0)
        } else if let Some(b) = name.strip_suffix("_count") {
            (b, 1)
        } else if let Some(b) = name.strip_suffix("_sum") {
            (b, 2)
        } else {
            continue;
        };
        let mut key = labels.clone();
        key.set(METRIC_NAME, base);
        let le = labels.get("le").and_then(super::values::parse_float);
        if kind == 0 {
            if le.is_none() {
                continue;
            }
            key.remove("le");
        }
        let acc = groups.entry(key).or_default();
        for (i, v) in vals.iter().enumerate() {
            let SeqValue::Float(f) = v else { continue };
            let e = acc.entry(i).or_default();
            match kind {
                0 => e.0.push((le.unwrap_or(f64::INFINITY), *f)),
                1 => e.1 = Some(*f),
                _ => e.2 = Some(*f),
            }
        }
    }
    for (labels, acc) in groups {
        for (i, (mut buckets, count, sum)) in acc {
            if buckets.is_empty() {
                continue;
            }
            buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
            let mut h = FloatHistogram {
                schema: CUSTOM_BUCKETS_SCHEMA,
                ..Default::default()
            };
            let mut prev = 0.0;
            let mut counts = Vec::new();
            for (le, c) in &buckets {
                if le.is_finite() {
                    h.custom_values.push(*le);
                }
                counts.push(c - prev);
                prev = *c;
            }
            h.count = count.unwrap_or(prev);
            h.sum = sum.unwrap_or(0.0);
            h.positive_spans = vec![Span {
                offset: 0,
                length: counts.len() as u32,
            }];
            h.positive_buckets = counts;
            let h = h.compacted();
            store.append(
                labels.clone(),
                Point {
                    t: i as i64 * interval_ms,
                    v: PointValue::Histogram(Arc::new(h)),
                },
            );
        }
    }
}
