//! Strata's cluster layer. Today: the single-node "cluster of one" ([`Node`]): one RocksDB, one
//! Raft group per shard with this node as its only voter, the write path ([`WriteSink`]) and the
//! read path ([`Queryable`]) over all shards, readiness, background flush and retention, and
//! graceful shutdown.
//!
//! Invariants:
//! - a write is acknowledged only after every batch is committed and applied by its shard group
//!   (for one node: fsynced in the Raft log and in the head);
//! - after a crash, start-up replays each shard's log after its durable index before the node
//!   reports ready, so every acknowledged sample is readable exactly once;
//! - the shard count is fixed when the data directory is created (stored next to it).
//!
//! Key design choice: the node is the unit the binary wires in: one cheap-to-clone handle that
//! implements both seams (`WriteSink` for `strata-api`'s remote write, `Queryable` for PromQL),
//! so multi-node routing can later replace its internals without touching the API layer.
//!
//! [`WriteSink`]: strata_model::WriteSink
//! [`Queryable`]: strata_promql::Queryable

#![forbid(unsafe_code)]

pub mod config;
pub mod error;
mod metrics;
mod node;
pub mod query;
mod tasks;
mod write;

pub use config::NodeConfig;
pub use error::{Error, Result};
pub use node::{Node, NodeStats, ShardReport};
pub use query::ChunkSamples;
