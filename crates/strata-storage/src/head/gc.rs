//! Eviction of idle series from the head.
//!
//! Eviction runs inside `apply`, driven by the shard's watermark (its newest sample time), never
//! by wall-clock time or flushes, so every replica evicts the same series at the same entry.

use super::{ClosedChunk, Head};

/// Shortest watermark advance between two eviction scans, in milliseconds.
const MIN_GC_STEP_MS: i64 = 60_000;

impl Head {
    /// Evicts series whose newest sample is older than the idle timeout, when due.
    pub(crate) fn maybe_evict_idle(&mut self) {
        let wm = self.scalars.watermark;
        if wm == i64::MIN || wm < self.scalars.next_gc_at {
            return;
        }
        self.scalars.next_gc_at = wm.saturating_add((self.cfg.idle_ms / 4).max(MIN_GC_STEP_MS));
        let threshold = wm.saturating_sub(self.cfg.idle_ms);
        let idle: Vec<u32> = self
            .iter_live()
            .filter(|(_, s)| s.last().is_some_and(|(t, _)| t < threshold))
            .map(|(slot, _)| slot)
            .collect();
        for slot in idle {
            self.evict(slot);
        }
    }

    /// Moves a series out of the head into the retired list, where it waits for its chunks to
    /// be flushed.
    fn evict(&mut self, slot: u32) {
        let Some(mut s) = self.remove(slot) else {
            return;
        };
        if let Some((last_t, _)) = s.last() {
            self.scalars.evict_horizon = self.scalars.evict_horizon.max(last_t);
        }
        let open = std::mem::take(&mut s.open);
        if open.num_samples() > 0 {
            s.closed.push(ClosedChunk {
                chunk: open.to_chunk(),
                ooo_seq: None,
                flushed: false,
            });
        }
        // Chunks kept only for out-of-order checks are not needed any more.
        s.closed.retain(|c| !c.flushed);
        self.counters.series_evicted += 1;
        if !s.persisted && s.closed.is_empty() && s.ooo.is_none() {
            return;
        }
        self.retired.push(s);
    }
}
