//! `/api/v1/series`, `/api/v1/labels` and `/api/v1/label/<name>/values`.
//!
//! Each `match[]` selector is one select (or label query) on the queryable over
//! `[start, end]`; the answers are merged, sorted and deduplicated. A `limit` parameter cuts
//! the answer with Prometheus' warning; without one, an answer larger than
//! `max-series-per-request` (or `max-label-values-per-request`) fails with 422 instead of
//! being built.

use std::collections::BTreeSet;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use strata_model::{Labels, Matcher};
use strata_promql::{Queryable, SelectHints};

use super::json::JsonBuf;
use super::params::{MAX_TIME_MS, MIN_TIME_MS, Params, go_quote, invalid_param};
use super::respond::{STREAM_ABOVE_BYTES, finish, success, success_streamed};
use crate::error::{Error, Result};
use crate::state::ApiState;

/// The warning Prometheus adds when `limit` cut an answer.
const TRUNCATED: &str = "results truncated due to limit";

/// Handles `/api/v1/series`.
pub(crate) async fn series(
    State(state): State<ApiState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let result = series_inner(&state, &method, &uri, &headers, body).await;
    finish(&state, "series", start, result)
}

/// Handles `/api/v1/labels`.
pub(crate) async fn label_names(
    State(state): State<ApiState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let result = labels_inner(&state, None, &method, &uri, &headers, body).await;
    finish(&state, "labels", start, result)
}

/// Handles `/api/v1/label/<name>/values`.
pub(crate) async fn label_values(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let name = unescape_label_name(&name);
    let result = if name.is_empty() {
        Err(Error::BadData(format!(
            "invalid label name: {}",
            go_quote(&name)
        )))
    } else {
        labels_inner(&state, Some(name), &method, &uri, &headers, body).await
    };
    finish(&state, "label_values", start, result)
}

/// The effective cap of an answer: `limit` when set and within `max`, else `max`; and whether
/// exceeding it truncates (with a warning) or fails.
fn cap(limit: u64, max: u64) -> (usize, bool) {
    let c = if limit > 0 && limit <= max {
        limit
    } else {
        max
    };
    (
        usize::try_from(c).unwrap_or(usize::MAX),
        limit > 0 && limit <= max,
    )
}

async fn series_inner(
    state: &ApiState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response> {
    let p = Params::read_query(state, method, uri, headers, body).await?;
    if p.all("match[]").is_empty() {
        return Err(Error::BadData("no match[] parameter provided".into()));
    }
    let limit = p.limit()?;
    let start = p.time_or("start", MIN_TIME_MS)?;
    let end = p.time_or("end", MAX_TIME_MS)?;
    let sets = p.match_sets().map_err(|e| invalid_param("match[]", &e))?;
    let (cap, truncates) = cap(limit, state.limits.max_series_per_request);
    let queryable = state.queryable.clone();
    let mut found =
        tokio::task::spawn_blocking(move || select_series(&*queryable, start, end, &sets))
            .await
            .map_err(|e| Error::Internal(format!("series task failed: {e}")))??;
    let warnings = enforce_cap(
        &mut found,
        cap,
        truncates,
        "series limit exceeded: more than {cap} series match (max-series-per-request)",
    )?;
    let estimate = found.len() * 80;
    Ok(respond_list(found, estimate, warnings, |b, l| b.labels(l)))
}

/// Returns the sorted, unique label sets of the series matching any of `sets`.
fn select_series(
    q: &dyn Queryable,
    mint: i64,
    maxt: i64,
    sets: &[Vec<Matcher>],
) -> Result<Vec<Labels>> {
    let hints = SelectHints {
        mint,
        maxt,
        func: Some("series".into()),
        ..SelectHints::default()
    };
    let mut all: Vec<Labels> = Vec::new();
    for set in sets {
        let found = q.select(&hints, set)?;
        all.extend(found.into_iter().map(|s| s.labels));
    }
    if sets.len() > 1 {
        all.sort();
        all.dedup();
    }
    Ok(all)
}

async fn labels_inner(
    state: &ApiState,
    name: Option<String>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response> {
    let p = Params::read_query(state, method, uri, headers, body).await?;
    let limit = p.limit()?;
    let start = p.time_or("start", MIN_TIME_MS)?;
    let end = p.time_or("end", MAX_TIME_MS)?;
    let sets = p.match_sets().map_err(Error::BadData)?;
    let (cap, truncates) = cap(limit, state.limits.max_label_values_per_request);
    let queryable = state.queryable.clone();
    let mut found = tokio::task::spawn_blocking(move || -> Result<Vec<String>> {
        let q = &*queryable;
        let one = |set: &[Matcher]| match &name {
            Some(n) => q.label_values(n, start, end, set),
            None => q.label_names(start, end, set),
        };
        if sets.is_empty() {
            return Ok(one(&[])?);
        }
        if sets.len() == 1 {
            return Ok(one(&sets[0])?);
        }
        let mut all = BTreeSet::new();
        for set in &sets {
            all.extend(one(set)?);
        }
        Ok(all.into_iter().collect())
    })
    .await
    .map_err(|e| Error::Internal(format!("labels task failed: {e}")))??;
    let warnings = enforce_cap(
        &mut found,
        cap,
        truncates,
        "label limit exceeded: more than {cap} results (max-label-values-per-request)",
    )?;
    let estimate = found.iter().map(|v| v.len() + 3).sum::<usize>();
    Ok(respond_list(found, estimate, warnings, |b, v| b.string(v)))
}

/// Cuts `found` to `cap`: with a `limit` parameter (`truncates`) it keeps the first `cap` items
/// and returns Prometheus' warning; without one, an answer over the server's maximum is an error
/// (`what` names the limit; `{cap}` in it is replaced by the number).
fn enforce_cap<T>(
    found: &mut Vec<T>,
    cap: usize,
    truncates: bool,
    what: &str,
) -> Result<Vec<String>> {
    if found.len() <= cap {
        return Ok(Vec::new());
    }
    if !truncates {
        return Err(Error::LimitExceeded(format!(
            "{}; narrow match[] or the time range, or pass a limit parameter",
            what.replace("{cap}", &cap.to_string())
        )));
    }
    found.truncate(cap);
    Ok(vec![TRUNCATED.to_owned()])
}

/// Answers a JSON list of `items`, each written by `write`; streamed when larger than
/// [`STREAM_ABOVE_BYTES`] (by `estimate`), so the list is never built twice in memory.
fn respond_list<T: Send + 'static>(
    items: Vec<T>,
    estimate: usize,
    warnings: Vec<String>,
    write: fn(&mut JsonBuf, &T),
) -> Response {
    let data = move |b: &mut JsonBuf| {
        b.raw("[");
        for (i, item) in items.iter().enumerate() {
            if b.is_gone() {
                return;
            }
            if i > 0 {
                b.raw(",");
            }
            write(b, item);
            b.checkpoint();
        }
        b.raw("]");
    };
    if estimate > STREAM_ABOVE_BYTES {
        return success_streamed(data, warnings, Vec::new());
    }
    success(estimate, data, &warnings, &[])
}

/// Undoes Prometheus 3's `U__` value-encoding escape of a label name in a URL path
/// (`U__http_2e_method` → `http.method`, `__` → `_`); returns the name unchanged when it is not
/// escaped or the escape is malformed, as Prometheus' `model.UnescapeName` does.
pub(crate) fn unescape_label_name(name: &str) -> String {
    let Some(escaped) = name.strip_prefix("U__") else {
        return name.to_owned();
    };
    let b = escaped.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'_' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        i += 1;
        if i >= b.len() {
            return name.to_owned();
        }
        if b[i] == b'_' {
            out.push(b'_');
            i += 1;
            continue;
        }
        let mut code: u32 = 0;
        let mut digits = 0;
        loop {
            let Some(&c) = b.get(i) else {
                return name.to_owned();
            };
            if digits >= 6 {
                return name.to_owned();
            }
            if c == b'_' {
                i += 1;
                break;
            }
            let Some(d) = (c as char).to_digit(16) else {
                return name.to_owned();
            };
            code = code * 16 + d;
            digits += 1;
            i += 1;
        }
        let Some(ch) = char::from_u32(code) else {
            return name.to_owned();
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
    String::from_utf8(out).unwrap_or_else(|_| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_prometheus_3_label_names() {
        assert_eq!(unescape_label_name("job"), "job");
        assert_eq!(unescape_label_name("U__http_2e_method"), "http.method");
        assert_eq!(unescape_label_name("U__a__b"), "a_b");
        assert_eq!(unescape_label_name("U__caf_e9_"), "café");
        assert_eq!(unescape_label_name("U__a_zz_b"), "U__a_zz_b");
        assert_eq!(unescape_label_name("U__a_2e"), "U__a_2e");
        assert_eq!(unescape_label_name("U__a_"), "U__a_");
        assert_eq!(unescape_label_name("U__a_d800_"), "U__a_d800_");
        assert_eq!(unescape_label_name("U__a_1234567_"), "U__a_1234567_");
        assert_eq!(unescape_label_name("U__a_01f600_"), "U__a_01f600_");
        assert_eq!(unescape_label_name("U__a_1f600_"), "a\u{1f600}");
    }

    #[test]
    fn caps_follow_limit_within_the_maximum() {
        assert_eq!(cap(0, 100), (100, false));
        assert_eq!(cap(10, 100), (10, true));
        assert_eq!(cap(1000, 100), (100, false));
    }
}
