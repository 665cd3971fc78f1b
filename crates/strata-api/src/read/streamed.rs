//! The `STREAMED_XOR_CHUNKS` response: CRC-checked frames, one series per frame, streamed as
//! they are produced by a blocking task through a small bounded channel, so memory stays at a
//! few frames whatever the result size.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use prost::Message;
use strata_codec::XorAppender;
use strata_promql::Queryable;
use strata_proto::{
    Chunk, ChunkedReadResponse, ChunkedSeries, Label, chunk, encode_frame, labels_to_proto,
};
use tokio::sync::mpsc;

use super::{FloatsInRange, PreparedQuery, ReadGuard, SAMPLES_PER_CHUNK, sample_limit_error};
use crate::error::{Error, Result};
use crate::metrics::HANDLER_READ;
use crate::state::ApiState;

/// Frames buffered between the producer and the connection.
const FRAMES_IN_FLIGHT: usize = 4;

/// Streams all queries as frames. An error before the first frame becomes the response status;
/// a later one cuts the stream short (the client sees a truncated stream).
pub(super) async fn respond(
    state: &ApiState,
    queries: Vec<PreparedQuery>,
    guard: ReadGuard,
) -> Result<Response> {
    let (tx, mut rx) = mpsc::channel::<Result<Bytes>>(FRAMES_IN_FLIGHT);
    let queryable = Arc::clone(&state.queryable);
    let limit = state.limits.max_read_samples_per_query;
    let frame_bytes = state.limits.max_read_frame_bytes.as_usize();
    let producer = tokio::task::spawn_blocking(move || {
        let _guard = guard;
        let mut send = |frame: Result<Bytes>| tx.blocking_send(frame).is_ok();
        if let Err(e) = produce_frames(queryable.as_ref(), &queries, limit, frame_bytes, &mut send)
        {
            let _ = send(Err(e));
        }
    });
    let first = match rx.recv().await {
        Some(Ok(frame)) => Some(frame),
        Some(Err(e)) => return Err(e),
        None => {
            // No frame and no error: either an empty result or a panicked producer.
            if let Err(e) = producer.await {
                return Err(Error::Internal(format!("remote read task failed: {e}")));
            }
            None
        }
    };
    let rest = stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?;
        let item = item.inspect_err(|e| {
            tracing::warn!(handler = HANDLER_READ, error = %e, "remote read stream cut short");
        });
        Some((item, rx))
    });
    let body = Body::from_stream(stream::iter(first.map(Ok::<Bytes, Error>)).chain(rest));
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(strata_proto::STREAMED_CONTENT_TYPE),
    );
    Ok(resp)
}

/// Selects every query and hands each encoded frame to `send`, stopping early when `send`
/// returns false (the client went away).
pub(crate) fn produce_frames(
    queryable: &dyn Queryable,
    queries: &[PreparedQuery],
    sample_limit: u64,
    max_frame_bytes: usize,
    send: &mut dyn FnMut(Result<Bytes>) -> bool,
) -> Result<()> {
    for (index, q) in queries.iter().enumerate() {
        let series = queryable.select(&q.hints, &q.matchers)?;
        let mut returned = 0u64;
        for mut s in series {
            let labels = labels_to_proto(&s.labels);
            let labels_bytes: usize = labels.iter().map(|l| l.encoded_len() + 2).sum();
            let budget = max_frame_bytes.saturating_sub(labels_bytes).max(1);
            let mut frame = FrameBuilder::new(index as i64, labels, budget);
            let mut app = XorAppender::new();
            for (t, v) in FloatsInRange::new(s.samples.as_mut(), q.hints.mint, q.hints.maxt) {
                returned += 1;
                if returned > sample_limit {
                    return Err(sample_limit_error(sample_limit));
                }
                if app.num_samples() >= SAMPLES_PER_CHUNK {
                    let full = std::mem::take(&mut app);
                    if frame.push(&full) && !send(Ok(frame.take())) {
                        return Ok(());
                    }
                }
                app.try_append(t, v)
                    .map_err(|e| Error::Internal(format!("xor chunk append: {e}")))?;
            }
            if app.num_samples() > 0 {
                frame.push(&app);
            }
            if frame.has_chunks() && !send(Ok(frame.take())) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Collects the chunks of one series into frames of about `budget` bytes of chunk data.
struct FrameBuilder {
    query_index: i64,
    labels: Vec<Label>,
    chunks: Vec<Chunk>,
    budget: usize,
    used: usize,
}

impl FrameBuilder {
    fn new(query_index: i64, labels: Vec<Label>, budget: usize) -> Self {
        FrameBuilder {
            query_index,
            labels,
            chunks: Vec::new(),
            budget,
            used: 0,
        }
    }

    /// Adds a closed chunk; returns whether the frame is now full and should be sent.
    fn push(&mut self, app: &XorAppender) -> bool {
        let chunk = Chunk {
            min_time_ms: app.min_time().unwrap_or(0),
            max_time_ms: app.max_time().unwrap_or(0),
            r#type: chunk::Encoding::Xor as i32,
            data: Bytes::copy_from_slice(app.bytes()),
        };
        self.used += chunk.encoded_len() + 4;
        self.chunks.push(chunk);
        self.used >= self.budget
    }

    fn has_chunks(&self) -> bool {
        !self.chunks.is_empty()
    }

    /// Returns the encoded frame of the chunks collected so far and starts a new one.
    fn take(&mut self) -> Bytes {
        let msg = ChunkedReadResponse {
            chunked_series: vec![ChunkedSeries {
                labels: self.labels.clone(),
                chunks: std::mem::take(&mut self.chunks),
            }],
            query_index: self.query_index,
        };
        self.used = 0;
        let mut out = Vec::with_capacity(msg.encoded_len() + 16);
        encode_frame(&msg, &mut out);
        Bytes::from(out)
    }
}
