//! [`Shard`]: the state machine of one shard replica.
//!
//! Concurrency: the head sits behind a read-write lock (`apply` and the end of a flush write,
//! queries read); one flush runs at a time; chunk encoding and the RocksDB write of a flush run
//! without the head lock, so ingestion goes on meanwhile.

mod compact;

pub(crate) use compact::segment_value;
mod disk;
mod flush;
mod open;
mod retention;
mod select;
mod snapshot;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use strata_model::{SeriesId, ShardBatch, ShardId, WriteOutcome};

use crate::config::StorageConfig;
use crate::db::{CF_SERIES, Db};
use crate::error::{Error, Result};
use crate::head::Head;
use crate::keys;

pub use retention::RetentionStats;
pub use select::SelectedSeries;
pub use snapshot::shard_key_ranges;

/// Counters and gauges of one shard, for `/metrics` and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardStats {
    /// Series in the head (with an open chunk).
    pub head_series: u64,
    /// Evicted series whose chunks wait for the next flush.
    pub retired_series: u64,
    /// Chunks held in memory (open and closed).
    pub head_chunks: u64,
    /// Estimated heap bytes of the head (series, chunks, index).
    pub head_memory_bytes: u64,
    /// Samples appended since the shard was opened (replays included).
    pub samples_appended: u64,
    /// Samples ignored as exact duplicates.
    pub samples_duplicate: u64,
    /// Samples refused (out of order, too old, duplicate timestamp).
    pub samples_rejected: u64,
    /// Series created in the head.
    pub series_created: u64,
    /// Series evicted from the head as idle.
    pub series_evicted: u64,
    /// Chunks cut in the head.
    pub chunks_cut: u64,
    /// Closed chunks written to RocksDB.
    pub chunks_flushed: u64,
    /// Bytes of chunk values written to RocksDB (after re-encoding, before RocksDB compression).
    pub chunk_bytes_flushed: u64,
    /// Samples in the chunks written to RocksDB.
    pub samples_flushed: u64,
    /// Head segment records written (the partial-chunk tails).
    pub segments_flushed: u64,
    /// Flushes that wrote something.
    pub flushes: u64,
    /// Last applied Raft log index.
    pub applied_index: u64,
    /// Raft log index up to which everything is durable in RocksDB.
    pub durable_index: u64,
    /// Bytes of the entries applied since the last flush ([`Shard::unflushed_bytes`]).
    pub unflushed_bytes: u64,
    /// Time partitions with data on disk.
    pub partitions: u64,
}

#[derive(Debug, Default)]
struct FlushCounters {
    chunks: AtomicU64,
    chunk_bytes: AtomicU64,
    samples: AtomicU64,
    segments: AtomicU64,
    flushes: AtomicU64,
}

/// The state machine of one shard: an in-memory head over the shard's key ranges in the node's
/// shared RocksDB. `Send + Sync`; all methods take `&self`.
#[derive(Debug)]
pub struct Shard {
    db: Arc<Db>,
    id: ShardId,
    config: StorageConfig,
    head: RwLock<Head>,
    /// Partitions with data on disk; changed only under the head write lock.
    partitions: RwLock<BTreeSet<i64>>,
    flush_lock: Mutex<()>,
    /// Head series whose records are one compacted record (see `compact`).
    compacted: Mutex<compact::CompactedHeads>,
    poisoned: AtomicBool,
    durable: AtomicU64,
    applied: AtomicU64,
    /// Bytes of entries applied since the shard opened, and their value at the last flush.
    applied_bytes: AtomicU64,
    flushed_bytes: AtomicU64,
    flushed: FlushCounters,
}

impl Shard {
    /// Returns the shard id.
    pub fn id(&self) -> ShardId {
        self.id
    }

    /// Returns the configuration the shard was opened with.
    pub fn config(&self) -> &StorageConfig {
        &self.config
    }

    /// Returns the Raft log index up to which everything applied is persisted in RocksDB. After
    /// a restart the owner replays the entries after it through [`Shard::apply`].
    pub fn durable_index(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    /// Returns the index of the last applied entry.
    pub fn applied_index(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Returns the bytes of the entries applied since the last flush: what a restart would
    /// replay from the Raft log, and roughly what the head holds that is not on disk yet. The
    /// owner flushes early when it reaches `StorageConfig::flush_log_bytes`.
    pub fn unflushed_bytes(&self) -> u64 {
        self.applied_bytes
            .load(Ordering::Relaxed)
            .saturating_sub(self.flushed_bytes.load(Ordering::Relaxed))
    }

    /// Applies the entry at `index` to the head (memory only; see [`Shard::flush`]). Entries at
    /// or below the applied index are ignored, so replays are idempotent. Deterministic: every
    /// replica applying the same entries reaches the same state and outcome.
    pub fn apply(&self, index: u64, batch: &ShardBatch) -> Result<WriteOutcome> {
        self.check_poisoned()?;
        let mut head = self.write_head()?;
        if index <= head.scalars.applied {
            return Ok(WriteOutcome::default());
        }
        let mut registry = |id: SeriesId| self.registry_lookup(id);
        let result = head.apply_batch(index, batch, &mut registry);
        self.applied.store(head.scalars.applied, Ordering::Release);
        self.applied_bytes
            .fetch_add(batch.as_bytes().len() as u64, Ordering::Relaxed);
        if result.is_err() {
            // The head may hold part of the entry: its state is undefined from here on.
            self.poison();
        }
        result
    }

    /// Returns `batch` with every series the head holds named by its reference instead of its
    /// labels (the compact Raft entry form, see `strata_model::batch`), or `None` when the head
    /// holds none of them (or is poisoned). Read-locks the head.
    pub fn reference_known_series(&self, batch: &ShardBatch) -> Option<ShardBatch> {
        self.read_head().ok()?.reference_known_series(batch)
    }

    /// Advances the applied index over an entry that carries no samples (a membership change or
    /// a blank leader entry), so that the durable index can move past it.
    pub fn advance_applied(&self, index: u64) -> Result<()> {
        self.check_poisoned()?;
        let mut head = self.write_head()?;
        head.scalars.applied = head.scalars.applied.max(index);
        self.applied.store(head.scalars.applied, Ordering::Release);
        Ok(())
    }

    /// Returns the shard's counters.
    pub fn stats(&self) -> ShardStats {
        let head = self.head.read().unwrap_or_else(|e| e.into_inner());
        let partitions = self
            .partitions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len() as u64;
        let c = head.counters;
        ShardStats {
            head_series: head.live_series() as u64,
            retired_series: head.retired.len() as u64,
            head_chunks: head.chunk_count() as u64,
            head_memory_bytes: head.approx_memory_bytes() as u64,
            samples_appended: c.samples_appended,
            samples_duplicate: c.samples_duplicate,
            samples_rejected: c.samples_rejected,
            series_created: c.series_created,
            series_evicted: c.series_evicted,
            chunks_cut: c.chunks_cut,
            chunks_flushed: self.flushed.chunks.load(Ordering::Relaxed),
            chunk_bytes_flushed: self.flushed.chunk_bytes.load(Ordering::Relaxed),
            samples_flushed: self.flushed.samples.load(Ordering::Relaxed),
            segments_flushed: self.flushed.segments.load(Ordering::Relaxed),
            flushes: self.flushed.flushes.load(Ordering::Relaxed),
            applied_index: head.scalars.applied,
            durable_index: self.durable_index(),
            unflushed_bytes: self.unflushed_bytes(),
            partitions,
        }
    }

    /// Returns `(ordinal, canonical labels)` of every registry entry of series id `id`.
    fn registry_lookup(&self, id: SeriesId) -> Result<Vec<(u8, Vec<u8>)>> {
        let prefix = keys::series_id_prefix(self.id, id);
        let mut out = Vec::new();
        disk::scan_prefix(&self.db, CF_SERIES, None, &prefix, false, |k, v| {
            let ord = *k
                .get(prefix.len())
                .ok_or_else(|| self.corrupt("series key", "short"))?;
            let (_, labels) =
                keys::parse_series_value(v).ok_or_else(|| self.corrupt("series", "short value"))?;
            out.push((ord, labels.to_vec()));
            Ok(true)
        })?;
        Ok(out)
    }

    fn corrupt(&self, what: &'static str, detail: impl Into<String>) -> Error {
        Error::Corrupt {
            shard: self.id,
            what,
            detail: detail.into(),
        }
    }

    fn check_poisoned(&self) -> Result<()> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(Error::Poisoned(self.id));
        }
        Ok(())
    }

    fn poison(&self) {
        tracing::error!(shard = %self.id, "shard poisoned by a storage failure");
        self.poisoned.store(true, Ordering::Release);
    }

    fn read_head(&self) -> Result<RwLockReadGuard<'_, Head>> {
        self.head.read().map_err(|_| Error::Poisoned(self.id))
    }

    fn write_head(&self) -> Result<RwLockWriteGuard<'_, Head>> {
        self.head.write().map_err(|_| Error::Poisoned(self.id))
    }

    fn read_partitions(&self) -> Result<RwLockReadGuard<'_, BTreeSet<i64>>> {
        self.partitions.read().map_err(|_| Error::Poisoned(self.id))
    }

    fn write_partitions(&self) -> Result<RwLockWriteGuard<'_, BTreeSet<i64>>> {
        self.partitions
            .write()
            .map_err(|_| Error::Poisoned(self.id))
    }

    fn lock_flush(&self) -> Result<MutexGuard<'_, ()>> {
        self.flush_lock.lock().map_err(|_| Error::Poisoned(self.id))
    }

    fn lock_compacted(&self) -> Result<MutexGuard<'_, compact::CompactedHeads>> {
        self.compacted.lock().map_err(|_| Error::Poisoned(self.id))
    }
}

#[cfg(test)]
mod tests;
