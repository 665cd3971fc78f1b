//! Reading the head: series selection through the in-memory index, chunk snapshots, label
//! names and values.

use std::collections::BTreeSet;

use strata_codec::Chunk;
use strata_model::Matcher;

use super::index::{HeadPostings, label_pairs, label_value};
use super::{Head, HeadSeries};
use crate::error::{Error, Result};
use crate::keys::SeriesRef;
use crate::postings::select_postings;

/// A chunk copied out of the head.
#[derive(Debug, Clone)]
pub(crate) struct HeadChunk {
    pub(crate) chunk: Chunk,
    /// `(min time, out-of-order seq)` of a closed chunk that may also be on disk already, to
    /// drop the copy when the disk has it; `None` for data only in memory.
    pub(crate) identity: Option<(i64, Option<u64>)>,
}

/// One head series selected by a query, with copies of its chunks overlapping the range.
#[derive(Debug)]
pub(crate) struct HeadSelected {
    pub(crate) labels: Box<[u8]>,
    pub(crate) r: SeriesRef,
    pub(crate) chunks: Vec<HeadChunk>,
}

fn overlaps(c: &Chunk, mint: i64, maxt: i64) -> bool {
    c.num_samples() > 0 && c.min_time() <= maxt && c.max_time() >= mint
}

fn matches_all(labels: &[u8], matchers: &[Matcher]) -> bool {
    matchers
        .iter()
        .all(|m| m.matches(label_value(labels, &m.name)))
}

impl HeadSeries {
    fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        match (self.min_time(), self.max_time()) {
            (Some(a), Some(b)) => a <= maxt && b >= mint,
            (Some(a), None) => a <= maxt,
            _ => false,
        }
    }

    fn snapshot_chunks(&self, mint: i64, maxt: i64) -> Result<Vec<HeadChunk>> {
        let mut out = Vec::new();
        for c in &self.closed {
            if overlaps(&c.chunk, mint, maxt) {
                out.push(HeadChunk {
                    chunk: c.chunk.clone(),
                    identity: Some((c.chunk.min_time(), c.ooo_seq)),
                });
            }
        }
        if let Some(buf) = &self.ooo {
            let first = buf.first().map_or(i64::MAX, |s| s.0);
            let last = buf.last().map_or(i64::MIN, |s| s.0);
            if first <= maxt && last >= mint {
                for part in buf.chunks(strata_codec::MAX_SAMPLES) {
                    let chunk = Chunk::try_encode(part).map_err(|e| Error::Codec {
                        shard: strata_model::ShardId::default(),
                        detail: e.to_string(),
                    })?;
                    out.push(HeadChunk {
                        chunk,
                        identity: None,
                    });
                }
            }
        }
        if self.open.num_samples() > 0 {
            let chunk = self.open.to_chunk();
            if overlaps(&chunk, mint, maxt) {
                out.push(HeadChunk {
                    chunk,
                    identity: None,
                });
            }
        }
        Ok(out)
    }
}

impl Head {
    /// Returns the slots of the live series matching every matcher.
    fn select_slots(&self, matchers: &[Matcher]) -> Result<Vec<u32>> {
        let live = || self.iter_live().map(|(slot, _)| slot).collect();
        let src = HeadPostings {
            index: self.index(),
            live: &live,
        };
        select_postings(&src, matchers)
    }

    /// Returns every head series (live or retired) that matches and holds data in
    /// `[mint, maxt]`, with copies of the overlapping chunks.
    pub(crate) fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<HeadSelected>> {
        let mut out = Vec::new();
        let mut push = |s: &HeadSeries| -> Result<()> {
            if !s.overlaps(mint, maxt) {
                return Ok(());
            }
            let chunks = s.snapshot_chunks(mint, maxt).map_err(|e| match e {
                Error::Codec { detail, .. } => Error::Codec {
                    shard: self.shard,
                    detail,
                },
                other => other,
            })?;
            if !chunks.is_empty() {
                out.push(HeadSelected {
                    labels: s.labels.clone(),
                    r: s.r,
                    chunks,
                });
            }
            Ok(())
        };
        for slot in self.select_slots(matchers)? {
            if let Some(s) = self.get(slot) {
                push(s)?;
            }
        }
        for s in self
            .retired
            .iter()
            .filter(|s| matches_all(&s.labels, matchers))
        {
            push(s)?;
        }
        Ok(out)
    }

    /// Calls `f` with the canonical labels of every head series that matches and holds data in
    /// `[mint, maxt]`.
    fn for_each_matching(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        mut f: impl FnMut(&[u8]),
    ) -> Result<()> {
        for slot in self.select_slots(matchers)? {
            if let Some(s) = self.get(slot).filter(|s| s.overlaps(mint, maxt)) {
                f(&s.labels);
            }
        }
        for s in &self.retired {
            if s.overlaps(mint, maxt) && matches_all(&s.labels, matchers) {
                f(&s.labels);
            }
        }
        Ok(())
    }

    /// Returns whether the head holds any data in `[mint, maxt]`.
    fn overlaps_range(&self, mint: i64, maxt: i64) -> bool {
        self.scalars.watermark >= mint && self.min_time().is_some_and(|t| t <= maxt)
    }

    /// Adds the label names of matching head series with data in `[mint, maxt]` to `out`.
    ///
    /// Without matchers this reads the index: every name of the head counts when the head as a
    /// whole overlaps the range.
    pub(crate) fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        out: &mut BTreeSet<String>,
    ) -> Result<()> {
        if matchers.is_empty() {
            if self.overlaps_range(mint, maxt) {
                out.extend(self.index().names().map(str::to_owned));
                for s in &self.retired {
                    out.extend(label_pairs(&s.labels).map(|(n, _)| n.to_owned()));
                }
            }
            return Ok(());
        }
        self.for_each_matching(matchers, mint, maxt, |labels| {
            for (n, _) in label_pairs(labels) {
                if !out.contains(n) {
                    out.insert(n.to_owned());
                }
            }
        })
    }

    /// Adds the values of label `name` among matching head series with data in `[mint, maxt]`
    /// to `out`.
    pub(crate) fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        out: &mut BTreeSet<String>,
    ) -> Result<()> {
        if matchers.is_empty() {
            if self.overlaps_range(mint, maxt) {
                out.extend(self.index().values(name).map(str::to_owned));
                for s in &self.retired {
                    let v = label_value(&s.labels, name);
                    if !v.is_empty() {
                        out.insert(v.to_owned());
                    }
                }
            }
            return Ok(());
        }
        self.for_each_matching(matchers, mint, maxt, |labels| {
            let v = label_value(labels, name);
            if !v.is_empty() && !out.contains(v) {
                out.insert(v.to_owned());
            }
        })
    }
}
