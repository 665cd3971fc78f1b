//! Reading request bodies with a size limit.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

use crate::error::{Error, Result};

/// Returns the `Content-Length` header's value, if present and valid.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Reads the whole body, or returns `Ok(None)` as soon as it exceeds `limit` bytes, without
/// buffering more than `limit` bytes.
pub(crate) async fn read_body_limited(mut body: Body, limit: usize) -> Result<Option<Bytes>> {
    let mut first: Option<Bytes> = None;
    let mut buf = BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::Body(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total > limit {
            return Ok(None);
        }
        // A body that arrives in one piece is kept without copying.
        match first.take() {
            None if buf.is_empty() => first = Some(data),
            None => buf.extend_from_slice(&data),
            Some(prev) => {
                buf.reserve(prev.len() + data.len());
                buf.extend_from_slice(&prev);
                buf.extend_from_slice(&data);
            }
        }
    }
    Ok(Some(first.unwrap_or_else(|| buf.freeze())))
}
