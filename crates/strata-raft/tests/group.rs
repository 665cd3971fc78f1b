//! A single-voter shard group on a real RocksDB: writes, durability across restarts, purging.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use strata_model::{Labels, Sample, ShardBatch, ShardBatchBuilder, ShardId};
use strata_raft::{GroupId, NoTransport, RaftConfig, ShardGroup};
use strata_storage::raftlog::RaftLog;
use strata_storage::{Db, Shard, StorageConfig};

fn batch(t0: i64, n: i64) -> ShardBatch {
    let l = Labels::from_pairs([("__name__", "up"), ("job", "a")]).unwrap();
    let samples: Vec<Sample> = (t0..t0 + n)
        .map(|t| Sample::new(t * 1000, t as f64))
        .collect();
    let mut b = ShardBatchBuilder::new();
    b.push_series(l.series_id(), &l.to_canonical(), &samples);
    b.finish()
}

async fn start(dir: &std::path::Path) -> (Arc<RaftLog>, ShardGroup) {
    let db = Db::open(dir, &StorageConfig::default()).unwrap();
    let log = RaftLog::open(Arc::clone(&db)).unwrap();
    let shard = Arc::new(Shard::open(db, ShardId(0), StorageConfig::default()).unwrap());
    let config = RaftConfig::default().to_openraft("test").unwrap();
    let g = ShardGroup::start(
        1,
        GroupId(0),
        shard,
        Arc::clone(&log),
        config,
        Arc::new(NoTransport),
    )
    .await
    .unwrap();
    g.bootstrap_single("127.0.0.1:1").await.unwrap();
    g.wait_for_leader(Duration::from_secs(30)).await.unwrap();
    (log, g)
}

async fn wait_applied(g: &ShardGroup, index: u64) {
    let mut rx = g.raft().metrics();
    loop {
        if rx.borrow().last_applied.map(|l| l.index).unwrap_or(0) >= index {
            return;
        }
        rx.changed().await.unwrap();
    }
}

async fn wait_purged(g: &ShardGroup, index: u64) {
    let mut rx = g.raft().metrics();
    loop {
        if rx.borrow().purged.map(|l| l.index).unwrap_or(0) >= index {
            return;
        }
        rx.changed().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applies_writes_replays_after_crash_and_purges_after_flush() {
    let dir = tempfile::tempdir().unwrap();
    let last;
    let last2;
    {
        let (log, g) = start(dir.path()).await;
        for i in 0..10 {
            let o = g.write(batch(i * 10, 10)).await.unwrap();
            assert_eq!(o.appended, 10);
        }
        // An out-of-order rewrite is refused per sample, not as an error.
        let o = g.write(batch(0, 1)).await.unwrap();
        assert_eq!(o.appended, 0);
        assert_eq!(o.rejected + o.duplicates, 1);
        let s = log.stats();
        assert!(s.fsyncs >= 1 && s.fsyncs <= s.requests, "{s:?}");
        last = g.status().last_applied.unwrap();
        assert_eq!(g.shard().durable_index(), 0, "nothing flushed yet");
        // Crash: stop without flushing.
        g.shutdown().await.unwrap();
        log.shutdown();
    }
    {
        let (log, g) = start(dir.path()).await;
        wait_applied(&g, last).await;
        let st = g.shard().stats();
        assert_eq!(st.samples_appended, 100, "{st:?}");
        // A flush makes the head durable and lets openraft purge the log up to it.
        g.trigger_flush().await.unwrap();
        wait_purged(&g, last).await;
        assert!(g.shard().durable_index() > last);
        assert!(log.entries(GroupId(0), 0, last + 1).unwrap().is_empty());
        let o = g.write(batch(100, 5)).await.unwrap();
        assert_eq!(o.appended, 5);
        last2 = g.status().last_applied.unwrap();
        g.shutdown().await.unwrap();
        log.shutdown();
    }
    {
        // Restart after a purge: the durable head comes back from RocksDB, the rest from the log.
        let (_log, g) = start(dir.path()).await;
        wait_applied(&g, last2).await;
        let sel = g
            .shard()
            .select(
                &[strata_model::Matcher::equal("__name__", "up")],
                0,
                i64::MAX,
            )
            .unwrap();
        assert_eq!(sel.len(), 1);
        let n: usize = sel[0].chunks.iter().map(|c| c.num_samples()).sum();
        assert_eq!(n, 105);
        g.shutdown().await.unwrap();
    }
}
