//! The compact entry form: batches whose known series are sent as references `(id, ordinal)`
//! must apply exactly as the same batches with labels, through eviction, flushes, crashes with
//! replay, and forged hash collisions.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use strata_model::{Labels, Sample, SeriesId, ShardBatch, ShardBatchBuilder, ShardId};
use tempfile::TempDir;

use crate::config::StorageConfig;
use crate::db::Db;
use crate::shard::Shard;

fn config() -> StorageConfig {
    StorageConfig {
        partition_width: Duration::from_secs(3_600),
        chunk_max_range: Duration::from_secs(600),
        chunk_max_samples: 25,
        head_idle_timeout: Duration::from_secs(600),
        retention: Duration::from_secs(6 * 3_600),
        block_cache_size: 8 << 20,
        write_buffer_size: 4 << 20,
        ..StorageConfig::default()
    }
}

fn open(dir: &TempDir) -> (Arc<Db>, Shard) {
    let db = Db::open(dir.path(), &config()).unwrap();
    let shard = Shard::open(Arc::clone(&db), ShardId(1), config()).unwrap();
    (db, shard)
}

/// Every series of the shard with its samples (time, value bits), by label string.
fn contents(shard: &Shard) -> BTreeMap<String, Vec<(i64, u64)>> {
    let mut out = BTreeMap::new();
    for s in shard.select(&[], i64::MIN, i64::MAX).unwrap() {
        let mut samples: Vec<(i64, u64)> = s
            .chunks
            .iter()
            .flat_map(|c| c.iter().map(|(t, v)| (t, v.to_bits())).collect::<Vec<_>>())
            .collect();
        samples.sort_unstable();
        samples.dedup();
        out.insert(s.labels.to_string(), samples);
    }
    out
}

fn series(i: u64) -> Labels {
    Labels::from_pairs([("__name__", "m"), ("s", &i.to_string())]).unwrap()
}

/// Entry `i` (1-based): 10 s of one sample per series per entry, series 0..6, except that
/// series 5 pauses from entry 40 to 120 (longer than the idle timeout, so it is evicted and
/// comes back) and series 6 appears only from entry 60.
fn entry(i: u64) -> ShardBatch {
    let t = i as i64 * 10_000;
    let mut b = ShardBatchBuilder::new();
    for s in 0..7u64 {
        if (s == 5 && (40..120).contains(&i)) || (s == 6 && i < 60) {
            continue;
        }
        let l = series(s);
        let c = l.to_canonical();
        b.push_series(
            l.series_id(),
            &c,
            &[Sample::new(t, (t / 1000) as f64 * 0.5)],
        );
    }
    b.finish()
}

#[test]
fn references_apply_like_labels_through_eviction_flushes_and_a_crash() {
    let (da, db_) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_a_db, a) = open(&da);
    let (b_db, b) = open(&db_);
    // The log of shard b: entries as the write path proposes them (compacted against b's head).
    let mut log = Vec::new();
    let mut referenced = 0;
    for i in 1..=200u64 {
        let e = entry(i);
        a.apply(i, &e).unwrap();
        let compact = b.reference_known_series(&e);
        referenced += usize::from(compact.is_some());
        let compact = compact.unwrap_or(e);
        b.apply(i, &compact).unwrap();
        log.push(compact);
        if i == 77 || i == 130 {
            b.flush().unwrap();
        }
    }
    assert!(referenced > 150, "{referenced}");
    assert_eq!(contents(&a), contents(&b));
    // Crash: the head is rebuilt from the flush at 130 and the log after it is replayed.
    drop(b);
    drop(b_db);
    let (_b_db, b) = open(&db_);
    assert_eq!(b.durable_index(), 130);
    for (i, e) in log.iter().enumerate().skip(130) {
        b.apply(i as u64 + 1, e).unwrap();
    }
    assert_eq!(contents(&a), contents(&b));
    assert_eq!(contents(&a).len(), 7);
}

#[test]
fn a_reference_resolves_through_the_registry_after_the_series_left_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, shard) = open(&dir);
    let l = series(1);
    let c = l.to_canonical();
    let mut b = ShardBatchBuilder::new();
    b.push_series(l.series_id(), &c, &[Sample::new(1_000, 1.0)]);
    shard.apply(1, &b.finish()).unwrap();
    // Another series moves the watermark far ahead: series 1 is evicted, then flushed, so that
    // only the registry knows it.
    let other = series(2);
    let mut b = ShardBatchBuilder::new();
    b.push_series(
        other.series_id(),
        &other.to_canonical(),
        &[Sample::new(3_600_000, 1.0)],
    );
    shard.apply(2, &b.finish()).unwrap();
    shard.flush().unwrap();
    assert_eq!(shard.stats().head_series, 1);
    // A reference written while series 1 was still in the head resolves to its labels.
    let mut b = ShardBatchBuilder::new();
    b.push_ref(l.series_id(), 0, &[Sample::new(3_700_000, 2.0)]);
    let out = shard.apply(3, &b.finish()).unwrap();
    assert_eq!((out.appended, out.rejected), (1, 0));
    let got = contents(&shard);
    assert_eq!(
        got[&l.to_string()],
        vec![(1_000, 1f64.to_bits()), (3_700_000, 2f64.to_bits())]
    );
}

#[test]
fn forged_collisions_keep_their_references_apart_and_unknown_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, shard) = open(&dir);
    let forged = SeriesId(42);
    let (x, y) = (series(1), series(2));
    let mut b = ShardBatchBuilder::new();
    b.push_series(forged, &x.to_canonical(), &[Sample::new(1_000, 1.0)]);
    b.push_series(forged, &y.to_canonical(), &[Sample::new(1_000, 2.0)]);
    shard.apply(1, &b.finish()).unwrap();
    let mut b = ShardBatchBuilder::new();
    b.push_series(forged, &y.to_canonical(), &[Sample::new(2_000, 20.0)]);
    b.push_series(forged, &x.to_canonical(), &[Sample::new(2_000, 10.0)]);
    let compact = shard.reference_known_series(&b.finish()).unwrap();
    let refs: Vec<_> = compact.series().iter().map(|s| s.reference).collect();
    assert_eq!(refs, vec![Some(1), Some(0)]);
    shard.apply(2, &compact).unwrap();
    // Swapped slot hints: each points at the other series, which has another ref, so apply
    // falls back to the lookup and the samples still go where their refs say.
    let hints: Vec<_> = compact.series().iter().map(|s| s.slot_hint).collect();
    assert!(hints.iter().all(Option::is_some) && hints[0] != hints[1]);
    let mut b = ShardBatchBuilder::new();
    for (s, hint) in compact.series().iter().zip(hints.iter().rev()) {
        let mut one = ShardBatchBuilder::new();
        one.push_ref(s.id, s.reference.unwrap(), &[Sample::new(2_500, 1.0)]);
        let one = one.finish();
        b.push_copy(&one.series()[0], Some((s.reference.unwrap(), *hint)));
    }
    let out = shard.apply(3, &b.finish()).unwrap();
    assert_eq!(out.appended, 2);
    let got = contents(&shard);
    assert_eq!(
        got[&x.to_string()],
        vec![
            (1_000, 1f64.to_bits()),
            (2_000, 10f64.to_bits()),
            (2_500, 1f64.to_bits())
        ]
    );
    assert_eq!(
        got[&y.to_string()],
        vec![
            (1_000, 2f64.to_bits()),
            (2_000, 20f64.to_bits()),
            (2_500, 1f64.to_bits())
        ]
    );
    // A reference the shard never gave out is refused, deterministically, as too old.
    let mut b = ShardBatchBuilder::new();
    b.push_ref(
        forged,
        7,
        &[Sample::new(3_000, 1.0), Sample::new(4_000, 1.0)],
    );
    b.push_ref(SeriesId(7), 0, &[Sample::new(3_000, 1.0)]);
    let out = shard.apply(4, &b.finish()).unwrap();
    assert_eq!((out.appended, out.rejected), (0, 3));
    assert_eq!(out.first_rejections.len(), 3);
    // Nothing in the batch is known: no compact form.
    let mut b = ShardBatchBuilder::new();
    b.push_series(
        SeriesId(5),
        &series(9).to_canonical(),
        &[Sample::new(5_000, 1.0)],
    );
    assert!(shard.reference_known_series(&b.finish()).is_none());
}
