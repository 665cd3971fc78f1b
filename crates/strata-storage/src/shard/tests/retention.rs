//! Retention drops whole partitions and forgets series that only lived there.

use super::*;

const H: i64 = 3_600_000;

#[test]
fn retention_drops_whole_partitions_and_forgets_old_series() {
    let f = Fixture::new(StorageConfig {
        retention: Duration::from_secs(2 * 3_600),
        head_idle_timeout: Duration::from_secs(1_800),
        ..small_config()
    });
    let steady = labels(&[("__name__", "steady")]);
    let early = labels(&[("__name__", "early")]);
    let mut index = 0;
    for start in (0..6 * H).step_by(600_000) {
        let samples: Vec<(i64, f64)> = (start..start + 600_000)
            .step_by(60_000)
            .map(|t| (t, 1.0))
            .collect();
        index += 1;
        let mut series: Vec<(&Labels, &[(i64, f64)])> = vec![(&steady, samples.as_slice())];
        if start < H {
            series.push((&early, samples.as_slice()));
        }
        f.shard.apply(index, &batch(&series)).unwrap();
        f.shard.flush().unwrap();
    }
    assert_eq!(f.shard.stats().partitions, 6);
    // At 6h with 2h retention, partitions ending before 4h go: 0, 1, 2, 3.
    let stats = f.shard.apply_retention(6 * H).unwrap();
    assert_eq!(stats.partitions_dropped, 4);
    assert_eq!(stats.series_forgotten, 1);
    assert_eq!(f.shard.stats().partitions, 2);
    let sel = f.shard.select(&[], 0, 6 * H).unwrap();
    assert_eq!(names(&sel), vec!["steady{}"]);
    let samples = decode(&sel[0]);
    assert_eq!(samples.first().map(|s| s.0), Some(4 * H));
    assert_eq!(samples.len(), 120);
    assert!(f.shard.label_values("__name__", &[], 0, 6 * H).unwrap() == vec!["steady"]);
    // Idempotent, and nothing comes back after a restart.
    assert_eq!(f.shard.apply_retention(6 * H).unwrap(), Default::default());
    let f = f.crash_and_reopen();
    assert_eq!(f.shard.stats().partitions, 2);
    assert_eq!(
        names(&f.shard.select(&[], 0, 6 * H).unwrap()),
        vec!["steady{}"]
    );
    let all = f.shard.label_names(&[], i64::MIN, i64::MAX).unwrap();
    assert_eq!(all, vec!["__name__"]);
}
