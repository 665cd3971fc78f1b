//! The Prometheus response envelope and the per-request bookkeeping every handler shares.

use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use tokio::sync::mpsc;

use super::json::JsonBuf;
use crate::error::Result;
use crate::state::ApiState;

/// Writes the success envelope `{"status":"success","data":…,"warnings":[…],"infos":[…]}`,
/// the data written by `data` straight into the body (or left out when `data` is `None`).
fn envelope(
    b: &mut JsonBuf,
    data: Option<&mut dyn FnMut(&mut JsonBuf)>,
    warnings: &[String],
    infos: &[String],
) {
    b.raw("{\"status\":\"success\"");
    if let Some(data) = data {
        b.raw(",\"data\":");
        data(b);
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
}

/// Returns a success answer built in one buffer of about `capacity` bytes, its data written
/// by `data`.
pub(crate) fn success(
    capacity: usize,
    data: impl FnOnce(&mut JsonBuf),
    warnings: &[String],
    infos: &[String],
) -> Response {
    let mut b = JsonBuf::with_capacity(capacity.max(64));
    let mut data = Some(data);
    let mut write = |b: &mut JsonBuf| {
        if let Some(f) = data.take() {
            f(b);
        }
    };
    envelope(&mut b, Some(&mut write), warnings, infos);
    json_response(StatusCode::OK, b.into_string())
}

/// Answers estimated above this many bytes are streamed rather than built in one buffer.
pub(crate) const STREAM_ABOVE_BYTES: usize = 256 * 1024;

/// Chunks of a streamed answer in flight between the producer and the connection.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Returns a success answer whose data `data` writes on a blocking thread, straight into
/// chunks sent to the connection as they fill: the answer never exists whole in memory, and
/// `data` can drop what it has written (it owns its input). Production stops if the client
/// goes away.
pub(crate) fn success_streamed(
    data: impl FnOnce(&mut JsonBuf) + Send + 'static,
    warnings: Vec<String>,
    infos: Vec<String>,
) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut b = JsonBuf::streaming(tx);
        let mut data = Some(data);
        let mut write = |b: &mut JsonBuf| {
            if let Some(f) = data.take() {
                f(b);
            }
        };
        envelope(&mut b, Some(&mut write), &warnings, &infos);
        b.finish();
    });
    let chunks = stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<Bytes, std::convert::Infallible>(chunk), rx))
    })
    // The compression layer may poll again after the end.
    .fuse();
    let mut resp = Response::new(Body::from_stream(chunks));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
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
