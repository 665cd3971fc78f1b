//! Errors of encoding and decoding wire messages.

use strata_model::ErrorKind;

/// A wire message could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The snappy block is corrupt or truncated.
    #[error("corrupt snappy body: {0}")]
    Snappy(String),
    /// The body declares a decompressed size above the limit.
    #[error("decompressed body of {declared_bytes} bytes exceeds the limit of {limit_bytes} bytes")]
    TooLarge {
        /// The size the snappy header declares.
        declared_bytes: u64,
        /// The configured limit.
        limit_bytes: u64,
    },
    /// The protobuf bytes do not decode as the expected message.
    #[error("corrupt protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// Protobuf bytes read by the zero-copy reader are malformed.
    #[error("corrupt protobuf: {0}")]
    Malformed(String),
    /// A streamed frame is truncated, too long, or fails its checksum.
    #[error("malformed stream frame: {0}")]
    Frame(&'static str),
}

impl Error {
    /// Returns how callers should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::TooLarge { .. } => ErrorKind::TooLarge,
            Error::Snappy(_) | Error::Protobuf(_) | Error::Malformed(_) | Error::Frame(_) => {
                ErrorKind::BadData
            }
        }
    }
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;
