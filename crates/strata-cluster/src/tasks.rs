//! Background tasks of a node: per-shard flush (which also lets the Raft log be purged),
//! compaction of the purged Raft log, and retention. Each has a name, a span, and stops when the
//! node's shutdown signal fires.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strata_raft::ShardGroup;
use strata_storage::raftlog::RaftLog;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument;

use crate::node::Node;

/// Spawns every background task of `node`.
pub(crate) fn spawn_all(node: &Node) -> Vec<JoinHandle<()>> {
    let flush_every = node.inner.config.storage.flush_interval;
    let flush_bytes = node.inner.config.storage.flush_log_bytes;
    let n = node.inner.groups.len().max(1) as u32;
    let mut handles = Vec::new();
    for (i, g) in node.inner.groups.iter().enumerate() {
        // Stagger the shards so that their flushes do not all hit the disk at once.
        let offset = flush_every / n * i as u32;
        handles.push(tokio::spawn(
            flush_loop(
                g.clone(),
                flush_every,
                offset,
                flush_bytes,
                node.shutdown_signal(),
            )
            .instrument(tracing::info_span!("flush", shard = g.id().0)),
        ));
    }
    handles.push(tokio::spawn(
        log_compaction_loop(
            Arc::clone(&node.inner.log),
            flush_every,
            node.shutdown_signal(),
        )
        .instrument(tracing::info_span!("raft_log_compaction")),
    ));
    let every = Duration::from_millis(node.inner.config.retention_interval_ms);
    handles.push(tokio::spawn(
        retention_loop(node.inner.groups.clone(), every, node.shutdown_signal())
            .instrument(tracing::info_span!("retention")),
    ));
    handles
}

/// A periodic tick that ends when the node shuts down; late ticks are delayed, not bunched.
struct Ticks {
    ticker: tokio::time::Interval,
    stop: watch::Receiver<bool>,
}

impl Ticks {
    /// Ticks every `every`, the first time after `first`.
    fn new(first: Duration, every: Duration, stop: watch::Receiver<bool>) -> Ticks {
        let mut ticker = tokio::time::interval_at(Instant::now() + first, every);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Ticks { ticker, stop }
    }

    /// Waits for the next tick; returns false once the node shuts down.
    async fn next(&mut self) -> bool {
        tokio::select! {
            _ = self.ticker.tick() => true,
            _ = self.stop.changed() => false,
        }
    }
}

/// How often the flush task looks at a shard's unflushed bytes.
const FLUSH_CHECK: Duration = Duration::from_secs(1);

/// Flushes the shard every `every` (the first time after `every + offset`), and early whenever
/// the entries applied since its last flush reach `max_bytes`.
async fn flush_loop(
    group: ShardGroup,
    every: Duration,
    offset: Duration,
    max_bytes: u64,
    stop: watch::Receiver<bool>,
) {
    let check = every.min(FLUSH_CHECK);
    let mut ticks = Ticks::new(check, check, stop);
    let mut due = Instant::now() + every + offset;
    while ticks.next().await {
        let now = Instant::now();
        let big = group.shard().unflushed_bytes() >= max_bytes;
        if now < due && !big {
            continue;
        }
        if big && now < due {
            tracing::debug!(
                unflushed_bytes = group.shard().unflushed_bytes(),
                "flushing early: unflushed entries reached flush-log-bytes"
            );
        }
        due = now + every;
        // Building a snapshot flushes the shard; openraft then purges the log up to it.
        if let Err(e) = group.trigger_flush().await {
            tracing::warn!(error = %e, "flush trigger failed; stopping the flush task");
            return;
        }
    }
}

/// Compacts the Raft log's column family when purged entries pile up in its SST files (see
/// `RaftLog::maybe_compact`), checked once per flush interval, after the shards' staggered
/// flushes have let openraft purge.
async fn log_compaction_loop(log: Arc<RaftLog>, every: Duration, stop: watch::Receiver<bool>) {
    let mut ticks = Ticks::new(every, every, stop);
    while ticks.next().await {
        let log = Arc::clone(&log);
        match tokio::task::spawn_blocking(move || log.maybe_compact()).await {
            Ok(Ok(Some(c))) => tracing::info!(
                before = c.sst_bytes_before,
                after = c.sst_bytes_after,
                "raft log compacted"
            ),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "raft log compaction failed"),
            Err(e) => tracing::warn!(error = %e, "raft log compaction task failed"),
        }
    }
}

/// Tasks hold group handles, not the node, so that dropping the node (which drops the shutdown
/// sender) ends them.
async fn retention_loop(groups: Vec<ShardGroup>, every: Duration, stop: watch::Receiver<bool>) {
    let mut ticks = Ticks::new(every, every, stop);
    while ticks.next().await {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        for g in &groups {
            let shard = g.shard().clone();
            let res = tokio::task::spawn_blocking(move || shard.apply_retention(now_ms)).await;
            match res {
                Ok(Ok(stats)) => tracing::debug!(shard = g.id().0, ?stats, "retention ran"),
                Ok(Err(e)) => tracing::warn!(shard = g.id().0, error = %e, "retention failed"),
                Err(e) => tracing::warn!(shard = g.id().0, error = %e, "retention task failed"),
            }
        }
    }
}
