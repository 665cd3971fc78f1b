//! The node's metrics for `/metrics`, read from live counters at scrape time.
//!
//! Names follow `strata_<crate>_<what>_<unit>`. Per-shard series carry only the bounded `shard` label, per column family the
//! `cf` label.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::Node;

/// Label name of the per-shard series.
const SHARD: &str = "shard";
/// Label name of the per-column-family series.
const CF: &str = "cf";

/// Reads a [`Node`]'s statistics on every scrape.
#[derive(Debug)]
struct NodeCollector {
    node: Node,
}

impl Node {
    /// Registers the node's storage, Raft and log metrics in `registry`.
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register_collector(Box::new(NodeCollector { node: self.clone() }));
    }
}

fn counter(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(v);
    let m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    c.encode(m)
}

fn per_shard<F: Fn(&crate::ShardReport) -> u64>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    shards: &[crate::ShardReport],
    value: F,
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, None, kind)?;
    for s in shards {
        let labels = [(SHARD, s.shard.0.to_string())];
        let fam = m.encode_family(&labels)?;
        match kind {
            MetricType::Counter => ConstCounter::new(value(s)).encode(fam)?,
            _ => ConstGauge::new(value(s) as i64).encode(fam)?,
        }
    }
    Ok(())
}

impl Collector for NodeCollector {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let stats = self.node.stats();
        let log = &stats.log;
        counter(
            &mut enc,
            "strata_storage_log_entries",
            "Raft log entries appended.",
            log.entries,
        )?;
        counter(
            &mut enc,
            "strata_storage_log_writes",
            "RocksDB write batches issued by the Raft log writer (one per group commit).",
            log.writes,
        )?;
        counter(
            &mut enc,
            "strata_storage_log_fsyncs",
            "Synced writes of the Raft log.",
            log.fsyncs,
        )?;
        counter(
            &mut enc,
            "strata_storage_log_written_bytes",
            "Bytes written to the Raft log.",
            log.bytes,
        )?;
        counter(
            &mut enc,
            "strata_storage_log_lingers",
            "Synced Raft log writes that first waited for appends announced by a write request.",
            log.lingers,
        )?;
        counter(
            &mut enc,
            "strata_storage_log_linger_timeouts",
            "Waits for announced Raft log appends that ended at the time limit.",
            log.linger_timeouts,
        )?;
        counter(
            &mut enc,
            "strata_storage_log_failures",
            "Raft log writes that failed.",
            log.failures,
        )?;

        let sh = &stats.shards;
        use MetricType::{Counter, Gauge};
        per_shard(
            &mut enc,
            "strata_storage_head_series",
            "Series in the head.",
            Gauge,
            sh,
            |s| s.engine.head_series,
        )?;
        per_shard(
            &mut enc,
            "strata_storage_head_chunks",
            "Chunks held in memory.",
            Gauge,
            sh,
            |s| s.engine.head_chunks,
        )?;
        per_shard(
            &mut enc,
            "strata_storage_head_memory_bytes",
            "Estimated heap bytes of the head.",
            Gauge,
            sh,
            |s| s.engine.head_memory_bytes,
        )?;
        per_shard(
            &mut enc,
            "strata_storage_unflushed_bytes",
            "Bytes of Raft entries applied since the shard's last flush (flush-log-bytes bounds it).",
            Gauge,
            sh,
            |s| s.engine.unflushed_bytes,
        )?;
        per_shard(
            &mut enc,
            "strata_storage_samples_appended",
            "Samples appended to the head (replays included).",
            Counter,
            sh,
            |s| s.engine.samples_appended,
        )?;
        per_shard(
            &mut enc,
            "strata_storage_samples_duplicate",
            "Samples ignored as exact duplicates.",
            Counter,
            sh,
            |s| s.engine.samples_duplicate,
        )?;
        per_shard(
            &mut enc,
            "strata_storage_samples_rejected",
            "Samples refused by the engine (out of order, too old, duplicate timestamp).",
            Counter,
            sh,
            |s| s.engine.samples_rejected,
        )?;
        per_shard(
            &mut enc,
            "strata_storage_series_created",
            "Series created in the head.",
            Counter,
            sh,
            |s| s.engine.series_created,
        )?;
        per_shard(
            &mut enc,
            "strata_storage_chunks_flushed",
            "Closed chunks written to RocksDB.",
            Counter,
            sh,
            |s| s.engine.chunks_flushed,
        )?;
        per_shard(
            &mut enc,
            "strata_storage_chunk_flushed_bytes",
            "Chunk bytes written to RocksDB before RocksDB's compression.",
            Counter,
            sh,
            |s| s.engine.chunk_bytes_flushed,
        )?;
        per_shard(
            &mut enc,
            "strata_storage_flushes",
            "Head flushes that wrote something.",
            Counter,
            sh,
            |s| s.engine.flushes,
        )?;

        if let Ok(sizes) = self.node.db().property_sizes() {
            let mut m = enc.encode_descriptor(
                "strata_storage_rocksdb_sst_bytes",
                "Bytes of RocksDB SST files per column family.",
                None,
                Gauge,
            )?;
            for s in &sizes {
                let labels = [(CF, s.name.to_string())];
                ConstGauge::new(s.total_sst_bytes as i64).encode(m.encode_family(&labels)?)?;
            }
            let mut m = enc.encode_descriptor(
                "strata_storage_rocksdb_memtable_bytes",
                "Bytes in RocksDB memtables per column family.",
                None,
                Gauge,
            )?;
            for s in &sizes {
                let labels = [(CF, s.name.to_string())];
                ConstGauge::new(s.memtable_bytes as i64).encode(m.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
