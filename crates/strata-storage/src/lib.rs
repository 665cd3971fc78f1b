//! The shard engine of Strata: the state machine of one shard replica, on top of the node's one
//! RocksDB instance ([`Db`]), plus the Raft log column families ([`raftlog`]).
//!
//! ```text
//!  Raft entry (ShardBatch) ──apply──▶ head (memory): open XOR chunk per series, inverted index
//!                                       │ flush (periodic, one synced WriteBatch)
//!                                       ▼
//!  RocksDB: chunks (shard, partition, series, mint) · postings (shard, partition, name, value,
//!           series) · series registry · head segments · meta (durable index)
//! ```
//!
//! Invariants:
//! - `apply` only touches memory and is deterministic: replicas applying the same entries
//!   decide every sample the same way (cutting, eviction and rejection depend on the data and
//!   the shard's newest sample time, never on wall-clock time or on when flushes ran);
//! - the durable index is written in the same `WriteBatch` as the data it covers, so after a
//!   crash the head is rebuilt from RocksDB and the entries after the durable index are
//!   replayed: no sample is lost or stored twice;
//! - every key starts with the shard id: a shard is one contiguous range per column family;
//! - a failed RocksDB write poisons the shard ([`Error::Poisoned`]); it never goes on in an
//!   undefined state;
//! - after a flush the shard's key ranges hold its whole state (head included, as segments):
//!   that is what a Raft snapshot copies ([`Shard::write_snapshot`], [`Shard::install_snapshot`]).
//!
//! Key design choice: the Raft log is the write-ahead log, so samples reach RocksDB only at
//! flush time, as whole chunks re-encoded with the smallest exact encoding, or as small
//! *segments* (the new tail of each open chunk) that are deleted when the chunk is cut. Each
//! sample is written about twice (segment, chunk) plus once in the Raft log; in exchange the
//! durable index advances at every flush (every minute by default) and a restart replays only
//! the entries since. See `docs/storage.md` and `docs/format/rocksdb.md`.

#![forbid(unsafe_code)]

pub mod config;
pub mod db;
pub mod error;
mod head;
mod keys;
mod postings;
pub mod raftlog;
mod shard;
pub mod units;

pub use config::StorageConfig;
pub use db::{
    ALL_COLUMN_FAMILIES, CF_CHUNKS, CF_HEAD, CF_META, CF_POSTINGS, CF_RAFT_LOG, CF_RAFT_STATE,
    CF_SERIES, CfSizes, Db,
};
pub use error::{Error, Result};
pub use keys::SeriesRef;
pub use shard::{RetentionStats, SelectedSeries, Shard, ShardStats, shard_key_ranges};
