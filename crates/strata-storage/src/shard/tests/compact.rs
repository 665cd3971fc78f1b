//! Compaction of idle head series: one compacted record replaces their segments, and a restart
//! rebuilds exactly the same head from it.

use super::*;
use crate::db::CF_HEAD;
use crate::keys::{self, SeriesRef};
use crate::shard::compact::is_compacted_segment;
use crate::shard::disk::scan_prefix;

/// Head records `(ref, seq, value)` of the fixture's shard.
fn head_records(f: &Fixture) -> Vec<(SeriesRef, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let prefix = keys::shard_prefix(ShardId(3));
    scan_prefix(&f.db, CF_HEAD, None, &prefix, true, |k, v| {
        let (r, seq) = keys::parse_head_key(k).unwrap();
        out.push((r, seq, v.to_vec()));
        Ok(true)
    })
    .unwrap();
    out
}

fn segments_of(f: &Fixture, l: &Labels) -> Vec<(u32, Vec<u8>)> {
    head_records(f)
        .into_iter()
        .filter(|(r, seq, _)| r.id == l.series_id() && *seq > 0)
        .map(|(_, seq, v)| (seq, v))
        .collect()
}

fn all(shard: &Shard) -> Vec<(String, Vec<(i64, u64)>)> {
    decode_all(
        &shard.select(&[], i64::MIN, i64::MAX).unwrap(),
        i64::MIN,
        i64::MAX,
    )
}

/// Ten seconds of 1-s samples of a counter-like value, starting at `sec`.
fn ten_seconds(sec: i64) -> Vec<(i64, f64)> {
    (sec..sec + 10)
        .map(|s| (s * 1_000, (s * 3 + s % 7) as f64 / 100.0))
        .collect()
}

#[test]
fn idle_series_are_compacted_and_recover_identically() {
    let config = StorageConfig {
        chunk_max_samples: 100,
        ..small_config()
    };
    let busy = labels(&[("__name__", "busy")]);
    let idle = labels(&[("__name__", "idle")]);
    let reference = Fixture::new(config.clone());
    let f = Fixture::new(config);
    let mut index = 0;
    let mut step = |f: &Fixture, r: &Fixture, sec: i64, with_idle: bool| {
        index += 1;
        let b_busy = ten_seconds(sec);
        let b_idle = ten_seconds(sec);
        let mut series: Vec<(&Labels, &[(i64, f64)])> = vec![(&busy, &b_busy)];
        if with_idle {
            series.push((&idle, &b_idle));
        }
        let b = batch(&series);
        assert_eq!(
            f.shard.apply(index, &b).unwrap(),
            r.shard.apply(index, &b).unwrap()
        );
        f.shard.flush().unwrap();
    };
    // Both series get five segments (50 samples, inside the first 100-sample chunk).
    for k in 0..5 {
        step(&f, &reference, k * 10, true);
    }
    let before = segments_of(&f, &idle);
    assert_eq!(before.len(), 5, "one segment per flush");
    // One flush interval without samples for `idle`: its segments become one record.
    step(&f, &reference, 50, false);
    let after = segments_of(&f, &idle);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(
        after[0].0, 5,
        "the record keeps the last segment's sequence number"
    );
    assert!(is_compacted_segment(&after[0].1));
    let seg_bytes: usize = before.iter().map(|(_, v)| v.len()).sum();
    assert!(
        after[0].1.len() < seg_bytes,
        "compacted {} B, segments {seg_bytes} B",
        after[0].1.len()
    );
    // The busy series keeps its plain segments.
    assert_eq!(segments_of(&f, &busy).len(), 6);
    assert!(
        segments_of(&f, &busy)
            .iter()
            .all(|(_, v)| !is_compacted_segment(v))
    );
    // An idle flush leaves the compacted record alone.
    f.shard.flush().unwrap();
    assert_eq!(segments_of(&f, &idle), after);

    // A restart rebuilds the same head: same samples now, same cuts and outcomes later.
    let f = f.crash_and_reopen();
    assert_eq!(all(&f.shard), all(&reference.shard));
    for k in 6..30 {
        step(&f, &reference, k * 10, true);
    }
    assert_eq!(all(&f.shard), all(&reference.shard));
    let f = f.crash_and_reopen();
    assert_eq!(all(&f.shard), all(&reference.shard));
}

#[test]
fn compacting_after_the_last_flush_keeps_every_sample() {
    let config = StorageConfig {
        chunk_max_samples: 600,
        ..small_config()
    };
    let f = Fixture::new(config);
    let ls: Vec<Labels> = (0..20)
        .map(|i| labels(&[("__name__", "m"), ("i", &i.to_string())]))
        .collect();
    for k in 0..30i64 {
        let samples = ten_seconds(k * 10);
        let pairs: Vec<(&Labels, &[(i64, f64)])> =
            ls.iter().map(|l| (l, samples.as_slice())).collect();
        f.shard.apply(k as u64 + 1, &batch(&pairs)).unwrap();
        f.shard.flush().unwrap();
    }
    let expected = all(&f.shard);
    // The node's shutdown: a last flush with nothing new compacts every series.
    f.shard.flush().unwrap();
    let records = head_records(&f);
    assert_eq!(
        records.len(),
        2 * ls.len(),
        "a label record and one compacted record each"
    );
    let f = f.crash_and_reopen();
    assert_eq!(all(&f.shard), expected);
    assert_eq!(
        expected.iter().map(|(_, s)| s.len()).sum::<usize>(),
        20 * 300
    );
}

/// Segments written by earlier versions are whole XOR chunks; a head whose first segments are
/// such chunks and whose later ones are runs of the open chunk's bits recovers exactly.
#[test]
fn whole_chunk_segments_of_earlier_versions_recover_before_runs() {
    let config = StorageConfig {
        chunk_max_samples: 100,
        ..small_config()
    };
    let m = labels(&[("__name__", "m")]);
    let reference = Fixture::new(config.clone());
    let f = Fixture::new(config);
    for k in 0..4i64 {
        let b = batch(&[(&m, ten_seconds(k * 10).as_slice())]);
        f.shard.apply(k as u64 + 1, &b).unwrap();
        reference.shard.apply(k as u64 + 1, &b).unwrap();
        f.shard.flush().unwrap();
    }
    // Rewrite segments 1 and 2 as an earlier version wrote them.
    let segs = segments_of(&f, &m);
    assert_eq!(segs.len(), 4);
    let r = head_records(&f)
        .into_iter()
        .find(|(r, _, _)| r.id == m.series_id())
        .map(|(r, _, _)| r)
        .unwrap();
    let head_cf = f.db.cf(CF_HEAD).unwrap();
    let mut wb = rocksdb::WriteBatch::default();
    for (seq, k) in [(1u32, 0i64), (2, 1)] {
        let mut old = strata_codec::XorAppender::new();
        for (t, v) in ten_seconds(k * 10) {
            old.append(t, v);
        }
        wb.put_cf(head_cf, keys::head_key(ShardId(3), r, seq), old.bytes());
    }
    f.db.write_sync(wb).unwrap();
    let f = f.crash_and_reopen();
    assert_eq!(all(&f.shard), all(&reference.shard));
    for k in 4..25i64 {
        let b = batch(&[(&m, ten_seconds(k * 10).as_slice())]);
        assert_eq!(
            f.shard.apply(k as u64 + 1, &b).unwrap(),
            reference.shard.apply(k as u64 + 1, &b).unwrap()
        );
        f.shard.flush().unwrap();
    }
    assert_eq!(all(&f.shard), all(&reference.shard));
    let f = f.crash_and_reopen();
    assert_eq!(all(&f.shard), all(&reference.shard));
}
