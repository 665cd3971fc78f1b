//! Runs openraft's storage test suite against Strata's log store and shard state machine, each
//! test on a fresh RocksDB in a temporary directory.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use openraft::testing::{StoreBuilder, Suite};
use strata_model::ShardId;
use strata_raft::{GroupId, LogStore, ShardStateMachine, TypeConfig};
use strata_storage::raftlog::RaftLog;
use strata_storage::{Db, Shard, StorageConfig};

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, ShardStateMachine, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, ShardStateMachine), openraft::StorageError<u64>> {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), &StorageConfig::default()).unwrap();
        let log = RaftLog::open(Arc::clone(&db)).unwrap();
        let group = GroupId(3);
        let shard = Arc::new(Shard::open(db, ShardId(3), StorageConfig::default()).unwrap());
        let sm = ShardStateMachine::open(group, shard, Arc::clone(&log)).unwrap();
        Ok((dir, LogStore::new(group, log), sm))
    }
}

#[test]
fn passes_openraft_storage_suite() {
    Suite::test_all(Builder).unwrap();
}
