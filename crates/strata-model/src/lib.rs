//! Shared vocabulary of Strata: label sets, series and shard identifiers, samples, label matchers,
//! the write batch that travels from ingest through the Raft log into a shard, and the error
//! taxonomy ([`ErrorKind`]) that every crate maps its errors onto.
//!
//! Invariants kept here:
//! - a [`Labels`] value is always sorted by label name with no duplicate names;
//! - a series is identified by [`SeriesId`], the xxh3-64 hash of its *canonical label bytes*
//!   ([`Labels::encode_canonical`]); the hash is stable across versions and machines because it is
//!   stored on disk and used to route series to shards. Collisions are possible and every consumer
//!   compares the canonical bytes on a hash hit;
//! - timestamps are `i64` milliseconds, values `f64` kept bit-exact (Prometheus' staleness marker is
//!   the NaN with bits [`STALE_NAN_BITS`]).
//!
//! This crate depends only on small pure crates (`regex`, `xxhash-rust`, `thiserror`).

#![forbid(unsafe_code)]

pub mod batch;
pub mod error;
pub mod ids;
pub mod labels;
pub mod matcher;
pub mod sample;
pub mod sink;
pub mod synth;

pub use batch::{BatchError, BatchSeries, ShardBatch, ShardBatchBuilder};
pub use error::ErrorKind;
pub use ids::{NodeId, SeriesId, ShardId};
pub use labels::{Label, Labels, LabelsError, METRIC_NAME};
pub use matcher::{MatchOp, Matcher, MatcherError};
pub use sample::{STALE_NAN_BITS, Sample, is_stale_nan, stale_nan};
pub use sink::{
    RejectReason, SampleRejection, WriteFuture, WriteOutcome, WriteSink, WriteSinkError,
};
