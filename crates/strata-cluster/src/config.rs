//! Settings of a storage node.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use strata_raft::RaftConfig;
use strata_storage::StorageConfig;

use crate::error::{Error, Result};

/// Settings of one node of the single-node cluster ([`crate::Node::start`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeConfig {
    /// Directory holding the node's RocksDB (`<data-dir>/db`) and identity file. Default `./data`.
    pub data_dir: PathBuf,
    /// This node's Raft id. Default 1.
    pub node_id: u64,
    /// Address other nodes reach this node at (recorded in Raft membership). Default
    /// `127.0.0.1:9090`.
    pub advertise_addr: String,
    /// Number of shards, fixed when the data directory is created; a restart keeps the stored
    /// count. Default: the number of CPU cores.
    pub shard_count: u32,
    /// Shard engine settings (its `flush-interval` also paces Raft log purging).
    pub storage: StorageConfig,
    /// Raft settings.
    pub raft: RaftConfig,
    /// How often retention runs over every shard, in milliseconds. Default 60000.
    pub retention_interval_ms: u64,
    /// How long start-up waits for every shard group to elect a leader and replay its log, in
    /// milliseconds. Default 60000.
    pub startup_timeout_ms: u64,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            data_dir: PathBuf::from("./data"),
            node_id: 1,
            advertise_addr: "127.0.0.1:9090".into(),
            shard_count: std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1),
            storage: StorageConfig::default(),
            raft: RaftConfig::default(),
            retention_interval_ms: 60_000,
            startup_timeout_ms: 60_000,
        }
    }
}

impl NodeConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.shard_count == 0 || self.shard_count > 4096 {
            return Err(Error::Config("shard-count must be in 1..=4096".into()));
        }
        if self.node_id == 0 {
            return Err(Error::Config("node-id must be positive".into()));
        }
        if self.retention_interval_ms == 0 {
            return Err(Error::Config(
                "retention-interval-ms must be positive".into(),
            ));
        }
        if self.storage.flush_interval.is_zero() {
            return Err(Error::Config(
                "storage flush-interval must be positive".into(),
            ));
        }
        self.storage.validate()?;
        self.raft.validate()?;
        Ok(())
    }

    pub(crate) fn startup_timeout(&self) -> Duration {
        Duration::from_millis(self.startup_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_zero_shards_is_not() {
        NodeConfig::default().validate().unwrap();
        let bad = NodeConfig {
            shard_count: 0,
            ..NodeConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
