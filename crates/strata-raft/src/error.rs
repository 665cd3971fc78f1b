//! Errors of the openraft glue.

use strata_model::ErrorKind;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error of Strata's Raft layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The node's Raft log store failed.
    #[error("raft log: {0}")]
    Log(#[from] strata_storage::raftlog::Error),
    /// The shard engine failed.
    #[error("shard {shard}: {source}")]
    Shard {
        /// The shard.
        shard: u32,
        /// What failed.
        source: strata_storage::Error,
    },
    /// Stored bytes could not be decoded.
    #[error("decode: {0}")]
    Decode(String),
    /// A value could not be encoded.
    #[error("encode: {0}")]
    Encode(String),
    /// openraft rejected the configuration.
    #[error("invalid raft config: {0}")]
    Config(String),
    /// openraft failed to start, initialize or shut down a group.
    #[error("group {group}: {message}")]
    Raft {
        /// The group.
        group: u32,
        /// What happened.
        message: String,
    },
    /// No group with this id is registered on this node.
    #[error("group {0} not hosted here")]
    UnknownGroup(u32),
    /// A peer could not be reached or answered garbage.
    #[error("transport: {0}")]
    Transport(String),
    /// A blocking task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
    /// The state machine record disagrees with the shard (corruption or a bug).
    #[error("group {group}: inconsistent state: {message}")]
    Inconsistent {
        /// The group.
        group: u32,
        /// What disagrees.
        message: String,
    },
    /// A snapshot cannot be installed.
    #[error("group {group}: cannot install snapshot: {message}")]
    Snapshot {
        /// The group.
        group: u32,
        /// Why.
        message: String,
    },
}

impl Error {
    /// Returns how callers should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Log(e) => e.kind(),
            Error::Shard { source, .. } => source.kind(),
            Error::UnknownGroup(_) => ErrorKind::NotFound,
            Error::Transport(_) => ErrorKind::Unavailable,
            Error::Config(_) => ErrorKind::BadData,
            _ => ErrorKind::Internal,
        }
    }
}
