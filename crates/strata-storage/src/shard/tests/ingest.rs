//! Ingestion rules: duplicates, out-of-order window, too-old samples, idempotent replay, hash
//! collisions, eviction of idle series.

use strata_model::{RejectReason, stale_nan};

use super::*;

const H: i64 = 3_600_000;

#[test]
fn duplicates_out_of_order_and_too_old_are_decided_per_sample() {
    let f = Fixture::new(small_config());
    let a = labels(&[("__name__", "up"), ("job", "a")]);
    let out = f
        .shard
        .apply(
            1,
            &batch(&[(&a, &[(1_000, 1.0), (2_000, stale_nan()), (3_000, 3.0)])]),
        )
        .unwrap();
    assert_eq!(out.appended, 3);
    // Same timestamp and bits: ignored; same timestamp, other value: refused; older: refused.
    let out = f
        .shard
        .apply(
            2,
            &batch(&[(
                &a,
                &[(3_000, 3.0), (3_000, 4.0), (2_500, 1.0), (4_000, 4.0)],
            )]),
        )
        .unwrap();
    assert_eq!((out.appended, out.duplicates, out.rejected), (1, 1, 2));
    let reasons: Vec<RejectReason> = out
        .first_rejections
        .iter()
        .map(|r| r.reason.clone())
        .collect();
    assert_eq!(
        reasons,
        vec![RejectReason::DuplicateTimestamp, RejectReason::OutOfOrder]
    );
    assert_eq!(out.first_rejections[0].series, "up{job=\"a\"}");
    assert_eq!(out.first_rejections[1].timestamp_ms, 2_500);
    // Older than the newest sample of the shard minus retention (6 h): too old.
    let b = labels(&[("__name__", "new")]);
    f.shard.apply(3, &batch(&[(&a, &[(10 * H, 5.0)])])).unwrap();
    let out = f
        .shard
        .apply(4, &batch(&[(&b, &[(3 * H, 1.0), (5 * H, 1.0)])]))
        .unwrap();
    assert_eq!((out.appended, out.rejected), (1, 1));
    assert_eq!(out.first_rejections[0].reason, RejectReason::TooOld);
    // The staleness marker comes back bit-exact.
    let sel = f.shard.select(&[eq("job", "a")], 0, 5_000).unwrap();
    let got = decode(&sel[0]);
    assert_eq!(got[1], (2_000, stale_nan().to_bits()));
    assert_eq!(got.len(), 4);
}

#[test]
fn replayed_entries_are_ignored() {
    let f = Fixture::new(small_config());
    let a = labels(&[("__name__", "up")]);
    let b1 = batch(&[(&a, &[(1_000, 1.0)])]);
    assert_eq!(f.shard.apply(5, &b1).unwrap().appended, 1);
    assert_eq!(f.shard.apply(5, &b1).unwrap(), Default::default());
    assert_eq!(
        f.shard
            .apply(4, &batch(&[(&a, &[(9_000, 1.0)])]))
            .unwrap()
            .appended,
        0
    );
    assert_eq!(f.shard.applied_index(), 5);
    f.shard.advance_applied(7).unwrap();
    assert_eq!(f.shard.applied_index(), 7);
    f.shard.flush().unwrap();
    assert_eq!(f.shard.durable_index(), 7);
}

#[test]
fn out_of_order_window_accepts_and_merges_late_samples() {
    let config = StorageConfig {
        out_of_order_window: Duration::from_secs(600),
        ..small_config()
    };
    let f = Fixture::new(config);
    let a = labels(&[("__name__", "up")]);
    let in_order: Vec<(i64, f64)> = (0..100).map(|i| (i * 10_000, i as f64)).collect();
    // Every other sample first, then the missing ones late (within 10 minutes).
    let evens: Vec<(i64, f64)> = in_order.iter().copied().step_by(2).collect();
    let odds: Vec<(i64, f64)> = in_order.iter().copied().skip(1).step_by(2).collect();
    f.shard.apply(1, &batch(&[(&a, &evens)])).unwrap();
    f.shard.flush().unwrap();
    let late: Vec<(i64, f64)> = odds
        .iter()
        .copied()
        .filter(|s| s.0 >= 990_000 - 600_000)
        .collect();
    let too_late = odds.len() - late.len();
    let out = f.shard.apply(2, &batch(&[(&a, &late)])).unwrap();
    assert_eq!(out.appended, late.len() as u64);
    // Replaying the same late samples: duplicates; a changed value: refused.
    let out = f
        .shard
        .apply(3, &batch(&[(&a, &late[..3]), (&a, &[(late[0].0, -1.0)])]))
        .unwrap();
    assert_eq!((out.duplicates, out.rejected), (3, 1));
    let out = f
        .shard
        .apply(4, &batch(&[(&a, &odds[..too_late])]))
        .unwrap();
    assert_eq!(out.rejected, too_late as u64);
    let mut want: Vec<(i64, u64)> = evens
        .iter()
        .chain(late.iter())
        .map(|&(t, v)| (t, v.to_bits()))
        .collect();
    want.sort();
    let got = decode(&f.shard.select(&[], 0, H).unwrap()[0]);
    assert_eq!(got, want);
    f.shard.flush().unwrap();
    let f = f.crash_and_reopen();
    let got = decode(&f.shard.select(&[], 0, H).unwrap()[0]);
    assert_eq!(got, want, "after flush and restart");
    // Flushed chunks inside the window were reloaded: re-sent late samples are still
    // duplicates, exactly as before the restart (replicas stay identical).
    let out = f
        .shard
        .apply(5, &batch(&[(&a, &late[..3]), (&a, &evens[45..])]))
        .unwrap();
    assert_eq!((out.appended, out.duplicates), (0, 8));
    let out = f
        .shard
        .apply(6, &batch(&[(&a, &[(late[1].0, -1.0)])]))
        .unwrap();
    assert_eq!(
        out.first_rejections[0].reason,
        RejectReason::DuplicateTimestamp
    );
    assert_eq!(decode(&f.shard.select(&[], 0, H).unwrap()[0]), want);
}

#[test]
fn forged_hash_collision_keeps_both_series_apart() {
    let f = Fixture::new(small_config());
    let id = SeriesId(42);
    let a = labels(&[("__name__", "up"), ("job", "a")]);
    let b = labels(&[("__name__", "up"), ("job", "b")]);
    let sa: Vec<(i64, f64)> = (0..60).map(|i| (i * 10_000, 1.0)).collect();
    let sb: Vec<(i64, f64)> = (0..60).map(|i| (i * 10_000, 2.0)).collect();
    f.shard.apply(1, &batch_with_id(id, &a, &sa[..30])).unwrap();
    f.shard.apply(2, &batch_with_id(id, &b, &sb[..30])).unwrap();
    f.shard.flush().unwrap();
    f.shard.apply(3, &batch_with_id(id, &a, &sa[30..])).unwrap();
    f.shard.apply(4, &batch_with_id(id, &b, &sb[30..])).unwrap();
    let check = |f: &Fixture| {
        let sel = f.shard.select(&[eq("__name__", "up")], 0, H).unwrap();
        assert_eq!(names(&sel), vec!["up{job=\"a\"}", "up{job=\"b\"}"]);
        assert!(decode(&sel[0]).iter().all(|s| s.1 == 1f64.to_bits()));
        assert!(decode(&sel[1]).iter().all(|s| s.1 == 2f64.to_bits()));
        assert_eq!(decode(&sel[0]).len(), 60);
        assert_eq!(decode(&sel[1]).len(), 60);
        let sel = f.shard.select(&[eq("job", "b")], 0, H).unwrap();
        assert_eq!(names(&sel), vec!["up{job=\"b\"}"]);
    };
    check(&f);
    f.shard.flush().unwrap();
    let f = f.crash_and_reopen();
    check(&f);
}

#[test]
fn collision_with_an_evicted_series_gets_its_own_ordinal() {
    let f = Fixture::new(small_config());
    let id = SeriesId(7);
    let a = labels(&[("__name__", "old")]);
    let b = labels(&[("__name__", "new")]);
    let keep = labels(&[("__name__", "clock")]);
    f.shard
        .apply(1, &batch_with_id(id, &a, &[(1_000, 1.0), (2_000, 1.0)]))
        .unwrap();
    f.shard.flush().unwrap();
    // Time moves on: `a` goes idle and is evicted and flushed, only the registry knows it.
    f.shard
        .apply(2, &batch(&[(&keep, &[(2 * H, 0.0)])]))
        .unwrap();
    f.shard.flush().unwrap();
    assert_eq!(f.shard.stats().series_evicted, 1);
    let out = f
        .shard
        .apply(3, &batch_with_id(id, &b, &[(2 * H + 1_000, 2.0)]))
        .unwrap();
    assert_eq!(out.appended, 1);
    // `a` coming back reuses its ordinal (its samples must be newer than the evict horizon).
    let out = f
        .shard
        .apply(
            4,
            &batch_with_id(id, &a, &[(1_500, 9.0), (2 * H + 2_000, 3.0)]),
        )
        .unwrap();
    assert_eq!((out.appended, out.rejected), (1, 1));
    assert_eq!(out.first_rejections[0].reason, RejectReason::TooOld);
    f.shard.flush().unwrap();
    let f = f.crash_and_reopen();
    let sel = f
        .shard
        .select(
            &[m(strata_model::MatchOp::Regex, "__name__", "old|new")],
            0,
            3 * H,
        )
        .unwrap();
    assert_eq!(names(&sel), vec!["new{}", "old{}"]);
    assert_eq!(decode(&sel[0]), vec![(2 * H + 1_000, 2f64.to_bits())]);
    assert_eq!(
        decode(&sel[1]),
        vec![
            (1_000, 1f64.to_bits()),
            (2_000, 1f64.to_bits()),
            (2 * H + 2_000, 3f64.to_bits())
        ]
    );
}

#[test]
fn idle_series_are_evicted_deterministically_and_stay_queryable() {
    let f = Fixture::new(small_config());
    let idle = labels(&[("__name__", "idle")]);
    let busy = labels(&[("__name__", "busy")]);
    f.shard
        .apply(1, &batch(&[(&idle, &[(0, 1.0)]), (&busy, &[(0, 1.0)])]))
        .unwrap();
    // Not flushed: the evicted series waits in the retired list and stays visible.
    f.shard.apply(2, &batch(&[(&busy, &[(H, 1.0)])])).unwrap();
    let s = f.shard.stats();
    assert_eq!(
        (s.head_series, s.retired_series, s.series_evicted),
        (1, 1, 1)
    );
    assert_eq!(
        names(&f.shard.select(&[], 0, 2 * H).unwrap()),
        vec!["busy{}", "idle{}"]
    );
    f.shard.flush().unwrap();
    assert_eq!(f.shard.stats().retired_series, 0);
    assert_eq!(
        names(&f.shard.select(&[], 0, 2 * H).unwrap()),
        vec!["busy{}", "idle{}"]
    );
    let f = f.crash_and_reopen();
    assert_eq!(f.shard.stats().head_series, 1);
    assert_eq!(
        names(&f.shard.select(&[], 0, 2 * H).unwrap()),
        vec!["busy{}", "idle{}"]
    );
}
