//! openraft's `RaftLogStorage` over the node's shared [`RaftLog`].
//!
//! Appends are handed to the group-commit writer thread and acknowledged to openraft
//! (`LogFlushed::log_io_completed`) from that thread once the batch holding them is fsynced; the
//! `async fn append` itself returns at once. Truncates, purges and vote writes go through the same
//! queue, so they take effect in submission order; their `async fn`s await the writer's
//! completion on a oneshot channel and never block a runtime thread. Reads run on tokio's
//! blocking pool.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, OptionalSend, RaftLogReader, StorageIOError, Vote};
use strata_storage::raftlog::{self, Completion, GroupId, RaftLog, StateKey};

use crate::codec::{decode_entry, decode_json, decode_log_id, encode_entry, encode_json};
use crate::entry_cache::EntryCache;
use crate::error::Error;
use crate::types::{Entry, LogId, StorageError, TypeConfig};

/// The log of one group: a view of the shared [`RaftLog`] restricted to `group`, with the
/// group's not yet applied entries cached in memory ([`EntryCache`]).
#[derive(Debug, Clone)]
pub struct LogStore {
    group: GroupId,
    log: Arc<RaftLog>,
    cache: Arc<EntryCache>,
}

/// Submits a log request and awaits its completion without blocking the runtime.
pub(crate) async fn submit(submit: impl FnOnce(Completion)) -> Result<(), raftlog::Error> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    submit(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    rx.await.unwrap_or(Err(raftlog::Error::WriterStopped))
}

/// Runs a blocking closure on tokio's blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, Error>
where
    F: FnOnce() -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Task(e.to_string()))?
}

fn read_err(e: impl Into<Error>) -> StorageError {
    let e: Error = e.into();
    StorageIOError::read_logs(openraft::AnyError::new(&e)).into()
}

fn write_err(e: impl Into<Error>) -> StorageError {
    let e: Error = e.into();
    StorageIOError::write_logs(openraft::AnyError::new(&e)).into()
}

fn range_to_bounds(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.saturating_add(1),
        Bound::Excluded(&e) => e,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl LogStore {
    /// Returns the log of `group` in `log`, with a cache of its own (which nothing drops
    /// entries from but truncates and purges: pass the state machine's with
    /// [`LogStore::with_cache`] instead).
    pub fn new(group: GroupId, log: Arc<RaftLog>) -> Self {
        Self::with_cache(group, log, Arc::new(EntryCache::default()))
    }

    /// Returns the log of `group` in `log` that caches appended entries in `cache`, which the
    /// group's state machine empties as it applies them.
    pub fn with_cache(group: GroupId, log: Arc<RaftLog>, cache: Arc<EntryCache>) -> Self {
        LogStore { group, log, cache }
    }

    /// Returns the group this log belongs to.
    pub fn group(&self) -> GroupId {
        self.group
    }

    async fn read_state<T>(&self, key: StateKey) -> Result<Option<T>, Error>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        let (log, group) = (Arc::clone(&self.log), self.group);
        blocking(move || match log.state(group, key)? {
            Some(bytes) => Ok(Some(decode_json(&bytes)?)),
            None => Ok(None),
        })
        .await
    }

    async fn write_state<T: serde::Serialize>(
        &self,
        key: StateKey,
        value: &T,
        sync: bool,
    ) -> Result<(), Error> {
        let bytes = encode_json(value)?;
        submit(|done| self.log.put_state(self.group, key, bytes, sync, done)).await?;
        Ok(())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let (start, end) = range_to_bounds(&range);
        if let Some(entries) = self.cache.range(start, end) {
            return Ok(entries);
        }
        let (log, group) = (Arc::clone(&self.log), self.group);
        blocking(move || {
            log.entries(group, start, end)?
                .into_iter()
                .map(|(_, bytes)| decode_entry(bytes))
                .collect()
        })
        .await
        .map_err(read_err)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = self
            .read_state(StateKey::LastPurged)
            .await
            .map_err(read_err)?;
        let (log, group) = (Arc::clone(&self.log), self.group);
        let last = blocking(move || match log.last_entry(group)? {
            Some((_, bytes)) => Ok(Some(decode_log_id(&bytes)?)),
            None => Ok(None),
        })
        .await
        .map_err(read_err)?;
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last.or(last_purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError> {
        self.write_state(StateKey::Vote, vote, true)
            .await
            .map_err(|e| StorageIOError::write_vote(openraft::AnyError::new(&e)).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError> {
        self.read_state(StateKey::Vote)
            .await
            .map_err(|e| StorageIOError::read_vote(openraft::AnyError::new(&e)).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.write_state(StateKey::Committed, &committed, false)
            .await
            .map_err(write_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let c: Option<Option<LogId>> = self
            .read_state(StateKey::Committed)
            .await
            .map_err(read_err)?;
        Ok(c.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let encoded = entries
            .iter()
            .map(|e| Ok((e.log_id.index, encode_entry(e)?)))
            .collect::<Result<Vec<_>, Error>>()
            .map_err(write_err)?;
        // Cached before the write is submitted: openraft reads an entry back only after this
        // call returned, and the cache then holds exactly what the log will hold.
        self.cache.insert(&entries);
        self.log.append(
            self.group,
            encoded,
            Box::new(move |r| {
                callback.log_io_completed(r.map_err(io::Error::other));
            }),
        );
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.cache.remove_from(log_id.index);
        submit(|done| self.log.truncate(self.group, log_id.index, done))
            .await
            .map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let bytes = encode_json(&log_id).map_err(write_err)?;
        self.cache.remove_upto(log_id.index);
        submit(|done| self.log.purge(self.group, log_id.index, bytes, done))
            .await
            .map_err(write_err)
    }
}
