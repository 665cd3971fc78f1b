//! A [`SampleIterator`] over a series' chunks that decodes one chunk at a time.

use std::collections::VecDeque;

use strata_codec::Chunk;
use strata_promql::{Point, PointValue, SampleIterator};

/// Iterates the samples of a series' chunks (sorted by time, not overlapping) within
/// `[mint, maxt]`, decoding a chunk only when the iteration reaches it and skipping whole chunks
/// on [`SampleIterator::seek`].
#[derive(Debug)]
pub struct ChunkSamples {
    chunks: VecDeque<Chunk>,
    /// Decoded samples of the current chunk, not yet returned.
    current: VecDeque<(i64, f64)>,
    mint: i64,
    maxt: i64,
}

impl ChunkSamples {
    /// Returns an iterator over `chunks` restricted to `[mint, maxt]`.
    pub fn new(chunks: Vec<Chunk>, mint: i64, maxt: i64) -> Self {
        ChunkSamples {
            chunks: chunks.into(),
            current: VecDeque::new(),
            mint,
            maxt,
        }
    }

    /// Decodes the next chunk that may hold samples `>= t` into `current`, positioned at `t`.
    /// Returns false when no chunk is left.
    fn load_next(&mut self, t: i64) -> bool {
        while let Some(chunk) = self.chunks.pop_front() {
            if chunk.max_time() < t || chunk.num_samples() == 0 {
                continue;
            }
            if chunk.min_time() > self.maxt {
                self.chunks.clear();
                return false;
            }
            let mut it = chunk.iter();
            let first = if t > chunk.min_time() {
                it.seek(t)
            } else {
                it.next()
            };
            self.current.extend(first);
            self.current.extend(it);
            if !self.current.is_empty() {
                return true;
            }
        }
        false
    }

    fn next_at_or_after(&mut self, t: i64) -> Option<Point> {
        loop {
            while let Some(&(ts, v)) = self.current.front() {
                self.current.pop_front();
                if ts < t {
                    continue;
                }
                if ts > self.maxt {
                    self.current.clear();
                    self.chunks.clear();
                    return None;
                }
                return Some(Point {
                    t: ts,
                    v: PointValue::Float(v),
                });
            }
            if !self.load_next(t) {
                return None;
            }
        }
    }
}

impl SampleIterator for ChunkSamples {
    fn next_point(&mut self) -> Option<Point> {
        self.next_at_or_after(self.mint)
    }

    fn seek(&mut self, t: i64) -> Option<Point> {
        // Drop decoded samples before t; if the current chunk ends before t, skip whole chunks.
        while matches!(self.current.front(), Some(&(ts, _)) if ts < t) {
            self.current.pop_front();
        }
        self.next_at_or_after(t.max(self.mint))
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
}
