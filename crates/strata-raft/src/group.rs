//! One shard's Raft group on this node: its `Raft` handle, its state machine and its tasks.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ServerState};
use strata_model::{ShardBatch, WriteOutcome};
use strata_storage::Shard;
use strata_storage::raftlog::{GroupId, RaftLog};
use tracing::Instrument;

use crate::entry_cache::EntryCache;
use crate::error::{Error, Result};
use crate::log_store::{LogStore, blocking};
use crate::network::{NetworkFactory, Transport};
use crate::state_machine::ShardStateMachine;
use crate::types::{LogId, Payload, Raft};

/// A shard's Raft group hosted on this node. Cheap to clone.
#[derive(Clone)]
pub struct ShardGroup {
    group: GroupId,
    node_id: u64,
    raft: Raft,
    sm: ShardStateMachine,
    liveness: Weak<()>,
}

impl std::fmt::Debug for ShardGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardGroup")
            .field("group", &self.group)
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

/// Where a write went wrong.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// This replica is not the leader; `leader` names the leader when known.
    #[error("group {group}: not the leader (leader {leader:?})")]
    NotLeader {
        /// The group.
        group: u32,
        /// The leader's node id and address, when known.
        leader: Option<(u64, String)>,
    },
    /// The group cannot take writes now (no quorum, shutting down, a membership change).
    #[error("group {group}: unavailable: {message}")]
    Unavailable {
        /// The group.
        group: u32,
        /// What happened.
        message: String,
    },
    /// The group stopped after a storage failure, or another fatal error.
    #[error("group {group}: fatal: {message}")]
    Fatal {
        /// The group.
        group: u32,
        /// What happened.
        message: String,
    },
}

/// A snapshot of a group's progress, for readiness checks and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStatus {
    /// The group.
    pub group: GroupId,
    /// The current leader, if any.
    pub leader: Option<u64>,
    /// Whether this node is the leader.
    pub is_leader: bool,
    /// The current term.
    pub term: u64,
    /// The last log index.
    pub last_log_index: Option<u64>,
    /// The last applied log index.
    pub last_applied: Option<u64>,
    /// The last purged log index.
    pub last_purged: Option<u64>,
    /// The shard's durable index, in Raft log indexes (`None` when nothing is durable).
    pub durable: Option<u64>,
}

impl ShardGroup {
    /// Opens the state machine over `shard`, and starts the group's Raft node (which replays the
    /// committed entries after the shard's durable index).
    pub async fn start(
        node_id: u64,
        group: GroupId,
        shard: Arc<Shard>,
        log: Arc<RaftLog>,
        config: Arc<openraft::Config>,
        transport: Arc<dyn Transport>,
    ) -> Result<Self> {
        let cache = Arc::new(EntryCache::default());
        let sm = {
            let (log, cache) = (Arc::clone(&log), Arc::clone(&cache));
            blocking(move || ShardStateMachine::open_with_cache(group, shard, log, cache)).await?
        };
        let mine = sm.detached();
        let liveness = sm.liveness();
        let raft = Raft::new(
            node_id,
            config,
            NetworkFactory::new(group, transport),
            LogStore::with_cache(group, log, cache),
            sm,
        )
        .instrument(tracing::info_span!("group", group = %group))
        .await
        .map_err(|e| Error::Raft {
            group: group.0,
            message: e.to_string(),
        })?;
        Ok(ShardGroup {
            group,
            node_id,
            raft,
            sm: mine,
            liveness,
        })
    }

    /// Makes this node the single voter of the group if the group has never been initialized,
    /// and otherwise asks for an election at once (instead of waiting for the election timeout).
    /// Returns whether the group was initialized now.
    pub async fn bootstrap_single(&self, addr: &str) -> Result<bool> {
        let raft_err = |e: &dyn std::fmt::Display| Error::Raft {
            group: self.group.0,
            message: e.to_string(),
        };
        if self.raft.is_initialized().await.map_err(|e| raft_err(&e))? {
            self.raft
                .trigger()
                .elect()
                .await
                .map_err(|e| raft_err(&e))?;
            return Ok(false);
        }
        let members = BTreeMap::from([(self.node_id, BasicNode::new(addr))]);
        self.raft
            .initialize(members)
            .await
            .map_err(|e| raft_err(&e))?;
        Ok(true)
    }

    /// Waits until the group has a leader, or `timeout` passes.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<u64> {
        let mut rx = self.raft.metrics();
        let wait = async {
            loop {
                if let Some(l) = rx.borrow().current_leader {
                    return Ok(l);
                }
                if rx.changed().await.is_err() {
                    return Err(Error::Raft {
                        group: self.group.0,
                        message: "raft stopped".into(),
                    });
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| Error::Raft {
                group: self.group.0,
                message: format!("no leader after {} ms", timeout.as_millis()),
            })?
    }

    /// Proposes `batch` and returns once it is committed and applied.
    pub async fn write(&self, batch: ShardBatch) -> Result<WriteOutcome, WriteError> {
        let group = self.group.0;
        match self.raft.client_write(Payload(batch)).await {
            Ok(resp) => Ok(resp.data.into()),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(WriteError::NotLeader {
                    group,
                    leader: f.leader_id.zip(f.leader_node.map(|n| n.addr)),
                })
            }
            Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(e))) => {
                Err(WriteError::Unavailable {
                    group,
                    message: e.to_string(),
                })
            }
            Err(RaftError::Fatal(openraft::error::Fatal::Stopped)) => {
                Err(WriteError::Unavailable {
                    group,
                    message: "raft stopped".into(),
                })
            }
            Err(RaftError::Fatal(e)) => Err(WriteError::Fatal {
                group,
                message: e.to_string(),
            }),
        }
    }

    /// Asks openraft to build a snapshot: flushes the shard and then lets the log be purged up
    /// to the flushed index. Returns at once; the work happens in the background.
    pub async fn trigger_flush(&self) -> Result<()> {
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| Error::Raft {
                group: self.group.0,
                message: e.to_string(),
            })
    }

    /// Flushes the shard now, on a blocking thread, and records the durable state.
    pub async fn flush_now(&self) -> Result<Option<LogId>> {
        let sm = self.sm.clone();
        blocking(move || sm.flush_and_record()).await
    }

    /// Stops the group's Raft node (no more applies) and waits (at most 10 s) until openraft's
    /// background tasks have dropped the state machine; the shard stays open.
    pub async fn shutdown(&self) -> Result<()> {
        self.raft.shutdown().await.map_err(|e| Error::Raft {
            group: self.group.0,
            message: e.to_string(),
        })?;
        // openraft 0.9 does not join its state machine worker on shutdown; it exits as soon as
        // its command channel is closed, which the shutdown above just did.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.liveness.strong_count() > 0 {
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Raft {
                    group: self.group.0,
                    message: "state machine still in use after shutdown".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(())
    }

    /// Returns the group id.
    pub fn id(&self) -> GroupId {
        self.group
    }

    /// Returns the openraft handle.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Returns the shard engine this group applies to.
    pub fn shard(&self) -> &Arc<Shard> {
        self.sm.shard()
    }

    /// Returns the group's progress.
    pub fn status(&self) -> GroupStatus {
        let m = self.raft.metrics().borrow().clone();
        let durable = self.shard().durable_index();
        GroupStatus {
            group: self.group,
            leader: m.current_leader,
            is_leader: m.state == ServerState::Leader,
            term: m.current_term,
            last_log_index: m.last_log_index,
            last_applied: m.last_applied.map(|l| l.index),
            last_purged: m.purged.map(|l| l.index),
            durable: durable.checked_sub(1),
        }
    }
}
