//! The head's side of a flush: capturing what must be written (under the head lock), and
//! marking it durable once the write succeeded.

use strata_codec::Chunk;
use strata_model::ShardId;

use super::{ClosedChunk, Head, HeadSeries, Scalars};
use crate::error::{Error, Result};
use crate::keys::SeriesRef;

/// A chunk to write.
#[derive(Debug)]
pub(crate) struct PlannedChunk {
    pub(crate) chunk: Chunk,
    pub(crate) ooo_seq: Option<u64>,
    pub(crate) partition: i64,
}

/// What to write for one series.
#[derive(Debug)]
pub(crate) struct PlannedSeries {
    pub(crate) r: SeriesRef,
    pub(crate) incarnation: u64,
    /// The series was already evicted when the plan was made.
    pub(crate) retired: bool,
    /// Canonical labels, when a label record or postings are written.
    pub(crate) labels: Option<Box<[u8]>>,
    pub(crate) write_label_record: bool,
    /// Delete every head record of the series (it left the head).
    pub(crate) delete_head_records: bool,
    /// Delete the segments of an earlier open chunk.
    pub(crate) delete_segments: bool,
    /// A new segment: its sequence number and XOR bytes.
    pub(crate) segment: Option<(u32, Vec<u8>)>,
    pub(crate) chunks: Vec<PlannedChunk>,
    /// The highest partition already posted when the plan was made.
    pub(crate) posted_partition: Option<i64>,
}

/// Everything one flush writes.
#[derive(Debug)]
pub(crate) struct FlushPlan {
    /// The scalars (applied index included) that the written state corresponds to.
    pub(crate) scalars: Scalars,
    /// Retired series first, then live ones: deletes of an old incarnation precede the records
    /// of a new one with the same ref in the write batch.
    pub(crate) series: Vec<PlannedSeries>,
}

impl Head {
    /// Captures the state to persist and hands out the segments (they are not needed in memory
    /// any more). Must be followed by [`Head::commit_flush`] after a successful write; if the
    /// write fails the shard must stop.
    pub(crate) fn plan_flush(&mut self) -> Result<FlushPlan> {
        let cfg = self.cfg;
        let shard = self.shard;
        let mut series = Vec::new();
        let mut next_ooo_seq = self.scalars.next_ooo_seq;
        let mut retired = std::mem::take(&mut self.retired);
        for s in &mut retired {
            seal_ooo(s, &cfg, shard, &mut next_ooo_seq)?;
            let chunks = planned_chunks(s, &cfg);
            series.push(PlannedSeries {
                r: s.r,
                incarnation: s.incarnation,
                retired: true,
                labels: (!chunks.is_empty()).then(|| s.labels.clone()),
                write_label_record: false,
                delete_head_records: s.persisted,
                delete_segments: false,
                segment: None,
                chunks,
                posted_partition: s.posted_partition,
            });
        }
        self.retired = retired;
        let slots: Vec<u32> = self.iter_live().map(|(slot, _)| slot).collect();
        for slot in slots {
            let Some(s) = self.get_mut(slot) else {
                continue;
            };
            seal_ooo(s, &cfg, shard, &mut next_ooo_seq)?;
            let chunks = planned_chunks(s, &cfg);
            let segment = if s.open.num_samples() > s.seg_mark.samples() {
                let run = s.open.run_since(s.seg_mark).map_err(|e| Error::Codec {
                    shard,
                    detail: e.to_string(),
                })?;
                let seq = s.next_seg;
                s.next_seg += 1;
                s.seg_mark = s.open.mark();
                Some((seq, crate::shard::segment_value(&run)))
            } else {
                None
            };
            let write_label_record = !s.persisted;
            let delete_segments = s.segs_stale;
            if chunks.is_empty() && segment.is_none() && !write_label_record && !delete_segments {
                continue;
            }
            s.persisted = true;
            s.segs_stale = false;
            series.push(PlannedSeries {
                r: s.r,
                incarnation: s.incarnation,
                retired: false,
                labels: (write_label_record || !chunks.is_empty()).then(|| s.labels.clone()),
                write_label_record,
                delete_head_records: false,
                delete_segments,
                segment,
                chunks,
                posted_partition: s.posted_partition,
            });
        }
        self.scalars.next_ooo_seq = next_ooo_seq;
        Ok(FlushPlan {
            scalars: self.scalars,
            series,
        })
    }

    /// Marks the planned chunks durable and drops what memory no longer needs.
    pub(crate) fn commit_flush(&mut self, plan: &FlushPlan) {
        let window = self.cfg.ooo_window_ms;
        for p in &plan.series {
            let top = p.chunks.iter().map(|c| c.partition).max();
            let mark = |s: &mut HeadSeries| {
                for c in &mut s.closed {
                    if p.chunks.iter().any(|pc| {
                        pc.ooo_seq == c.ooo_seq && pc.chunk.min_time() == c.chunk.min_time()
                    }) {
                        c.flushed = true;
                    }
                }
                s.posted_partition = s.posted_partition.max(top);
            };
            let live = self.find_ref(p.r).filter(|&slot| {
                self.get(slot)
                    .is_some_and(|s| s.incarnation == p.incarnation)
            });
            if let Some(slot) = live {
                if let Some(s) = self.get_mut(slot) {
                    mark(s);
                    let horizon = s.last().map_or(i64::MIN, |(t, _)| t.saturating_sub(window));
                    s.closed
                        .retain(|c| !c.flushed || (window > 0 && c.chunk.max_time() >= horizon));
                }
            } else if let Some(s) = self
                .retired
                .iter_mut()
                .find(|s| s.incarnation == p.incarnation)
            {
                mark(s);
                s.closed.retain(|c| !c.flushed);
            }
        }
        // A retired series is done once its chunks are durable and, if planned while retired,
        // its head records were deleted by this flush.
        let planned_retired: Vec<u64> = plan
            .series
            .iter()
            .filter(|p| p.retired)
            .map(|p| p.incarnation)
            .collect();
        self.retired.retain(|s| {
            !(s.closed.is_empty() && s.ooo.is_none() && planned_retired.contains(&s.incarnation))
        });
    }
}

/// Turns the out-of-order buffer into closed chunks (one per partition) with fresh sequence
/// numbers.
fn seal_ooo(
    s: &mut HeadSeries,
    cfg: &super::HeadConfig,
    shard: ShardId,
    next_seq: &mut u64,
) -> Result<()> {
    let Some(buf) = s.ooo.take() else {
        return Ok(());
    };
    let mut rest: &[(i64, f64)] = &buf;
    while let Some(&(t0, _)) = rest.first() {
        let p = cfg.partition(t0);
        let n = rest
            .iter()
            .take(strata_codec::MAX_SAMPLES)
            .take_while(|x| cfg.partition(x.0) == p)
            .count();
        let (part, tail) = rest.split_at(n);
        let chunk = Chunk::try_encode(part).map_err(|e| Error::Codec {
            shard,
            detail: e.to_string(),
        })?;
        s.closed.push(ClosedChunk {
            chunk,
            ooo_seq: Some(*next_seq),
            flushed: false,
        });
        *next_seq += 1;
        rest = tail;
    }
    Ok(())
}

/// Returns copies of the closed chunks not yet durable.
fn planned_chunks(s: &HeadSeries, cfg: &super::HeadConfig) -> Vec<PlannedChunk> {
    s.closed
        .iter()
        .filter(|c| !c.flushed)
        .map(|c| PlannedChunk {
            chunk: c.chunk.clone(),
            ooo_seq: c.ooo_seq,
            partition: cfg.partition(c.chunk.min_time()),
        })
        .collect()
}
