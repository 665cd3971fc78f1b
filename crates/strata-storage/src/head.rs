//! The head: the in-memory part of a shard. One open XOR chunk per active series, the chunks cut
//! but not yet flushed, an inverted index of head series, and the deterministic scalars that
//! decide which samples are accepted.
//!
//! Everything `apply` decides depends only on the head's state and the entry, never on when
//! flushes ran, so every replica that applies the same log reaches the same state (see
//! `docs/storage.md`, "Determinism").

mod append;
mod flush;
mod gc;
mod index;
mod read;

use std::collections::HashMap;
use std::hash::BuildHasher;

use strata_codec::{Chunk, XorAppender, XorMark};
use strata_model::ShardId;

use crate::config::StorageConfig;
use crate::keys::SeriesRef;

pub(crate) use flush::{FlushPlan, PlannedChunk, PlannedSeries};
pub(crate) use index::{MemIndex, label_pairs as index_label_pairs};
pub(crate) use read::{HeadChunk, HeadSelected};

/// A cut chunk still held in memory: not yet flushed, or kept to check out-of-order samples.
#[derive(Debug, Clone)]
pub(crate) struct ClosedChunk {
    pub(crate) chunk: Chunk,
    /// `Some(seq)` for a chunk of out-of-order samples (stored under an out-of-order key).
    pub(crate) ooo_seq: Option<u64>,
    /// Whether the chunk is durable in RocksDB.
    pub(crate) flushed: bool,
}

/// The head state of one series.
#[derive(Debug)]
pub(crate) struct HeadSeries {
    /// Canonical label bytes, one allocation.
    pub(crate) labels: Box<[u8]>,
    pub(crate) r: SeriesRef,
    /// Distinguishes incarnations of one ref across eviction (memory only).
    pub(crate) incarnation: u64,
    /// The open chunk; never empty (a series is created with its first sample).
    pub(crate) open: XorAppender,
    /// Where `open` stood at the last flush: the next segment is the run of bits after it.
    pub(crate) seg_mark: XorMark,
    pub(crate) closed: Vec<ClosedChunk>,
    /// Accepted out-of-order samples not yet flushed, sorted by time.
    pub(crate) ooo: Option<Vec<(i64, f64)>>,
    /// Sequence number of the next segment record of `open`.
    pub(crate) next_seg: u32,
    /// Whether the segments on disk belong to an earlier (cut) chunk and must be deleted.
    pub(crate) segs_stale: bool,
    /// Whether the label record of this head series is on disk.
    pub(crate) persisted: bool,
    /// Highest partition for which postings and the registry entry were written.
    pub(crate) posted_partition: Option<i64>,
}

impl HeadSeries {
    /// Returns the last in-order sample (time, value bits).
    pub(crate) fn last(&self) -> Option<(i64, f64)> {
        self.open.last()
    }

    /// Returns the earliest timestamp held in memory.
    pub(crate) fn min_time(&self) -> Option<i64> {
        let closed = self.closed.iter().map(|c| c.chunk.min_time()).min();
        let ooo = self.ooo.as_ref().and_then(|o| o.first().map(|s| s.0));
        [closed, ooo, self.open.min_time()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Returns the latest timestamp held in memory.
    pub(crate) fn max_time(&self) -> Option<i64> {
        let closed = self.closed.iter().map(|c| c.chunk.max_time()).max();
        [closed, self.open.max_time()].into_iter().flatten().max()
    }

    /// Returns the number of chunks held in memory (open included).
    pub(crate) fn chunk_count(&self) -> usize {
        self.closed.len() + usize::from(self.open.num_samples() > 0)
    }
}

/// The scalars that `apply` depends on besides the series; persisted with the durable index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scalars {
    /// Last applied Raft log index.
    pub(crate) applied: u64,
    /// Newest accepted sample time of the shard (`i64::MIN` before the first).
    pub(crate) watermark: i64,
    /// Newest last-sample time of any evicted series: new series must start after it.
    pub(crate) evict_horizon: i64,
    /// Watermark at which the next idle-series eviction runs.
    pub(crate) next_gc_at: i64,
    /// Next sequence number for out-of-order chunk keys.
    pub(crate) next_ooo_seq: u64,
}

impl Default for Scalars {
    fn default() -> Self {
        Scalars {
            applied: 0,
            watermark: i64::MIN,
            evict_horizon: i64::MIN,
            next_gc_at: i64::MIN,
            next_ooo_seq: 1,
        }
    }
}

const SCALARS_VERSION: u8 = 1;

impl Scalars {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(41);
        v.push(SCALARS_VERSION);
        v.extend_from_slice(&self.applied.to_le_bytes());
        v.extend_from_slice(&self.watermark.to_le_bytes());
        v.extend_from_slice(&self.evict_horizon.to_le_bytes());
        v.extend_from_slice(&self.next_gc_at.to_le_bytes());
        v.extend_from_slice(&self.next_ooo_seq.to_le_bytes());
        v
    }

    pub(crate) fn decode(b: &[u8]) -> Option<Scalars> {
        if b.len() != 41 || b[0] != SCALARS_VERSION {
            return None;
        }
        let word = |i: usize| -> Option<[u8; 8]> { b.get(1 + i * 8..9 + i * 8)?.try_into().ok() };
        Some(Scalars {
            applied: u64::from_le_bytes(word(0)?),
            watermark: i64::from_le_bytes(word(1)?),
            evict_horizon: i64::from_le_bytes(word(2)?),
            next_gc_at: i64::from_le_bytes(word(3)?),
            next_ooo_seq: u64::from_le_bytes(word(4)?),
        })
    }
}

/// The head's copy of the settings it needs, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadConfig {
    pub(crate) retention_ms: i64,
    pub(crate) ooo_window_ms: i64,
    pub(crate) partition_width_ms: i64,
    pub(crate) chunk_max_samples: usize,
    pub(crate) chunk_max_range_ms: i64,
    pub(crate) chunk_max_bytes: usize,
    pub(crate) idle_ms: i64,
}

impl HeadConfig {
    pub(crate) fn new(c: &StorageConfig) -> Self {
        HeadConfig {
            retention_ms: c.retention_ms(),
            ooo_window_ms: c.ooo_window_ms(),
            partition_width_ms: c.partition_width_ms(),
            chunk_max_samples: c.chunk_max_samples as usize,
            chunk_max_range_ms: c.chunk_max_range_ms(),
            chunk_max_bytes: usize::try_from(c.chunk_max_bytes).unwrap_or(usize::MAX),
            idle_ms: c.head_idle_ms(),
        }
    }

    /// Returns the partition holding time `t`.
    pub(crate) fn partition(&self, t: i64) -> i64 {
        t.div_euclid(self.partition_width_ms)
    }
}

/// Counters of the head, reported by `Shard::stats`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HeadCounters {
    pub(crate) samples_appended: u64,
    pub(crate) samples_duplicate: u64,
    pub(crate) samples_rejected: u64,
    pub(crate) series_created: u64,
    pub(crate) series_evicted: u64,
    pub(crate) chunks_cut: u64,
}

/// Hashes series ids for the head's maps: one keyed 64×64→128-bit multiply, folded.
///
/// Ids are already xxh3 hashes, so SipHash's strength buys little here while it costs a
/// noticeable share of every sample's apply (each sample looks its series up by id). The keys
/// are random per map, so ids crafted to collide in the low bits still spread over buckets.
#[derive(Debug, Clone)]
pub(crate) struct IdHashBuilder {
    k0: u64,
    k1: u64,
}

impl IdHashBuilder {
    pub(crate) fn new() -> Self {
        let rs = std::hash::RandomState::new();
        IdHashBuilder {
            k0: rs.hash_one(0x243F_6A88_85A3_08D3u64),
            k1: rs.hash_one(0x1319_8A2E_0370_7344u64) | 1,
        }
    }
}

impl BuildHasher for IdHashBuilder {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher {
            state: self.k0,
            k1: self.k1,
        }
    }
}

/// The hasher of [`IdHashBuilder`].
#[derive(Debug, Clone)]
pub(crate) struct IdHasher {
    state: u64,
    k1: u64,
}

impl IdHasher {
    fn mix(&mut self, v: u64) {
        let p = u128::from(self.state ^ v) * u128::from(self.k1);
        self.state = (p as u64) ^ ((p >> 64) as u64);
    }
}

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.mix(v);
    }

    fn finish(&self) -> u64 {
        self.state
    }
}

/// The in-memory state of one shard.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) shard: ShardId,
    pub(crate) cfg: HeadConfig,
    series: Vec<Option<HeadSeries>>,
    free: Vec<u32>,
    live: usize,
    /// First slot of each series id.
    by_id: HashMap<u64, u32, IdHashBuilder>,
    /// Further slots of ids shared by several label sets (hash collisions).
    collided: HashMap<u64, Vec<u32>, IdHashBuilder>,
    index: MemIndex,
    /// Evicted series whose chunks are not all flushed yet.
    pub(crate) retired: Vec<HeadSeries>,
    pub(crate) scalars: Scalars,
    pub(crate) counters: HeadCounters,
    next_incarnation: u64,
}

impl Head {
    pub(crate) fn new(shard: ShardId, cfg: HeadConfig, scalars: Scalars) -> Self {
        Head {
            shard,
            cfg,
            series: Vec::new(),
            free: Vec::new(),
            live: 0,
            by_id: HashMap::with_hasher(IdHashBuilder::new()),
            collided: HashMap::with_hasher(IdHashBuilder::new()),
            index: MemIndex::default(),
            retired: Vec::new(),
            scalars,
            counters: HeadCounters::default(),
            next_incarnation: 1,
        }
    }

    /// Returns the number of series in the head (retired ones excluded).
    pub(crate) fn live_series(&self) -> usize {
        self.live
    }

    /// Returns the number of chunks held in memory.
    pub(crate) fn chunk_count(&self) -> usize {
        self.iter_live()
            .map(|(_, s)| s.chunk_count())
            .sum::<usize>()
            + self
                .retired
                .iter()
                .map(HeadSeries::chunk_count)
                .sum::<usize>()
    }

    /// Iterates the live series with their slots.
    pub(crate) fn iter_live(&self) -> impl Iterator<Item = (u32, &HeadSeries)> {
        self.series
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i as u32, s)))
    }

    pub(crate) fn get(&self, slot: u32) -> Option<&HeadSeries> {
        self.series.get(slot as usize).and_then(Option::as_ref)
    }

    fn get_mut(&mut self, slot: u32) -> Option<&mut HeadSeries> {
        self.series.get_mut(slot as usize).and_then(Option::as_mut)
    }

    /// Returns the first slot of a live series with id `id`, if any.
    pub(crate) fn by_id_first(&self, id: u64) -> Option<u32> {
        self.by_id.get(&id).copied()
    }

    /// Returns whether several live label sets share id `id`.
    pub(crate) fn has_collisions(&self, id: u64) -> bool {
        !self.collided.is_empty() && self.collided.contains_key(&id)
    }

    /// Returns the slots of live series with id `id` (usually zero or one).
    fn slots_of(&self, id: u64) -> impl Iterator<Item = u32> + '_ {
        let more = if self.collided.is_empty() {
            None
        } else {
            self.collided.get(&id)
        };
        self.by_id
            .get(&id)
            .copied()
            .into_iter()
            .chain(more.into_iter().flatten().copied())
    }

    /// Returns the slot of the live series with these canonical labels and id.
    pub(crate) fn find(&self, id: u64, labels: &[u8]) -> Option<u32> {
        self.slots_of(id)
            .find(|&s| self.get(s).is_some_and(|h| &*h.labels == labels))
    }

    /// Returns the slot of the live series with ref `r`.
    pub(crate) fn find_ref(&self, r: SeriesRef) -> Option<u32> {
        self.slots_of(r.id.0)
            .find(|&s| self.get(s).is_some_and(|h| h.r == r))
    }

    /// Inserts a new series and indexes it; returns its slot.
    pub(crate) fn insert(&mut self, mut s: HeadSeries) -> u32 {
        s.incarnation = self.next_incarnation;
        self.next_incarnation += 1;
        let slot = match self.free.pop() {
            Some(i) => i,
            None => {
                self.series.push(None);
                (self.series.len() - 1) as u32
            }
        };
        let id = s.r.id.0;
        match self.by_id.get(&id) {
            None => {
                self.by_id.insert(id, slot);
            }
            Some(_) => self.collided.entry(id).or_default().push(slot),
        }
        self.index.add(slot, &s.labels);
        self.series[slot as usize] = Some(s);
        self.live += 1;
        slot
    }

    /// Removes a series from the head and the index; returns it.
    pub(crate) fn remove(&mut self, slot: u32) -> Option<HeadSeries> {
        let s = self.series.get_mut(slot as usize)?.take()?;
        let id = s.r.id.0;
        if self.by_id.get(&id) == Some(&slot) {
            self.by_id.remove(&id);
            if let Some(mut rest) = self.collided.remove(&id) {
                if let Some(first) = rest.pop() {
                    self.by_id.insert(id, first);
                }
                if !rest.is_empty() {
                    self.collided.insert(id, rest);
                }
            }
        } else if let Some(list) = self.collided.get_mut(&id) {
            list.retain(|&x| x != slot);
            if list.is_empty() {
                self.collided.remove(&id);
            }
        }
        self.index.remove(slot, &s.labels);
        self.free.push(slot);
        self.live -= 1;
        Some(s)
    }

    /// Adds chunks already durable on disk to a series (restart with an out-of-order window).
    pub(crate) fn attach_flushed(&mut self, slot: u32, chunks: Vec<(Chunk, Option<u64>)>) {
        if let Some(s) = self.get_mut(slot) {
            s.closed
                .extend(chunks.into_iter().map(|(chunk, ooo_seq)| ClosedChunk {
                    chunk,
                    ooo_seq,
                    flushed: true,
                }));
        }
    }

    /// Returns the earliest time held in memory by any series, if any.
    pub(crate) fn min_time(&self) -> Option<i64> {
        self.iter_live()
            .map(|(_, s)| s)
            .chain(self.retired.iter())
            .filter_map(HeadSeries::min_time)
            .min()
    }

    pub(crate) fn index(&self) -> &MemIndex {
        &self.index
    }

    /// Returns the approximate heap bytes held per series structure (for stats).
    pub(crate) fn approx_memory_bytes(&self) -> usize {
        let per_slot = std::mem::size_of::<Option<HeadSeries>>();
        let mut total = self.series.capacity() * per_slot + self.index.approx_bytes();
        total += (self.by_id.capacity()) * 16;
        for (_, s) in self.iter_live() {
            total += s.labels.len() + s.open.size_bytes();
            total += s
                .closed
                .iter()
                .map(|c| c.chunk.size_bytes() + 48)
                .sum::<usize>();
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_round_trip() {
        let s = Scalars {
            applied: 7,
            watermark: -3,
            evict_horizon: 99,
            next_gc_at: i64::MIN,
            next_ooo_seq: 5,
        };
        assert_eq!(Scalars::decode(&s.encode()), Some(s));
        assert_eq!(Scalars::decode(&s.encode()[..40]), None);
    }
}

#[cfg(test)]
mod reference_tests;
