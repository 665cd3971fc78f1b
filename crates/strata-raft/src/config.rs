//! Settings of Strata's Raft groups.

use std::sync::Arc;

use openraft::SnapshotPolicy;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Settings shared by every Raft group of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct RaftConfig {
    /// Leader heartbeat interval, in milliseconds. Default 500.
    pub heartbeat_interval_ms: u64,
    /// Lower bound of the randomized election timeout, in milliseconds. Default 1500.
    pub election_timeout_min_ms: u64,
    /// Upper bound of the randomized election timeout, in milliseconds. Default 3000.
    pub election_timeout_max_ms: u64,
    /// Most entries sent in one append-entries RPC. Default 256.
    pub max_payload_entries: u64,
    /// Timeout of one snapshot chunk transfer, in milliseconds. Default 10000.
    pub install_snapshot_timeout_ms: u64,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            heartbeat_interval_ms: 500,
            election_timeout_min_ms: 1500,
            election_timeout_max_ms: 3000,
            max_payload_entries: 256,
            install_snapshot_timeout_ms: 10_000,
        }
    }
}

impl RaftConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        self.to_openraft("strata").map(|_| ())
    }

    /// Returns the openraft configuration of a group named `cluster_name`.
    ///
    /// Snapshots are never built by log count (`SnapshotPolicy::Never`): the owner's flush task
    /// (every `StorageConfig::flush_interval`) triggers them, a snapshot being a flush of the shard; `max_in_snapshot_log_to_keep = 0` then lets
    /// openraft purge the log right up to the flushed (durable) index and no further.
    pub fn to_openraft(&self, cluster_name: &str) -> Result<Arc<openraft::Config>> {
        let c = openraft::Config {
            cluster_name: cluster_name.to_owned(),
            heartbeat_interval: self.heartbeat_interval_ms,
            election_timeout_min: self.election_timeout_min_ms,
            election_timeout_max: self.election_timeout_max_ms,
            max_payload_entries: self.max_payload_entries,
            install_snapshot_timeout: self.install_snapshot_timeout_ms,
            snapshot_policy: SnapshotPolicy::Never,
            max_in_snapshot_log_to_keep: 0,
            purge_batch_size: 1,
            ..openraft::Config::default()
        };
        c.validate()
            .map(Arc::new)
            .map_err(|e| Error::Config(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid_and_rejects_inverted_timeouts() {
        RaftConfig::default().validate().unwrap();
        let bad = RaftConfig {
            election_timeout_min_ms: 10,
            election_timeout_max_ms: 5,
            ..RaftConfig::default()
        };
        assert!(bad.validate().is_err());
        let parsed: RaftConfig =
            serde_json::from_str(r#"{"heartbeat-interval-ms": 1000}"#).unwrap();
        assert_eq!(parsed.heartbeat_interval_ms, 1000);
        assert!(serde_json::from_str::<RaftConfig>(r#"{"nope": 1}"#).is_err());
    }
}
