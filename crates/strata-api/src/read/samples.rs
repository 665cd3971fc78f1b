//! The `SAMPLES` response: one snappy-compressed protobuf `ReadResponse`.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use strata_promql::Queryable;
use strata_proto::{QueryResult, ReadResponse, Sample, TimeSeries, labels_to_proto};

use super::{FloatsInRange, PreparedQuery, ReadGuard, sample_limit_error};
use crate::error::{Error, Result};
use crate::state::ApiState;

/// Answers all queries with raw samples in one compressed body.
pub(super) async fn respond(
    state: &ApiState,
    queries: Vec<PreparedQuery>,
    guard: ReadGuard,
) -> Result<Response> {
    let queryable = Arc::clone(&state.queryable);
    let limit = state.limits.max_read_samples_per_query;
    let body = tokio::task::spawn_blocking(move || {
        let _guard = guard;
        build_response(queryable.as_ref(), &queries, limit)
    })
    .await
    .map_err(|e| Error::Internal(format!("remote read task failed: {e}")))??;
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(strata_proto::PROTOBUF_CONTENT_TYPE),
    );
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("snappy"));
    Ok(resp)
}

/// Selects every query and returns the compressed `ReadResponse` body.
pub(crate) fn build_response(
    queryable: &dyn Queryable,
    queries: &[PreparedQuery],
    sample_limit: u64,
) -> Result<Vec<u8>> {
    let mut results = Vec::with_capacity(queries.len());
    for q in queries {
        let series = queryable.select(&q.hints, &q.matchers)?;
        let mut returned = 0u64;
        let mut timeseries = Vec::with_capacity(series.len());
        for mut s in series {
            let mut samples = Vec::new();
            for (t, v) in FloatsInRange::new(s.samples.as_mut(), q.hints.mint, q.hints.maxt) {
                returned += 1;
                if returned > sample_limit {
                    return Err(sample_limit_error(sample_limit));
                }
                samples.push(Sample {
                    value: v,
                    timestamp: t,
                });
            }
            if samples.is_empty() {
                continue;
            }
            timeseries.push(TimeSeries {
                labels: labels_to_proto(&s.labels),
                samples,
                exemplars: Vec::new(),
                histograms: Vec::new(),
            });
        }
        results.push(QueryResult { timeseries });
    }
    strata_proto::encode_snappy(&ReadResponse { results })
        .map_err(|e| Error::Internal(format!("encoding ReadResponse: {e}")))
}
