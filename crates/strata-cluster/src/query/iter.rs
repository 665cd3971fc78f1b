//! A [`SampleIterator`] over a series' chunks that decodes a bounded batch at a time.

use strata_codec::{Chunk, Encoding};
use strata_promql::{Point, PointValue, SampleIterator};

/// Samples decoded at once from a `Packed` chunk. `Packed` chunks are cut into blocks of 128
/// samples that `ChunkIter::seek` jumps over without decoding, so resuming a chunk in the middle
/// costs little; XOR chunks (the head's open chunk, a few small ones) cannot be resumed cheaply
/// and are decoded whole, bounded by the head's chunk size.
const PACKED_BATCH: usize = 256;

/// Iterates the samples of a series' chunks (sorted by time, not overlapping) within
/// `[mint, maxt]`, decoding lazily: at most [`PACKED_BATCH`] samples of a `Packed` chunk are
/// held decoded at a time, and [`SampleIterator::seek`] skips whole chunks and, inside a chunk,
/// whole blocks.
///
/// The iterator owns its chunks (a storage `select` hands out copies), and `ChunkIter` borrows
/// its chunk, so the position inside a chunk is kept as the next timestamp to read and a batch
/// is decoded by a fresh `ChunkIter` that seeks to it.
#[derive(Debug)]
pub struct ChunkSamples {
    chunks: Vec<Chunk>,
    /// Index of the chunk the next batch comes from.
    idx: usize,
    /// Decoded samples not yet returned: `batch[pos..]`.
    batch: Vec<(i64, f64)>,
    pos: usize,
    /// Smallest timestamp the next batch may start at.
    resume: i64,
    maxt: i64,
    done: bool,
}

impl ChunkSamples {
    /// Returns an iterator over `chunks` restricted to `[mint, maxt]`.
    pub fn new(chunks: Vec<Chunk>, mint: i64, maxt: i64) -> Self {
        ChunkSamples {
            chunks,
            idx: 0,
            batch: Vec::new(),
            pos: 0,
            resume: mint,
            maxt,
            done: false,
        }
    }

    /// Decodes the next batch at or after `self.resume`; false when no sample is left.
    fn refill(&mut self) -> bool {
        self.batch.clear();
        self.pos = 0;
        while !self.done {
            let Some(chunk) = self.chunks.get(self.idx) else {
                self.done = true;
                break;
            };
            if chunk.num_samples() == 0 || chunk.max_time() < self.resume {
                self.idx += 1;
                continue;
            }
            if chunk.min_time() > self.maxt {
                self.done = true;
                break;
            }
            let mut it = chunk.iter();
            let first = if self.resume > chunk.min_time() {
                it.seek(self.resume)
            } else {
                it.next()
            };
            let limit = match chunk.encoding() {
                Encoding::Packed => PACKED_BATCH,
                Encoding::Xor => usize::MAX,
            };
            self.batch.extend(first);
            if !self.batch.is_empty() {
                self.batch.extend(it.by_ref().take(limit - 1));
            }
            match self.batch.last() {
                Some(&(t, _)) if self.batch.len() >= limit && t < chunk.max_time() => {
                    // More in this chunk: resume after the batch's last sample.
                    self.resume = t.saturating_add(1);
                }
                _ => {
                    // The chunk is done (or damaged: go on with the next).
                    self.idx += 1;
                    if let Some(&(t, _)) = self.batch.last() {
                        self.resume = t.saturating_add(1);
                    }
                }
            }
            if !self.batch.is_empty() {
                return true;
            }
        }
        false
    }

    fn next_at_or_after(&mut self, t: i64) -> Option<Point> {
        loop {
            if let Some(k) = self.batch[self.pos..].iter().position(|s| s.0 >= t) {
                let (ts, v) = self.batch[self.pos + k];
                self.pos += k + 1;
                if ts > self.maxt {
                    self.batch.clear();
                    self.pos = 0;
                    self.done = true;
                    return None;
                }
                return Some(Point {
                    t: ts,
                    v: PointValue::Float(v),
                });
            }
            self.pos = self.batch.len();
            if self.resume < t {
                self.resume = t;
            }
            if !self.refill() {
                return None;
            }
        }
    }
}

impl SampleIterator for ChunkSamples {
    fn next_point(&mut self) -> Option<Point> {
        self.next_at_or_after(i64::MIN)
    }

    fn seek(&mut self, t: i64) -> Option<Point> {
        self.next_at_or_after(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(ts: std::ops::Range<i64>) -> Chunk {
        let s: Vec<(i64, f64)> = ts.map(|t| (t * 10, t as f64)).collect();
        Chunk::encode(&s)
    }

    fn collect(mut it: ChunkSamples) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some(p) = it.next_point() {
            out.push(p.t);
        }
        out
    }

    #[test]
    fn iterates_within_range_across_chunks() {
        let it = ChunkSamples::new(vec![chunk(0..5), chunk(5..10)], 20, 70);
        assert_eq!(collect(it), vec![20, 30, 40, 50, 60, 70]);
    }

    #[test]
    fn seeks_forward_across_chunks_and_never_backwards() {
        let mut it = ChunkSamples::new(vec![chunk(0..5), chunk(5..10), chunk(10..15)], 0, 1000);
        assert_eq!(it.next_point().map(|p| p.t), Some(0));
        assert_eq!(it.seek(75).map(|p| p.t), Some(80));
        assert_eq!(it.seek(10).map(|p| p.t), Some(90));
        assert_eq!(it.seek(101).map(|p| p.t), Some(110));
        assert_eq!(it.seek(1000), None);
        assert_eq!(it.next_point(), None);
    }

    #[test]
    fn keeps_stale_nan_bits() {
        let c = Chunk::encode(&[(1, strata_model::stale_nan())]);
        let mut it = ChunkSamples::new(vec![c], 0, 10);
        match it.next_point().map(|p| p.v) {
            Some(PointValue::Float(v)) => assert!(strata_model::is_stale_nan(v)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decodes_long_chunks_in_batches_without_losing_or_repeating_samples() {
        let c = chunk(0..1000);
        let d = chunk(1000..1500);
        assert_eq!(c.encoding(), Encoding::Packed);
        let all = collect(ChunkSamples::new(vec![c.clone(), d.clone()], 0, 100_000));
        assert_eq!(all, (0..1500).map(|t| t * 10).collect::<Vec<_>>());
        let mut it = ChunkSamples::new(vec![c, d], 15, 12_000);
        assert_eq!(it.next_point().map(|p| p.t), Some(20));
        assert_eq!(it.seek(5005).map(|p| p.t), Some(5010));
        assert_eq!(it.next_point().map(|p| p.t), Some(5020));
        let mut n = 2;
        let mut last = 5020;
        while let Some(p) = it.next_point() {
            assert_eq!(p.t, last + 10);
            last = p.t;
            n += 1;
            if p.t == 9_980 {
                break;
            }
        }
        assert_eq!(n, 498);
        assert_eq!(it.seek(11_995).map(|p| p.t), Some(12_000));
        assert_eq!(it.next_point(), None);
    }
}
