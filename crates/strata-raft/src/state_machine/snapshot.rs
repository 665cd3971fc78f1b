//! Snapshots of a shard group: "flush, then describe".
//!
//! Building a snapshot flushes the shard's head (`Shard::flush`), writes the state machine record
//! for the new durable index, and returns a *descriptor*: the snapshot's meta plus whether the
//! shard holds any data, as JSON. The shard's data itself stays in the node's RocksDB; the
//! snapshot's last log id is the durable index, so openraft (which purges the log only up to a
//! snapshot) never purges an entry whose samples exist only in the head.
//!
//! Installing a descriptor works when the receiving shard already covers it (same node, e.g.
//! after a restart) or when both the snapshot and the receiving shard are empty. Shipping a
//! non-empty shard to a new replica needs the shard's key range and head streamed as the snapshot
//! body (a RocksDB checkpoint); that is not implemented yet and fails the install, which stops
//! that group. See `docs/raft.md`.

use std::io::Cursor;
use std::sync::Arc;

use openraft::{BasicNode, RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageIOError};
use serde::{Deserialize, Serialize};
use strata_storage::raftlog::{self, GroupId, StateKey};

use super::{Inner, SmRecord, shard_index};
use crate::codec::{decode_json, encode_json};
use crate::error::Error;
use crate::log_store::blocking;
use crate::types::{LogId, StorageError, TypeConfig};

const FORMAT: &str = "strata-shard-descriptor/1";

/// The body of a snapshot: a description of the shard state it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Descriptor {
    format: String,
    group: u32,
    last_log_id: Option<LogId>,
    empty: bool,
}

/// Builds a snapshot of one shard group (see the module docs).
#[derive(Debug)]
pub struct SnapshotBuilder {
    inner: Arc<Inner>,
    _token: Option<Arc<()>>,
}

impl SnapshotBuilder {
    pub(super) fn new(inner: Arc<Inner>, token: Option<Arc<()>>) -> Self {
        SnapshotBuilder {
            inner,
            _token: token,
        }
    }
}

pub(super) fn snapshot_id(group: GroupId, last: Option<LogId>) -> String {
    match last {
        Some(l) => format!(
            "g{}-t{}-n{}-i{}",
            group.0, l.leader_id.term, l.leader_id.node_id, l.index
        ),
        None => format!("g{}-empty", group.0),
    }
}

/// Returns the snapshot that `record` describes.
pub(super) fn describe(group: GroupId, record: &SmRecord) -> Result<Snapshot<TypeConfig>, Error> {
    let body = encode_json(&Descriptor {
        format: FORMAT.to_owned(),
        group: group.0,
        last_log_id: record.last_log_id,
        empty: record.empty,
    })?;
    Ok(Snapshot {
        meta: SnapshotMeta {
            last_log_id: record.last_log_id,
            last_membership: record.membership.clone(),
            snapshot_id: record.snapshot_id.clone(),
        },
        snapshot: Box::new(Cursor::new(body)),
    })
}

fn write_record(inner: &Inner, record: &SmRecord) -> Result<(), Error> {
    let bytes = encode_json(record)?;
    raftlog::wait(|done| {
        inner
            .log
            .put_state(inner.group, StateKey::StateMachine, bytes, true, done)
    })?;
    Ok(())
}

fn shard_err(inner: &Inner) -> impl FnOnce(strata_storage::Error) -> Error + '_ {
    move |source| Error::Shard {
        shard: inner.group.0,
        source,
    }
}

/// Flushes the shard and records the new durable state; returns the record.
pub(super) fn flush_and_record(inner: &Inner) -> Result<SmRecord, Error> {
    inner.shard.flush().map_err(shard_err(inner))?;
    let durable = inner.shard.durable_index();
    let empty = super::shard_is_empty(&inner.shard);
    let record = {
        let state = inner.lock();
        let previous = state.record.clone().unwrap_or_default();
        if durable == 0 {
            SmRecord { empty, ..previous }
        } else {
            let raft_index = durable - 1;
            let last = match state.recent.get(&raft_index) {
                Some(l) => *l,
                None => match previous.last_log_id {
                    Some(l) if l.index == raft_index => l,
                    _ => {
                        return Err(Error::Inconsistent {
                            group: inner.group.0,
                            message: format!("no log id known for durable raft index {raft_index}"),
                        });
                    }
                },
            };
            let membership = state
                .membership_changes
                .range(..=raft_index)
                .next_back()
                .map(|(_, m)| m.clone())
                .unwrap_or(previous.membership);
            SmRecord {
                last_log_id: Some(last),
                membership,
                snapshot_id: snapshot_id(inner.group, Some(last)),
                empty,
            }
        }
    };
    write_record(inner, &record)?;
    let mut state = inner.lock();
    if let Some(l) = record.last_log_id {
        state.recent = state.recent.split_off(&(l.index + 1));
        state.membership_changes = state.membership_changes.split_off(&(l.index + 1));
    }
    state.record = Some(record.clone());
    Ok(record)
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let inner = Arc::clone(&self.inner);
        let group = inner.group;
        let record = blocking(move || flush_and_record(&inner))
            .await
            .map_err(|e| {
                tracing::error!(group = %group, error = %e, "snapshot (flush) failed");
                StorageError::from(StorageIOError::write_snapshot(
                    None,
                    openraft::AnyError::new(&e),
                ))
            })?;
        tracing::debug!(group = %group, last = ?record.last_log_id, "snapshot built");
        describe(group, &record)
            .map_err(|e| StorageIOError::write_snapshot(None, openraft::AnyError::new(&e)).into())
    }
}

/// Installs a snapshot received from a leader (see the module docs for what is supported).
pub(super) fn install(
    inner: &Inner,
    meta: &SnapshotMeta<u64, BasicNode>,
    body: Vec<u8>,
) -> Result<(), Error> {
    let d: Descriptor = decode_json(&body)?;
    if d.format != FORMAT || d.last_log_id != meta.last_log_id {
        return Err(Error::Snapshot {
            group: inner.group.0,
            message: "snapshot body does not match its meta".into(),
        });
    }
    let Some(target) = meta.last_log_id else {
        return Ok(());
    };
    let covered = inner.shard.applied_index() >= shard_index(target.index);
    if !covered {
        if !(d.empty && super::shard_is_empty(&inner.shard)) {
            return Err(Error::Snapshot {
                group: inner.group.0,
                message: "shipping shard data between replicas is not implemented".into(),
            });
        }
        inner
            .shard
            .advance_applied(shard_index(target.index))
            .map_err(shard_err(inner))?;
    }
    inner.shard.flush().map_err(shard_err(inner))?;
    let record = SmRecord {
        last_log_id: Some(target),
        membership: meta.last_membership.clone(),
        snapshot_id: meta.snapshot_id.clone(),
        empty: d.empty,
    };
    write_record(inner, &record)?;
    let mut state = inner.lock();
    if state.last_applied < Some(target) {
        state.last_applied = Some(target);
        state.membership = meta.last_membership.clone();
    }
    state.recent = state.recent.split_off(&(target.index + 1));
    state.membership_changes = state.membership_changes.split_off(&(target.index + 1));
    state.record = Some(record);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_ids_name_the_log_id() {
        let l = LogId {
            leader_id: openraft::CommittedLeaderId::new(3, 1),
            index: 42,
        };
        assert_eq!(snapshot_id(GroupId(7), Some(l)), "g7-t3-n1-i42");
        assert_eq!(snapshot_id(GroupId(7), None), "g7-empty");
    }
}
