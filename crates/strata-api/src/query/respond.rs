//! The Prometheus response envelope and the per-request bookkeeping every handler shares.

use std::time::Instant;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::json::JsonBuf;
use crate::error::Result;
use crate::state::ApiState;

/// Returns the success envelope `{"status":"success","data":…,"warnings":[…],"infos":[…]}`,
/// the data written by `data` straight into the body (or left out when `data` is `None`).
pub(crate) fn success(
    capacity: usize,
    data: Option<&dyn Fn(&mut JsonBuf)>,
    warnings: &[String],
    infos: &[String],
) -> Response {
    let mut b = JsonBuf::with_capacity(capacity.max(64));
    b.raw("{\"status\":\"success\"");
    if let Some(data) = data {
        b.raw(",\"data\":");
        data(&mut b);
    }
    for (key, list) in [("warnings", warnings), ("infos", infos)] {
        if list.is_empty() {
            continue;
        }
        b.raw(",");
        b.key(key);
        b.raw("[");
        for (i, w) in list.iter().enumerate() {
            if i > 0 {
                b.raw(",");
            }
            b.string(w);
        }
        b.raw("]");
    }
    b.raw("}");
    json_response(StatusCode::OK, b.into_string())
}

/// Returns a JSON response with `body`.
pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Turns a handler's result into the response (errors in the JSON error envelope) and records
/// the request's metrics under `handler`.
pub(crate) fn finish(
    state: &ApiState,
    handler: &'static str,
    start: Instant,
    result: Result<Response>,
) -> Response {
    let resp = match result {
        Ok(r) => r,
        Err(e) => e.into_json_response(handler),
    };
    state.metrics.observe_request(
        handler,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}
