//! Runs openraft's storage test suite against Strata's log store and shard state machine, each
//! test on a fresh RocksDB in a temporary directory.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use openraft::testing::{StoreBuilder, Suite};
use strata_model::ShardId;
use strata_raft::{EntryCache, GroupId, LogStore, ShardStateMachine, TypeConfig};
use strata_storage::raftlog::RaftLog;
use strata_storage::{Db, Shard, StorageConfig};

/// Builds a log store and state machine; with `cache`, they share an entry cache as in a
/// running group (reads are then served from memory until entries are applied).
struct Builder {
    cache: bool,
}

impl StoreBuilder<TypeConfig, LogStore, ShardStateMachine, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, ShardStateMachine), openraft::StorageError<u64>> {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), &StorageConfig::default()).unwrap();
        let log = RaftLog::open(Arc::clone(&db)).unwrap();
        let group = GroupId(3);
        let shard = Arc::new(Shard::open(db, ShardId(3), StorageConfig::default()).unwrap());
        if !self.cache {
            let sm = ShardStateMachine::open(group, shard, Arc::clone(&log)).unwrap();
            return Ok((dir, LogStore::new(group, log), sm));
        }
        let cache = Arc::new(EntryCache::default());
        let sm =
            ShardStateMachine::open_with_cache(group, shard, Arc::clone(&log), Arc::clone(&cache))
                .unwrap();
        Ok((dir, LogStore::with_cache(group, log, cache), sm))
    }
}

#[test]
fn passes_openraft_storage_suite() {
    Suite::test_all(Builder { cache: false }).unwrap();
}

#[test]
fn passes_openraft_storage_suite_with_the_entry_cache() {
    Suite::test_all(Builder { cache: true }).unwrap();
}
