//! The storage error type.

use strata_model::{ErrorKind, ShardId};

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the shard engine.
///
/// A failed RocksDB write is fatal for the shard: once a write fails the shard is *poisoned* and
/// every later call returns [`Error::Poisoned`] instead of going on in an undefined state.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// RocksDB reported an error.
    #[error("rocksdb {op} failed: {source}")]
    Rocks {
        /// What was being done, lowercase (`"open"`, `"write"`, `"read"`, ...).
        op: &'static str,
        /// The RocksDB error.
        #[source]
        source: rocksdb::Error,
    },
    /// A column family that [`crate::Db::open`] creates is missing.
    #[error("column family {0:?} is missing")]
    MissingColumnFamily(&'static str),
    /// Bytes read back from disk do not decode.
    #[error("corrupt {what} in shard {shard}: {detail}")]
    Corrupt {
        /// The shard whose data is bad.
        shard: ShardId,
        /// Which record kind (`"chunk"`, `"series"`, `"head segment"`, ...).
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// An earlier write of this shard failed; the shard refuses all further work.
    #[error("shard {0} is poisoned by an earlier storage failure")]
    Poisoned(ShardId),
    /// The configuration is invalid.
    #[error("invalid storage config: {0}")]
    Config(String),
    /// More distinct label sets share one series id than the engine can tell apart.
    #[error("too many label sets collide on series id {id} in shard {shard}")]
    TooManyCollisions {
        /// The shard.
        shard: ShardId,
        /// The colliding series id, hex.
        id: String,
    },
    /// A batch carries label bytes that are not a canonical label set.
    #[error("shard {shard}: batch at index {index} has malformed labels: {detail}")]
    BadBatch {
        /// The shard.
        shard: ShardId,
        /// The Raft log index of the entry.
        index: u64,
        /// What is wrong.
        detail: String,
    },
    /// Writing or reading a shard snapshot stream failed, or the stream is malformed.
    #[error("shard {shard} snapshot: {detail}")]
    Snapshot {
        /// The shard.
        shard: ShardId,
        /// What went wrong.
        detail: String,
    },
    /// A chunk could not be encoded or decoded by the codec.
    #[error("codec failure in shard {shard}: {detail}")]
    Codec {
        /// The shard.
        shard: ShardId,
        /// What the codec said.
        detail: String,
    },
}

impl Error {
    /// Returns how callers should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) | Error::BadBatch { .. } => ErrorKind::BadData,
            Error::Rocks { .. }
            | Error::MissingColumnFamily(_)
            | Error::Corrupt { .. }
            | Error::Poisoned(_)
            | Error::TooManyCollisions { .. }
            | Error::Snapshot { .. }
            | Error::Codec { .. } => ErrorKind::Internal,
        }
    }

    pub(crate) fn rocks(op: &'static str) -> impl FnOnce(rocksdb::Error) -> Error {
        move |source| Error::Rocks { op, source }
    }
}
