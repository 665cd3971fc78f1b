//! Raft snapshots of a shard: a flush, then every key of the shard's ranges read at one RocksDB
//! snapshot, streamed as length-prefixed pairs; installing deletes the ranges and writes the
//! pairs back.
//!
//! Stream layout: `b"STRS" ‖ u8 version (1) ‖ u64 LE durable index`, then records
//! `u8 column family (index in SNAPSHOT_CFS) ‖ u32 LE key length ‖ key ‖ u32 LE value length ‖
//! value`, then the end marker `u8 0xff`.

use std::io::{Read, Write};
use std::sync::Arc;

use rocksdb::WriteBatch;
use strata_model::ShardId;

use super::Shard;
use super::disk::scan_prefix;
use crate::config::StorageConfig;
use crate::db::{CF_CHUNKS, CF_HEAD, CF_META, CF_POSTINGS, CF_SERIES, Db};
use crate::error::{Error, Result};
use crate::keys;

/// Column families that hold a shard's state, in stream order (the meta record last, so that
/// an interrupted install leaves no durable index behind).
const SNAPSHOT_CFS: [&str; 5] = [CF_CHUNKS, CF_POSTINGS, CF_SERIES, CF_HEAD, CF_META];
const MAGIC: &[u8; 4] = b"STRS";
const VERSION: u8 = 1;
const END: u8 = 0xff;
/// Bytes buffered in one install write batch.
const INSTALL_BATCH_BYTES: usize = 4 << 20;

/// Returns the `[start, end)` key range of `shard` in each column family holding its state.
pub fn shard_key_ranges(shard: ShardId) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let start = keys::shard_prefix(shard);
    let end = keys::prefix_successor(&start).unwrap_or_else(|| vec![0xff; 5]);
    SNAPSHOT_CFS
        .iter()
        .map(|&cf| (cf, start.clone(), end.clone()))
        .collect()
}

impl Shard {
    /// Flushes, then writes the shard's complete persisted state to `out`; returns the durable
    /// index the snapshot corresponds to (the Raft snapshot's last included index).
    pub fn write_snapshot(&self, out: &mut dyn Write) -> Result<u64> {
        self.flush()?;
        let err = |e: std::io::Error| Error::Snapshot {
            shard: self.id,
            detail: e.to_string(),
        };
        // Hold the flush lock while taking the RocksDB snapshot: no flush or retention pass can
        // change the shard's ranges between the durable index and the snapshot.
        let (snap, durable) = {
            let _serial = self.lock_flush()?;
            (self.db.raw().snapshot(), self.durable_index())
        };
        out.write_all(MAGIC).map_err(err)?;
        out.write_all(&[VERSION]).map_err(err)?;
        out.write_all(&durable.to_le_bytes()).map_err(err)?;
        let prefix = keys::shard_prefix(self.id);
        for (i, cf) in SNAPSHOT_CFS.iter().enumerate() {
            scan_prefix(&self.db, cf, Some(&snap), &prefix, true, |k, v| {
                out.write_all(&[i as u8]).map_err(err)?;
                for part in [k, v] {
                    let len = u32::try_from(part.len()).map_err(|_| Error::Snapshot {
                        shard: self.id,
                        detail: "record larger than 4 GiB".into(),
                    })?;
                    out.write_all(&len.to_le_bytes()).map_err(err)?;
                    out.write_all(part).map_err(err)?;
                }
                Ok(true)
            })?;
        }
        out.write_all(&[END]).map_err(err)?;
        Ok(durable)
    }

    /// Replaces shard `shard`'s state in `db` with a snapshot stream written by
    /// [`Shard::write_snapshot`] and opens it. The caller must have dropped any open
    /// [`Shard`] of this id first.
    pub fn install_snapshot(
        db: Arc<Db>,
        shard: ShardId,
        config: StorageConfig,
        input: &mut dyn Read,
    ) -> Result<Shard> {
        let bad = |detail: String| Error::Snapshot { shard, detail };
        let io = |e: std::io::Error| bad(e.to_string());
        let mut hdr = [0u8; 13];
        input.read_exact(&mut hdr).map_err(io)?;
        if &hdr[..4] != MAGIC || hdr[4] != VERSION {
            return Err(bad("not a shard snapshot stream".into()));
        }
        let mut batch = WriteBatch::default();
        for (cf, start, end) in shard_key_ranges(shard) {
            batch.delete_range_cf(db.cf(cf)?, start, end);
        }
        db.write_sync(std::mem::take(&mut batch))?;
        let prefix = keys::shard_prefix(shard);
        let mut meta: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        loop {
            let mut tag = [0u8; 1];
            input.read_exact(&mut tag).map_err(io)?;
            if tag[0] == END {
                break;
            }
            let cf = *SNAPSHOT_CFS
                .get(tag[0] as usize)
                .ok_or_else(|| bad(format!("unknown column family tag {}", tag[0])))?;
            let mut read_part = || -> Result<Vec<u8>> {
                let mut len = [0u8; 4];
                input.read_exact(&mut len).map_err(io)?;
                let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
                input.read_exact(&mut buf).map_err(io)?;
                Ok(buf)
            };
            let k = read_part()?;
            let v = read_part()?;
            if !k.starts_with(&prefix) {
                return Err(bad("key outside the shard's range".into()));
            }
            if cf == CF_META {
                meta.push((k, v));
                continue;
            }
            batch.put_cf(db.cf(cf)?, k, v);
            if batch.size_in_bytes() >= INSTALL_BATCH_BYTES {
                db.write(std::mem::take(&mut batch), false)?;
            }
        }
        for (k, v) in meta {
            batch.put_cf(db.cf(CF_META)?, k, v);
        }
        db.write_sync(batch)?;
        Shard::open(db, shard, config)
    }
}
