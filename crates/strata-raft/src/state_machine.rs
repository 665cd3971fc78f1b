//! openraft's `RaftStateMachine` over one shard engine ([`Shard`]).
//!
//! Applying an entry appends its batch to the shard's in-memory head (`Shard::apply`, inline on
//! openraft's state machine task). Blank and membership entries apply an empty batch so that the
//! shard's applied index follows the Raft log exactly. Shard indexes are Raft indexes plus one: shard index 0
//! means "nothing applied", Raft index 0 is the first entry.
//!
//! Durability: the head is memory only. `Shard::flush` persists it together with the shard's
//! durable index; after every flush this module writes the group's *state machine record* (the
//! log id and membership at the durable index) to `raft_state`. On open, the in-memory applied
//! state starts from the durable index (read from the record, or, if a crash hit between a flush
//! and its record, from the log entries after the record), so `applied_state()` reports what is
//! durable and openraft re-applies everything after it. A snapshot is "flush, then describe":
//! openraft purges the log only up to a snapshot's last log id, i.e. never past what the shard
//! has made durable (see [`snapshot`]).

mod snapshot;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend, SnapshotMeta, StorageIOError};
use serde::{Deserialize, Serialize};
use strata_model::WriteOutcome;
use strata_storage::Shard;
use strata_storage::raftlog::{GroupId, RaftLog, StateKey};

use crate::codec::{decode_entry, decode_json};
use crate::entry_cache::EntryCache;
use crate::error::Error;
use crate::log_store::blocking;
use crate::types::{ApplyResponse, Entry, LogId, StorageError, StoredMembership, TypeConfig};

pub use snapshot::SnapshotBuilder;

/// What the shard has made durable, as openraft sees it. Stored under
/// [`StateKey::StateMachine`] after every flush.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SmRecord {
    /// The log id at the shard's durable index.
    pub(crate) last_log_id: Option<LogId>,
    /// The membership in effect at that index.
    pub(crate) membership: StoredMembership,
    /// The id of the snapshot that describes this state.
    pub(crate) snapshot_id: String,
    /// Whether the shard held no series when the record was written.
    pub(crate) empty: bool,
}

/// Volatile state, guarded by one mutex that `apply` holds while it calls the shard, so that a
/// reader of `recent` always finds the log id of every index the shard has applied.
#[derive(Debug, Default)]
pub(crate) struct SmState {
    pub(crate) last_applied: Option<LogId>,
    pub(crate) membership: StoredMembership,
    /// Log ids of entries applied after the last record, by Raft index.
    pub(crate) recent: BTreeMap<u64, LogId>,
    /// Membership changes applied after the last record, by Raft index.
    pub(crate) membership_changes: BTreeMap<u64, StoredMembership>,
    /// The last record written.
    pub(crate) record: Option<SmRecord>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) group: GroupId,
    pub(crate) shard: Arc<Shard>,
    pub(crate) log: Arc<RaftLog>,
    pub(crate) state: Mutex<SmState>,
    /// The log store's cache of unapplied entries; applied entries are dropped from it.
    pub(crate) cache: Arc<EntryCache>,
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, SmState> {
        // A poisoned lock means an apply panicked; the state it guards is still consistent
        // because every field is updated after the shard call succeeds.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The state machine of one shard group.
#[derive(Debug, Clone)]
pub struct ShardStateMachine {
    inner: Arc<Inner>,
    /// Held by the copy given to openraft (and its snapshot builders) only, so that the owner
    /// can tell when openraft's background tasks have let go of the shard.
    token: Option<Arc<()>>,
}

fn sm_write_err(e: Error) -> StorageError {
    StorageIOError::write_state_machine(openraft::AnyError::new(&e)).into()
}

fn sm_read_err(e: Error) -> StorageError {
    StorageIOError::read_state_machine(openraft::AnyError::new(&e)).into()
}

/// Converts a Raft index to the shard's index space.
pub(crate) fn shard_index(raft_index: u64) -> u64 {
    raft_index.saturating_add(1)
}

impl ShardStateMachine {
    /// Opens the state machine of `group` over `shard`, recovering its applied state from the
    /// shard's durable index (blocking: call it from a blocking context or at startup).
    pub fn open(group: GroupId, shard: Arc<Shard>, log: Arc<RaftLog>) -> Result<Self, Error> {
        Self::open_with_cache(group, shard, log, Arc::new(EntryCache::new(0)))
    }

    /// Opens the state machine as [`ShardStateMachine::open`] does, dropping every entry it
    /// applies from `cache` (the one the group's [`crate::LogStore::with_cache`] fills).
    pub fn open_with_cache(
        group: GroupId,
        shard: Arc<Shard>,
        log: Arc<RaftLog>,
        cache: Arc<EntryCache>,
    ) -> Result<Self, Error> {
        let record: Option<SmRecord> = match log.state(group, StateKey::StateMachine)? {
            Some(bytes) => Some(decode_json(&bytes)?),
            None => None,
        };
        let durable = shard.durable_index();
        let mut state = SmState {
            record: record.clone(),
            ..SmState::default()
        };
        let record_index = record
            .as_ref()
            .and_then(|r| r.last_log_id)
            .map(|l| shard_index(l.index))
            .unwrap_or(0);
        if let Some(r) = &record {
            state.last_applied = r.last_log_id;
            state.membership = r.membership.clone();
        }
        if record_index > durable {
            return Err(Error::Inconsistent {
                group: group.0,
                message: format!(
                    "state machine record at shard index {record_index} is ahead of the durable index {durable}"
                ),
            });
        }
        if record_index < durable {
            // A crash hit between a flush and its record: the entries in between are still in
            // the log because the log is purged only up to a record.
            let from = record_index; // raft index of the first entry after the record
            let to = durable; // raft index of the durable entry, plus one
            let entries = log.entries(group, from, to)?;
            if entries.len() as u64 != to - from {
                return Err(Error::Inconsistent {
                    group: group.0,
                    message: format!(
                        "log lacks entries [{from}, {to}) needed to recover the durable log id"
                    ),
                });
            }
            for (_, bytes) in entries {
                let e = decode_entry(bytes)?;
                if let EntryPayload::Membership(m) = e.payload {
                    state.membership = StoredMembership::new(Some(e.log_id), m);
                }
                state.last_applied = Some(e.log_id);
            }
            // The durable state is real even though its record was lost: describe it.
            state.record = Some(SmRecord {
                last_log_id: state.last_applied,
                membership: state.membership.clone(),
                snapshot_id: snapshot::snapshot_id(group, state.last_applied),
                empty: shard_is_empty(&shard),
            });
        }
        tracing::debug!(group = %group, durable, last_applied = ?state.last_applied, "state machine opened");
        Ok(ShardStateMachine {
            inner: Arc::new(Inner {
                group,
                shard,
                log,
                state: Mutex::new(state),
                cache,
            }),
            token: Some(Arc::new(())),
        })
    }

    /// Returns a handle to the same state machine that does not count as openraft's copy.
    pub fn detached(&self) -> ShardStateMachine {
        ShardStateMachine {
            inner: Arc::clone(&self.inner),
            token: None,
        }
    }

    /// Returns a weak reference that dies once every non-detached copy (openraft's, and its
    /// snapshot builders') is dropped.
    pub fn liveness(&self) -> Weak<()> {
        self.token.as_ref().map(Arc::downgrade).unwrap_or_default()
    }

    /// Returns the shard this state machine applies to.
    pub fn shard(&self) -> &Arc<Shard> {
        &self.inner.shard
    }

    /// Flushes the shard and records the new durable state (blocking). Returns the log id of
    /// the durable index.
    pub fn flush_and_record(&self) -> Result<Option<LogId>, Error> {
        snapshot::flush_and_record(&self.inner).map(|r| r.last_log_id)
    }

    /// Returns the log id of the last applied entry.
    pub fn last_applied(&self) -> Option<LogId> {
        self.inner.lock().last_applied
    }
}

/// Returns whether the shard holds no series at all (in memory or on disk).
pub(crate) fn shard_is_empty(shard: &Shard) -> bool {
    let s = shard.stats();
    s.head_series == 0 && s.retired_series == 0 && s.partitions == 0
}

fn apply_entries(inner: &Inner, entries: Vec<Entry>) -> Result<Vec<ApplyResponse>, Error> {
    let mut state = inner.lock();
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let index = e.log_id.index;
        state.recent.insert(index, e.log_id);
        let outcome = match &e.payload {
            EntryPayload::Normal(p) => inner.shard.apply(shard_index(index), &p.0),
            EntryPayload::Blank | EntryPayload::Membership(_) => inner
                .shard
                .advance_applied(shard_index(index))
                .map(|()| WriteOutcome::default()),
        }
        .map_err(|source| Error::Shard {
            shard: inner.group.0,
            source,
        })?;
        if let EntryPayload::Membership(m) = e.payload {
            let sm = StoredMembership::new(Some(e.log_id), m);
            state.membership_changes.insert(index, sm.clone());
            state.membership = sm;
        }
        state.last_applied = Some(e.log_id);
        out.push(ApplyResponse::from(outcome));
    }
    if let Some(last) = state.last_applied {
        inner.cache.remove_upto(last.index);
    }
    Ok(out)
}

impl RaftStateMachine<TypeConfig> for ShardStateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let s = self.inner.lock();
        Ok((s.last_applied, s.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ApplyResponse>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let first = entries[0].log_id;
        // Applied inline on openraft's state machine task rather than on the blocking pool: an
        // entry is a few hundred microseconds of memory-only work (plus, for a series new to
        // the head, one registry read), and the hand-off to a pool thread and back cost more
        // CPU than that in context switches.
        apply_entries(&self.inner, entries).map_err(|e| {
            tracing::error!(group = %self.inner.group, error = %e, "apply failed");
            StorageIOError::apply(first, openraft::AnyError::new(&e)).into()
        })
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder::new(Arc::clone(&self.inner), self.token.clone())
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<std::io::Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(std::io::Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, openraft::BasicNode>,
        snapshot: Box<std::io::Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let inner = Arc::clone(&self.inner);
        let meta = meta.clone();
        blocking(move || snapshot::install(&inner, &meta, snapshot.into_inner()))
            .await
            .map_err(sm_write_err)
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<openraft::Snapshot<TypeConfig>>, StorageError> {
        let record = self.inner.lock().record.clone();
        match record {
            Some(r) if r.last_log_id.is_some() => snapshot::describe(self.inner.group, &r)
                .map(Some)
                .map_err(sm_read_err),
            _ => Ok(None),
        }
    }
}
