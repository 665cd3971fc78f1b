//! The error taxonomy every crate maps its errors onto.

/// How an error should be treated by callers: retried, reported as bad input, and so on.
///
/// `strata-api` turns a kind into an HTTP status and a Prometheus `errorType` in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or violates a rule; retrying cannot help (HTTP 400).
    BadData,
    /// The request exceeds a size limit (HTTP 413 or 400).
    TooLarge,
    /// The requested thing does not exist (HTTP 404).
    NotFound,
    /// This replica is not the leader; `hint` names the leader's address when known.
    NotLeader {
        /// Address of the current leader, when known.
        hint: Option<String>,
    },
    /// A dependency is temporarily unavailable; a retry may succeed (HTTP 503).
    Unavailable,
    /// The server is overloaded; the caller should back off and retry (HTTP 429).
    Overloaded,
    /// The operation ran out of time (HTTP 503, `timeout`).
    Timeout,
    /// The operation was canceled by the caller (HTTP 499, `canceled`).
    Canceled,
    /// A well-formed query failed during evaluation (HTTP 422, `execution`).
    Execution,
    /// A bug or an unexpected failure (HTTP 500, `internal`).
    Internal,
}

impl ErrorKind {
    /// Returns whether a client may retry the same request and expect a different outcome.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ErrorKind::NotLeader { .. }
                | ErrorKind::Unavailable
                | ErrorKind::Overloaded
                | ErrorKind::Timeout
                | ErrorKind::Internal
        )
    }
}
