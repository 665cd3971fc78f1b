//! `POST /api/v1/read`: Prometheus remote read.
//!
//! The body is a snappy-compressed protobuf `ReadRequest`. Each query's matchers become
//! [`Matcher`]s and go to [`strata_promql::Queryable::select`] over
//! `[start_timestamp_ms, end_timestamp_ms]` (inclusive), on a blocking thread. The response type
//! is the first entry of `accepted_response_types` that Strata implements (`SAMPLES` when the
//! list is empty):
//! - `SAMPLES`: one snappy-compressed `ReadResponse` (`read/samples.rs`);
//! - `STREAMED_XOR_CHUNKS`: a stream of CRC-checked frames, one series per frame, with the points
//!   re-encoded as Prometheus XOR chunks of at most 120 samples (`read/streamed.rs`).
//!
//! Samples are returned raw: staleness markers included, bit-exact. Native histogram points
//! are not returned yet. Each query may return at most `max-read-samples-per-query` samples;
//! beyond it the request fails with 400 (`exceeded sample limit`), or, once a stream has started,
//! the stream is cut short.

mod samples;
mod streamed;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use strata_model::{MatchOp, Matcher};
use strata_promql::{Point, PointValue, SampleIterator, SelectHints};
use strata_proto::read_request::ResponseType;
use strata_proto::{LabelMatcher, ReadRequest, label_matcher};
use tokio::sync::OwnedSemaphorePermit;

use crate::body::{content_length, read_body_limited};
use crate::error::{Error, Result};
use crate::metrics::{HANDLER_READ, HandlerLabels};
use crate::state::ApiState;

/// Samples per re-encoded XOR chunk, as Prometheus cuts head chunks.
pub const SAMPLES_PER_CHUNK: usize = 120;

/// One query of a read request, ready for [`strata_promql::Queryable::select`].
#[derive(Debug, Clone)]
pub(crate) struct PreparedQuery {
    pub(crate) hints: SelectHints,
    pub(crate) matchers: Vec<Matcher>,
}

/// Holds a remote read slot and the in-flight gauge until dropped (at the end of a stream).
#[derive(Debug)]
pub(crate) struct ReadGuard {
    _permit: OwnedSemaphorePermit,
    state: ApiState,
}

impl Drop for ReadGuard {
    fn drop(&mut self) {
        self.state.metrics.remote_read_inflight.dec();
    }
}

/// Handles `POST /api/v1/read`.
pub(crate) async fn remote_read(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let resp = match handle(&state, &headers, body).await {
        Ok(resp) => resp,
        Err(e) => e.into_plain_response(HANDLER_READ),
    };
    state.metrics.observe_request(
        HANDLER_READ,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

async fn handle(state: &ApiState, headers: &HeaderMap, body: Body) -> Result<Response> {
    let limit = state.limits.max_read_compressed_bytes.as_usize();
    if content_length(headers).is_some_and(|n| n > limit as u64) {
        return Err(too_large_body(limit));
    }
    let compressed = read_body_limited(body, limit)
        .await?
        .ok_or_else(|| too_large_body(limit))?;
    state
        .metrics
        .request_body_bytes
        .get_or_create(&HandlerLabels {
            handler: HANDLER_READ,
        })
        .observe(compressed.len() as f64);
    if compressed.is_empty() {
        return Err(Error::BadData("empty request body".into()));
    }
    let req: ReadRequest = strata_proto::decode_snappy(
        &compressed,
        state.limits.max_read_decompressed_bytes.as_usize(),
    )
    .map_err(|e| match e {
        strata_proto::Error::TooLarge { .. } => {
            Error::TooLarge(format!("{e} (max-read-decompressed-bytes)"))
        }
        other => Error::BadData(format!("decoding ReadRequest: {other}")),
    })?;
    let response_type = negotiate_response_type(&req.accepted_response_types)?;
    let queries = req
        .queries
        .iter()
        .map(|q| {
            Ok(PreparedQuery {
                hints: SelectHints {
                    mint: q.start_timestamp_ms,
                    maxt: q.end_timestamp_ms,
                    step_ms: q.hints.as_ref().map_or(0, |h| h.step_ms),
                    range_ms: q.hints.as_ref().map_or(0, |h| h.range_ms),
                    func: q
                        .hints
                        .as_ref()
                        .map(|h| h.func.clone())
                        .filter(|f| !f.is_empty()),
                },
                matchers: convert_matchers(&q.matchers)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    state.metrics.remote_read_inflight.inc();
    let permit = match Arc::clone(&state.read_slots).acquire_owned().await {
        Ok(p) => p,
        Err(_) => {
            state.metrics.remote_read_inflight.dec();
            return Err(Error::Internal("remote read semaphore closed".into()));
        }
    };
    let guard = ReadGuard {
        _permit: permit,
        state: state.clone(),
    };
    match response_type {
        ResponseType::Samples => samples::respond(state, queries, guard).await,
        ResponseType::StreamedXorChunks => streamed::respond(state, queries, guard).await,
    }
}

fn too_large_body(limit: usize) -> Error {
    Error::TooLarge(format!(
        "request body exceeds the limit of {limit} bytes (max-read-compressed-bytes)"
    ))
}

/// Returns the first accepted response type that Strata implements; `SAMPLES` for an empty list.
pub(crate) fn negotiate_response_type(accepted: &[i32]) -> Result<ResponseType> {
    if accepted.is_empty() {
        return Ok(ResponseType::Samples);
    }
    accepted
        .iter()
        .find_map(|&t| ResponseType::try_from(t).ok())
        .ok_or_else(|| {
            Error::BadData(format!(
                "server does not support any of the requested response types {accepted:?}; \
                 supported: SAMPLES (0), STREAMED_XOR_CHUNKS (1)"
            ))
        })
}

/// Converts protobuf label matchers into model matchers (regexes fully anchored).
pub(crate) fn convert_matchers(pb: &[LabelMatcher]) -> Result<Vec<Matcher>> {
    pb.iter()
        .map(|m| {
            let op = match label_matcher::Type::try_from(m.r#type) {
                Ok(label_matcher::Type::Eq) => MatchOp::Equal,
                Ok(label_matcher::Type::Neq) => MatchOp::NotEqual,
                Ok(label_matcher::Type::Re) => MatchOp::Regex,
                Ok(label_matcher::Type::Nre) => MatchOp::NotRegex,
                Err(_) => {
                    return Err(Error::BadData(format!(
                        "unknown label matcher type {} for label {:?}",
                        m.r#type, m.name
                    )));
                }
            };
            Matcher::new(op, m.name.clone(), m.value.clone())
                .map_err(|e| Error::BadData(e.to_string()))
        })
        .collect()
}

/// Walks the float points of a series within `[mint, maxt]`, skipping histogram points.
pub(crate) struct FloatsInRange<'a> {
    it: &'a mut dyn SampleIterator,
    maxt: i64,
    first: Option<Option<Point>>,
}

impl<'a> FloatsInRange<'a> {
    pub(crate) fn new(it: &'a mut dyn SampleIterator, mint: i64, maxt: i64) -> Self {
        let first = it.seek(mint);
        FloatsInRange {
            it,
            maxt,
            first: Some(first),
        }
    }
}

impl Iterator for FloatsInRange<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        loop {
            let p = match self.first.take() {
                Some(first) => first?,
                None => self.it.next_point()?,
            };
            if p.t > self.maxt {
                return None;
            }
            if let PointValue::Float(v) = p.v {
                return Some((p.t, v));
            }
        }
    }
}

/// Returns the error for a query that hit the sample limit.
pub(crate) fn sample_limit_error(limit: u64) -> Error {
    Error::BadData(format!(
        "exceeded sample limit ({limit}) (max-read-samples-per-query)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_picks_the_first_supported_type() {
        assert_eq!(negotiate_response_type(&[]).unwrap(), ResponseType::Samples);
        assert_eq!(
            negotiate_response_type(&[7, 1, 0]).unwrap(),
            ResponseType::StreamedXorChunks
        );
        assert!(negotiate_response_type(&[7]).is_err());
    }

    #[test]
    fn matcher_types_convert_and_bad_regex_is_bad_data() {
        let m = |t, v: &str| LabelMatcher {
            r#type: t,
            name: "job".into(),
            value: v.into(),
        };
        let got = convert_matchers(&[m(0, "a"), m(1, "a"), m(2, "a.*"), m(3, "b")]).unwrap();
        let ops: Vec<MatchOp> = got.iter().map(|m| m.op).collect();
        assert_eq!(
            ops,
            [
                MatchOp::Equal,
                MatchOp::NotEqual,
                MatchOp::Regex,
                MatchOp::NotRegex
            ]
        );
        assert!(convert_matchers(&[m(2, "(")]).is_err());
        assert!(convert_matchers(&[m(9, "x")]).is_err());
    }
}
