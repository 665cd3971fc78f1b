//! Queries: series with their chunks over a time range, label names and label values. The head
//! and the partitions on disk are read at one consistent point (head read lock + RocksDB
//! snapshot taken together).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use strata_codec::Chunk;
use strata_model::{Labels, Matcher};

use super::Shard;
use super::disk::{PartitionPostings, Snapshot, scan_distinct};
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
        // One RocksDB iterator per partition, reused for every series (creating one per series
        // costs more than the seeks).
        let mut by_part: BTreeMap<i64, Vec<SeriesRef>> = BTreeMap::new();
        for (r, rparts) in &disk_refs {
            if labels_of.contains_key(r) {
                for &part in rparts {
                    by_part.entry(part).or_default().push(*r);
                }
            }
        }
        let mut found: HashMap<SeriesRef, Vec<(ChunkIdentity, Chunk)>> = HashMap::new();
        for (part, refs) in &by_part {
            self.read_partition_chunks(&snap, *part, refs, mint, maxt, &mut found)?;
        }
        for (r, chunks) in found {
            if let Some(labels) = labels_of.get(&r)
                && !chunks.is_empty()
            {
                by_labels
                    .entry(labels.to_vec())
                    .or_default()
                    .0
                    .extend(chunks);
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

    /// Appends to `out` the chunks of each of `refs` in `partition` that overlap
    /// `[mint, maxt]`, with one iterator for the partition; chunks ending before `mint` are
    /// skipped from their header, without copying them.
    fn read_partition_chunks(
        &self,
        snap: &Snapshot<'_>,
        partition: i64,
        refs: &[SeriesRef],
        mint: i64,
        maxt: i64,
        out: &mut HashMap<SeriesRef, Vec<(ChunkIdentity, Chunk)>>,
    ) -> Result<()> {
        let cf = self.db.cf(CF_CHUNKS)?;
        let mut ro = rocksdb::ReadOptions::default();
        ro.set_snapshot(snap);
        ro.set_total_order_seek(true);
        if let Some(upper) = keys::prefix_successor(&keys::partition_prefix(self.id, partition)) {
            ro.set_iterate_upper_bound(upper);
        }
        let mut it = self.db.raw().raw_iterator_cf_opt(cf, ro);
        for &r in refs {
            let prefix = keys::chunk_series_prefix(self.id, partition, r);
            it.seek(&prefix);
            while it.valid() {
                let (Some(k), Some(v)) = (it.key(), it.value()) else {
                    break;
                };
                if !k.starts_with(&prefix) {
                    break;
                }
                let cmint =
                    keys::chunk_key_mint(k).ok_or_else(|| self.corrupt("chunk key", "short"))?;
                if cmint > maxt {
                    // Out-of-order chunks sort by their start time too, so nothing later overlaps.
                    break;
                }
                if chunk_max_time(v).is_none_or(|t| t >= mint) {
                    let chunk =
                        Chunk::from_bytes(v).map_err(|e| self.corrupt("chunk", e.to_string()))?;
                    if chunk.max_time() >= mint && chunk.num_samples() > 0 {
                        let seq = keys::chunk_key_ooo_seq(k);
                        out.entry(r).or_default().push(((cmint, seq), chunk));
                    }
                }
                it.next();
            }
            it.status().map_err(Error::rocks("read"))?;
        }
        Ok(())
    }
}

/// Returns a stored chunk's last timestamp from its envelope (`docs/format/chunks.md`: encoding
/// byte, uvarint sample count, zig-zag varint min time, uvarint span), or `None` if the header
/// does not parse (the caller then parses the chunk and reports the damage).
fn chunk_max_time(v: &[u8]) -> Option<i64> {
    fn uvarint(b: &[u8], pos: &mut usize) -> Option<u64> {
        let mut x = 0u64;
        for i in 0..10 {
            let byte = *b.get(*pos + i)?;
            x |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                *pos += i + 1;
                return Some(x);
            }
        }
        None
    }
    let mut pos = 1;
    uvarint(v, &mut pos)?;
    let z = uvarint(v, &mut pos)?;
    let min = ((z >> 1) as i64) ^ -((z & 1) as i64);
    let span = uvarint(v, &mut pos)?;
    Some(min.wrapping_add(span as i64))
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

#[cfg(test)]
mod chunk_header_tests {
    use super::*;

    #[test]
    fn max_time_comes_from_the_envelope() {
        for samples in [
            vec![(-5_000i64, 1.0f64), (-1_000, 2.0)],
            (0..700)
                .map(|i| (1_700_000_000_000 + i * 1000, i as f64))
                .collect(),
            vec![(42, 0.5)],
        ] {
            let c = Chunk::encode(&samples);
            assert_eq!(chunk_max_time(&c.to_bytes()), Some(c.max_time()));
        }
        assert_eq!(chunk_max_time(&[2, 0x80]), None);
    }
}
