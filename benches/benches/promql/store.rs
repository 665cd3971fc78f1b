//! A [`Queryable`] over compressed chunks held in memory, for the PromQL bench.
//!
//! Series are cut into closed chunks of [`CHUNK_SAMPLES`] samples encoded by `Chunk::encode`, as
//! the storage engine does. Two read paths:
//! - [`ReadPath::Lazy`]: each iterator walks the chunks with `ChunkIter::seek` and decodes one
//!   sample at a time, so a series costs a few words while it is being read;
//! - [`ReadPath::Node`]: the node's read path, `strata_cluster::ChunkSamples`, which is given
//!   copies of the chunks (as a storage `select` hands them over) and decodes a bounded batch
//!   of a chunk at a time.
//!
//! The chunks are leaked for the life of the process, so that lazy iterators can borrow them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use strata_codec::{Chunk, ChunkIter};
use strata_model::{Labels, Matcher};
use strata_promql::{
    Point, PointValue, Queryable, QueryableError, SampleIterator, SelectHints, Series,
};

use crate::data;

/// Samples per closed chunk (30 minutes of 1 s data, the storage engine's cut).
pub(crate) const CHUNK_SAMPLES: usize = 1800;

/// How iterators decode chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadPath {
    /// One sample at a time from the borrowed chunk.
    Lazy,
    /// Copied chunks read by the node's `strata_cluster::ChunkSamples`.
    Node,
}

/// Series as compressed chunks, sorted by labels.
#[derive(Debug)]
pub(crate) struct ChunkStore {
    series: Vec<(Labels, &'static [Chunk])>,
    path: ReadPath,
    /// Points handed to the engine, when counting.
    counter: Option<Arc<AtomicU64>>,
}

impl ChunkStore {
    /// Generates the bench data set with its first sample at `start_ms` and encodes it.
    pub(crate) fn build(start_ms: i64) -> ChunkStore {
        let mut series = Vec::new();
        let mut buf = Vec::with_capacity(data::SECONDS);
        for mut s in data::node_series(start_ms) {
            buf.clear();
            buf.extend((0..data::SECONDS).map(|_| s.next_sample()));
            series.push((s.labels.clone(), encode(&buf)));
        }
        for mut g in data::hist_groups(start_ms) {
            let steps: Vec<(i64, [f64; 12])> = (0..data::SECONDS).map(|_| g.next_step()).collect();
            for (b, labels) in g.labels.iter().enumerate() {
                buf.clear();
                buf.extend(steps.iter().map(|(t, vs)| (*t, vs[b])));
                series.push((labels.clone(), encode(&buf)));
            }
        }
        series.sort_by(|a, b| a.0.cmp(&b.0));
        ChunkStore {
            series,
            path: ReadPath::Lazy,
            counter: None,
        }
    }

    /// Returns a view of the same chunks read through `path`, counting points into `counter`.
    pub(crate) fn with(&self, path: ReadPath, counter: Option<Arc<AtomicU64>>) -> ChunkStore {
        ChunkStore {
            series: self.series.clone(),
            path,
            counter,
        }
    }

    /// Returns the number of series, samples and encoded bytes.
    pub(crate) fn stats(&self) -> (usize, usize, usize) {
        let chunks = self.series.iter().flat_map(|s| s.1.iter());
        let (n, b) = chunks.fold((0, 0), |(n, b), c| {
            (n + c.num_samples(), b + c.size_bytes())
        });
        (self.series.len(), n, b)
    }
}

/// Cuts `samples` into closed chunks and leaks them.
fn encode(samples: &[(i64, f64)]) -> &'static [Chunk] {
    let chunks: Vec<Chunk> = samples.chunks(CHUNK_SAMPLES).map(Chunk::encode).collect();
    Box::leak(chunks.into_boxed_slice())
}

impl Queryable for ChunkStore {
    fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, QueryableError> {
        let mut out = Vec::new();
        for (labels, chunks) in &self.series {
            if !matchers.iter().all(|m| m.matches_labels(labels)) {
                continue;
            }
            let lo = chunks.partition_point(|c| c.max_time() < hints.mint);
            let hi = chunks.partition_point(|c| c.min_time() <= hints.maxt);
            if lo >= hi {
                continue;
            }
            let chunks = &chunks[lo..hi];
            let samples: Box<dyn SampleIterator> = match self.path {
                ReadPath::Lazy => Box::new(LazyChunks {
                    rest: chunks,
                    cur: None,
                    last_t: i64::MIN,
                    maxt: hints.maxt,
                }),
                ReadPath::Node => Box::new(strata_cluster::ChunkSamples::new(
                    chunks.to_vec(),
                    hints.mint,
                    hints.maxt,
                )),
            };
            let samples = match &self.counter {
                Some(c) => Box::new(Counting {
                    inner: samples,
                    counter: c.clone(),
                }),
                None => samples,
            };
            out.push(Series {
                labels: labels.clone(),
                samples,
            });
        }
        Ok(out)
    }

    fn label_names(
        &self,
        _mint: i64,
        _maxt: i64,
        _matchers: &[Matcher],
    ) -> Result<Vec<String>, QueryableError> {
        Ok(Vec::new())
    }

    fn label_values(
        &self,
        _name: &str,
        _mint: i64,
        _maxt: i64,
        _matchers: &[Matcher],
    ) -> Result<Vec<String>, QueryableError> {
        Ok(Vec::new())
    }
}

/// Walks borrowed chunks, decoding one sample at a time.
#[derive(Debug)]
struct LazyChunks {
    /// Chunks not yet started.
    rest: &'static [Chunk],
    /// The current chunk's iterator and its last timestamp.
    cur: Option<(ChunkIter<'static>, i64)>,
    /// Timestamp of the point last returned.
    last_t: i64,
    maxt: i64,
}

impl LazyChunks {
    /// Returns `(t, v)` as a point, or ends the iteration past `maxt`.
    fn emit(&mut self, (t, v): (i64, f64)) -> Option<Point> {
        if t > self.maxt {
            self.cur = None;
            self.rest = &[];
            return None;
        }
        self.last_t = t;
        Some(Point {
            t,
            v: PointValue::Float(v),
        })
    }

    /// Makes the next chunk current; false when none is left.
    fn advance(&mut self) -> bool {
        match self.rest.split_first() {
            Some((c, rest)) => {
                self.rest = rest;
                self.cur = Some((c.iter(), c.max_time()));
                true
            }
            None => {
                self.cur = None;
                false
            }
        }
    }
}

impl SampleIterator for LazyChunks {
    fn next_point(&mut self) -> Option<Point> {
        loop {
            if let Some((it, _)) = &mut self.cur
                && let Some(s) = it.next()
            {
                return self.emit(s);
            }
            if !self.advance() {
                return None;
            }
        }
    }

    fn seek(&mut self, t: i64) -> Option<Point> {
        if self.last_t >= t {
            return self.next_point();
        }
        loop {
            match &mut self.cur {
                Some((it, max)) if *max >= t => {
                    if let Some(s) = it.seek(t) {
                        return self.emit(s);
                    }
                    // Only a damaged chunk ends before its max time: go on with the next.
                    self.cur = None;
                }
                _ => {
                    // Skip whole chunks that end before t.
                    let skip = self.rest.partition_point(|c| c.max_time() < t);
                    self.rest = &self.rest[skip..];
                    if !self.advance() {
                        return None;
                    }
                }
            }
        }
    }
}

/// Counts the points an iterator hands to the engine.
#[derive(Debug)]
struct Counting {
    inner: Box<dyn SampleIterator>,
    counter: Arc<AtomicU64>,
}

impl SampleIterator for Counting {
    fn next_point(&mut self) -> Option<Point> {
        let p = self.inner.next_point();
        if p.is_some() {
            self.counter.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    fn seek(&mut self, t: i64) -> Option<Point> {
        let p = self.inner.seek(t);
        if p.is_some() {
            self.counter.fetch_add(1, Ordering::Relaxed);
        }
        p
    }
}
