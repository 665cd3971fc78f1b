//! Flushing: closed chunks (re-encoded), postings, registry entries, head label records and
//! segments, and the durable index, all in one synced `WriteBatch`.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::Ordering;

use rocksdb::WriteBatch;

use super::Shard;
use crate::db::{CF_CHUNKS, CF_HEAD, CF_META, CF_POSTINGS, CF_SERIES};
use crate::error::{Error, Result};
use crate::head::index_label_pairs;
use crate::head::{FlushPlan, PlannedChunk, PlannedSeries};
use crate::keys::{self, META_STATE};

/// What one flush wrote, for the counters.
#[derive(Debug, Default)]
struct Written {
    chunks: u64,
    chunk_bytes: u64,
    samples: u64,
    segments: u64,
    partitions: BTreeSet<i64>,
}

impl Shard {
    /// Persists the head so that [`Shard::durable_index`] reaches the applied index: closed
    /// chunks (re-encoded with the smallest exact encoding), the open chunks' new samples as
    /// segments, postings and registry entries, and the durable index, in one synced write.
    ///
    /// A failed write poisons the shard: every later call fails.
    pub fn flush(&self) -> Result<()> {
        self.check_poisoned()?;
        let _serial = self.lock_flush()?;
        let (plan, bytes_mark) = {
            let mut head = self.write_head()?;
            match head.plan_flush() {
                // Entries are applied under the head lock: the mark covers exactly the plan.
                Ok(p) => (p, self.applied_bytes.load(Ordering::Relaxed)),
                Err(e) => {
                    self.poison();
                    return Err(e);
                }
            }
        };
        if plan.series.is_empty() && plan.scalars.applied == self.durable_index() {
            self.flushed_bytes.store(bytes_mark, Ordering::Relaxed);
            self.compact_idle_heads(&HashSet::new())?;
            return Ok(());
        }
        let written = match self.write_plan(&plan) {
            Ok(w) => w,
            Err(e) => {
                self.poison();
                return Err(e);
            }
        };
        {
            let mut head = self.write_head()?;
            head.commit_flush(&plan);
            self.write_partitions()?
                .extend(written.partitions.iter().copied());
            self.durable.store(plan.scalars.applied, Ordering::Release);
            self.flushed_bytes.store(bytes_mark, Ordering::Relaxed);
        }
        let f = &self.flushed;
        f.chunks.fetch_add(written.chunks, Ordering::Relaxed);
        f.chunk_bytes
            .fetch_add(written.chunk_bytes, Ordering::Relaxed);
        f.samples.fetch_add(written.samples, Ordering::Relaxed);
        f.segments.fetch_add(written.segments, Ordering::Relaxed);
        f.flushes.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            shard = %self.id,
            durable_index = plan.scalars.applied,
            chunks = written.chunks,
            segments = written.segments,
            "flushed"
        );
        let fresh: HashSet<_> = plan
            .series
            .iter()
            .filter(|p| p.segment.is_some())
            .map(|p| p.r)
            .collect();
        self.compact_idle_heads(&fresh)?;
        Ok(())
    }

    fn write_plan(&self, plan: &FlushPlan) -> Result<Written> {
        let mut batch = WriteBatch::default();
        let mut written = Written::default();
        for p in &plan.series {
            self.plan_series(p, &mut batch, &mut written)?;
        }
        batch.put_cf(
            self.db.cf(CF_META)?,
            keys::meta_key(self.id, META_STATE),
            plan.scalars.encode(),
        );
        self.db.write_sync(batch)?;
        Ok(written)
    }

    fn plan_series(
        &self,
        p: &PlannedSeries,
        batch: &mut WriteBatch,
        w: &mut Written,
    ) -> Result<()> {
        let head_cf = self.db.cf(CF_HEAD)?;
        let series_prefix = keys::head_series_prefix(self.id, p.r);
        let series_end = keys::prefix_successor(&series_prefix).unwrap_or_default();
        if p.delete_head_records {
            batch.delete_range_cf(head_cf, &series_prefix, &series_end);
        }
        if p.delete_segments {
            batch.delete_range_cf(head_cf, &keys::head_key(self.id, p.r, 1), &series_end);
        }
        if p.write_label_record
            && let Some(labels) = &p.labels
        {
            batch.put_cf(
                head_cf,
                keys::head_key(self.id, p.r, keys::HEAD_LABELS_SEQ),
                labels,
            );
        }
        if let Some((seq, bytes)) = &p.segment {
            batch.put_cf(head_cf, keys::head_key(self.id, p.r, *seq), bytes);
            w.segments += 1;
        }
        let chunks_cf = self.db.cf(CF_CHUNKS)?;
        let mut to_post = BTreeSet::new();
        for c in &p.chunks {
            let bytes = self.encode_closed(c)?;
            let key = match c.ooo_seq {
                None => keys::chunk_key(self.id, c.partition, p.r, c.chunk.min_time()),
                Some(seq) => {
                    keys::ooo_chunk_key(self.id, c.partition, p.r, c.chunk.min_time(), seq)
                }
            };
            w.chunks += 1;
            w.chunk_bytes += bytes.len() as u64;
            w.samples += c.chunk.num_samples() as u64;
            batch.put_cf(chunks_cf, key, bytes);
            if p.posted_partition != Some(c.partition) {
                to_post.insert(c.partition);
            }
            w.partitions.insert(c.partition);
        }
        let (Some(&top), Some(labels)) = (to_post.last(), &p.labels) else {
            return Ok(());
        };
        let postings_cf = self.db.cf(CF_POSTINGS)?;
        for &part in &to_post {
            batch.put_cf(
                postings_cf,
                keys::postings_key(self.id, part, b"", b"", p.r),
                b"",
            );
            for (n, v) in index_label_pairs(labels) {
                batch.put_cf(
                    postings_cf,
                    keys::postings_key(self.id, part, n.as_bytes(), v.as_bytes(), p.r),
                    b"",
                );
            }
        }
        // The registry keeps the highest partition with chunks of the series; retention
        // forgets the series once that partition is dropped.
        let known = match p.posted_partition {
            Some(pp) => Some(pp),
            None => self.registry_partition(p)?,
        };
        if known.is_none_or(|k| top > k) {
            batch.put_cf(
                self.db.cf(CF_SERIES)?,
                keys::series_key(self.id, p.r),
                keys::series_value(top, labels),
            );
        }
        Ok(())
    }

    fn registry_partition(&self, p: &PlannedSeries) -> Result<Option<i64>> {
        let v = self
            .db
            .raw()
            .get_pinned_cf(self.db.cf(CF_SERIES)?, keys::series_key(self.id, p.r))
            .map_err(Error::rocks("read"))?;
        Ok(v.and_then(|v| keys::parse_series_value(&v).map(|(part, _)| part)))
    }

    /// Returns the bytes to store for a closed chunk: in-order chunks are re-encoded with the
    /// smallest exact encoding; out-of-order chunks already are.
    fn encode_closed(&self, c: &PlannedChunk) -> Result<Vec<u8>> {
        if c.ooo_seq.is_some() {
            return Ok(c.chunk.to_bytes());
        }
        let chunk = c.chunk.recoded().map_err(|e| Error::Codec {
            shard: self.id,
            detail: e.to_string(),
        })?;
        Ok(chunk.to_bytes())
    }
}
