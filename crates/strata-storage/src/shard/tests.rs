//! Shard tests against a real RocksDB in temporary directories.

mod compact;
mod durability;
mod ingest;
mod retention;
mod select;
mod size;

use std::sync::Arc;
use std::time::Duration;

use strata_model::{
    Labels, MatchOp, Matcher, Sample, SeriesId, ShardBatch, ShardBatchBuilder, ShardId,
};
use tempfile::TempDir;

use super::{SelectedSeries, Shard};
use crate::config::StorageConfig;
use crate::db::Db;

/// A config with small chunks and one-hour partitions, so that tests cross every boundary.
pub(super) fn small_config() -> StorageConfig {
    StorageConfig {
        partition_width: Duration::from_secs(3_600),
        chunk_max_range: Duration::from_secs(600),
        chunk_max_samples: 25,
        head_idle_timeout: Duration::from_secs(1_800),
        retention: Duration::from_secs(6 * 3_600),
        block_cache_size: 8 << 20,
        write_buffer_size: 4 << 20,
        ..StorageConfig::default()
    }
}

pub(super) struct Fixture {
    pub(super) dir: TempDir,
    pub(super) db: Arc<Db>,
    pub(super) shard: Shard,
    pub(super) config: StorageConfig,
}

impl Fixture {
    pub(super) fn new(config: StorageConfig) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), &config).unwrap();
        let shard = Shard::open(db.clone(), ShardId(3), config.clone()).unwrap();
        Fixture {
            dir,
            db,
            shard,
            config,
        }
    }

    /// Drops the shard and the database without flushing (a crash) and opens both again.
    pub(super) fn crash_and_reopen(self) -> Fixture {
        let Fixture {
            dir,
            db,
            shard,
            config,
        } = self;
        drop(shard);
        drop(db);
        let db = Db::open(dir.path(), &config).unwrap();
        let shard = Shard::open(db.clone(), ShardId(3), config.clone()).unwrap();
        Fixture {
            dir,
            db,
            shard,
            config,
        }
    }
}

pub(super) fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

/// Builds a batch from `(labels, samples)` pairs, ids computed from the labels.
pub(super) fn batch(series: &[(&Labels, &[(i64, f64)])]) -> ShardBatch {
    let mut b = ShardBatchBuilder::new();
    for (l, samples) in series {
        let s: Vec<Sample> = samples.iter().map(|&(t, v)| Sample::new(t, v)).collect();
        b.push_series(l.series_id(), &l.to_canonical(), &s);
    }
    b.finish()
}

/// Builds a batch with an explicit (possibly forged) series id.
pub(super) fn batch_with_id(id: SeriesId, l: &Labels, samples: &[(i64, f64)]) -> ShardBatch {
    let mut b = ShardBatchBuilder::new();
    let s: Vec<Sample> = samples.iter().map(|&(t, v)| Sample::new(t, v)).collect();
    b.push_series(id, &l.to_canonical(), &s);
    b.finish()
}

pub(super) fn eq(n: &str, v: &str) -> Matcher {
    Matcher::equal(n, v)
}

pub(super) fn m(op: MatchOp, n: &str, v: &str) -> Matcher {
    Matcher::new(op, n, v).unwrap()
}

/// Decodes the chunks of a selected series, checking they are sorted and do not overlap.
pub(super) fn decode(s: &SelectedSeries) -> Vec<(i64, u64)> {
    let mut out: Vec<(i64, u64)> = Vec::new();
    for w in s.chunks.windows(2) {
        assert!(
            w[0].max_time() < w[1].min_time(),
            "chunks overlap in {}",
            s.labels
        );
    }
    for c in &s.chunks {
        let mut it = c.iter();
        out.extend(it.by_ref().map(|(t, v)| (t, v.to_bits())));
        assert!(it.error().is_none());
    }
    out
}

/// Returns `(labels, samples within [mint, maxt])` of a selection.
pub(super) fn decode_all(
    sel: &[SelectedSeries],
    mint: i64,
    maxt: i64,
) -> Vec<(String, Vec<(i64, u64)>)> {
    sel.iter()
        .map(|s| {
            let samples = decode(s)
                .into_iter()
                .filter(|(t, _)| (mint..=maxt).contains(t))
                .collect();
            (s.labels.to_string(), samples)
        })
        .collect()
}

/// Returns the names of the selected series.
pub(super) fn names(sel: &[SelectedSeries]) -> Vec<String> {
    sel.iter().map(|s| s.labels.to_string()).collect()
}
