//! Retention: dropping whole time partitions with range deletes.

use rocksdb::WriteBatch;

use super::Shard;
use super::disk::scan_prefix;
use crate::db::{CF_CHUNKS, CF_POSTINGS, CF_SERIES};
use crate::error::Result;
use crate::keys::{self, SeriesRef};

/// What one retention pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionStats {
    /// Time partitions dropped.
    pub partitions_dropped: u64,
    /// Series registry entries forgotten (no chunks left in a kept partition).
    pub series_forgotten: u64,
}

impl Shard {
    /// Drops every time partition that ends before `now_ms - retention`: its chunks and postings
    /// go in two range deletes, and series whose newest chunks were in dropped partitions leave
    /// the registry.
    pub fn apply_retention(&self, now_ms: i64) -> Result<RetentionStats> {
        self.check_poisoned()?;
        let _serial = self.lock_flush()?;
        let cutoff = now_ms.saturating_sub(self.config.retention_ms());
        let first_kept = cutoff.div_euclid(self.config.partition_width_ms());
        let dropped: Vec<i64> = self
            .read_partitions()?
            .range(..first_kept)
            .copied()
            .collect();
        if dropped.is_empty() {
            return Ok(RetentionStats::default());
        }
        let start = keys::partition_prefix(self.id, i64::MIN);
        let end = keys::partition_prefix(self.id, first_kept);
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(self.db.cf(CF_CHUNKS)?, &start, &end);
        batch.delete_range_cf(self.db.cf(CF_POSTINGS)?, &start, &end);
        let in_head: std::collections::HashSet<SeriesRef> = {
            let head = self.read_head()?;
            head.iter_live()
                .map(|(_, s)| s.r)
                .chain(head.retired.iter().map(|s| s.r))
                .collect()
        };
        let mut forgotten = 0u64;
        let series_cf = self.db.cf(CF_SERIES)?;
        scan_prefix(
            &self.db,
            CF_SERIES,
            None,
            &keys::shard_prefix(self.id),
            true,
            |k, v| {
                let Some((last, _)) = keys::parse_series_value(v) else {
                    return Ok(true);
                };
                let r = k.get(4..).and_then(SeriesRef::read);
                if last < first_kept && r.is_some_and(|r| !in_head.contains(&r)) {
                    batch.delete_cf(series_cf, k);
                    forgotten += 1;
                }
                Ok(true)
            },
        )?;
        if let Err(e) = self.db.write_sync(batch) {
            self.poison();
            return Err(e);
        }
        {
            let _head = self.write_head()?;
            let mut parts = self.write_partitions()?;
            for p in &dropped {
                parts.remove(p);
            }
        }
        tracing::info!(shard = %self.id, partitions = dropped.len(), forgotten, "retention applied");
        Ok(RetentionStats {
            partitions_dropped: dropped.len() as u64,
            series_forgotten: forgotten,
        })
    }
}
