//! The engine's error type, classified onto [`strata_model::ErrorKind`].

use strata_model::ErrorKind;

use crate::QueryableError;

/// Why a query failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The query text does not parse, or is not a valid query (Prometheus `bad_data`).
    #[error("{0}")]
    Parse(String),
    /// The query parsed but cannot be evaluated as asked (Prometheus `bad_data`).
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed, e.g. many-to-many matching (Prometheus `execution`).
    #[error("{0}")]
    Execution(String),
    /// The query ran longer than its timeout (Prometheus `timeout`).
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The caller cancelled the query (Prometheus `canceled`).
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    /// The query would hold more samples than the configured maximum (Prometheus `execution`).
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// The store could not answer.
    #[error("{0}")]
    Storage(#[from] QueryableError),
}

impl Error {
    /// Returns how callers should treat the error, as Prometheus' API error types.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Parse(_) | Error::BadData(_) => ErrorKind::BadData,
            Error::Execution(_) | Error::TooManySamples(_) => ErrorKind::Execution,
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::Canceled(_) => ErrorKind::Canceled,
            Error::Storage(e) => e.kind.clone(),
        }
    }
}

/// The result type of the engine.
pub type Result<T> = std::result::Result<T, Error>;
