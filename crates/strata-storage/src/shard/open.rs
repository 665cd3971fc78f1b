//! Opening a shard: the persisted scalars, the partitions on disk, and the head rebuilt from its
//! label records and segments.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};

use strata_codec::{Chunk, XorAppender};
use strata_model::{Labels, ShardId};

use super::compact::{self, CompactedHeads};
use super::{FlushCounters, Shard, disk};
use crate::config::StorageConfig;
use crate::db::{CF_CHUNKS, CF_HEAD, CF_META, CF_POSTINGS, Db};
use crate::error::{Error, Result};
use crate::head::{Head, HeadConfig, HeadSeries, Scalars};
use crate::keys::{self, META_STATE, SeriesRef};

impl Shard {
    /// Opens shard `shard` in `db`: loads the durable index and rebuilds the head from the
    /// records of the last flush. The caller then replays the Raft entries after
    /// [`Shard::durable_index`].
    pub fn open(db: Arc<Db>, shard: ShardId, config: StorageConfig) -> Result<Shard> {
        config.validate()?;
        let corrupt = |what: &'static str, detail: String| Error::Corrupt {
            shard,
            what,
            detail,
        };
        let meta = db
            .raw()
            .get_cf(db.cf(CF_META)?, keys::meta_key(shard, META_STATE))
            .map_err(Error::rocks("read"))?;
        let scalars = match meta {
            Some(b) => {
                Scalars::decode(&b).ok_or_else(|| corrupt("shard state", "bad length".into()))?
            }
            None => Scalars::default(),
        };
        let mut head = Head::new(shard, HeadConfig::new(&config), scalars);
        let compacted = recover_head(&db, shard, &mut head)?;
        if config.ooo_window_ms() > 0 {
            reload_ooo_window(&db, shard, &mut head)?;
        }
        let partitions = scan_partitions(&db, shard)?;
        tracing::info!(
            shard = %shard,
            durable_index = scalars.applied,
            head_series = head.live_series(),
            partitions = partitions.len(),
            "shard opened"
        );
        Ok(Shard {
            db,
            id: shard,
            config,
            head: RwLock::new(head),
            partitions: RwLock::new(partitions),
            flush_lock: Mutex::new(()),
            compacted: Mutex::new(compacted),
            poisoned: AtomicBool::new(false),
            durable: AtomicU64::new(scalars.applied),
            applied: AtomicU64::new(scalars.applied),
            applied_bytes: AtomicU64::new(0),
            flushed_bytes: AtomicU64::new(0),
            flushed: FlushCounters::default(),
        })
    }
}

/// Returns the partitions that have postings, seeking from one partition to the next.
fn scan_partitions(db: &Db, shard: ShardId) -> Result<BTreeSet<i64>> {
    let mut out = BTreeSet::new();
    let prefix = keys::shard_prefix(shard);
    disk::scan_distinct(db, CF_POSTINGS, None, &prefix, |k| {
        let p = keys::read_i64(&k[4..]).ok_or_else(|| Error::Corrupt {
            shard,
            what: "postings key",
            detail: "short".into(),
        })?;
        out.insert(p);
        Ok(p.checked_add(1).map(|n| keys::partition_prefix(shard, n)))
    })?;
    Ok(out)
}

/// Loads the flushed chunks that overlap each head series' out-of-order window back into the
/// head, so that late samples are checked for duplicates exactly as before the restart.
fn reload_ooo_window(db: &Db, shard: ShardId, head: &mut Head) -> Result<()> {
    let window = head.cfg.ooo_window_ms;
    let wanted: Vec<(u32, SeriesRef, i64, i64)> = head
        .iter_live()
        .filter_map(|(slot, s)| {
            let (last, _) = s.last()?;
            Some((slot, s.r, last.saturating_sub(window), last))
        })
        .collect();
    for (slot, r, lo, hi) in wanted {
        let mut found = Vec::new();
        for part in head.cfg.partition(lo)..=head.cfg.partition(hi) {
            let prefix = keys::chunk_series_prefix(shard, part, r);
            disk::scan_prefix(db, CF_CHUNKS, None, &prefix, true, |k, v| {
                let chunk = Chunk::from_bytes(v).map_err(|e| Error::Corrupt {
                    shard,
                    what: "chunk",
                    detail: e.to_string(),
                })?;
                if chunk.max_time() >= lo && chunk.num_samples() > 0 {
                    found.push((chunk, keys::chunk_key_ooo_seq(k)));
                }
                Ok(true)
            })?;
        }
        head.attach_flushed(slot, found);
    }
    Ok(())
}

/// The records of one head series while scanning.
struct Pending {
    r: SeriesRef,
    labels: Option<Vec<u8>>,
    open: XorAppender,
    last_seq: u32,
    /// Segment records read, and whether the last one was a compacted record.
    records: u32,
    compacted: bool,
}

/// Rebuilds every head series from its records; returns the series whose only segment record
/// is a compacted one (so that flushes do not compact them again).
fn recover_head(db: &Db, shard: ShardId, head: &mut Head) -> Result<CompactedHeads> {
    let prefix = keys::shard_prefix(shard);
    let mut compacted = CompactedHeads::new();
    let mut cur: Option<Pending> = None;
    let mut dropped = 0u64;
    let corrupt = |detail: String| Error::Corrupt {
        shard,
        what: "head record",
        detail,
    };
    disk::scan_prefix(db, CF_HEAD, None, &prefix, true, |k, v| {
        let (r, seq) = keys::parse_head_key(k).ok_or_else(|| corrupt("bad key".into()))?;
        if cur.as_ref().is_some_and(|p| p.r != r)
            && let Some(p) = cur.take()
        {
            dropped += u64::from(!finish(head, p, &mut compacted));
        }
        let p = cur.get_or_insert_with(|| Pending {
            r,
            labels: None,
            open: XorAppender::new(),
            last_seq: 0,
            records: 0,
            compacted: false,
        });
        if seq == keys::HEAD_LABELS_SEQ {
            Labels::decode_canonical(v).map_err(|e| corrupt(format!("labels of {}: {e}", r.id)))?;
            p.labels = Some(v.to_vec());
        } else {
            let bad = |e: strata_codec::Error| corrupt(format!("segment {seq} of {}: {e}", r.id));
            match compact::decode_segment(v).map_err(bad)? {
                compact::HeadRecord::Run(run) => p.open.append_run(&run).map_err(bad)?,
                compact::HeadRecord::Samples(seg) => {
                    let mut it = seg.iter();
                    for (t, val) in it.by_ref() {
                        p.open.try_append(t, val).map_err(bad)?;
                    }
                    if let Some(e) = it.error() {
                        return Err(bad(e.clone()));
                    }
                }
            }
            p.last_seq = seq;
            p.records += 1;
            p.compacted = compact::is_compacted_segment(v);
        }
        Ok(true)
    })?;
    if let Some(p) = cur.take() {
        dropped += u64::from(!finish(head, p, &mut compacted));
    }
    if dropped > 0 {
        tracing::warn!(shard = %shard, dropped, "ignored head records without labels or samples");
    }
    Ok(compacted)
}

/// Inserts a recovered series; returns false when its records were incomplete.
fn finish(head: &mut Head, p: Pending, compacted: &mut CompactedHeads) -> bool {
    let Some(labels) = p.labels else {
        return false;
    };
    let Some(mint) = p.open.min_time() else {
        return false;
    };
    if p.records == 1 && p.compacted {
        compacted.insert(p.r, (mint, p.last_seq));
    }
    // Every recovered sample is on disk already: the next segment starts after them.
    let seg_mark = p.open.mark();
    let s = HeadSeries {
        labels: labels.into_boxed_slice(),
        r: p.r,
        incarnation: 0,
        open: p.open,
        seg_mark,
        closed: Vec::new(),
        ooo: None,
        next_seg: p.last_seq + 1,
        segs_stale: false,
        persisted: true,
        posted_partition: None,
    };
    head.insert(s);
    true
}
