//! `/api/v1/metadata`, `/api/v1/query_exemplars`, `/api/v1/format_query` and
//! `/api/v1/parse_query`.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use promql_parser::parser::Expr;

use super::json::JsonBuf;
use super::params::{MAX_TIME_MS, MIN_TIME_MS, Params, invalid_param};
use super::respond::{finish, success};
use crate::error::{Error, Result};
use crate::state::ApiState;

/// Handles `GET /api/v1/metadata`: the table fed by remote write metadata.
pub(crate) async fn metadata(
    State(state): State<ApiState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let result = async {
        let p = Params::read(&method, &uri, &headers, body, 0).await?;
        let number = |name: &str| -> Result<i64> {
            let v = p.get(name);
            if v.is_empty() {
                return Ok(-1);
            }
            v.parse::<i64>()
                .map_err(|_| Error::BadData(format!("{name} must be a number")))
        };
        let limit = number("limit")?;
        let per_metric = number("limit_per_metric")?;
        let limit = usize::try_from(limit).ok();
        let per_metric = usize::try_from(per_metric).ok().filter(|n| *n > 0);
        let metric = p.get("metric").to_owned();
        let data = |b: &mut JsonBuf| {
            b.raw("{");
            let mut first = true;
            state.metadata.for_each(&metric, limit, |name, entries| {
                if !first {
                    b.raw(",");
                }
                first = false;
                b.key(name);
                b.raw("[");
                let n = per_metric.unwrap_or(usize::MAX).min(entries.len());
                // Newest first.
                for (i, e) in entries.iter().rev().take(n).enumerate() {
                    if i > 0 {
                        b.raw(",");
                    }
                    b.raw("{\"type\":");
                    b.string(e.metric_type);
                    b.raw(",\"unit\":");
                    b.string(&e.unit);
                    b.raw(",\"help\":");
                    b.string(&e.help);
                    b.raw("}");
                }
                b.raw("]");
            });
            b.raw("}");
        };
        Ok(success(1024, data, &[], &[]))
    }
    .await;
    finish(&state, "metadata", start, result)
}

/// Handles `/api/v1/query_exemplars`: Strata stores no exemplars, so a valid request answers
/// an empty list (or 204 without a body when the query has no selector, as Prometheus).
pub(crate) async fn query_exemplars(
    State(state): State<ApiState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let result = async {
        let p = Params::read_query(&state, &method, &uri, &headers, body).await?;
        let mint = p.time_or("start", MIN_TIME_MS)?;
        let maxt = p.time_or("end", MAX_TIME_MS)?;
        if maxt < mint {
            return Err(Error::BadData(
                "end timestamp must not be before start timestamp".into(),
            ));
        }
        let expr = state
            .engine
            .parse(p.get("query"))
            .map_err(|e| Error::BadData(e.to_string()))?;
        if !has_selector(&expr) {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        let data = |b: &mut JsonBuf| b.raw("[]");
        Ok(success(64, data, &[], &[]))
    }
    .await;
    finish(&state, "query_exemplars", start, result)
}

/// Returns whether an expression selects series anywhere.
fn has_selector(e: &Expr) -> bool {
    match e {
        Expr::VectorSelector(_) | Expr::MatrixSelector(_) => true,
        Expr::Aggregate(a) => has_selector(&a.expr) || a.param.as_deref().is_some_and(has_selector),
        Expr::Unary(u) => has_selector(&u.expr),
        Expr::Binary(b) => has_selector(&b.lhs) || has_selector(&b.rhs),
        Expr::Paren(p) => has_selector(&p.expr),
        Expr::Subquery(s) => has_selector(&s.expr),
        Expr::Call(c) => c.args.args.iter().any(|a| has_selector(a)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => false,
    }
}

/// Handles `/api/v1/format_query`: the query pretty-printed.
pub(crate) async fn format_query(
    State(state): State<ApiState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let result = async {
        let p = Params::read_query(&state, &method, &uri, &headers, body).await?;
        let expr = state
            .engine
            .parse(p.get("query"))
            .map_err(|e| invalid_param("query", &e.to_string()))?;
        let pretty = expr.prettify();
        let data = |b: &mut JsonBuf| b.string(&pretty);
        Ok(success(pretty.len() + 64, data, &[], &[]))
    }
    .await;
    finish(&state, "format_query", start, result)
}

/// Handles `/api/v1/parse_query`: the query's syntax tree as JSON.
pub(crate) async fn parse_query(
    State(state): State<ApiState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let result = async {
        let p = Params::read_query(&state, &method, &uri, &headers, body).await?;
        let expr = state
            .engine
            .parse(p.get("query"))
            .map_err(|e| invalid_param("query", &e.to_string()))?;
        let mut tree = serde_json::to_value(&expr)
            .map_err(|e| Error::Internal(format!("serializing syntax tree: {e}")))?;
        to_prometheus_tree(&mut tree);
        let tree = tree.to_string();
        let data = |b: &mut JsonBuf| b.raw(&tree);
        Ok(success(tree.len() + 64, data, &[], &[]))
    }
    .await;
    finish(&state, "parse_query", start, result)
}

/// Brings promql-parser's serialized tree to Prometheus' `parse_query` form: appends the
/// `__name__="<name>"` matcher that Prometheus' parser adds to every selector with a metric
/// name (promql-parser keeps it apart), and drops the fields Prometheus does not have
/// (`experimental` of functions, `fillValues` of vector matching).
fn to_prometheus_tree(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(o) => {
            if o.contains_key("argTypes") {
                o.remove("experimental");
            }
            if o.contains_key("card") {
                o.remove("fillValues");
            }
            let is_selector = matches!(
                o.get("type").and_then(|t| t.as_str()),
                Some("vectorSelector" | "matrixSelector")
            );
            if is_selector
                && let Some(name) = o.get("name").and_then(|n| n.as_str()).map(str::to_owned)
                && !name.is_empty()
                && let Some(serde_json::Value::Array(ms)) = o.get_mut("matchers")
            {
                let has = ms.iter().any(|m| m["name"] == "__name__");
                if !has {
                    ms.push(serde_json::json!({"name": "__name__", "type": "=", "value": name}));
                }
            }
            for child in o.values_mut() {
                to_prometheus_tree(child);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(to_prometheus_tree),
        _ => {}
    }
}
