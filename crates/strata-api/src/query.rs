//! The Prometheus HTTP query API: `/api/v1/query`, `/api/v1/query_range`, `/api/v1/series`,
//! `/api/v1/labels`, `/api/v1/label/<name>/values`, `/api/v1/metadata`,
//! `/api/v1/query_exemplars`, `/api/v1/format_query`, `/api/v1/parse_query`, `/api/v1/rules`,
//! `/api/v1/alerts` and `/api/v1/status/{buildinfo,flags,runtimeinfo,tsdb}`, with Prometheus
//! 3.5's parameters, JSON envelope, error types and statuses.
//!
//! Answers are serialized straight into the response body ([`json::JsonBuf`]) and compressed
//! with gzip or deflate when the client's `Accept-Encoding` asks for it, as Prometheus does,
//! with Prometheus' default CORS headers.

mod cors;
mod eval;
mod json;
mod labels;
mod misc;
mod params;
mod respond;
mod status;

use axum::Router;
use axum::routing::get;
use tower_http::compression::CompressionLayer;

use crate::state::ApiState;

/// Returns the query API routes, with response compression.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/query", get(eval::query).post(eval::query))
        .route(
            "/api/v1/query_range",
            get(eval::query_range).post(eval::query_range),
        )
        .route("/api/v1/series", get(labels::series).post(labels::series))
        .route(
            "/api/v1/labels",
            get(labels::label_names).post(labels::label_names),
        )
        .route("/api/v1/label/{name}/values", get(labels::label_values))
        .route("/api/v1/metadata", get(misc::metadata))
        .route(
            "/api/v1/query_exemplars",
            get(misc::query_exemplars).post(misc::query_exemplars),
        )
        .route(
            "/api/v1/format_query",
            get(misc::format_query).post(misc::format_query),
        )
        .route(
            "/api/v1/parse_query",
            get(misc::parse_query).post(misc::parse_query),
        )
        .route("/api/v1/rules", get(status::rules))
        .route("/api/v1/alerts", get(status::alerts))
        .route("/api/v1/status/buildinfo", get(status::buildinfo))
        .route("/api/v1/status/flags", get(status::flags))
        .route("/api/v1/status/runtimeinfo", get(status::runtimeinfo))
        .route("/api/v1/status/tsdb", get(status::tsdb))
        .layer(CompressionLayer::new().gzip(true).deflate(true))
        .layer(axum::middleware::from_fn(cors::cors))
}
