//! Crash and restart: the head is rebuilt from the last flush and the replay of the entries
//! after the durable index, with no sample lost or duplicated.

use super::*;

const H: i64 = 3_600_000;

/// Entry `i` (1-based) of a synthetic log: 3 series, 30 s of 1-s samples each, plus a new series
/// every 7th entry (churn), plus an occasional duplicate of the previous entry's last sample.
fn entry(i: u64) -> ShardBatch {
    let base = (i as i64 - 1) * 30_000;
    let mut owned: Vec<(Labels, Vec<(i64, f64)>)> = (0..3)
        .map(|s| {
            let l = labels(&[("__name__", "m"), ("s", &s.to_string())]);
            let samples = (0..30)
                .map(|k| {
                    let t = base + k * 1_000;
                    (t, ((t / 1000) * (s + 1)) as f64 * 0.25)
                })
                .collect();
            (l, samples)
        })
        .collect();
    if i.is_multiple_of(7) {
        owned.push((
            labels(&[("__name__", "churn"), ("i", &i.to_string())]),
            vec![(base, 1.0)],
        ));
    }
    if i > 1 && i.is_multiple_of(5) {
        let t = base - 1_000;
        owned[0].1.insert(0, (t, ((t / 1000) as f64) * 0.25));
    }
    let pairs: Vec<(&Labels, &[(i64, f64)])> =
        owned.iter().map(|(l, s)| (l, s.as_slice())).collect();
    batch(&pairs)
}

fn snapshot(shard: &Shard) -> Vec<(String, Vec<(i64, u64)>)> {
    decode_all(
        &shard.select(&[], i64::MIN, i64::MAX).unwrap(),
        i64::MIN,
        i64::MAX,
    )
}

#[test]
fn restart_replays_exactly_the_entries_after_the_durable_index() {
    let reference = Fixture::new(small_config());
    let f = Fixture::new(small_config());
    let total = 200u64;
    let flush_at = [37u64, 90, 151];
    for i in 1..=total {
        reference.shard.apply(i, &entry(i)).unwrap();
        f.shard.apply(i, &entry(i)).unwrap();
        if flush_at.contains(&i) {
            f.shard.flush().unwrap();
        }
    }
    let before = snapshot(&f.shard);
    assert_eq!(before, snapshot(&reference.shard));
    let f = f.crash_and_reopen();
    assert_eq!(f.shard.durable_index(), 151);
    assert_eq!(f.shard.applied_index(), 151);
    for i in 1..=total {
        // Entries at or below the durable index are ignored; the rest rebuild the head.
        f.shard.apply(i, &entry(i)).unwrap();
    }
    assert_eq!(snapshot(&f.shard), before);
    // Both keep going identically (cutting and eviction resumed where they were).
    for i in total + 1..=total + 50 {
        let a = reference.shard.apply(i, &entry(i)).unwrap();
        let b = f.shard.apply(i, &entry(i)).unwrap();
        assert_eq!(a, b, "entry {i}");
    }
    f.shard.flush().unwrap();
    assert_eq!(snapshot(&f.shard), snapshot(&reference.shard));
    let s = f.shard.stats();
    assert_eq!(s.durable_index, total + 50);
    let f = f.crash_and_reopen();
    assert_eq!(snapshot(&f.shard), snapshot(&reference.shard));
}

#[test]
fn repeated_crashes_between_flushes_lose_nothing() {
    let reference = Fixture::new(small_config());
    let mut f = Fixture::new(small_config());
    let mut next = 1u64;
    for round in 0..6u64 {
        let end = next + 20 + round * 3;
        for i in 1..end {
            // Replays everything each round: already-applied entries are skipped.
            f.shard.apply(i, &entry(i)).unwrap();
        }
        for i in next..end {
            reference.shard.apply(i, &entry(i)).unwrap();
        }
        next = end;
        if round % 2 == 0 {
            f.shard.flush().unwrap();
        }
        f = f.crash_and_reopen();
        for i in 1..next {
            f.shard.apply(i, &entry(i)).unwrap();
        }
        assert_eq!(
            snapshot(&f.shard),
            snapshot(&reference.shard),
            "round {round}"
        );
    }
}

#[test]
fn flush_advances_the_durable_index_and_writes_little_per_flush() {
    let f = Fixture::new(StorageConfig {
        chunk_max_samples: 1800,
        chunk_max_range: Duration::from_secs(7_200),
        partition_width: Duration::from_secs(86_400),
        retention: Duration::from_secs(15 * 86_400),
        ..small_config()
    });
    let l = labels(&[("__name__", "m")]);
    for i in 1..=30u64 {
        let samples: Vec<(i64, f64)> = (0..60)
            .map(|k| ((i as i64 * 60 + k) * 1_000, 1.0))
            .collect();
        f.shard.apply(i, &batch(&[(&l, &samples)])).unwrap();
        f.shard.flush().unwrap();
        assert_eq!(f.shard.durable_index(), i);
    }
    let s = f.shard.stats();
    // One segment per flush, no chunk cut within 1800 samples.
    assert_eq!(s.segments_flushed, 30);
    assert_eq!(s.chunks_flushed, 0);
    assert_eq!(s.head_chunks, 1);
    let _ = H;
}

#[test]
fn snapshot_installs_into_another_node_and_replays_on_top() {
    let src = Fixture::new(small_config());
    for i in 1..=120u64 {
        src.shard.apply(i, &entry(i)).unwrap();
    }
    let mut bytes = Vec::new();
    let durable = src.shard.write_snapshot(&mut bytes).unwrap();
    assert_eq!(durable, 120);
    // The target node already hosts other data of this shard: it is replaced.
    let dst = Fixture::new(small_config());
    dst.shard.apply(1, &entry(50)).unwrap();
    dst.shard.flush().unwrap();
    let Fixture {
        dir,
        db,
        shard,
        config,
    } = dst;
    drop(shard);
    let installed = Shard::install_snapshot(
        db.clone(),
        ShardId(3),
        config.clone(),
        &mut bytes.as_slice(),
    )
    .unwrap();
    assert_eq!(installed.durable_index(), 120);
    assert_eq!(snapshot(&installed), snapshot(&src.shard));
    for i in 121..=160u64 {
        let a = src.shard.apply(i, &entry(i)).unwrap();
        let b = installed.apply(i, &entry(i)).unwrap();
        assert_eq!(a, b);
    }
    assert_eq!(snapshot(&installed), snapshot(&src.shard));
    assert!(Shard::install_snapshot(db, ShardId(3), config, &mut &b"junk"[..]).is_err());
    drop(dir);
}

mod schedules {
    use proptest::prelude::*;

    use super::*;

    /// One step of a node's life: apply the next entry, flush, flush twice (idle series get
    /// their head records compacted), or crash, restart and replay the log after the durable
    /// index.
    #[derive(Debug, Clone, Copy)]
    enum Step {
        Apply,
        Flush,
        IdleFlush,
        Crash,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => Just(Step::Apply),
            2 => Just(Step::Flush),
            1 => Just(Step::IdleFlush),
            1 => Just(Step::Crash),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

        /// Whatever the order of applies, flushes (segments cut from the open chunks at any
        /// point, chunk cuts, compacted idle heads) and crashes, the restarted shard holds
        /// exactly the samples of a shard that never stopped, and then behaves the same.
        #[test]
        fn any_schedule_of_flushes_and_crashes_loses_nothing(
            steps in proptest::collection::vec(step(), 1..60),
        ) {
            // Open chunks spanning several entries, so that flushes cut several segments
            // from one chunk before it is cut.
            let config = StorageConfig {
                chunk_max_samples: 100,
                ..small_config()
            };
            let reference = Fixture::new(config.clone());
            let mut f = Fixture::new(config);
            let mut last = 0u64;
            for s in steps {
                match s {
                    Step::Apply => {
                        last += 1;
                        let b = entry(last);
                        prop_assert_eq!(
                            f.shard.apply(last, &b).unwrap(),
                            reference.shard.apply(last, &b).unwrap()
                        );
                    }
                    Step::Flush => f.shard.flush().unwrap(),
                    Step::IdleFlush => {
                        f.shard.flush().unwrap();
                        f.shard.flush().unwrap();
                    }
                    Step::Crash => {
                        f = f.crash_and_reopen();
                        // The Raft log's replay: entries after the durable index.
                        for i in f.shard.durable_index() + 1..=last {
                            f.shard.apply(i, &entry(i)).unwrap();
                        }
                        prop_assert_eq!(snapshot(&f.shard), snapshot(&reference.shard));
                    }
                }
            }
            prop_assert_eq!(snapshot(&f.shard), snapshot(&reference.shard));
            for i in last + 1..=last + 10 {
                prop_assert_eq!(
                    f.shard.apply(i, &entry(i)).unwrap(),
                    reference.shard.apply(i, &entry(i)).unwrap()
                );
            }
            f.shard.flush().unwrap();
            let f = f.crash_and_reopen();
            prop_assert_eq!(snapshot(&f.shard), snapshot(&reference.shard));
        }
    }
}
