//! Background tasks of a node: per-shard flush (which also lets the Raft log be purged) and
//! retention. Each has a name, a span, and stops when the node's shutdown signal fires.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strata_raft::ShardGroup;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument;

use crate::node::Node;

/// Spawns every background task of `node`.
pub(crate) fn spawn_all(node: &Node) -> Vec<JoinHandle<()>> {
    let flush_every = node.inner.config.storage.flush_interval;
    let n = node.inner.groups.len().max(1) as u32;
    let mut handles = Vec::new();
    for (i, g) in node.inner.groups.iter().enumerate() {
        // Stagger the shards so that their flushes do not all hit the disk at once.
        let offset = flush_every / n * i as u32;
        handles.push(tokio::spawn(
            flush_loop(g.clone(), flush_every, offset, node.shutdown_signal())
                .instrument(tracing::info_span!("flush", shard = g.id().0)),
        ));
    }
    let every = Duration::from_millis(node.inner.config.retention_interval_ms);
    handles.push(tokio::spawn(
        retention_loop(node.inner.groups.clone(), every, node.shutdown_signal())
            .instrument(tracing::info_span!("retention")),
    ));
    handles
}

async fn flush_loop(
    group: ShardGroup,
    every: Duration,
    offset: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval_at(Instant::now() + every + offset, every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        // Building a snapshot flushes the shard; openraft then purges the log up to it.
        if let Err(e) = group.trigger_flush().await {
            tracing::warn!(error = %e, "flush trigger failed; stopping the flush task");
            return;
        }
    }
}

/// Tasks hold group handles, not the node, so that dropping the node (which drops the shutdown
/// sender) ends them.
async fn retention_loop(groups: Vec<ShardGroup>, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval_at(Instant::now() + every, every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
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
