//! [`Db`]: the node's single RocksDB instance, shared by every shard replica and the Raft log.
//!
//! One instance means one WAL: RocksDB batches concurrent synced writes from many threads into
//! one WAL append + fsync (its write-group leader/follower protocol), so the number of fsyncs per
//! second does not grow with the number of shards or clients.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rocksdb::statistics::Ticker;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, InfoLogger,
    LogLevel, Options, SliceTransform, WriteBatch, WriteOptions,
};

use crate::config::StorageConfig;
use crate::error::{Error, Result};

/// Column family of closed chunks: `(shard, partition, series, chunk mint)` → chunk bytes.
pub const CF_CHUNKS: &str = "chunks";
/// Column family of postings: `(shard, partition, label name, label value, series)` → empty.
pub const CF_POSTINGS: &str = "postings";
/// Column family of the series registry: `(shard, series)` → last partition + canonical labels.
pub const CF_SERIES: &str = "series";
/// Column family of persisted head state: `(shard, series, seq)` → labels or chunk segments.
pub const CF_HEAD: &str = "head";
/// Column family of per-shard metadata: durable index and the head's deterministic scalars.
pub const CF_META: &str = "meta";
/// Column family of Raft log entries (owned by the `raftlog` module).
pub const CF_RAFT_LOG: &str = "raft_log";
/// Column family of Raft vote, committed and purged state (owned by the `raftlog` module).
pub const CF_RAFT_STATE: &str = "raft_state";

/// Every column family [`Db::open`] creates, in creation order.
pub const ALL_COLUMN_FAMILIES: [&str; 7] = [
    CF_CHUNKS,
    CF_POSTINGS,
    CF_SERIES,
    CF_HEAD,
    CF_META,
    CF_RAFT_LOG,
    CF_RAFT_STATE,
];

/// Sizes of one column family, for `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfSizes {
    /// The column family name.
    pub name: &'static str,
    /// Bytes of all SST files (`rocksdb.total-sst-files-size`).
    pub total_sst_bytes: u64,
    /// Estimated live data bytes (`rocksdb.estimate-live-data-size`).
    pub live_data_bytes: u64,
    /// Bytes in memtables (`rocksdb.cur-size-all-mem-tables`).
    pub memtable_bytes: u64,
    /// Estimated number of keys (`rocksdb.estimate-num-keys`).
    pub estimated_keys: u64,
}

/// The node's RocksDB instance with all column families open.
pub struct Db {
    db: rocksdb::DB,
    // Kept alive for the statistics tickers; RocksDB also holds a reference.
    opts: Options,
    _cache: Cache,
    path: PathBuf,
    sync_writes: AtomicU64,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating if needed) the RocksDB instance at `path` with every column family of
    /// [`ALL_COLUMN_FAMILIES`].
    pub fn open(path: &Path, config: &StorageConfig) -> Result<Arc<Db>> {
        config.validate()?;
        let cache =
            Cache::new_lru_cache(usize::try_from(config.block_cache_size).unwrap_or(usize::MAX));
        let mut opts = Options::default();
        opts.create_if_missing(true);
        // Bounds the WAL: column families with rarely filled memtables would otherwise keep every
        // WAL file (and so every purged Raft log entry) alive.
        opts.set_max_total_wal_size(128 << 20);
        opts.set_db_write_buffer_size(
            usize::try_from(config.total_write_buffer_size).unwrap_or(64 << 20),
        );
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(i32::try_from(config.max_background_jobs).unwrap_or(2));
        opts.set_bytes_per_sync(1 << 20);
        opts.enable_statistics();
        opts.set_info_logger(tracing_info_logger());
        let mut cfs = Vec::with_capacity(ALL_COLUMN_FAMILIES.len());
        for name in ALL_COLUMN_FAMILIES {
            cfs.push(ColumnFamilyDescriptor::new(
                name,
                cf_options(name, config, &cache)?,
            ));
        }
        let db =
            rocksdb::DB::open_cf_descriptors(&opts, path, cfs).map_err(Error::rocks("open"))?;
        Ok(Arc::new(Db {
            db,
            opts,
            _cache: cache,
            path: path.to_owned(),
            sync_writes: AtomicU64::new(0),
        }))
    }

    /// Returns the underlying RocksDB handle (for the Raft log module and tools).
    pub fn rocksdb(&self) -> &rocksdb::DB {
        &self.db
    }

    /// Returns the underlying RocksDB handle; the same as [`Db::rocksdb`].
    pub fn raw(&self) -> &rocksdb::DB {
        &self.db
    }

    /// Returns the directory the instance lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns the handle of column family `name` (one of [`ALL_COLUMN_FAMILIES`]).
    pub fn cf(&self, name: &'static str) -> Result<&ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or(Error::MissingColumnFamily(name))
    }

    /// Writes `batch` atomically; with `sync` the call returns only after the WAL is fsynced.
    pub fn write(&self, batch: WriteBatch, sync: bool) -> Result<()> {
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        if sync {
            self.sync_writes.fetch_add(1, Ordering::Relaxed);
        }
        self.db.write_opt(batch, &wo).map_err(Error::rocks("write"))
    }

    /// Writes `batch` atomically and durably (WAL fsynced before returning).
    pub fn write_sync(&self, batch: WriteBatch) -> Result<()> {
        self.write(batch, true)
    }

    /// Returns the number of synced writes requested through [`Db::write`].
    pub fn sync_writes_requested(&self) -> u64 {
        self.sync_writes.load(Ordering::Relaxed)
    }

    /// Returns the number of WAL fsyncs RocksDB performed; lower than
    /// [`Db::sync_writes_requested`] when concurrent writes were group-committed.
    pub fn wal_syncs(&self) -> u64 {
        self.opts.get_ticker_count(Ticker::WalFileSynced)
    }

    /// Returns the sizes of every column family.
    pub fn property_sizes(&self) -> Result<Vec<CfSizes>> {
        let mut out = Vec::with_capacity(ALL_COLUMN_FAMILIES.len());
        for name in ALL_COLUMN_FAMILIES {
            let cf = self.cf(name)?;
            let prop = |p: &str| -> Result<u64> {
                Ok(self
                    .db
                    .property_int_value_cf(cf, p)
                    .map_err(Error::rocks("property"))?
                    .unwrap_or(0))
            };
            out.push(CfSizes {
                name,
                total_sst_bytes: prop("rocksdb.total-sst-files-size")?,
                live_data_bytes: prop("rocksdb.estimate-live-data-size")?,
                memtable_bytes: prop("rocksdb.cur-size-all-mem-tables")?,
                estimated_keys: prop("rocksdb.estimate-num-keys")?,
            });
        }
        Ok(out)
    }

    /// Flushes every memtable to SST files and waits (used by tests and measurements).
    pub fn flush_memtables(&self) -> Result<()> {
        for name in ALL_COLUMN_FAMILIES {
            self.db
                .flush_cf(self.cf(name)?)
                .map_err(Error::rocks("flush"))?;
        }
        Ok(())
    }

    /// Compacts column family `name` fully; cheap when most of it is deleted (a purged log).
    pub fn compact_cf(&self, name: &'static str) -> Result<()> {
        self.db
            .compact_range_cf(self.cf(name)?, None::<&[u8]>, None::<&[u8]>);
        Ok(())
    }

    /// Compacts every column family fully (used by tests and size measurements).
    pub fn compact_all(&self) -> Result<()> {
        for name in ALL_COLUMN_FAMILIES {
            self.db
                .compact_range_cf(self.cf(name)?, None::<&[u8]>, None::<&[u8]>);
        }
        Ok(())
    }
}

/// Routes RocksDB's info log to `tracing` (target `rocksdb`) instead of a `LOG` file in the data
/// directory: warnings and errors always, the rest (flushes, compactions, periodic statistics)
/// at debug level when `rocksdb=debug` was enabled before the database was opened.
fn tracing_info_logger() -> InfoLogger {
    let level = if tracing::enabled!(target: "rocksdb", tracing::Level::DEBUG) {
        LogLevel::Info
    } else {
        LogLevel::Warn
    };
    InfoLogger::new_callback_logger(level, |level, msg| {
        let msg = msg.trim_end();
        match level {
            LogLevel::Warn => tracing::warn!(target: "rocksdb", "{msg}"),
            LogLevel::Error | LogLevel::Fatal => tracing::error!(target: "rocksdb", "{msg}"),
            LogLevel::Debug | LogLevel::Info | LogLevel::Header => {
                tracing::debug!(target: "rocksdb", "{msg}");
            }
        }
    })
}

/// Compression options of the column families holding the shard's data: a compressed block is
/// kept whenever it saves at least ~1.6% (RocksDB's default keeps it only from 12.5%, which
/// blocks of closed chunks, already dense, never reach: on 64 KiB blocks of them zstd saves
/// ≈ 9.5% and lz4 ≈ 7.5%, measured on node_exporter-like data, so they were stored raw).
const DATA_COMPRESSION_OPTIONS: &str = "compression_opts={max_compressed_bytes_per_kb=1008}";

fn cf_options(name: &str, config: &StorageConfig, cache: &Cache) -> Result<Options> {
    let mut o = match name {
        CF_CHUNKS | CF_SERIES | CF_POSTINGS | CF_HEAD | CF_META => Options::default()
            .get_options_from_string(DATA_COMPRESSION_OPTIONS)
            .map_err(Error::rocks("options"))?,
        _ => Options::default(),
    };
    o.set_write_buffer_size(usize::try_from(config.write_buffer_size).unwrap_or(16 << 20));
    o.set_level_compaction_dynamic_level_bytes(true);
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_format_version(5);
    table.set_cache_index_and_filter_blocks(true);
    match name {
        CF_CHUNKS => {
            // Chunk values are already compressed by the codec; zstd on large blocks still
            // squeezes keys, envelopes and block headers (≈ 9.5%, lz4 ≈ 7.5%). The volume is small
            // (< 1 byte per sample), so zstd costs little CPU even on the upper levels.
            table.set_block_size(64 << 10);
            o.set_compression_type(DBCompressionType::Zstd);
        }
        CF_SERIES => {
            // The collision check seeks `(shard, series id)` prefixes: a prefix bloom filter
            // answers most of them without touching data blocks.
            o.set_prefix_extractor(SliceTransform::create_fixed_prefix(12));
            table.set_bloom_filter(10.0, false);
            table.set_whole_key_filtering(false);
            o.set_memtable_prefix_bloom_ratio(0.05);
            o.set_compression_type(DBCompressionType::Zstd);
        }
        CF_POSTINGS => {
            table.set_block_size(16 << 10);
            o.set_compression_type(DBCompressionType::Zstd);
        }
        CF_HEAD => {
            // Read only when a shard opens (one scan). Under load it churns (segments written
            // every flush, deleted at every cut): lz4 keeps that cheap. What stays is compacted
            // to the bottommost level (zstd) when the head goes idle (`shard/compact.rs`).
            table.set_block_size(64 << 10);
            o.set_compression_type(DBCompressionType::Lz4);
            o.set_bottommost_compression_type(DBCompressionType::Zstd);
        }
        CF_META => {
            o.set_compression_type(DBCompressionType::Zstd);
        }
        _ => {
            // The Raft log: written at full ingest rate, read back only from the entry cache,
            // purged at every shard flush. Its memtable is kept small (resident memory), its
            // SST files uncompressed (they live seconds to minutes: lz4 cost ≈ 2% of ingest
            // CPU for nothing kept), and L0 files are left for `RaftLog::maybe_compact`, which
            // compacts once purges made most of them garbage, instead of RocksDB merging live
            // log entries into L1 after every 4 memtable flushes.
            o.set_write_buffer_size(
                usize::try_from(config.log_write_buffer_size).unwrap_or(16 << 20),
            );
            o.set_compression_type(DBCompressionType::None);
            o.set_level_zero_file_num_compaction_trigger(16);
            o.set_level_zero_slowdown_writes_trigger(40);
            o.set_level_zero_stop_writes_trigger(64);
        }
    }
    o.set_block_based_table_factory(&table);
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_with_every_column_family_and_reports_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), &StorageConfig::default()).unwrap();
        for name in ALL_COLUMN_FAMILIES {
            db.cf(name).unwrap();
        }
        let mut b = WriteBatch::default();
        b.put_cf(db.cf(CF_META).unwrap(), b"k", b"v");
        db.write_sync(b).unwrap();
        let sizes = db.property_sizes().unwrap();
        assert_eq!(sizes.len(), ALL_COLUMN_FAMILIES.len());
        assert!(
            sizes
                .iter()
                .any(|s| s.name == CF_META && s.memtable_bytes > 0)
        );
        assert_eq!(db.sync_writes_requested(), 1);
        drop(db);
        // Reopening finds the column families again.
        let db = Db::open(dir.path(), &StorageConfig::default()).unwrap();
        let v = db.rocksdb().get_cf(db.cf(CF_META).unwrap(), b"k").unwrap();
        assert_eq!(v.as_deref(), Some(&b"v"[..]));
    }
}
