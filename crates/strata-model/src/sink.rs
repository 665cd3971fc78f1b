//! The ingest seam: where validated write batches go to become durable.

use std::future::Future;
use std::pin::Pin;

use crate::{ErrorKind, ShardBatch, ShardId};

/// Why one sample was not stored although its request was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// Older than the newest sample of its series by more than the out-of-order window.
    OutOfOrder,
    /// Older than the oldest time the shard still accepts (retention).
    TooOld,
    /// Same timestamp as a stored sample but a different value.
    DuplicateTimestamp,
}

impl RejectReason {
    /// Returns the metric label value for this reason.
    pub fn as_str(&self) -> &'static str {
        match self {
            RejectReason::OutOfOrder => "out_of_order",
            RejectReason::TooOld => "too_old",
            RejectReason::DuplicateTimestamp => "duplicate_timestamp",
        }
    }
}

/// A sample that the shard engine refused, named for the error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleRejection {
    /// Why it was refused.
    pub reason: RejectReason,
    /// The series in Prometheus notation.
    pub series: String,
    /// The sample's timestamp in milliseconds.
    pub timestamp_ms: i64,
}

/// What a durable write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Samples appended.
    pub appended: u64,
    /// Samples ignored because an identical sample (same timestamp and value) was stored.
    pub duplicates: u64,
    /// Count of samples refused, per reason, in the order [`RejectReason`] lists them.
    pub rejected: u64,
    /// The first few refused samples, for the error message.
    pub first_rejections: Vec<SampleRejection>,
}

impl WriteOutcome {
    /// Adds another outcome's counts into this one, keeping at most `keep` rejections.
    pub fn merge(&mut self, other: WriteOutcome, keep: usize) {
        self.appended += other.appended;
        self.duplicates += other.duplicates;
        self.rejected += other.rejected;
        for r in other.first_rejections {
            if self.first_rejections.len() < keep {
                self.first_rejections.push(r);
            }
        }
    }
}

/// A write could not be made durable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct WriteSinkError {
    /// How callers should treat it.
    pub kind: ErrorKind,
    /// What happened, lowercase, no trailing period.
    pub message: String,
}

/// The future a [`WriteSink`] returns.
pub type WriteFuture<'a> =
    Pin<Box<dyn Future<Output = Result<WriteOutcome, WriteSinkError>> + Send + 'a>>;

/// Accepts validated per-shard batches and resolves once they are durable (committed by a
/// majority of each shard's replicas and applied).
pub trait WriteSink: Send + Sync + 'static {
    /// Returns the number of shards series are routed over ([`crate::SeriesId::shard`]).
    fn shard_count(&self) -> u32;

    /// Writes the batches; resolves when every one is durable, or with the first failure.
    fn write(&self, batches: Vec<(ShardId, ShardBatch)>) -> WriteFuture<'_>;
}
