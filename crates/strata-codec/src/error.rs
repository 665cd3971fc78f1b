//! Errors of the chunk codec.

/// Errors raised while building or decoding chunks.
///
/// `strata-codec` depends on no other Strata crate, so it cannot name `strata_model::ErrorKind`;
/// callers classify with [`Error::is_corruption`]: corrupt or truncated bytes read from disk or a
/// peer are an internal error there, a full chunk is a caller bug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The bytes ended before the chunk said they would.
    #[error("chunk truncated while reading {what}")]
    Truncated {
        /// The field that could not be read.
        what: &'static str,
    },
    /// The bytes contradict the chunk format.
    #[error("corrupt chunk: {what}")]
    Corrupt {
        /// What was found to be inconsistent.
        what: &'static str,
    },
    /// The first byte names an encoding this version does not know.
    #[error("unknown chunk encoding {0}")]
    UnknownEncoding(u8),
    /// More samples were given than one chunk can hold.
    #[error("too many samples for one chunk: {got} (max {max})")]
    TooManySamples {
        /// How many samples were given.
        got: usize,
        /// The limit, [`crate::MAX_SAMPLES`].
        max: usize,
    },
}

impl Error {
    /// Returns whether the error means the input bytes are damaged (truncated, corrupt or of an
    /// unknown encoding) rather than a misuse of the API.
    pub fn is_corruption(&self) -> bool {
        !matches!(self, Error::TooManySamples { .. })
    }

    pub(crate) fn truncated(what: &'static str) -> Self {
        Error::Truncated { what }
    }

    pub(crate) fn corrupt(what: &'static str) -> Self {
        Error::Corrupt { what }
    }
}

/// Result type of the codec.
pub type Result<T, E = Error> = std::result::Result<T, E>;
