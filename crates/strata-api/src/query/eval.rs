//! `/api/v1/query` and `/api/v1/query_range` (GET and form-encoded POST).
//!
//! Parameters are checked in Prometheus' order, with its messages; the query runs on a blocking
//! thread under a concurrency slot (`max-concurrent-queries`), with the request's `timeout`
//! (never longer than `query-timeout`) and a cancel flag that is raised if the client goes away
//! before the answer is ready.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use promql_parser::parser::Expr;
use strata_promql::{QueryOpts, QueryResult, RangeSeries, Value};

use super::json::JsonBuf;
use super::params::{Params, invalid_param, parse_duration_ns};
use super::respond::{STREAM_ABOVE_BYTES, finish, success, success_streamed};
use crate::error::{Error, Result};
use crate::state::ApiState;

/// Most points per series a range query may return, as Prometheus.
const MAX_POINTS_PER_SERIES: i128 = 11_000;

/// Handles `/api/v1/query`.
pub(crate) async fn query(
    State(state): State<ApiState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let result = instant(&state, &method, &uri, &headers, body).await;
    finish(&state, "query", start, result)
}

/// Handles `/api/v1/query_range`.
pub(crate) async fn query_range(
    State(state): State<ApiState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let result = range(&state, &method, &uri, &headers, body).await;
    finish(&state, "query_range", start, result)
}

/// Returns the current time in milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What both query endpoints share once parameters are parsed.
struct Prepared {
    /// The query text, for the positions Prometheus appends to annotations.
    query: String,
    expr: Expr,
    opts: QueryOpts,
    limit: u64,
    /// `stats` asked for: `Some(true)` for `stats=all` (per-step figures too).
    stats: Option<bool>,
}

async fn instant(
    state: &ApiState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response> {
    let p = Params::read(
        method,
        uri,
        headers,
        body,
        state.limits.max_query_form_bytes.as_usize(),
    )
    .await?;
    let limit = p.limit()?;
    let time = p.time_or("time", now_ms())?;
    let prepared = prepare(state, &p, limit)?;
    run(state, prepared, move |engine, q, expr, opts| {
        engine.instant_query_expr(q, expr, time, opts)
    })
    .await
}

async fn range(
    state: &ApiState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response> {
    let p = Params::read(
        method,
        uri,
        headers,
        body,
        state.limits.max_query_form_bytes.as_usize(),
    )
    .await?;
    let limit = p.limit()?;
    let start = p.time("start")?;
    let end = p.time("end")?;
    if end < start {
        return Err(invalid_param(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step_ns = parse_duration_ns(p.get("step")).map_err(|e| invalid_param("step", &e))?;
    if step_ns <= 0 {
        return Err(invalid_param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (i128::from(end) - i128::from(start)) * 1_000_000 / step_ns > MAX_POINTS_PER_SERIES {
        return Err(Error::BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
        ));
    }
    let step_ms = i64::try_from(step_ns / 1_000_000)
        .unwrap_or(i64::MAX)
        .max(1);
    let prepared = prepare(state, &p, limit)?;
    run(state, prepared, move |engine, q, expr, opts| {
        let mut r = engine.range_query_expr(q, expr, start, end, step_ms, opts)?;
        r.value = as_matrix(r.value);
        Ok(r)
    })
    .await
}

/// Parses `timeout`, `lookback_delta`, `stats` and `query`, in Prometheus' order.
fn prepare(state: &ApiState, p: &Params, limit: u64) -> Result<Prepared> {
    let mut timeout = state.engine.config().timeout;
    let to = p.get("timeout");
    if !to.is_empty() {
        let ns = parse_duration_ns(to).map_err(|e| invalid_param("timeout", &e))?;
        let d = Duration::from_nanos(u64::try_from(ns).unwrap_or(0));
        timeout = timeout.min(d);
    }
    let mut lookback_delta_ms = None;
    let lb = p.get("lookback_delta");
    if !lb.is_empty() {
        let ns = parse_duration_ns(lb)
            .map_err(|e| Error::BadData(format!("error parsing lookback delta duration: {e}")))?;
        let ms = i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX);
        if ms > 0 {
            lookback_delta_ms = Some(ms);
        }
    }
    let expr = state
        .engine
        .parse(p.get("query"))
        .map_err(|e| invalid_param("query", &e.to_string()))?;
    Ok(Prepared {
        query: p.get("query").to_owned(),
        expr,
        opts: QueryOpts {
            lookback_delta_ms,
            timeout: Some(timeout),
            cancel: Some(Arc::new(AtomicBool::new(false))),
        },
        limit,
        stats: match p.get("stats") {
            "" => None,
            s => Some(s == "all"),
        },
    })
}

/// Raises the query's cancel flag when dropped: if the client disconnects, the handler future
/// is dropped and the engine stops at its next check.
struct CancelOnDrop(Option<Arc<AtomicBool>>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(flag) = &self.0 {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

async fn run<F>(state: &ApiState, prepared: Prepared, eval: F) -> Result<Response>
where
    F: FnOnce(
            &strata_promql::Engine,
            &dyn strata_promql::Queryable,
            &Expr,
            &QueryOpts,
        ) -> strata_promql::Result<QueryResult>
        + Send
        + 'static,
{
    let queued = Instant::now();
    let _slot = state
        .query_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| Error::Internal("query slots closed".into()))?;
    let queue_time = queued.elapsed();
    let _cancel = CancelOnDrop(prepared.opts.cancel.clone());
    let engine = state.engine.clone();
    let queryable = state.queryable.clone();
    let Prepared {
        query,
        expr,
        opts,
        limit,
        stats,
    } = prepared;
    let eval_start = Instant::now();
    let mut result = tokio::task::spawn_blocking(move || {
        let mut r = eval(&engine, &*queryable, &expr, &opts)?;
        r.annotations.resolve_positions(&query, &expr);
        Ok::<_, strata_promql::Error>(r)
    })
    .await
    .map_err(|e| Error::Internal(format!("query task failed: {e}")))??;
    let eval_time = eval_start.elapsed();
    let mut warnings = result.warnings();
    if limit > 0 && truncate(&mut result.value, limit) {
        warnings.push("results truncated due to limit".into());
    }
    let infos = result.infos();
    let capacity = estimate_size(&result.value);
    let per_step_allowed = state.limits.per_step_stats;
    let stats = stats.map(|per_step| QueryStatsOut {
        queue: queue_time,
        eval: eval_time,
        total: queued.elapsed(),
        samples: std::mem::take(&mut result.stats),
        per_step: per_step && per_step_allowed,
    });
    let value = result.value;
    if capacity > STREAM_ABOVE_BYTES {
        let data = move |b: &mut JsonBuf| write_query_data(b, value, stats.as_ref());
        return Ok(success_streamed(data, warnings, infos));
    }
    let data = |b: &mut JsonBuf| write_query_data(b, value, stats.as_ref());
    Ok(success(capacity, data, &warnings, &infos))
}

/// Returns a range query's value as a matrix, as Prometheus always answers range queries with
/// one (the engine may hand back a vector or scalar when `start == end`).
fn as_matrix(v: Value) -> Value {
    match v {
        Value::Vector(samples) => Value::Matrix(
            samples
                .into_iter()
                .map(|s| {
                    let mut r = RangeSeries {
                        labels: s.labels,
                        ..RangeSeries::default()
                    };
                    match s.h {
                        Some(h) => r.histograms.push((s.t, h)),
                        None => r.floats.push((s.t, s.f)),
                    }
                    r
                })
                .collect(),
        ),
        Value::Scalar { t, v } => Value::Matrix(vec![RangeSeries {
            floats: vec![(t, v)],
            ..RangeSeries::default()
        }]),
        other => other,
    }
}

/// Cuts a vector or matrix to `limit` series; returns whether anything was cut.
fn truncate(v: &mut Value, limit: u64) -> bool {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    match v {
        Value::Vector(s) if s.len() > limit => {
            s.truncate(limit);
            true
        }
        Value::Matrix(s) if s.len() > limit => {
            s.truncate(limit);
            true
        }
        _ => false,
    }
}

/// Returns a guess of the answer's size, to allocate the body once.
fn estimate_size(v: &Value) -> usize {
    match v {
        Value::Vector(s) => s.len() * 96,
        Value::Matrix(s) => s
            .iter()
            .map(|r| 64 + (r.floats.len() + r.histograms.len()) * 28)
            .sum(),
        _ => 128,
    }
}

/// The statistics of one query, as `stats` asks for them.
struct QueryStatsOut {
    queue: Duration,
    eval: Duration,
    total: Duration,
    samples: strata_promql::QueryStats,
    /// `stats=all`: per-step sample counts too.
    per_step: bool,
}

/// Writes `{"resultType":…,"result":…}` and, when asked, the statistics: timings measured here
/// and the sample counts of the engine (`data.stats.samples`, as Prometheus 3.5).
fn write_query_data(b: &mut JsonBuf, value: Value, stats: Option<&QueryStatsOut>) {
    b.raw("{\"resultType\":");
    b.string(value.type_name());
    b.raw(",\"result\":");
    write_value(b, value);
    if let Some(s) = stats {
        b.raw(",\"stats\":{\"timings\":{\"evalTotalTime\":");
        b.number(s.eval.as_secs_f64());
        b.raw(",\"resultSortTime\":0,\"queryPreparationTime\":0,\"innerEvalTime\":");
        b.number(s.eval.as_secs_f64());
        b.raw(",\"execQueueTime\":");
        b.number(s.queue.as_secs_f64());
        b.raw(",\"execTotalTime\":");
        b.number(s.total.as_secs_f64());
        b.raw("},\"samples\":");
        b.sample_stats(&s.samples, s.per_step);
        b.raw("}");
    }
    b.raw("}");
}

/// Writes a query value in Prometheus' JSON form, dropping each series once written and
/// handing full chunks to a streaming buffer; stops early if the client went away.
pub(crate) fn write_value(b: &mut JsonBuf, value: Value) {
    match value {
        Value::Scalar { t, v } => b.point(t, v),
        Value::String { t, v } => {
            b.raw("[");
            b.timestamp(t);
            b.raw(",");
            b.string(&v);
            b.raw("]");
        }
        Value::Vector(samples) => {
            b.raw("[");
            for (i, s) in samples.into_iter().enumerate() {
                if b.is_gone() {
                    return;
                }
                if i > 0 {
                    b.raw(",");
                }
                b.raw("{\"metric\":");
                b.labels(&s.labels);
                match &s.h {
                    Some(h) => {
                        b.raw(",\"histogram\":");
                        b.histogram_point(s.t, h);
                    }
                    None => {
                        b.raw(",\"value\":");
                        b.point(s.t, s.f);
                    }
                }
                b.raw("}");
                b.checkpoint();
            }
            b.raw("]");
        }
        Value::Matrix(series) => {
            b.raw("[");
            for (i, s) in series.into_iter().enumerate() {
                if b.is_gone() {
                    return;
                }
                if i > 0 {
                    b.raw(",");
                }
                b.raw("{\"metric\":");
                b.labels(&s.labels);
                if !s.floats.is_empty() {
                    b.raw(",\"values\":[");
                    for (j, (t, v)) in s.floats.iter().enumerate() {
                        if j > 0 {
                            b.raw(",");
                        }
                        b.point(*t, *v);
                        if j % 1024 == 1023 {
                            b.checkpoint();
                        }
                    }
                    b.raw("]");
                }
                if !s.histograms.is_empty() {
                    b.raw(",\"histograms\":[");
                    for (j, (t, h)) in s.histograms.iter().enumerate() {
                        if j > 0 {
                            b.raw(",");
                        }
                        b.histogram_point(*t, h);
                    }
                    b.raw("]");
                }
                b.raw("}");
                b.checkpoint();
            }
            b.raw("]");
        }
    }
}
