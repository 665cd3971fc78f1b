//! Errors of the cluster layer.

use strata_model::ErrorKind;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error of the cluster layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The storage engine failed.
    #[error("storage: {0}")]
    Storage(#[from] strata_storage::Error),
    /// The Raft log store failed.
    #[error("raft log: {0}")]
    Log(#[from] strata_storage::raftlog::Error),
    /// The Raft layer failed.
    #[error("raft: {0}")]
    Raft(#[from] strata_raft::Error),
    /// The node's data directory or identity file is unusable.
    #[error("data dir {path}: {message}")]
    DataDir {
        /// The path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The configuration is invalid.
    #[error("invalid node config: {0}")]
    Config(String),
    /// A background task panicked or was cancelled.
    #[error("task failed: {0}")]
    Task(String),
}

impl Error {
    /// Returns how callers should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Storage(e) => e.kind(),
            Error::Log(e) => e.kind(),
            Error::Raft(e) => e.kind(),
            Error::Config(_) => ErrorKind::BadData,
            Error::DataDir { .. } | Error::Task(_) => ErrorKind::Internal,
        }
    }
}
