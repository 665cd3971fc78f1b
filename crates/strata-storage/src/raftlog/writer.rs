//! The group-commit log writer: one thread per node turns every queued log write into one synced
//! RocksDB `WriteBatch`.
//!
//! Requests arrive over a channel from every Raft group. The thread blocks for the first request,
//! then drains whatever else is already queued (bounded by [`MAX_BATCH_REQUESTS`] and
//! [`MAX_BATCH_BYTES`]), writes it all with one `write_opt` (synced when any request asked for
//! durability), and only then runs each request's completion. While a write is on disk, new
//! requests queue up and go into the next batch, so the fsync rate stays at most one per disk
//! round trip no matter how many groups or clients write.
//!
//! Requests are applied in the order they were queued, so a truncate or purge queued after an
//! append never overtakes it.
//!
//! Across groups, a remote write request becomes one entry per shard, proposed together, whose
//! appends reach this thread moments apart (each group's Raft task runs when a runtime worker
//! is free): without help the first would be written and fsynced alone and the others wait for
//! the next fsync. So the write path announces its proposals per group
//! ([`super::RaftLog::announce_appends`]) and each append takes its entries off its group's
//! count before it is queued. Before a synced write the thread waits (at most [`LINGER`]) while
//! a group that has announced appends has none in the batch yet. A group already in the batch
//! is not waited for: a further append of it may be held by its Raft task until the one in the
//! batch is on disk, and waiting for it would only run into the time limit. Groups share [`ANNOUNCE_SLOTS`] counters by index modulo, which only makes the
//! wait less precise. An announcement that never turns into an append (a failed proposal)
//! costs one wait: a wait that times out clears the counts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use rocksdb::{WriteBatch, WriteOptions};

use super::{Error, StateCf};
use crate::db::Db;

/// Most requests merged into one write.
pub(super) const MAX_BATCH_REQUESTS: usize = 4096;
/// Most payload bytes merged into one write (a single larger request is still written alone).
pub(super) const MAX_BATCH_BYTES: usize = 64 << 20;

/// Longest wait for announced appends before a synced write.
pub(super) const LINGER: Duration = Duration::from_micros(1000);

/// Counters of announced appends, shared by groups modulo this number.
pub(super) const ANNOUNCE_SLOTS: usize = 64;

/// Runs once the request's write is on disk (or failed).
pub type Completion = Box<dyn FnOnce(Result<(), Error>) + Send + 'static>;

/// One mutation of a log column family.
#[derive(Debug)]
pub(super) enum Op {
    /// Sets `key` to `value`.
    Put {
        cf: StateCf,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// Deletes keys in `[from, to)`.
    DeleteRange {
        cf: StateCf,
        from: Vec<u8>,
        to: Vec<u8>,
    },
}

impl Op {
    fn bytes(&self) -> usize {
        match self {
            Op::Put { key, value, .. } => key.len() + value.len(),
            Op::DeleteRange { from, to, .. } => from.len() + to.len(),
        }
    }
}

/// A unit of work for the writer thread.
pub(super) struct Request {
    pub(super) ops: Vec<Op>,
    /// Whether the write must be fsynced before `done` runs.
    pub(super) sync: bool,
    /// Log entries carried (for statistics only).
    pub(super) entries: u64,
    /// The announce slot of the group an append is for; `None` for other requests.
    pub(super) slot: Option<usize>,
    pub(super) done: Completion,
}

/// Counters of the writer thread, shared with readers of statistics.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) requests: AtomicU64,
    pub(super) entries: AtomicU64,
    pub(super) writes: AtomicU64,
    pub(super) fsyncs: AtomicU64,
    pub(super) bytes: AtomicU64,
    pub(super) failures: AtomicU64,
    /// Per group slot: appends announced by the write path and not yet queued (module docs).
    pub(super) announced: Announced,
    /// Synced writes that waited for announced appends, and how many of those waits timed out.
    pub(super) lingers: AtomicU64,
    pub(super) linger_timeouts: AtomicU64,
}

/// The per-slot counts of announced appends.
#[derive(Debug)]
pub(super) struct Announced(pub(super) [AtomicU64; ANNOUNCE_SLOTS]);

impl Default for Announced {
    fn default() -> Self {
        Announced(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

/// Runs the writer loop until every sender is dropped.
pub(super) fn run(db: Arc<Db>, rx: Receiver<Request>, counters: Arc<Counters>, linger: Duration) {
    let mut pending: Option<Request> = None;
    loop {
        let first = match pending.take() {
            Some(r) => r,
            None => match rx.recv() {
                Ok(r) => r,
                Err(_) => return,
            },
        };
        let mut bytes: usize = first.ops.iter().map(Op::bytes).sum();
        let mut requests = vec![first];
        let mut take = |r: Request, requests: &mut Vec<Request>, pending: &mut Option<Request>| {
            let b: usize = r.ops.iter().map(Op::bytes).sum();
            if bytes + b > MAX_BATCH_BYTES {
                *pending = Some(r);
                return false;
            }
            bytes += b;
            requests.push(r);
            requests.len() < MAX_BATCH_REQUESTS && bytes < MAX_BATCH_BYTES
        };
        let mut room = true;
        while room {
            match rx.try_recv() {
                Ok(r) => room = take(r, &mut requests, &mut pending),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        if room && requests.iter().any(|r| r.sync) && awaited(&counters, &requests) {
            counters.lingers.fetch_add(1, Ordering::Relaxed);
            let deadline = Instant::now() + linger;
            while room && awaited(&counters, &requests) {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(r) => room = take(r, &mut requests, &mut pending),
                    Err(RecvTimeoutError::Timeout) => {
                        counters.linger_timeouts.fetch_add(1, Ordering::Relaxed);
                        for a in &counters.announced.0 {
                            a.store(0, Ordering::Release);
                        }
                        break;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        }
        let result = write_requests(&db, &mut requests);
        let sync = requests.iter().any(|r| r.sync);
        let entries: u64 = requests.iter().map(|r| r.entries).sum();
        counters
            .requests
            .fetch_add(requests.len() as u64, Ordering::Relaxed);
        counters.entries.fetch_add(entries, Ordering::Relaxed);
        counters.writes.fetch_add(1, Ordering::Relaxed);
        counters.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        if sync {
            counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        }
        if let Err(e) = &result {
            counters.failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, requests = requests.len(), "raft log write failed");
        }
        for r in requests {
            (r.done)(result.clone());
        }
    }
}

/// Returns whether a group slot has announced appends and no append in `requests` yet.
fn awaited(counters: &Counters, requests: &[Request]) -> bool {
    let mut present = [false; ANNOUNCE_SLOTS];
    for r in requests {
        if let Some(s) = r.slot {
            present[s % ANNOUNCE_SLOTS] = true;
        }
    }
    counters
        .announced
        .0
        .iter()
        .zip(present)
        .any(|(a, p)| !p && a.load(Ordering::Acquire) > 0)
}

fn write_requests(db: &Db, requests: &mut [Request]) -> Result<(), Error> {
    let raw = db.raw();
    let log_cf = super::cf(raw, StateCf::Log)?;
    let state_cf = super::cf(raw, StateCf::State)?;
    let mut batch = WriteBatch::default();
    let mut sync = false;
    for r in requests.iter_mut() {
        sync |= r.sync;
        for op in r.ops.drain(..) {
            match op {
                Op::Put { cf, key, value } => {
                    let h = if cf == StateCf::Log { log_cf } else { state_cf };
                    batch.put_cf(h, key, value);
                }
                Op::DeleteRange { cf, from, to } => {
                    let h = if cf == StateCf::Log { log_cf } else { state_cf };
                    batch.delete_range_cf(h, from, to);
                }
            }
        }
    }
    let mut opts = WriteOptions::default();
    opts.set_sync(sync);
    raw.write_opt(batch, &opts)
        .map_err(|e| Error::Write(e.to_string()))
}
