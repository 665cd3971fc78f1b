//! The Raft log and Raft state of every group hosted by this node, in the node's one RocksDB.
//!
//! This module knows nothing of openraft: entries are opaque bytes at `u64` indexes, and the
//! per-group state (vote, committed id, last purged id, state machine record) is opaque bytes
//! under a [`StateKey`]. `strata-raft` encodes openraft's types into them.
//!
//! Layout (see `docs/raft.md`):
//!
//! ```text
//! raft_log   CF: group u32 BE ‖ index u64 BE      → entry bytes
//! raft_state CF: group u32 BE ‖ tag u8 (StateKey)  → state bytes
//! ```
//!
//! Every mutation (append, truncate, purge, state write) goes through one writer thread
//! (`writer.rs`) in the order it was submitted, and becomes part of one RocksDB `WriteBatch`
//! together with everything else queued at that moment (group commit): N groups appending
//! concurrently cost one fsync, not N. Each mutation is one atomic batch on its own as well.
//! Completions run on the writer thread and must be quick (send on a channel, call openraft's
//! callback).
//!
//! Reads go straight to RocksDB and see only completed writes.

mod writer;

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rocksdb::{ColumnFamily, DB, Direction, IteratorMode, ReadOptions};

use crate::db::{CF_RAFT_LOG, CF_RAFT_STATE, Db};
use strata_model::ErrorKind;

pub use writer::Completion;
use writer::{Counters, Op, Request};

/// Identifies one Raft group on this node (a shard group, or the meta group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct GroupId(pub u32);

impl std::fmt::Display for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Names a per-group state record in the `raft_state` column family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKey {
    /// The vote (term and voted-for); written synced.
    Vote,
    /// The last committed log id (an optimisation: entries up to it are re-applied on start).
    Committed,
    /// The id of the last purged entry.
    LastPurged,
    /// The state machine's record of what is durable in its shard.
    StateMachine,
}

impl StateKey {
    fn tag(self) -> u8 {
        match self {
            StateKey::Vote => 1,
            StateKey::Committed => 2,
            StateKey::LastPurged => 3,
            StateKey::StateMachine => 4,
        }
    }
}

/// A log store operation failed. Any failure is fatal for the group that sees it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// A RocksDB write failed.
    #[error("raft log write failed: {0}")]
    Write(String),
    /// A RocksDB read failed.
    #[error("raft log read failed: {0}")]
    Read(String),
    /// A column family is missing from the database.
    #[error("column family {0} missing")]
    MissingColumnFamily(&'static str),
    /// The writer thread is gone (the log was shut down or the thread panicked).
    #[error("raft log writer stopped")]
    WriterStopped,
    /// A stored key does not have the expected layout.
    #[error("corrupt raft log key")]
    CorruptKey,
}

impl Error {
    /// Returns how callers should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::WriterStopped => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }
}

/// Which of the two log column families an operation targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StateCf {
    Log,
    State,
}

fn cf(db: &DB, which: StateCf) -> Result<&ColumnFamily, Error> {
    let name = match which {
        StateCf::Log => CF_RAFT_LOG,
        StateCf::State => CF_RAFT_STATE,
    };
    db.cf_handle(name).ok_or(Error::MissingColumnFamily(name))
}

/// Counters of the log writer since the log was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Requests (appends, truncates, purges, state writes) completed.
    pub requests: u64,
    /// Log entries appended.
    pub entries: u64,
    /// RocksDB write batches issued (one per group commit).
    pub writes: u64,
    /// Synced (fsynced) writes.
    pub fsyncs: u64,
    /// Key and value bytes written.
    pub bytes: u64,
    /// Writes that failed.
    pub failures: u64,
    /// Synced writes that first waited for announced appends (cross-group group commit).
    pub lingers: u64,
    /// Of those, waits that ended at the time limit.
    pub linger_timeouts: u64,
}

/// The node's Raft log store, shared by all groups.
#[derive(Debug)]
pub struct RaftLog {
    db: Arc<Db>,
    tx: Mutex<Option<Sender<Request>>>,
    counters: Arc<Counters>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// SST bytes of the log column family after the last compaction ([`RaftLog::maybe_compact`]).
    compacted_sst_bytes: Mutex<u64>,
}

/// The log column family is compacted while the node runs once its SST files exceed this
/// and twice their size after the previous compaction ([`RaftLog::maybe_compact`]).
pub const COMPACT_FLOOR_BYTES: u64 = 64 << 20;

/// What [`RaftLog::maybe_compact`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogCompaction {
    /// SST bytes of the log column family before.
    pub sst_bytes_before: u64,
    /// SST bytes of the log column family after.
    pub sst_bytes_after: u64,
}

fn log_key(group: GroupId, index: u64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&group.0.to_be_bytes());
    k[4..].copy_from_slice(&index.to_be_bytes());
    k
}

fn state_key(group: GroupId, key: StateKey) -> [u8; 5] {
    let mut k = [0u8; 5];
    k[..4].copy_from_slice(&group.0.to_be_bytes());
    k[4] = key.tag();
    k
}

fn index_of(group: GroupId, key: &[u8]) -> Result<Option<u64>, Error> {
    if key.len() != 12 {
        return Err(Error::CorruptKey);
    }
    if key[..4] != group.0.to_be_bytes() {
        return Ok(None);
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&key[4..]);
    Ok(Some(u64::from_be_bytes(b)))
}

impl RaftLog {
    /// Opens the log over `db` and starts the writer thread.
    pub fn open(db: Arc<Db>) -> Result<Arc<RaftLog>, Error> {
        Self::open_with_linger(db, writer::LINGER)
    }

    /// Like [`RaftLog::open`], with the longest wait for announced appends before a synced
    /// write (see [`RaftLog::announce_appends`]).
    pub fn open_with_linger(
        db: Arc<Db>,
        linger: std::time::Duration,
    ) -> Result<Arc<RaftLog>, Error> {
        cf(db.raw(), StateCf::Log)?;
        cf(db.raw(), StateCf::State)?;
        let (tx, rx) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let thread = {
            let db = Arc::clone(&db);
            let counters = Arc::clone(&counters);
            std::thread::Builder::new()
                .name("strata-raftlog-writer".into())
                .spawn(move || writer::run(db, rx, counters, linger))
                .map_err(|e| Error::Write(format!("spawn log writer: {e}")))?
        };
        Ok(Arc::new(RaftLog {
            db,
            tx: Mutex::new(Some(tx)),
            counters,
            thread: Mutex::new(Some(thread)),
            compacted_sst_bytes: Mutex::new(0),
        }))
    }

    fn submit(&self, ops: Vec<Op>, sync: bool, entries: u64, done: Completion) {
        self.submit_request(Request {
            ops,
            sync,
            entries,
            slot: None,
            done,
        });
    }

    fn submit_request(&self, req: Request) {
        let sent = match self.tx.lock() {
            Ok(guard) => match guard.as_ref() {
                Some(tx) => tx.send(req).map_err(|e| e.0),
                None => Err(req),
            },
            Err(_) => Err(req),
        };
        if let Err(req) = sent {
            (req.done)(Err(Error::WriterStopped));
        }
    }

    /// Appends `entries` (index, bytes) to `group`'s log, synced; `done` runs once they are on
    /// disk. Entries at existing indexes are overwritten.
    pub fn append(&self, group: GroupId, entries: Vec<(u64, Vec<u8>)>, done: Completion) {
        let n = entries.len() as u64;
        let slot = group.0 as usize % writer::ANNOUNCE_SLOTS;
        // Off the announced count before queueing: the writer may then miss this append for
        // its current write, but never waits for one already queued.
        let _ = self.counters.announced.0[slot].fetch_update(
            Ordering::AcqRel,
            Ordering::Acquire,
            |a| Some(a.saturating_sub(n)),
        );
        let ops = entries
            .into_iter()
            .map(|(i, value)| Op::Put {
                cf: StateCf::Log,
                key: log_key(group, i).to_vec(),
                value,
            })
            .collect();
        self.submit_request(Request {
            ops,
            sync: true,
            entries: n,
            slot: Some(slot),
            done,
        });
    }

    /// Announces one append about to be proposed in each of `groups` (the shard batches of a
    /// write request), so that the writer waits for them and gives them one fsync (see
    /// `raftlog/writer.rs`).
    pub fn announce_appends(&self, groups: impl IntoIterator<Item = GroupId>) {
        for g in groups {
            self.counters.announced.0[g.0 as usize % writer::ANNOUNCE_SLOTS]
                .fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Deletes `group`'s entries at indexes `>= since`, synced, in one batch.
    pub fn truncate(&self, group: GroupId, since: u64, done: Completion) {
        let ops = vec![Op::DeleteRange {
            cf: StateCf::Log,
            from: log_key(group, since).to_vec(),
            to: log_key(group, u64::MAX).to_vec(),
        }];
        self.submit(ops, true, 0, done);
    }

    /// Deletes `group`'s entries at indexes `<= upto` and records `last_purged` under
    /// [`StateKey::LastPurged`], in one batch (not synced: a lost purge is redone).
    pub fn purge(&self, group: GroupId, upto: u64, last_purged: Vec<u8>, done: Completion) {
        let ops = vec![
            Op::DeleteRange {
                cf: StateCf::Log,
                from: log_key(group, 0).to_vec(),
                to: log_key(group, upto.saturating_add(1)).to_vec(),
            },
            Op::Put {
                cf: StateCf::State,
                key: state_key(group, StateKey::LastPurged).to_vec(),
                value: last_purged,
            },
        ];
        self.submit(ops, false, 0, done);
    }

    /// Sets `group`'s state record `key` to `value`; `sync` asks for an fsync before `done`.
    pub fn put_state(
        &self,
        group: GroupId,
        key: StateKey,
        value: Vec<u8>,
        sync: bool,
        done: Completion,
    ) {
        let ops = vec![Op::Put {
            cf: StateCf::State,
            key: state_key(group, key).to_vec(),
            value,
        }];
        self.submit(ops, sync, 0, done);
    }

    /// Returns `group`'s state record `key`, if written.
    pub fn state(&self, group: GroupId, key: StateKey) -> Result<Option<Vec<u8>>, Error> {
        let raw = self.db.raw();
        raw.get_cf(cf(raw, StateCf::State)?, state_key(group, key))
            .map_err(|e| Error::Read(e.to_string()))
    }

    /// Returns `group`'s entries with indexes in `[start, end)`, in index order.
    pub fn entries(
        &self,
        group: GroupId,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, Error> {
        let mut out = Vec::new();
        if start >= end {
            return Ok(out);
        }
        let raw = self.db.raw();
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(log_key(group, end).to_vec());
        let from = log_key(group, start);
        let iter = raw.iterator_cf_opt(
            cf(raw, StateCf::Log)?,
            opts,
            IteratorMode::From(&from, Direction::Forward),
        );
        for item in iter {
            let (k, v) = item.map_err(|e| Error::Read(e.to_string()))?;
            match index_of(group, &k)? {
                Some(i) => out.push((i, v.into_vec())),
                None => break,
            }
        }
        Ok(out)
    }

    /// Returns `group`'s entry at `index`, if present.
    pub fn entry(&self, group: GroupId, index: u64) -> Result<Option<Vec<u8>>, Error> {
        let raw = self.db.raw();
        raw.get_cf(cf(raw, StateCf::Log)?, log_key(group, index))
            .map_err(|e| Error::Read(e.to_string()))
    }

    /// Returns `group`'s last entry, if the log holds any.
    pub fn last_entry(&self, group: GroupId) -> Result<Option<(u64, Vec<u8>)>, Error> {
        let raw = self.db.raw();
        let from = log_key(group, u64::MAX);
        let mut iter = raw.iterator_cf(
            cf(raw, StateCf::Log)?,
            IteratorMode::From(&from, Direction::Reverse),
        );
        match iter.next() {
            None => Ok(None),
            Some(item) => {
                let (k, v) = item.map_err(|e| Error::Read(e.to_string()))?;
                Ok(index_of(group, &k)?.map(|i| (i, v.into_vec())))
            }
        }
    }

    /// Returns the bytes of the log column family's SST files (memtables excluded).
    pub fn sst_bytes(&self) -> Result<u64, Error> {
        let raw = self.db.raw();
        raw.property_int_value_cf(cf(raw, StateCf::Log)?, "rocksdb.total-sst-files-size")
            .map(|v| v.unwrap_or(0))
            .map_err(|e| Error::Read(e.to_string()))
    }

    /// Compacts the log column family when its SST files hold at least
    /// [`COMPACT_FLOOR_BYTES`] and twice what the previous compaction left; blocking.
    ///
    /// Purges are range deletions: the entries they cover stay in SST files until a compaction
    /// merges those files with the tombstone. RocksDB's own compactions get there eventually,
    /// but at their own pace, so without this the log's footprint would keep whatever purged
    /// data the last few flushes of the log's memtable wrote. The threshold bounds the footprint
    /// to about twice the unpurged log (or the floor), and keeps the work per byte appended
    /// constant: each compaction reads at most twice what the previous one left.
    pub fn maybe_compact(&self) -> Result<Option<LogCompaction>, Error> {
        let before = self.sst_bytes()?;
        let mut last = self
            .compacted_sst_bytes
            .lock()
            .map_err(|_| Error::Write("log compaction state poisoned".into()))?;
        if before < COMPACT_FLOOR_BYTES.max(last.saturating_mul(2)) {
            return Ok(None);
        }
        self.compact()?;
        let after = self.sst_bytes()?;
        *last = after;
        Ok(Some(LogCompaction {
            sst_bytes_before: before,
            sst_bytes_after: after,
        }))
    }

    /// Compacts the whole log column family now (blocking), dropping purged entries from disk.
    /// Other compactions go on meanwhile.
    pub fn compact(&self) -> Result<(), Error> {
        let raw = self.db.raw();
        let mut opts = rocksdb::CompactOptions::default();
        opts.set_exclusive_manual_compaction(false);
        opts.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::ForceOptimized);
        raw.compact_range_cf_opt(cf(raw, StateCf::Log)?, None::<&[u8]>, None::<&[u8]>, &opts);
        Ok(())
    }

    /// Returns the writer's counters.
    pub fn stats(&self) -> LogStats {
        let c = &self.counters;
        LogStats {
            requests: c.requests.load(Ordering::Relaxed),
            entries: c.entries.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
            fsyncs: c.fsyncs.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            lingers: c.lingers.load(Ordering::Relaxed),
            linger_timeouts: c.linger_timeouts.load(Ordering::Relaxed),
        }
    }

    /// Stops the writer thread after it has written everything already submitted. Later
    /// submissions complete with [`Error::WriterStopped`].
    pub fn shutdown(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle
            && h.join().is_err()
        {
            tracing::error!("raft log writer thread panicked");
        }
    }
}

impl Drop for RaftLog {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Submits a request with `submit` and blocks the calling (non-async) thread until it completes.
///
/// For synchronous callers and tests: `wait(|done| log.append(group, entries, done))`.
pub fn wait(submit: impl FnOnce(Completion)) -> Result<(), Error> {
    let (tx, rx) = mpsc::sync_channel(1);
    submit(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    rx.recv().unwrap_or(Err(Error::WriterStopped))
}

#[cfg(test)]
mod tests;
