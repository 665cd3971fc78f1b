//! Compacting the head records of idle series.
//!
//! While a series receives samples, every flush adds one small XOR segment record (≈ 2.2–3 bytes
//! per sample with its key). Once a series received nothing for a whole flush interval (the load
//! stopped, the node is shutting down, or the series went quiet), its segment records are
//! replaced by one record holding the whole open chunk in the smallest exact encoding
//! (`Chunk::encode`, ≈ 0.7–0.9 bytes per sample on scraped data), so a stopped node keeps its
//! open chunks about as compactly as its closed ones. Under steady load no series qualifies, so
//! ingestion pays nothing for it.
//!
//! Record layout (`docs/format/rocksdb.md`): a segment written by this version is a run of the
//! open chunk's bit stream, `0x00 0x00 0xff ‖ XorRun::encode()` (the bits the chunk gained since
//! the previous flush, taken as they are: no second encoding of each sample). The compacted
//! record takes the sequence number of the last segment it replaces, and its value is
//! `0x00 0x00 ‖ Chunk::to_bytes()`, whose third byte is an encoding tag (1 or 2), never `0xff`.
//! Segments written by earlier versions are whole XOR chunks; they never start with two zero
//! bytes (that would be an XOR chunk of zero samples, which is never written), so recovery tells
//! the three apart by value.

use std::collections::{HashMap, HashSet};

use rocksdb::WriteBatch;
use strata_codec::{Chunk, XorRun};

use super::Shard;
use crate::db::CF_HEAD;
use crate::error::Result;
use crate::keys::{self, SeriesRef};

/// Value prefix of a compacted head record (a zero XOR sample count).
pub(super) const COMPACT_SEGMENT_TAG: [u8; 2] = [0, 0];

/// Value prefix of a segment that is a run of the open chunk's bit stream.
const RUN_SEGMENT_TAG: [u8; 3] = [0, 0, 0xff];

/// Series whose head records are one compacted record: ref → (open chunk start time, seq of the
/// record). Lets later flushes skip them until the series changes.
pub(super) type CompactedHeads = HashMap<SeriesRef, (i64, u32)>;

/// What one head record (other than the labels) holds.
pub(super) enum HeadRecord {
    /// Samples continuing the open chunk as a run of its bits (this version's segments).
    Run(XorRun),
    /// Samples as a chunk of their own (segments of earlier versions, compacted records).
    Samples(Chunk),
}

/// Returns the value of a segment record holding `run`.
pub(crate) fn segment_value(run: &XorRun) -> Vec<u8> {
    let mut v = Vec::with_capacity(RUN_SEGMENT_TAG.len() + 8 + run.num_samples() * 2);
    v.extend_from_slice(&RUN_SEGMENT_TAG);
    run.encode(&mut v);
    v
}

/// Parses a head record value: a run segment, an older whole-chunk segment or a compacted
/// record.
pub(super) fn decode_segment(v: &[u8]) -> std::result::Result<HeadRecord, strata_codec::Error> {
    if let Some(rest) = v.strip_prefix(&RUN_SEGMENT_TAG[..]) {
        return XorRun::decode(rest).map(HeadRecord::Run);
    }
    match v.strip_prefix(&COMPACT_SEGMENT_TAG[..]) {
        Some(rest) => Chunk::from_bytes(rest).map(HeadRecord::Samples),
        None => Chunk::from_xor(v.to_vec()).map(HeadRecord::Samples),
    }
}

/// Returns whether a head record value is a compacted record.
pub(super) fn is_compacted_segment(v: &[u8]) -> bool {
    v.starts_with(&COMPACT_SEGMENT_TAG) && !v.starts_with(&RUN_SEGMENT_TAG)
}

/// One series to compact: its ref, open chunk start, last segment seq and a copy of its open
/// chunk.
struct Job {
    r: SeriesRef,
    mint: i64,
    last_seq: u32,
    open: Chunk,
}

impl Shard {
    /// Replaces the segment records of every idle head series by one compacted record. Called at
    /// the end of a flush, under the flush lock; `fresh` are the series that got a new segment
    /// in that flush (they are not idle). Returns the number of series compacted.
    pub(super) fn compact_idle_heads(&self, fresh: &HashSet<SeriesRef>) -> Result<usize> {
        let mut jobs = Vec::new();
        let live;
        {
            let head = self.read_head()?;
            live = head.live_series();
            let mut done = self.lock_compacted()?;
            let mut kept = CompactedHeads::with_capacity(done.len());
            for (_, s) in head.iter_live() {
                // Only series whose every sample is in its segments on disk: persisted, no
                // sample since the last flush, no cut chunk whose segments await deletion.
                let unflushed = s.open.num_samples() > s.seg_mark.samples();
                if !s.persisted || s.segs_stale || unflushed || fresh.contains(&s.r) {
                    continue;
                }
                let (Some(mint), Some(last_seq)) = (s.open.min_time(), s.next_seg.checked_sub(1))
                else {
                    continue;
                };
                if last_seq == 0 {
                    continue;
                }
                if done.get(&s.r) == Some(&(mint, last_seq)) {
                    kept.insert(s.r, (mint, last_seq));
                    continue;
                }
                jobs.push(Job {
                    r: s.r,
                    mint,
                    last_seq,
                    open: s.open.to_chunk(),
                });
            }
            for j in &jobs {
                kept.insert(j.r, (j.mint, j.last_seq));
            }
            *done = kept;
        }
        if jobs.is_empty() {
            return Ok(0);
        }
        // Encoding runs without the head lock; the flush lock keeps other flushes (the only
        // writers of head records) out until the batch is written. Anything `apply` does
        // meanwhile (new samples, a cut, an eviction) is written by a later flush, after ours.
        let head_cf = self.db.cf(CF_HEAD)?;
        let mut batch = WriteBatch::default();
        let mut compacted = 0;
        for j in jobs {
            let value = match compact_value(&j.open) {
                Ok(v) => v,
                Err(e) => {
                    // The segments on disk stay valid; only the space saving is lost.
                    tracing::warn!(shard = %self.id, series = %j.r.id, error = %e,
                        "not compacting head records");
                    continue;
                }
            };
            let last = keys::head_key(self.id, j.r, j.last_seq);
            if j.last_seq > 1 {
                batch.delete_range_cf(head_cf, keys::head_key(self.id, j.r, 1), last.clone());
            }
            batch.put_cf(head_cf, last, value);
            compacted += 1;
        }
        if let Err(e) = self.db.write_sync(batch) {
            self.poison();
            return Err(e);
        }
        tracing::debug!(shard = %self.id, series = compacted, "compacted idle head series");
        if compacted > 0 && compacted * 2 >= live {
            // Most of the head went idle (the load stopped, or the node is shutting down): the
            // replaced segments may already sit in SST files, where the range deletions above
            // free nothing until RocksDB compacts them. Compact the shard's head range now; it is
            // small (a few KB per series).
            let start = keys::shard_prefix(self.id);
            let end = keys::prefix_successor(&start);
            self.db
                .raw()
                .compact_range_cf(head_cf, Some(start.as_slice()), end.as_deref());
        }
        Ok(compacted)
    }
}

/// Re-encodes an open chunk as a compacted head record value.
fn compact_value(open: &Chunk) -> std::result::Result<Vec<u8>, strata_codec::Error> {
    let chunk = open.recoded()?;
    let mut value = Vec::with_capacity(2 + chunk.size_bytes());
    value.extend_from_slice(&COMPACT_SEGMENT_TAG);
    value.extend_from_slice(&chunk.to_bytes());
    Ok(value)
}
