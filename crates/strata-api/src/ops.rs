//! Operations endpoints: liveness, readiness and metrics exposition.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::Error;
use crate::state::ApiState;

/// Content type of the OpenMetrics text exposition that `prometheus-client` writes.
const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Handles `GET /-/healthy`: the process is up.
pub(crate) async fn healthy() -> Response {
    text(StatusCode::OK, "Strata is Healthy.\n")
}

/// Handles `GET /-/ready`: 200 when the readiness probe says so, else 503.
pub(crate) async fn ready(State(state): State<ApiState>) -> Response {
    if (state.readiness)() {
        text(StatusCode::OK, "Strata is Ready.\n")
    } else {
        text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n")
    }
}

/// Handles `GET /metrics`: the registry in the OpenMetrics text format.
pub(crate) async fn metrics(State(state): State<ApiState>) -> Response {
    let mut out = String::with_capacity(16 * 1024);
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &state.registry) {
        return Error::Internal(format!("encoding metrics: {e}")).into_plain_response("metrics");
    }
    let mut resp = (StatusCode::OK, out).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(OPENMETRICS_CONTENT_TYPE),
    );
    resp
}

fn text(status: StatusCode, body: &'static str) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
