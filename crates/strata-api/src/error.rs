//! Errors of the HTTP API and the one table that maps an [`ErrorKind`] to an HTTP status and a
//! Prometheus `errorType`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use strata_model::{ErrorKind, WriteSinkError};
use strata_promql::QueryableError;

/// An API request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed: bad snappy, protobuf, labels or parameters.
    #[error("{0}")]
    BadData(String),
    /// The body's media type or encoding is not one this endpoint accepts (HTTP 415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request exceeds a configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// The body could not be read from the connection.
    #[error("reading request body: {0}")]
    Body(String),
    /// A wire message failed to decode or encode.
    #[error(transparent)]
    Proto(#[from] strata_proto::Error),
    /// The write sink failed.
    #[error("write failed: {0}")]
    Sink(#[from] WriteSinkError),
    /// The queryable failed.
    #[error("query failed: {0}")]
    Query(#[from] QueryableError),
    /// The PromQL engine refused or failed a query.
    #[error("{0}")]
    Engine(#[from] strata_promql::Error),
    /// A query API request asks for more than a configured limit allows (HTTP 422).
    #[error("{0}")]
    LimitExceeded(String),
    /// A bug or an unexpected failure (a panicked task, an encoding failure).
    #[error("internal error: {0}")]
    Internal(String),
    /// A configuration value is invalid.
    #[error("invalid api configuration: {0}")]
    InvalidConfig(String),
}

impl Error {
    /// Returns how callers should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::BadData(_)
            | Error::UnsupportedMediaType(_)
            | Error::Body(_)
            | Error::InvalidConfig(_) => ErrorKind::BadData,
            Error::TooLarge(_) => ErrorKind::TooLarge,
            Error::Proto(e) => e.kind(),
            Error::Sink(e) => e.kind.clone(),
            Error::Query(e) => e.kind.clone(),
            Error::Engine(e) => e.kind(),
            Error::LimitExceeded(_) => ErrorKind::Execution,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// Returns the HTTP status of this error: the kind's status, except that an unsupported
    /// media type answers 415 as the remote write specification requires.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            other => status_for_kind(&other.kind()).0,
        }
    }

    /// Returns the message to send to the client: the full message for client errors, a short
    /// one for internal errors (whose details go to the log instead).
    pub fn public_message(&self) -> String {
        match self.kind() {
            ErrorKind::Internal => "internal server error; see the server log".to_owned(),
            _ => self.to_string(),
        }
    }

    /// Logs the error: internal errors at `error!` in full, others at `debug!`.
    pub fn log(&self, handler: &'static str) {
        match self.kind() {
            ErrorKind::Internal => tracing::error!(handler, error = %self, "request failed"),
            _ => tracing::debug!(handler, error = %self, "request rejected"),
        }
    }

    /// Returns a plain-text response (the remote write and remote read error format).
    pub fn into_plain_response(self, handler: &'static str) -> Response {
        self.log(handler);
        plain_error_response(self.status(), &self.public_message())
    }

    /// Returns a Prometheus JSON error envelope response (the query API error format).
    pub fn into_json_response(self, handler: &'static str) -> Response {
        self.log(handler);
        let (_, error_type) = status_for_kind(&self.kind());
        json_error_response(self.status(), error_type, &self.public_message())
    }
}

/// Returns the HTTP status and Prometheus `errorType` of an error kind.
///
/// This is the single table every handler uses, following Prometheus' `web/api/v1` mapping.
pub fn status_for_kind(kind: &ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::BadData => (StatusCode::BAD_REQUEST, "bad_data"),
        ErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "bad_data"),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        ErrorKind::NotLeader { .. } | ErrorKind::Unavailable => {
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
        ErrorKind::Overloaded => (StatusCode::TOO_MANY_REQUESTS, "unavailable"),
        ErrorKind::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
        ErrorKind::Canceled => (client_closed_request(), "canceled"),
        ErrorKind::Execution => (StatusCode::UNPROCESSABLE_ENTITY, "execution"),
        ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

/// Returns status 499 ("client closed request"), which Prometheus uses for canceled queries.
fn client_closed_request() -> StatusCode {
    StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST)
}

/// Returns a `text/plain` response with `message` and a trailing newline.
pub fn plain_error_response(status: StatusCode, message: &str) -> Response {
    let mut resp = (status, format!("{message}\n")).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Returns the Prometheus JSON error envelope
/// `{"status":"error","errorType":..,"error":..}` with `status`.
pub fn json_error_response(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "status": "error",
        "errorType": error_type,
        "error": message,
    });
    (status, axum::Json(body)).into_response()
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_prometheus_statuses() {
        let cases = [
            (ErrorKind::BadData, 400, "bad_data"),
            (ErrorKind::TooLarge, 413, "bad_data"),
            (ErrorKind::NotFound, 404, "not_found"),
            (ErrorKind::NotLeader { hint: None }, 503, "unavailable"),
            (ErrorKind::Unavailable, 503, "unavailable"),
            (ErrorKind::Overloaded, 429, "unavailable"),
            (ErrorKind::Timeout, 503, "timeout"),
            (ErrorKind::Canceled, 499, "canceled"),
            (ErrorKind::Execution, 422, "execution"),
            (ErrorKind::Internal, 500, "internal"),
        ];
        for (kind, status, ty) in cases {
            let (s, t) = status_for_kind(&kind);
            assert_eq!((s.as_u16(), t), (status, ty), "{kind:?}");
        }
    }

    #[test]
    fn internal_errors_answer_briefly() {
        let e = Error::Internal("secret detail at foo.rs:12".into());
        assert!(!e.public_message().contains("secret"));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn unsupported_media_type_is_415() {
        let e = Error::UnsupportedMediaType("x".into());
        assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(e.kind(), ErrorKind::BadData);
    }
}
