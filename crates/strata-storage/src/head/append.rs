//! Applying a Raft entry to the head: series lookup and creation (with hash-collision
//! ordinals), in-order appends with chunk cutting, duplicates, out-of-order samples.

use strata_codec::{XorAppender, XorMark};
use strata_model::{
    BatchSeries, Labels, RejectReason, SampleRejection, SeriesId, ShardBatch, ShardBatchBuilder,
    WriteOutcome,
};

use super::{ClosedChunk, Head, HeadSeries};
use crate::error::{Error, Result};
use crate::keys::SeriesRef;

/// How many rejected samples an outcome names.
pub(crate) const KEEP_REJECTIONS: usize = 8;

/// Looks up the series registry: returns `(ordinal, canonical labels)` of every label set stored
/// under a series id.
pub(crate) type RegistryLookup<'a> = dyn FnMut(SeriesId) -> Result<Vec<(u8, Vec<u8>)>> + 'a;

/// What happened to one sample.
enum Verdict {
    Appended,
    Duplicate,
    Rejected(RejectReason),
}

impl Head {
    /// Applies one entry's batch. The caller has checked that `index` is new.
    pub(crate) fn apply_batch(
        &mut self,
        index: u64,
        batch: &ShardBatch,
        registry: &mut RegistryLookup<'_>,
    ) -> Result<WriteOutcome> {
        let mut out = WriteOutcome::default();
        self.warm_up(batch);
        let mut result = Ok(());
        batch.for_each_series(|s| {
            if result.is_ok() {
                result = self.apply_series(index, s, registry, &mut out);
            }
        });
        result?;
        self.scalars.applied = index;
        self.maybe_evict_idle();
        Ok(out)
    }

    /// Reads, for every series of `batch` named by a slot hint, its head state and the last
    /// byte of its open chunk, before the batch is applied. These loads do not depend on one
    /// another, so the processor overlaps their cache misses; applied series by series, each
    /// append waited for its own (the open chunks of a busy shard do not fit in the caches).
    fn warm_up(&self, batch: &ShardBatch) {
        let mut sum = 0u64;
        batch.for_each_series(|s| {
            if let Some(h) = s.slot_hint.and_then(|i| self.get(i)) {
                sum = sum.wrapping_add(u64::from(h.open.bytes().last().copied().unwrap_or(0)));
            }
        });
        std::hint::black_box(sum);
    }

    fn apply_series(
        &mut self,
        index: u64,
        s: BatchSeries<'_>,
        registry: &mut RegistryLookup<'_>,
        out: &mut WriteOutcome,
    ) -> Result<()> {
        // The label set this series names: sent as labels, or a reference the head resolves.
        let resolved: Vec<u8>;
        let (mut slot, labels): (Option<u32>, &[u8]) = match s.reference {
            None => (self.find(s.id.0, s.labels), s.labels),
            Some(ord) => {
                let r = SeriesRef { id: s.id, ord };
                // The hint is trusted only if the series there has this ref: refs are unique
                // among live series, so hint or lookup find the same one.
                let hinted = s
                    .slot_hint
                    .filter(|&i| self.get(i).is_some_and(|h| h.r == r));
                match hinted.or_else(|| self.find_ref(r)) {
                    Some(slot) => (Some(slot), &[]),
                    None => match self.resolve_ref(r, registry)? {
                        Some(l) => {
                            resolved = l;
                            (None, &resolved)
                        }
                        None => {
                            // The shard no longer knows the label set (retention forgot it):
                            // its samples are older than retention.
                            self.reject_all(&s, r, out);
                            return Ok(());
                        }
                    },
                }
            }
        };
        for sample in s.samples() {
            let (t, v) = (sample.t, sample.v);
            let verdict = match slot {
                Some(i) => self.append_existing(i, t, v),
                None => match self.check_new_series_sample(t) {
                    Some(reason) => Verdict::Rejected(reason),
                    None => {
                        if Labels::decode_canonical(labels).is_err() {
                            // Ingest validates labels, so this is a foreign or damaged entry.
                            // Skipping is deterministic; failing would stop the shard forever.
                            tracing::warn!(shard = %self.shard, index, "skipping series with malformed labels");
                            out.rejected += s.sample_count() as u64;
                            self.counters.samples_rejected += s.sample_count() as u64;
                            return Ok(());
                        }
                        let r = self.choose_ref(s.id, labels, registry)?;
                        slot = Some(self.insert(HeadSeries::new(labels, r, t, v)));
                        self.counters.series_created += 1;
                        Verdict::Appended
                    }
                },
            };
            match verdict {
                Verdict::Appended => {
                    out.appended += 1;
                    self.counters.samples_appended += 1;
                    self.scalars.watermark = self.scalars.watermark.max(t);
                }
                Verdict::Duplicate => {
                    out.duplicates += 1;
                    self.counters.samples_duplicate += 1;
                }
                Verdict::Rejected(reason) => {
                    out.rejected += 1;
                    self.counters.samples_rejected += 1;
                    if out.first_rejections.len() < KEEP_REJECTIONS {
                        let named = match slot.and_then(|i| self.get(i)) {
                            Some(h) if labels.is_empty() => &h.labels[..],
                            _ => labels,
                        };
                        let series = Labels::decode_canonical(named)
                            .map(|l| l.to_string())
                            .unwrap_or_else(|_| format!("{{series id {}}}", s.id));
                        out.first_rejections.push(SampleRejection {
                            reason,
                            series,
                            timestamp_ms: t,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Returns the labels of the label set that holds ref `r` outside the live head (in the
    /// retired list or the registry), if the shard still knows it.
    fn resolve_ref(
        &self,
        r: SeriesRef,
        registry: &mut RegistryLookup<'_>,
    ) -> Result<Option<Vec<u8>>> {
        if let Some(h) = self.retired.iter().find(|h| h.r == r) {
            return Ok(Some(h.labels.to_vec()));
        }
        Ok(registry(r.id)?
            .into_iter()
            .find(|(ord, _)| *ord == r.ord)
            .map(|(_, l)| l))
    }

    /// Refuses every sample of a reference the shard cannot resolve.
    fn reject_all(&mut self, s: &BatchSeries<'_>, r: SeriesRef, out: &mut WriteOutcome) {
        let n = s.sample_count() as u64;
        out.rejected += n;
        self.counters.samples_rejected += n;
        for sample in s.samples() {
            if out.first_rejections.len() >= KEEP_REJECTIONS {
                break;
            }
            out.first_rejections.push(SampleRejection {
                reason: RejectReason::TooOld,
                series: format!("{{series id {} ordinal {}}}", r.id, r.ord),
                timestamp_ms: sample.t,
            });
        }
    }

    /// Returns `batch` with every series whose label set the head holds named by its reference
    /// `(id, ordinal)` instead of its labels, or `None` when the head holds none of them.
    ///
    /// The reference is exact: it is taken from the live series with these very labels, and
    /// refs are unique per label set while the shard knows it, so [`Head::apply_batch`]
    /// resolves it to the same label set whether the series is then still in the head, retired
    /// or only in the registry.
    pub(crate) fn reference_known_series(&self, batch: &ShardBatch) -> Option<ShardBatch> {
        // In phases over the whole batch rather than series by series: each phase's loads are
        // independent of one another, so the processor overlaps their cache misses (the head
        // of a busy shard is larger than the caches, and these lookups were ≈ 10% of the
        // server's CPU when done one series at a time).
        let series = batch.series();
        // 1. The first live slot of each id (the id map is small and stays cached).
        let first: Vec<Option<u32>> = series
            .iter()
            .map(|s| match s.reference {
                Some(_) => None,
                None => self.by_id_first(s.id.0),
            })
            .collect();
        // 2. The head series there: their labels and refs (one miss each, overlapped).
        let found: Vec<Option<(&[u8], u8)>> = first
            .iter()
            .map(|slot| {
                slot.and_then(|i| self.get(i))
                    .map(|h| (&*h.labels, h.r.ord))
            })
            .collect();
        // 3. Compare labels; ids shared by several label sets take the full lookup.
        let mut refs = 0usize;
        let mut b = ShardBatchBuilder::with_base(batch.base_time(), batch.as_bytes().len() / 3);
        for ((s, slot), hit) in series.iter().zip(&first).zip(&found) {
            let r = match (s.reference, slot, hit) {
                (Some(_), _, _) => None,
                (None, Some(slot), Some((labels, ord))) if *labels == s.labels => {
                    Some((*ord, Some(*slot)))
                }
                (None, Some(_), _) if self.has_collisions(s.id.0) => {
                    self.find(s.id.0, s.labels).and_then(|slot| {
                        let h = self.get(slot)?;
                        Some((h.r.ord, Some(slot)))
                    })
                }
                _ => None,
            };
            refs += usize::from(r.is_some());
            b.push_copy(s, r);
        }
        (refs > 0).then(|| b.finish())
    }

    /// Returns why the first sample of a series not in the head is refused, if it is.
    fn check_new_series_sample(&self, t: i64) -> Option<RejectReason> {
        let too_old = self.scalars.watermark.saturating_sub(self.cfg.retention_ms);
        // A series evicted from the head may return; its newest sample is at most the evict
        // horizon, so anything up to the horizon could duplicate or precede flushed data.
        (t < too_old || t <= self.scalars.evict_horizon).then_some(RejectReason::TooOld)
    }

    /// Picks the collision ordinal of a label set not in the head: the ordinal it already has
    /// (in the retired list or the registry), else the smallest one no other label set uses.
    fn choose_ref(
        &self,
        id: SeriesId,
        labels: &[u8],
        registry: &mut RegistryLookup<'_>,
    ) -> Result<SeriesRef> {
        let mut taken = [false; 256];
        for slot in self.slots_of(id.0) {
            if let Some(h) = self.get(slot) {
                taken[h.r.ord as usize] = true;
            }
        }
        for h in self.retired.iter().filter(|h| h.r.id == id) {
            if &*h.labels == labels {
                return Ok(h.r);
            }
            taken[h.r.ord as usize] = true;
        }
        for (ord, l) in registry(id)? {
            if l == labels && !taken[ord as usize] {
                return Ok(SeriesRef { id, ord });
            }
            taken[ord as usize] = true;
        }
        match taken.iter().position(|t| !t) {
            Some(ord) => Ok(SeriesRef { id, ord: ord as u8 }),
            None => Err(Error::TooManyCollisions {
                shard: self.shard,
                id: id.to_string(),
            }),
        }
    }

    fn append_existing(&mut self, slot: u32, t: i64, v: f64) -> Verdict {
        let cfg = self.cfg;
        let too_old = self.scalars.watermark.saturating_sub(cfg.retention_ms);
        let Some(s) = self.get_mut(slot) else {
            return Verdict::Rejected(RejectReason::TooOld);
        };
        let Some((last_t, last_v)) = s.last() else {
            return Verdict::Rejected(RejectReason::TooOld);
        };
        if t > last_t {
            let cut = needs_cut(&s.open, t, &cfg);
            if cut {
                let chunk = std::mem::take(&mut s.open).to_chunk();
                s.closed.push(ClosedChunk {
                    chunk,
                    ooo_seq: None,
                    flushed: false,
                });
                s.seg_mark = XorMark::default();
                s.segs_stale = true;
                s.next_seg = 1;
            }
            s.open.append(t, v);
            if cut {
                self.counters.chunks_cut += 1;
            }
            return Verdict::Appended;
        }
        if t == last_t {
            return if v.to_bits() == last_v.to_bits() {
                Verdict::Duplicate
            } else {
                Verdict::Rejected(RejectReason::DuplicateTimestamp)
            };
        }
        if t < too_old {
            return Verdict::Rejected(RejectReason::TooOld);
        }
        if t < last_t.saturating_sub(cfg.ooo_window_ms) || cfg.ooo_window_ms == 0 {
            return Verdict::Rejected(RejectReason::OutOfOrder);
        }
        match s.find_sample(t) {
            Some(bits) if bits == v.to_bits() => Verdict::Duplicate,
            Some(_) => Verdict::Rejected(RejectReason::DuplicateTimestamp),
            None => {
                let buf = s.ooo.get_or_insert_with(Default::default);
                let i = buf.partition_point(|x| x.0 < t);
                buf.insert(i, (t, v));
                Verdict::Appended
            }
        }
    }
}

/// Returns whether the open chunk must be cut before appending a sample at `t`.
///
/// Cutting depends only on the chunk's content, so a head rebuilt from segments cuts exactly
/// where the original did.
pub(crate) fn needs_cut(open: &XorAppender, t: i64, cfg: &super::HeadConfig) -> bool {
    let Some(mint) = open.min_time() else {
        return false;
    };
    open.num_samples() >= cfg.chunk_max_samples
        || open.is_full()
        || open.size_bytes() >= cfg.chunk_max_bytes
        || t.saturating_sub(mint) >= cfg.chunk_max_range_ms
        || cfg.partition(t) != cfg.partition(mint)
}

impl HeadSeries {
    /// Returns a new head series holding one sample.
    pub(crate) fn new(labels: &[u8], r: SeriesRef, t: i64, v: f64) -> Self {
        let mut open = XorAppender::new();
        open.append(t, v);
        HeadSeries {
            labels: labels.into(),
            r,
            incarnation: 0,
            open,
            seg_mark: XorMark::default(),
            closed: Vec::new(),
            ooo: None,
            next_seg: 1,
            segs_stale: false,
            persisted: false,
            posted_partition: None,
        }
    }

    /// Returns the value bits of the in-memory sample at `t`, if there is one.
    fn find_sample(&self, t: i64) -> Option<u64> {
        if let Some(o) = &self.ooo
            && let Ok(i) = o.binary_search_by_key(&t, |x| x.0)
        {
            return Some(o[i].1.to_bits());
        }
        let in_range = |mint: Option<i64>, maxt: Option<i64>| {
            mint.is_some_and(|m| m <= t) && maxt.is_some_and(|m| t <= m)
        };
        if in_range(self.open.min_time(), self.open.max_time()) {
            let mut it = self.open.iter();
            if let Some((st, sv)) = it.seek(t)
                && st == t
            {
                return Some(sv.to_bits());
            }
        }
        for c in &self.closed {
            if in_range(Some(c.chunk.min_time()), Some(c.chunk.max_time())) {
                let mut it = c.chunk.iter();
                if let Some((st, sv)) = it.seek(t)
                    && st == t
                {
                    return Some(sv.to_bits());
                }
            }
        }
        None
    }
}
