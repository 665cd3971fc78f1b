//! [`StorageConfig`]: every knob of the shard engine and of the node's RocksDB instance.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::units;

/// Settings of the shard engine and its RocksDB instance.
///
/// Durations are human strings (`"15d"`, `"1m"`), sizes human sizes (`"256MiB"`) or integers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct StorageConfig {
    /// How long samples are kept; whole time partitions older than this are dropped, and samples
    /// older than the shard's newest sample minus this are refused as too old. Default `15d`.
    #[serde(with = "units::duration")]
    pub retention: Duration,
    /// How far behind the newest sample of its series a sample may be and still be accepted
    /// (out-of-order ingestion). Default `0` (in-order only).
    #[serde(with = "units::duration")]
    pub out_of_order_window: Duration,
    /// Width of a time partition: postings, chunks and retention are per partition. Default `1d`.
    #[serde(with = "units::duration")]
    pub partition_width: Duration,
    /// A head chunk is cut once it holds this many samples. Default `600` (10 min of 1-s data):
    /// measured ≈ 0.75 B/sample on disk and ≈ 1.1 KB of head memory per series on average on
    /// node_exporter-like data (`docs/storage.md`); longer chunks save a little disk and cost
    /// memory.
    pub chunk_max_samples: u32,
    /// A head chunk is cut once it spans this much time. Default `2h`.
    #[serde(with = "units::duration")]
    pub chunk_max_range: Duration,
    /// A head chunk is cut once its encoded bytes reach this size. Default `16KiB`.
    #[serde(with = "units::size")]
    pub chunk_max_bytes: u64,
    /// How often the owner should call `Shard::flush` (the engine does not run timers itself).
    /// Bounds the Raft log that a restart replays. Default `1m`.
    #[serde(with = "units::duration")]
    pub flush_interval: Duration,
    /// A shard is flushed before its interval is up once the Raft entries applied since its
    /// last flush reach this size. Default `64MiB` (≈ 3 M samples in the compact entry form):
    /// bounds what the head holds unflushed, the Raft log kept, and the replay after a crash
    /// when samples arrive much faster than in real time (a sender catching up on a backlog).
    #[serde(with = "units::size")]
    pub flush_log_bytes: u64,
    /// A head series that received no sample for this long (measured against the shard's newest
    /// sample time) leaves memory. Must exceed the out-of-order window. Default `1h`.
    #[serde(with = "units::duration")]
    pub head_idle_timeout: Duration,
    /// RocksDB block cache shared by all column families. Default `256MiB`.
    #[serde(with = "units::size")]
    pub block_cache_size: u64,
    /// RocksDB memtable size of each data column family. Default `16MiB`: under steady load a
    /// data column family receives about a byte per sample (chunks, segments), so even 16MiB
    /// fills only every few minutes at a million samples per second, while a larger memtable
    /// is resident memory that a node holds for hours once it has filled.
    #[serde(with = "units::size")]
    pub write_buffer_size: u64,
    /// RocksDB memtable size of the Raft log column family. Default `16MiB`: the log's entries
    /// are read from memory (the entry cache), not from the memtable, and are purged within a
    /// flush interval, so a large memtable only holds resident memory (a 64MiB one was a third
    /// of the server's resident memory after a burst of writes, `docs/benchmarks.md`).
    #[serde(with = "units::size")]
    pub log_write_buffer_size: u64,
    /// Cap on the memtables of all column families together; when reached, RocksDB flushes
    /// one early. Default `64MiB`: without it every column family's memtable would grow to
    /// its own size over hours of steady load.
    #[serde(with = "units::size")]
    pub total_write_buffer_size: u64,
    /// RocksDB background flush and compaction threads. Default `2`.
    pub max_background_jobs: u32,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            retention: Duration::from_secs(15 * 86_400),
            out_of_order_window: Duration::ZERO,
            partition_width: Duration::from_secs(86_400),
            chunk_max_samples: 600,
            chunk_max_range: Duration::from_secs(2 * 3_600),
            chunk_max_bytes: 16 << 10,
            flush_interval: Duration::from_secs(60),
            flush_log_bytes: 64 << 20,
            head_idle_timeout: Duration::from_secs(3_600),
            block_cache_size: 256 << 20,
            write_buffer_size: 16 << 20,
            log_write_buffer_size: 16 << 20,
            total_write_buffer_size: 64 << 20,
            max_background_jobs: 2,
        }
    }
}

impl StorageConfig {
    /// Checks the settings against each other; returns the first problem found.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        let ms = |d: Duration| d.as_millis();
        if ms(self.partition_width) < 60_000 {
            return bad("partition-width must be at least 1m".into());
        }
        if ms(self.retention) < ms(self.partition_width) {
            return bad("retention must be at least one partition-width".into());
        }
        if ms(self.chunk_max_range) == 0 || self.chunk_max_range > self.partition_width {
            return bad("chunk-max-range must be positive and at most partition-width".into());
        }
        if !(2..=65_535).contains(&self.chunk_max_samples) {
            return bad("chunk-max-samples must be between 2 and 65535".into());
        }
        if !(256..=(1 << 20)).contains(&self.chunk_max_bytes) {
            return bad("chunk-max-bytes must be between 256 and 1MiB".into());
        }
        if ms(self.flush_interval) == 0 {
            return bad("flush-interval must be positive".into());
        }
        if self.flush_log_bytes < (64 << 10) {
            return bad("flush-log-bytes must be at least 64KiB".into());
        }
        if self.head_idle_timeout <= self.out_of_order_window {
            return bad("head-idle-timeout must exceed out-of-order-window".into());
        }
        if self.head_idle_timeout >= self.retention {
            return bad("head-idle-timeout must be shorter than retention".into());
        }
        if self.write_buffer_size < (1 << 20) || self.log_write_buffer_size < (1 << 20) {
            return bad("write-buffer-size and log-write-buffer-size must be at least 1MiB".into());
        }
        if self.total_write_buffer_size < self.write_buffer_size.max(self.log_write_buffer_size) {
            return bad(
                "total-write-buffer-size must be at least write-buffer-size and \
                 log-write-buffer-size"
                    .into(),
            );
        }
        if self.max_background_jobs == 0 {
            return bad("max-background-jobs must be positive".into());
        }
        Ok(())
    }

    pub(crate) fn retention_ms(&self) -> i64 {
        duration_ms(self.retention)
    }

    pub(crate) fn ooo_window_ms(&self) -> i64 {
        duration_ms(self.out_of_order_window)
    }

    pub(crate) fn partition_width_ms(&self) -> i64 {
        duration_ms(self.partition_width).max(1)
    }

    pub(crate) fn chunk_max_range_ms(&self) -> i64 {
        duration_ms(self.chunk_max_range).max(1)
    }

    pub(crate) fn head_idle_ms(&self) -> i64 {
        duration_ms(self.head_idle_timeout)
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let c = StorageConfig::default();
        c.validate().unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"retention\":\"15d\""), "{json}");
        let back: StorageConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn parses_human_units_and_rejects_unknown_fields() {
        let c: StorageConfig = serde_json::from_str(
            r#"{"retention":"30d","out-of-order-window":"5m","block-cache-size":"1GiB"}"#,
        )
        .unwrap();
        assert_eq!(c.retention, Duration::from_secs(30 * 86_400));
        assert_eq!(c.ooo_window_ms(), 300_000);
        assert_eq!(c.block_cache_size, 1 << 30);
        assert!(serde_json::from_str::<StorageConfig>(r#"{"retension":"1d"}"#).is_err());
    }

    #[test]
    fn rejects_inconsistent_settings() {
        let c = StorageConfig {
            out_of_order_window: Duration::from_secs(7_200),
            ..StorageConfig::default()
        };
        assert!(c.validate().is_err());
        let c = StorageConfig {
            chunk_max_range: Duration::from_secs(2 * 86_400),
            ..StorageConfig::default()
        };
        assert!(c.validate().is_err());
        // The cap on all memtables cannot be below one column family's memtable.
        let c = StorageConfig {
            total_write_buffer_size: 8 << 20,
            ..StorageConfig::default()
        };
        assert!(c.validate().is_err());
        let c = StorageConfig {
            log_write_buffer_size: 4 << 10,
            ..StorageConfig::default()
        };
        assert!(c.validate().is_err());
    }
}
