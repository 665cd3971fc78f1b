//! openraft glue for Strata: the type configuration, the log store over the node's shared
//! RocksDB log, the shard state machine, the network seam and the registry of groups.
//!
//! ```text
//!  client_write(ShardBatch) ─▶ Raft (one per shard group) ─▶ LogStore::append ──▶ group-commit
//!                                 │                                                writer thread
//!                                 │ committed                                      (one fsync for
//!                                 ▼                                                 all groups)
//!                              ShardStateMachine::apply ─▶ Shard::apply (head, memory only)
//!  flush task ─▶ trigger snapshot ─▶ Shard::flush + state machine record ─▶ openraft purges
//!                                                                          the log up to it
//! ```
//!
//! Invariants:
//! - an append is acknowledged to openraft only once the writer thread has fsynced it;
//! - `applied_state()` starts from the shard's *durable* index, so after a restart openraft
//!   re-applies every committed entry after it into the head; entries are idempotent in the
//!   shard (index ≤ applied is skipped);
//! - the log is purged only up to a snapshot, and a snapshot is a flush: no entry whose samples
//!   live only in memory is ever purged;
//! - a storage failure on the log or apply path is returned to openraft as a `StorageError`,
//!   which stops that group; it is never retried.
//!
//! Key design choice: the Raft log *is* the write-ahead log and snapshots are descriptors of
//! the shard's durable state rather than copies of it. This keeps every sample written about
//! twice (log, chunk) and makes purging cheap; the cost is that a new replica cannot yet be
//! seeded from a snapshot (see `docs/raft.md`).

#![forbid(unsafe_code)]

mod codec;
pub mod config;
pub mod entry_cache;
pub mod error;
pub mod group;
pub mod log_store;
pub mod network;
pub mod registry;
pub mod state_machine;
pub mod types;

pub use config::RaftConfig;
pub use entry_cache::EntryCache;
pub use error::{Error, Result};
pub use group::{GroupStatus, ShardGroup, WriteError};
pub use log_store::LogStore;
pub use network::{NetworkFactory, NoTransport, RpcKind, Transport, TransportFuture, handle_rpc};
pub use registry::Registry;
pub use state_machine::{ShardStateMachine, SnapshotBuilder};
pub use strata_storage::raftlog::GroupId;
pub use types::{ApplyResponse, Payload, Raft, TypeConfig};
