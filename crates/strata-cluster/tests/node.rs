//! The single-node cluster on a real RocksDB: writes through `WriteSink`, reads through
//! `Queryable`, crash recovery, and out-of-order rejection.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strata_cluster::{Node, NodeConfig};
use strata_model::{
    Labels, Matcher, RejectReason, Sample, ShardBatch, ShardBatchBuilder, ShardId, WriteSink,
};
use strata_promql::{PointValue, Queryable, SelectHints};

fn config(dir: &std::path::Path, shards: u32) -> NodeConfig {
    let mut c = NodeConfig {
        data_dir: dir.to_owned(),
        shard_count: shards,
        ..NodeConfig::default()
    };
    c.raft.heartbeat_interval_ms = 100;
    c.raft.election_timeout_min_ms = 300;
    c.raft.election_timeout_max_ms = 600;
    c
}

fn series(i: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", "m".to_string()),
        ("instance", format!("host-{i:02}")),
    ])
    .unwrap()
}

fn base_ms() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    now - now % 1000 - 3_600_000
}

/// Builds one request: `n` samples per series starting at `t0`, grouped per shard.
fn request(node: &Node, count: usize, t0: i64, n: i64) -> Vec<(ShardId, ShardBatch)> {
    let mut per_shard: BTreeMap<ShardId, ShardBatchBuilder> = BTreeMap::new();
    for i in 0..count {
        let l = series(i);
        let id = l.series_id();
        let samples: Vec<Sample> = (0..n)
            .map(|k| Sample::new(t0 + k * 1000, (i as f64) * 1000.0 + k as f64))
            .collect();
        per_shard
            .entry(id.shard(node.shard_count()))
            .or_default()
            .push_series(id, &l.to_canonical(), &samples);
    }
    per_shard
        .into_iter()
        .map(|(s, b)| (s, b.finish()))
        .collect()
}

fn read_all(node: &Node) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let hints = SelectHints {
        mint: 0,
        maxt: i64::MAX,
        ..SelectHints::default()
    };
    let sel = node
        .select(&hints, &[Matcher::equal("__name__", "m")])
        .unwrap();
    sel.into_iter()
        .map(|mut s| {
            let mut pts = Vec::new();
            while let Some(p) = s.samples.next_point() {
                match p.v {
                    PointValue::Float(v) => pts.push((p.t, v)),
                    PointValue::Histogram(_) => panic!("unexpected histogram"),
                }
            }
            (s.labels, pts)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_then_selects_across_shards() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(config(dir.path(), 3)).await.unwrap();
    assert!(node.is_ready());
    let t0 = base_ms();
    let o = node.write(request(&node, 12, t0, 30)).await.unwrap();
    assert_eq!(o.appended, 12 * 30);
    assert_eq!(o.rejected, 0);

    let all = tokio::task::spawn_blocking({
        let node = node.clone();
        move || read_all(&node)
    })
    .await
    .unwrap();
    assert_eq!(all.len(), 12);
    for (i, (labels, pts)) in all.iter().enumerate() {
        assert_eq!(labels, &series(i), "sorted by labels");
        let want: Vec<(i64, f64)> = (0..30)
            .map(|k| (t0 + k * 1000, (i as f64) * 1000.0 + k as f64))
            .collect();
        assert_eq!(pts, &want);
    }
    assert_eq!(
        node.label_names(0, i64::MAX, &[]).unwrap(),
        vec!["__name__".to_string(), "instance".to_string()]
    );
    let values = node.label_values("instance", 0, i64::MAX, &[]).unwrap();
    assert_eq!(values.len(), 12);
    assert_eq!(values[0], "host-00");

    // A seek skips ahead within the range.
    let hints = SelectHints {
        mint: t0 + 10_000,
        maxt: t0 + 20_000,
        ..SelectHints::default()
    };
    let mut sel = node
        .select(&hints, &[Matcher::equal("instance", "host-03")])
        .unwrap();
    assert_eq!(sel.len(), 1);
    let p = sel[0].samples.seek(t0 + 15_500).unwrap();
    assert_eq!(p.t, t0 + 16_000);

    let stats = node.stats();
    assert_eq!(stats.shards.len(), 3);
    assert!(stats.log.fsyncs >= 1);
    assert!(stats.log.fsyncs <= stats.log.requests);
    node.shutdown().await.unwrap();
    assert!(!node.is_ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_every_acknowledged_sample_exactly_once_across_a_crash_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = base_ms();
    {
        let node = Node::start(config(dir.path(), 2)).await.unwrap();
        node.write(request(&node, 8, t0, 20)).await.unwrap();
        // Half of it durable in RocksDB, the rest only in the Raft log.
        node.flush().await.unwrap();
        node.write(request(&node, 8, t0 + 20_000, 20))
            .await
            .unwrap();
        node.kill().await;
    }
    {
        let node = Node::start(config(dir.path(), 2)).await.unwrap();
        assert!(node.is_ready());
        let all = tokio::task::spawn_blocking({
            let node = node.clone();
            move || read_all(&node)
        })
        .await
        .unwrap();
        assert_eq!(all.len(), 8);
        for (i, (_, pts)) in all.iter().enumerate() {
            let want: Vec<(i64, f64)> = (0..40)
                .map(|k| (t0 + k * 1000, (i as f64) * 1000.0 + (k % 20) as f64))
                .collect();
            assert_eq!(pts, &want, "series {i}");
        }
        // Clean shutdown flushes; the next start has nothing to replay but keeps everything.
        node.shutdown().await.unwrap();
    }
    let node = Node::start(config(dir.path(), 5)).await.unwrap();
    assert_eq!(node.shard_count(), 2, "the stored shard count wins");
    let all = tokio::task::spawn_blocking({
        let node = node.clone();
        move || read_all(&node)
    })
    .await
    .unwrap();
    assert_eq!(all.iter().map(|(_, p)| p.len()).sum::<usize>(), 8 * 40);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_out_of_order_samples_in_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(config(dir.path(), 1)).await.unwrap();
    let t0 = base_ms();
    node.write(request(&node, 1, t0 + 10_000, 1)).await.unwrap();
    let o = node.write(request(&node, 1, t0, 1)).await.unwrap();
    assert_eq!(o.appended, 0);
    assert_eq!(o.rejected, 1);
    assert_eq!(o.first_rejections[0].reason, RejectReason::OutOfOrder);
    assert_eq!(o.first_rejections[0].timestamp_ms, t0);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purges_the_log_after_the_periodic_flush() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), 1);
    c.storage.flush_interval = Duration::from_millis(200);
    let node = Node::start(c).await.unwrap();
    node.write(request(&node, 4, base_ms(), 10)).await.unwrap();
    let applied = node.stats().shards[0].raft.last_applied.unwrap();
    // Wait (bounded by the test harness, no sleeps) until the flush task has let openraft purge.
    let mut rx = node.registry().all()[0].raft().metrics();
    loop {
        if rx.borrow().purged.map(|l| l.index).unwrap_or(0) >= applied {
            break;
        }
        rx.changed().await.unwrap();
    }
    let s = &node.stats().shards[0];
    assert!(s.engine.durable_index > applied);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushes_early_once_unflushed_entries_reach_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), 1);
    // The interval never comes during the test: only the size limit can flush.
    c.storage.flush_interval = Duration::from_secs(3_600);
    c.storage.flush_log_bytes = 64 << 10;
    let node = Node::start(c).await.unwrap();
    let t0 = base_ms();
    for k in 0..20 {
        node.write(request(&node, 200, t0 + k * 10_000, 10))
            .await
            .unwrap();
    }
    assert_eq!(node.stats().shards[0].engine.durable_index, 0);
    // The flush task looks every second; without the size limit nothing would flush for an
    // hour, so the bound turns a missing early flush into a failure instead of a hang.
    let mut rx = node.registry().all()[0].raft().metrics();
    tokio::time::timeout(Duration::from_secs(30), async {
        while rx.borrow().purged.map(|l| l.index).unwrap_or(0) == 0 {
            rx.changed().await.unwrap();
        }
    })
    .await
    .expect("no early flush within 30 s");
    let s = &node.stats().shards[0];
    assert!(s.engine.durable_index > 0, "{s:?}");
    assert!(s.engine.unflushed_bytes < 64 << 10, "{s:?}");
    node.shutdown().await.unwrap();
}
