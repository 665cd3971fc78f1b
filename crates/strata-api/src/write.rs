//! `POST /api/v1/write`: Prometheus remote write 1.0.
//!
//! Flow: check the media type and encoding (415), read the body up to the compressed limit
//! (413), decode and validate it ([`decode_write_request`], on a blocking thread when large),
//! hand the per-shard batches to the [`strata_model::WriteSink`], then answer 204, or 400 naming
//! the series that were not stored (after the rest were), or the sink's retryable status.

mod decode;
mod labels;

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use strata_model::WriteOutcome;
use strata_proto::{PROTOBUF_CONTENT_TYPE, WRITE_V1_PROTO, WRITE_V2_PROTO};

pub use decode::{
    DecodedWrite, InvalidSeries, MAX_REPORTED_SERIES, decode_write_body, decode_write_request,
};

use crate::body::{content_length, read_body_limited};
use crate::error::{Error, Result};
use crate::metrics::{HANDLER_WRITE, HandlerLabels};
use crate::state::ApiState;

/// Bodies larger than this are decoded on a blocking thread rather than on the async worker.
///
/// 64 KiB compressed is about 3,300 samples, under a millisecond of decoding: Prometheus' default
/// `max_samples_per_send` (2,000) stays inline, where the hand-off to a pool thread and back
/// would cost more CPU in context switches than it saves in latency for other requests.
const INLINE_DECODE_MAX_BYTES: usize = 64 * 1024;

/// Why the API itself refused samples of a remote write request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectCause {
    /// A label has an empty name.
    EmptyLabelName,
    /// A label name or value is not valid UTF-8.
    InvalidUtf8,
    /// The series has no `__name__` label, or an empty one.
    MissingMetricName,
    /// Two labels share a name.
    DuplicateLabelName,
    /// The series has more labels than `max-labels-per-series`.
    TooManyLabels,
    /// A native histogram sample (not stored yet).
    NativeHistogram,
}

impl RejectCause {
    /// Every cause, in index order.
    pub const ALL: [RejectCause; 6] = [
        RejectCause::EmptyLabelName,
        RejectCause::InvalidUtf8,
        RejectCause::MissingMetricName,
        RejectCause::DuplicateLabelName,
        RejectCause::TooManyLabels,
        RejectCause::NativeHistogram,
    ];

    /// Returns the `reason` label value of `strata_api_rejected_samples_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCause::EmptyLabelName => "empty_label_name",
            RejectCause::InvalidUtf8 => "invalid_utf8",
            RejectCause::MissingMetricName => "missing_metric_name",
            RejectCause::DuplicateLabelName => "duplicate_label_name",
            RejectCause::TooManyLabels => "too_many_labels",
            RejectCause::NativeHistogram => "native_histogram",
        }
    }
}

/// Handles `POST /api/v1/write`.
pub(crate) async fn remote_write(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let resp = match handle(&state, &headers, body).await {
        Ok(resp) => resp,
        Err(e) => e.into_plain_response(HANDLER_WRITE),
    };
    state.metrics.observe_request(
        HANDLER_WRITE,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

async fn handle(state: &ApiState, headers: &HeaderMap, body: Body) -> Result<Response> {
    check_media_type(headers)?;
    let limit = state.limits.max_write_compressed_bytes.as_usize();
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
            handler: HANDLER_WRITE,
        })
        .observe(compressed.len() as f64);
    if let Ok(n) = strata_proto::snappy_decompressed_len(&compressed) {
        state.metrics.write_decompressed_bytes.observe(n as f64);
    }

    let shard_count = state.sink.shard_count();
    let mut decoded = if compressed.len() <= INLINE_DECODE_MAX_BYTES {
        decode_write_request(&compressed, shard_count, &state.limits)?
    } else {
        let limits = state.limits.clone();
        tokio::task::spawn_blocking(move || decode_write_request(&compressed, shard_count, &limits))
            .await
            .map_err(|e| Error::Internal(format!("decode task failed: {e}")))??
    };

    state.metrics.ignored_exemplars.inc_by(decoded.exemplars);
    state.metadata.record(std::mem::take(&mut decoded.metadata));
    for cause in RejectCause::ALL {
        state
            .metrics
            .reject(cause.as_str(), decoded.rejected_samples[cause as usize]);
    }

    let mut outcome = WriteOutcome::default();
    if !decoded.batches.is_empty() {
        let batches = std::mem::take(&mut decoded.batches);
        outcome = state.sink.write(batches).await?;
    }
    record_outcome(state, &outcome);

    if decoded.invalid_series == 0 && outcome.rejected == 0 {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let msg = rejection_message(&decoded, &outcome);
    Err(Error::BadData(msg))
}

fn record_outcome(state: &ApiState, outcome: &WriteOutcome) {
    state.metrics.ingested_samples.inc_by(outcome.appended);
    if outcome.rejected == 0 {
        return;
    }
    // The outcome counts rejections in total and names only the first few; the remainder is
    // attributed to the first reason seen.
    let mut named = 0u64;
    for r in &outcome.first_rejections {
        state.metrics.reject(r.reason.as_str(), 1);
        named += 1;
    }
    let rest = outcome.rejected.saturating_sub(named);
    let reason = outcome
        .first_rejections
        .first()
        .map_or("engine", |r| r.reason.as_str());
    state.metrics.reject(reason, rest);
}

/// Builds the 400 message: one line per named problem, then a count of the others.
fn rejection_message(decoded: &DecodedWrite, outcome: &WriteOutcome) -> String {
    let mut lines: Vec<String> = Vec::new();
    for inv in &decoded.first_invalid {
        lines.push(format!("invalid series {}: {}", inv.series, inv.detail));
    }
    for r in &outcome.first_rejections {
        lines.push(format!(
            "sample rejected ({}) for series {} at timestamp {}",
            r.reason.as_str().replace('_', " "),
            r.series,
            r.timestamp_ms
        ));
    }
    let named = (decoded.first_invalid.len() + outcome.first_rejections.len()) as u64;
    let total_problems = decoded.invalid_series + outcome.rejected;
    if total_problems > named {
        lines.push(format!("... and {} more", total_problems - named));
    }
    lines.push(format!(
        "{} samples stored, {} samples not stored",
        outcome.appended + outcome.duplicates,
        decoded.rejected_total() + outcome.rejected
    ));
    lines.join("\n")
}

fn too_large_body(limit: usize) -> Error {
    Error::TooLarge(format!(
        "request body exceeds the limit of {limit} bytes (max-write-compressed-bytes)"
    ))
}

/// Checks `Content-Type` and `Content-Encoding` as the remote write 1.0 specification says:
/// a missing content type means 1.0 protobuf, a missing encoding means snappy; anything else
/// than protobuf with `proto=prometheus.WriteRequest` (or no `proto`) and snappy is refused
/// with 415.
fn check_media_type(headers: &HeaderMap) -> Result<()> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct
            .to_str()
            .map_err(|_| Error::UnsupportedMediaType("unreadable Content-Type header".into()))?;
        let mut parts = ct.split(';');
        let media = parts.next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case(PROTOBUF_CONTENT_TYPE) {
            return Err(Error::UnsupportedMediaType(format!(
                "unsupported Content-Type {ct:?}; expected {PROTOBUF_CONTENT_TYPE:?}"
            )));
        }
        for param in parts {
            let Some((k, v)) = param.split_once('=') else {
                continue;
            };
            if !k.trim().eq_ignore_ascii_case("proto") {
                continue;
            }
            let proto = v.trim().trim_matches('"');
            if proto == WRITE_V2_PROTO {
                return Err(Error::UnsupportedMediaType(format!(
                    "remote write 2.0 ({WRITE_V2_PROTO}) is not supported yet; \
                     send proto={WRITE_V1_PROTO}"
                )));
            }
            if proto != WRITE_V1_PROTO {
                return Err(Error::UnsupportedMediaType(format!(
                    "unsupported proto {proto:?}; expected {WRITE_V1_PROTO:?}"
                )));
            }
        }
    }
    if let Some(enc) = headers.get(header::CONTENT_ENCODING) {
        let enc = enc.to_str().unwrap_or("").trim();
        if !enc.eq_ignore_ascii_case("snappy") {
            return Err(Error::UnsupportedMediaType(format!(
                "unsupported Content-Encoding {enc:?}; expected \"snappy\""
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(ct: Option<&'static str>, enc: Option<&'static str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ct) = ct {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        if let Some(enc) = enc {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
        }
        h
    }

    #[test]
    fn media_type_negotiation_follows_the_spec() {
        assert!(check_media_type(&headers(None, None)).is_ok());
        assert!(check_media_type(&headers(Some("application/x-protobuf"), Some("snappy"))).is_ok());
        assert!(
            check_media_type(&headers(
                Some("application/x-protobuf; proto=prometheus.WriteRequest"),
                Some("snappy")
            ))
            .is_ok()
        );
        for bad in [
            headers(Some("application/json"), None),
            headers(
                Some("application/x-protobuf;proto=io.prometheus.write.v2.Request"),
                None,
            ),
            headers(Some("application/x-protobuf;proto=foo.Bar"), None),
            headers(None, Some("gzip")),
        ] {
            let e = check_media_type(&bad).unwrap_err();
            assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
    }

    #[test]
    fn cause_indices_match_all() {
        for (i, c) in RejectCause::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
        }
    }
}
