//! The single-node "cluster of one": one RocksDB, one Raft group per shard, this node the only
//! voter of each.

mod identity;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use strata_model::ShardId;
use strata_raft::{GroupId, GroupStatus, NoTransport, Registry, ShardGroup};
use strata_storage::raftlog::{LogStats, RaftLog};
use strata_storage::{Db, Shard, ShardStats};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::config::NodeConfig;
use crate::error::{Error, Result};
use crate::tasks;

/// A running storage node. Cheap to clone; implements [`strata_model::WriteSink`] and
/// [`strata_promql::Queryable`].
#[derive(Debug, Clone)]
pub struct Node {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: NodeConfig,
    pub(crate) shard_count: u32,
    pub(crate) db: Arc<Db>,
    pub(crate) log: Arc<RaftLog>,
    /// Shard groups by shard index.
    pub(crate) groups: Vec<ShardGroup>,
    pub(crate) registry: Registry,
    /// Per shard: the last log index at start-up; the shard has replayed its log once its
    /// applied index reaches it.
    ready_marks: Vec<u64>,
    shutdown_tx: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
    stopped: AtomicBool,
}

/// Per-shard figures for `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardReport {
    /// The shard.
    pub shard: ShardId,
    /// Its Raft group's progress.
    pub raft: GroupStatus,
    /// Its engine's counters.
    pub engine: ShardStats,
}

/// Node-wide figures for `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStats {
    /// The Raft log writer's counters (group commit: `fsyncs` versus `entries`).
    pub log: LogStats,
    /// One report per shard.
    pub shards: Vec<ShardReport>,
}

impl Node {
    /// Opens (or creates) the node's data and starts one Raft group per shard; returns once every
    /// group has a leader and has replayed its log. The first start initializes each group with
    /// this node as its only voter; later starts reuse the stored state.
    pub async fn start(config: NodeConfig) -> Result<Node> {
        config.validate()?;
        let span = tracing::info_span!("node", node = config.node_id);
        async move {
            let shard_count = identity::load_or_create(&config)?;
            let db_path = config.data_dir.join("db");
            let storage = config.storage.clone();
            let db = tokio::task::spawn_blocking(move || Db::open(&db_path, &storage))
                .await
                .map_err(|e| Error::Task(e.to_string()))??;
            let log = RaftLog::open(Arc::clone(&db))?;
            let raft_config = config.raft.to_openraft("strata-shards")?;
            let transport: Arc<dyn strata_raft::Transport> = Arc::new(NoTransport);

            let mut set = tokio::task::JoinSet::new();
            for i in 0..shard_count {
                let (db, log) = (Arc::clone(&db), Arc::clone(&log));
                let (raft_config, transport) = (Arc::clone(&raft_config), Arc::clone(&transport));
                let storage = config.storage.clone();
                let node_id = config.node_id;
                let addr = config.advertise_addr.clone();
                let timeout = config.startup_timeout();
                set.spawn(
                    async move {
                        let shard = tokio::task::spawn_blocking(move || {
                            Shard::open(db, ShardId(i), storage)
                        })
                        .await
                        .map_err(|e| Error::Task(e.to_string()))??;
                        let group = ShardGroup::start(
                            node_id,
                            GroupId(i),
                            Arc::new(shard),
                            log,
                            raft_config,
                            transport,
                        )
                        .await?;
                        group.bootstrap_single(&addr).await?;
                        group.wait_for_leader(timeout).await?;
                        let mark = group.status().last_log_index.unwrap_or(0);
                        Ok::<_, Error>((i, group, mark))
                    }
                    .instrument(tracing::info_span!("shard", shard = i)),
                );
            }
            let mut opened: Vec<Option<(ShardGroup, u64)>> =
                (0..shard_count).map(|_| None).collect();
            let mut first_err = None;
            while let Some(res) = set.join_next().await {
                match res.map_err(|e| Error::Task(e.to_string())).and_then(|r| r) {
                    Ok((i, g, mark)) => opened[i as usize] = Some((g, mark)),
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first_err {
                for (g, _) in opened.into_iter().flatten() {
                    let _ = g.shutdown().await;
                }
                log.shutdown();
                return Err(e);
            }
            let (groups, ready_marks): (Vec<_>, Vec<_>) = opened.into_iter().flatten().unzip();
            let registry = Registry::new();
            for g in &groups {
                registry.insert(g.clone());
            }
            let (shutdown_tx, _) = watch::channel(false);
            let node = Node {
                inner: Arc::new(Inner {
                    config,
                    shard_count,
                    db,
                    log,
                    groups,
                    registry,
                    ready_marks,
                    shutdown_tx,
                    tasks: std::sync::Mutex::new(Vec::new()),
                    stopped: AtomicBool::new(false),
                }),
            };
            node.wait_until_replayed().await?;
            let handles = tasks::spawn_all(&node);
            if let Ok(mut t) = node.inner.tasks.lock() {
                t.extend(handles);
            }
            tracing::info!(shards = shard_count, "node started");
            Ok(node)
        }
        .instrument(span)
        .await
    }

    async fn wait_until_replayed(&self) -> Result<()> {
        let timeout = self.inner.config.startup_timeout();
        for (g, &mark) in self.inner.groups.iter().zip(&self.inner.ready_marks) {
            let mut rx = g.raft().metrics();
            let wait = async {
                loop {
                    if rx.borrow().last_applied.map(|l| l.index).unwrap_or(0) >= mark {
                        return true;
                    }
                    if rx.changed().await.is_err() {
                        return false;
                    }
                }
            };
            let ok = tokio::time::timeout(timeout, wait).await.unwrap_or(false);
            if !ok {
                return Err(Error::Raft(strata_raft::Error::Raft {
                    group: g.id().0,
                    message: "log replay did not finish".into(),
                }));
            }
        }
        Ok(())
    }

    /// Returns whether every shard group has a leader and has replayed its log, and the node is
    /// not shutting down.
    pub fn is_ready(&self) -> bool {
        if self.inner.stopped.load(Ordering::Acquire) {
            return false;
        }
        self.inner
            .groups
            .iter()
            .zip(&self.inner.ready_marks)
            .all(|(g, &mark)| {
                let s = g.status();
                s.leader.is_some() && s.last_applied.unwrap_or(0) >= mark
            })
    }

    /// Returns the number of shards.
    pub fn shard_count(&self) -> u32 {
        self.inner.shard_count
    }

    /// Returns the groups hosted by this node (for the RPC layer to route Raft messages).
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Returns the node's RocksDB (for `/metrics` size gauges).
    pub fn db(&self) -> &Arc<Db> {
        &self.inner.db
    }

    /// Returns per-shard and node-wide figures.
    pub fn stats(&self) -> NodeStats {
        NodeStats {
            log: self.inner.log.stats(),
            shards: self
                .inner
                .groups
                .iter()
                .map(|g| ShardReport {
                    shard: g.shard().id(),
                    raft: g.status(),
                    engine: g.shard().stats(),
                })
                .collect(),
        }
    }

    /// Flushes every shard now (its head to RocksDB) and records the durable state.
    pub async fn flush(&self) -> Result<()> {
        for g in &self.inner.groups {
            g.flush_now().await?;
        }
        Ok(())
    }

    /// Stops the background tasks and every Raft group, flushes every shard and stops the log
    /// writer. Writes after this fail as unavailable. Idempotent.
    pub async fn shutdown(&self) -> Result<()> {
        if self.inner.stopped.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let _ = self.inner.shutdown_tx.send(true);
        let handles: Vec<_> = match self.inner.tasks.lock() {
            Ok(mut t) => t.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for h in handles {
            let _ = h.await;
        }
        // While Raft still runs: flush every shard and let openraft purge its log up to the
        // flushed index, so a stopped node keeps chunks, not a log to replay.
        for g in &self.inner.groups {
            let target = g.status().last_applied;
            if g.trigger_flush().await.is_ok() {
                let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
                while g.status().last_purged < target && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        }
        let mut first_err = None;
        for g in &self.inner.groups {
            if let Err(e) = g.shutdown().await {
                tracing::warn!(shard = g.id().0, error = %e, "raft shutdown failed");
            }
            if let Err(e) = g.flush_now().await {
                tracing::error!(shard = g.id().0, error = %e, "final flush failed");
                first_err.get_or_insert(Error::from(e));
            }
        }
        self.inner.log.shutdown();
        // Reclaim the purged log's space: flush memtables (releasing old WAL files) and compact
        // the log column family, whose purged ranges are only tombstones until compacted.
        let db = Arc::clone(&self.inner.db);
        let compacted = tokio::task::spawn_blocking(move || {
            db.flush_memtables()?;
            db.compact_cf(strata_storage::CF_RAFT_LOG)
        })
        .await;
        if let Ok(Err(e)) = compacted {
            tracing::warn!(error = %e, "compacting the raft log on shutdown failed");
        }
        tracing::info!("node stopped");
        first_err.map_or(Ok(()), Err)
    }

    /// Stops the Raft groups and the log writer *without* flushing, as a crash would leave the
    /// data (tests use it to check log replay).
    pub async fn kill(&self) {
        self.inner.stopped.store(true, Ordering::Release);
        let _ = self.inner.shutdown_tx.send(true);
        let handles: Vec<_> = match self.inner.tasks.lock() {
            Ok(mut t) => t.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for h in &handles {
            h.abort();
        }
        for h in handles {
            let _ = h.await;
        }
        for g in &self.inner.groups {
            let _ = g.shutdown().await;
        }
        self.inner.log.shutdown();
    }

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown_tx.subscribe()
    }

    pub(crate) fn group(&self, shard: ShardId) -> Option<&ShardGroup> {
        self.inner.groups.get(shard.0 as usize)
    }
}
