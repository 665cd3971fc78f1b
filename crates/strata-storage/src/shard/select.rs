//! Queries: series with their chunks over a time range, label names and label values. The head
//! and the partitions on disk are read at one consistent point (head read lock + RocksDB
//! snapshot taken together).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use strata_codec::Chunk;
use strata_model::{Labels, Matcher};

use super::Shard;
use super::disk::{PartitionPostings, Snapshot, scan_distinct, scan_prefix};
use crate::db::{CF_CHUNKS, CF_POSTINGS, CF_SERIES};
use crate::error::{Error, Result};
use crate::head::HeadSelected;
use crate::head::index_label_pairs;
use crate::keys::{self, SeriesRef};
use crate::postings::select_postings;

/// One selected series: its labels and its chunks overlapping the range, sorted by time and not
/// overlapping each other. Samples are not decoded here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedSeries {
    /// The series' labels, `__name__` included.
    pub labels: Labels,
    /// Chunks overlapping `[mint, maxt]` (they may hold samples outside it).
    pub chunks: Vec<Chunk>,
}

/// Identity of a chunk stored on disk: `(min time, out-of-order seq)`.
type ChunkIdentity = (i64, Option<u64>);

/// The chunks found for one label set: from disk (with identities) and from the head.
type Gathered = (Vec<(ChunkIdentity, Chunk)>, Vec<crate::head::HeadChunk>);

impl Shard {
    /// Returns the series matching every matcher that have samples in `[mint, maxt]`, sorted
    /// by labels, with the chunks overlapping the range from disk and a copy of the head's.
    pub fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SelectedSeries>> {
        self.check_poisoned()?;
        if mint > maxt {
            return Ok(Vec::new());
        }
        let (head_sel, parts, snap) =
            self.consistent_view(|head| head.select(matchers, mint, maxt), mint, maxt)?;
        let mut by_labels: BTreeMap<Vec<u8>, Gathered> = BTreeMap::new();
        let mut known: HashMap<SeriesRef, Box<[u8]>> = HashMap::new();
        for h in head_sel {
            let HeadSelected { labels, r, chunks } = h;
            known.insert(r, labels.clone());
            by_labels
                .entry(labels.into_vec())
                .or_default()
                .1
                .extend(chunks);
        }
        let disk_refs = self.disk_refs(&snap, &parts, matchers)?;
        let labels_of = self.resolve_labels(&snap, disk_refs.keys().copied(), &known)?;
        for (r, rparts) in &disk_refs {
            let Some(labels) = labels_of.get(r) else {
                continue;
            };
            let mut found = Vec::new();
            for &part in rparts {
                self.read_chunks(&snap, part, *r, mint, maxt, &mut found)?;
            }
            if !found.is_empty() {
                by_labels
                    .entry(labels.to_vec())
                    .or_default()
                    .0
                    .extend(found);
            }
        }
        let mut out = Vec::with_capacity(by_labels.len());
        for (labels, (disk, head)) in by_labels {
            let ids: BTreeSet<ChunkIdentity> = disk.iter().map(|(id, _)| *id).collect();
            let mut chunks: Vec<Chunk> = disk.into_iter().map(|(_, c)| c).collect();
            chunks.extend(
                head.into_iter()
                    .filter(|h| h.identity.is_none_or(|id| !ids.contains(&id)))
                    .map(|h| h.chunk),
            );
            if chunks.is_empty() {
                continue;
            }
            let chunks = merge_overlapping(chunks).map_err(|detail| Error::Codec {
                shard: self.id,
                detail,
            })?;
            let labels = Labels::decode_canonical(&labels)
                .map_err(|e| self.corrupt("series labels", e.to_string()))?;
            out.push(SelectedSeries { labels, chunks });
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    /// Returns the sorted label names of series matching `matchers` with data in `[mint, maxt]`
    /// (all series when `matchers` is empty). On disk the time filter works at partition
    /// granularity.
    pub fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<String>> {
        self.check_poisoned()?;
        if mint > maxt {
            return Ok(Vec::new());
        }
        let mut out = BTreeSet::new();
        let ((), parts, snap) = self.consistent_view(
            |head| head.label_names(matchers, mint, maxt, &mut out),
            mint,
            maxt,
        )?;
        if matchers.is_empty() {
            for part in parts {
                let prefix = keys::partition_prefix(self.id, part);
                scan_distinct(&self.db, CF_POSTINGS, Some(&snap), &prefix, |k| {
                    let p = keys::parse_postings_key(k)
                        .ok_or_else(|| self.corrupt("postings key", "unparsable"))?;
                    if !p.name.is_empty()
                        && let Ok(n) = std::str::from_utf8(p.name)
                    {
                        out.insert(n.to_owned());
                    }
                    let name_prefix = keys::postings_name_prefix(self.id, part, p.name);
                    Ok(keys::prefix_successor(&name_prefix))
                })?;
            }
        } else {
            self.for_each_disk_labels(&snap, &parts, matchers, |labels| {
                for (n, _) in index_label_pairs(labels) {
                    if !out.contains(n) {
                        out.insert(n.to_owned());
                    }
                }
            })?;
        }
        Ok(out.into_iter().collect())
    }

    /// Returns the sorted values of label `name` among series matching `matchers` with data in
    /// `[mint, maxt]`. On disk the time filter works at partition granularity.
    pub fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>> {
        self.check_poisoned()?;
        if mint > maxt || name.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = BTreeSet::new();
        let ((), parts, snap) = self.consistent_view(
            |head| head.label_values(name, matchers, mint, maxt, &mut out),
            mint,
            maxt,
        )?;
        if matchers.is_empty() {
            for part in parts {
                let prefix = keys::postings_name_prefix(self.id, part, name.as_bytes());
                scan_distinct(&self.db, CF_POSTINGS, Some(&snap), &prefix, |k| {
                    let p = keys::parse_postings_key(k)
                        .ok_or_else(|| self.corrupt("postings key", "unparsable"))?;
                    if let Ok(v) = std::str::from_utf8(p.value) {
                        out.insert(v.to_owned());
                    }
                    let vp = keys::postings_value_prefix(self.id, part, p.name, p.value);
                    Ok(keys::prefix_successor(&vp))
                })?;
            }
        } else {
            self.for_each_disk_labels(&snap, &parts, matchers, |labels| {
                if let Some((_, v)) = index_label_pairs(labels).find(|(n, _)| *n == name)
                    && !out.contains(v)
                {
                    out.insert(v.to_owned());
                }
            })?;
        }
        Ok(out.into_iter().collect())
    }

    /// Runs `f` on the head and takes a RocksDB snapshot and the partitions overlapping
    /// `[mint, maxt]` under one head read lock, so that a concurrent flush is seen entirely or
    /// not at all.
    fn consistent_view<T>(
        &self,
        f: impl FnOnce(&crate::head::Head) -> Result<T>,
        mint: i64,
        maxt: i64,
    ) -> Result<(T, Vec<i64>, Snapshot<'_>)> {
        let head = self.read_head()?;
        let snap = self.db.raw().snapshot();
        let (pmin, pmax) = (head.cfg.partition(mint), head.cfg.partition(maxt));
        let parts: Vec<i64> = self
            .read_partitions()?
            .range(pmin..=pmax)
            .copied()
            .collect();
        let t = f(&head)?;
        Ok((t, parts, snap))
    }

    /// Returns the refs matching in each partition, with the partitions they matched in.
    fn disk_refs(
        &self,
        snap: &Snapshot<'_>,
        parts: &[i64],
        matchers: &[Matcher],
    ) -> Result<BTreeMap<SeriesRef, Vec<i64>>> {
        let mut out: BTreeMap<SeriesRef, Vec<i64>> = BTreeMap::new();
        for &partition in parts {
            let src = PartitionPostings {
                db: &self.db,
                snap,
                shard: self.id,
                partition,
            };
            for r in select_postings(&src, matchers)? {
                out.entry(r).or_default().push(partition);
            }
        }
        Ok(out)
    }

    /// Returns the canonical labels of `refs`, from `known` or the series registry.
    fn resolve_labels(
        &self,
        snap: &Snapshot<'_>,
        refs: impl Iterator<Item = SeriesRef>,
        known: &HashMap<SeriesRef, Box<[u8]>>,
    ) -> Result<HashMap<SeriesRef, Box<[u8]>>> {
        let mut out = HashMap::new();
        let mut missing = Vec::new();
        for r in refs {
            match known.get(&r) {
                Some(l) => {
                    out.insert(r, l.clone());
                }
                None => missing.push(r),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let cf = self.db.cf(CF_SERIES)?;
        let mut ro = rocksdb::ReadOptions::default();
        ro.set_snapshot(snap);
        let keys: Vec<Vec<u8>> = missing
            .iter()
            .map(|r| keys::series_key(self.id, *r))
            .collect();
        let values = self
            .db
            .raw()
            .multi_get_cf_opt(keys.iter().map(|k| (cf, k.as_slice())), &ro);
        for (r, v) in missing.into_iter().zip(values) {
            let v = v.map_err(Error::rocks("read"))?;
            match v.as_deref().and_then(keys::parse_series_value) {
                Some((_, labels)) => {
                    out.insert(r, labels.into());
                }
                None => {
                    tracing::warn!(shard = %self.id, series = %r.id, "postings without registry entry")
                }
            }
        }
        Ok(out)
    }

    /// Calls `f` with the labels of every disk series matching `matchers` in `parts`.
    fn for_each_disk_labels(
        &self,
        snap: &Snapshot<'_>,
        parts: &[i64],
        matchers: &[Matcher],
        mut f: impl FnMut(&[u8]),
    ) -> Result<()> {
        let refs = self.disk_refs(snap, parts, matchers)?;
        let labels = self.resolve_labels(snap, refs.keys().copied(), &HashMap::new())?;
        for l in labels.values() {
            f(l);
        }
        Ok(())
    }

    /// Appends the chunks of `r` in `partition` that overlap `[mint, maxt]`.
    fn read_chunks(
        &self,
        snap: &Snapshot<'_>,
        partition: i64,
        r: SeriesRef,
        mint: i64,
        maxt: i64,
        out: &mut Vec<(ChunkIdentity, Chunk)>,
    ) -> Result<()> {
        let prefix = keys::chunk_series_prefix(self.id, partition, r);
        scan_prefix(&self.db, CF_CHUNKS, Some(snap), &prefix, true, |k, v| {
            let cmint =
                keys::chunk_key_mint(k).ok_or_else(|| self.corrupt("chunk key", "short"))?;
            if cmint > maxt {
                // Out-of-order chunks sort by their start time too, so nothing later overlaps.
                return Ok(false);
            }
            let chunk = Chunk::from_bytes(v).map_err(|e| self.corrupt("chunk", e.to_string()))?;
            if chunk.max_time() >= mint && chunk.num_samples() > 0 {
                let seq = keys::chunk_key_ooo_seq(k);
                out.push(((cmint, seq), chunk));
            }
            Ok(true)
        })
    }
}

/// Sorts chunks by start time and merges the ones that overlap (out-of-order data) into new
/// chunks; the first copy of a timestamp wins.
pub(crate) fn merge_overlapping(mut chunks: Vec<Chunk>) -> Result<Vec<Chunk>, String> {
    chunks.sort_by_key(|c| (c.min_time(), c.max_time()));
    let overlapping = chunks
        .windows(2)
        .any(|w| w[1].min_time() <= w[0].max_time());
    if !overlapping {
        return Ok(chunks);
    }
    let mut out = Vec::with_capacity(chunks.len());
    let mut group: Vec<Chunk> = Vec::new();
    let mut group_max = i64::MIN;
    for c in chunks {
        if !group.is_empty() && c.min_time() > group_max {
            out.extend(merge_group(std::mem::take(&mut group))?);
        }
        group_max = if group.is_empty() {
            c.max_time()
        } else {
            group_max.max(c.max_time())
        };
        group.push(c);
    }
    out.extend(merge_group(group)?);
    Ok(out)
}

fn merge_group(group: Vec<Chunk>) -> Result<Vec<Chunk>, String> {
    if group.len() <= 1 {
        return Ok(group);
    }
    let mut samples: Vec<(i64, f64)> = Vec::new();
    for c in &group {
        let mut it = c.iter();
        samples.extend(it.by_ref());
        if let Some(e) = it.error() {
            return Err(e.to_string());
        }
    }
    samples.sort_by_key(|s| s.0);
    samples.dedup_by_key(|s| s.0);
    samples
        .chunks(strata_codec::MAX_SAMPLES)
        .map(|part| Chunk::try_encode(part).map_err(|e| e.to_string()))
        .collect()
}
