//! Sliding windows over series: the streaming core of range-vector evaluation.
//!
//! A [`Buffered`] series holds only the points of its current window `(ref - range, ref]` and
//! pulls more from its [`SampleIterator`] as the reference time moves forward, seeking past
//! gaps. Staleness markers never enter a range window.

use std::sync::Arc;

use strata_model::{Labels, is_stale_nan};

use crate::FloatHistogram;

use crate::{Point, PointValue, SampleIterator};

/// Returns whether a point is a staleness marker.
/// A histogram whose sum is the staleness NaN is a staleness marker too.
pub(crate) fn is_stale(p: &Point) -> bool {
    match &p.v {
        PointValue::Float(f) => is_stale_nan(*f),
        PointValue::Histogram(h) => is_stale_nan(h.sum),
    }
}

/// An iterator over points held in memory (subquery results, tests).
#[derive(Debug)]
pub(crate) struct VecIter {
    points: std::vec::IntoIter<Point>,
}

impl VecIter {
    pub(crate) fn new(points: Vec<Point>) -> Self {
        VecIter {
            points: points.into_iter(),
        }
    }
}

impl SampleIterator for VecIter {
    fn next_point(&mut self) -> Option<Point> {
        self.points.next()
    }
}

/// The points of one window: floats and histograms, each in time order (a series may mix
/// both). Float-only series, the common case, are plain slices with no copying.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window<'a> {
    pub(crate) floats: &'a [(i64, f64)],
    pub(crate) hists: &'a [(i64, Arc<FloatHistogram>)],
}

impl Window<'_> {
    /// Returns the number of points.
    pub(crate) fn len(&self) -> usize {
        self.floats.len() + self.hists.len()
    }

    /// Returns whether the window holds no point.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns all points merged in time order.
    pub(crate) fn merged(&self) -> Vec<Point> {
        let mut out = Vec::with_capacity(self.len());
        let (mut i, mut j) = (0, 0);
        while i < self.floats.len() || j < self.hists.len() {
            let take_float = j >= self.hists.len()
                || (i < self.floats.len() && self.floats[i].0 <= self.hists[j].0);
            if take_float {
                let (t, f) = self.floats[i];
                out.push(Point {
                    t,
                    v: PointValue::Float(f),
                });
                i += 1;
            } else {
                let (t, h) = &self.hists[j];
                out.push(Point {
                    t: *t,
                    v: PointValue::Histogram(h.clone()),
                });
                j += 1;
            }
        }
        out
    }

    /// Returns the last point.
    pub(crate) fn last(&self) -> Option<Point> {
        match (self.floats.last(), self.hists.last()) {
            (Some(f), Some(h)) if h.0 > f.0 => Some(Point {
                t: h.0,
                v: PointValue::Histogram(h.1.clone()),
            }),
            (Some(f), _) => Some(Point {
                t: f.0,
                v: PointValue::Float(f.1),
            }),
            (None, Some(h)) => Some(Point {
                t: h.0,
                v: PointValue::Histogram(h.1.clone()),
            }),
            (None, None) => None,
        }
    }

    /// Returns the first point.
    pub(crate) fn first(&self) -> Option<Point> {
        match (self.floats.first(), self.hists.first()) {
            (Some(f), Some(h)) if h.0 < f.0 => Some(Point {
                t: h.0,
                v: PointValue::Histogram(h.1.clone()),
            }),
            (Some(f), _) => Some(Point {
                t: f.0,
                v: PointValue::Float(f.1),
            }),
            (None, Some(h)) => Some(Point {
                t: h.0,
                v: PointValue::Histogram(h.1.clone()),
            }),
            (None, None) => None,
        }
    }
}

/// A growable buffer whose front is dropped by moving a start index, so that the live part
/// is always one contiguous slice.
#[derive(Debug)]
struct Fifo<T> {
    buf: Vec<T>,
    head: usize,
}

impl<T> Fifo<T> {
    fn new() -> Self {
        Fifo {
            buf: Vec::new(),
            head: 0,
        }
    }

    fn live(&self) -> &[T] {
        &self.buf[self.head..]
    }

    fn is_empty(&self) -> bool {
        self.head == self.buf.len()
    }

    /// Drops the live elements before index `n` of the live slice.
    fn drop_front(&mut self, n: usize) {
        self.head += n;
        if self.head == self.buf.len() {
            self.buf.clear();
            self.head = 0;
        }
    }

    fn push(&mut self, x: T) {
        // Reclaim the dropped front once it is at least half the buffer, so the buffer stays
        // within twice the largest window.
        if self.head > 0 && self.buf.len() == self.buf.capacity() && self.head * 2 >= self.buf.len()
        {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        self.buf.push(x);
    }
}

/// A series with its current window.
#[derive(Debug)]
pub(crate) struct Buffered {
    pub(crate) labels: Arc<Labels>,
    pub(crate) drop_name: bool,
    iter: Box<dyn SampleIterator>,
    pending: Option<Point>,
    floats: Fifo<(i64, f64)>,
    hists: Fifo<(i64, Arc<FloatHistogram>)>,
    last_t: i64,
    exhausted: bool,
    /// Change of the samples held, as Prometheus counts it, by the last [`Buffered::window`].
    pub(crate) held_delta: i64,
}

impl Buffered {
    pub(crate) fn new(labels: Arc<Labels>, drop_name: bool, iter: Box<dyn SampleIterator>) -> Self {
        Buffered {
            labels,
            drop_name,
            iter,
            pending: None,
            floats: Fifo::new(),
            hists: Fifo::new(),
            last_t: i64::MIN,
            exhausted: false,
            held_delta: 0,
        }
    }

    /// Moves the window to `(mint, maxt]` and returns its points, staleness markers excluded.
    /// Windows must move forward (both ends non-decreasing).
    ///
    /// Also sets [`Buffered::held_delta`] to the change in samples held as Prometheus'
    /// `matrixIterSlice` counts it: floats dropped and added one each; for histograms, the
    /// retained ones are subtracted when the windows overlap (all when they do not), and the
    /// added ones are added, by size.
    pub(crate) fn window(&mut self, mint: i64, maxt: i64) -> Window<'_> {
        let f = self.floats.live();
        let drop_f = f.partition_point(|p| p.0 <= mint);
        self.floats.drop_front(drop_f);
        let mut delta = -(drop_f as i64);
        if !self.hists.is_empty() {
            let h = self.hists.live();
            let overlap = h.last().is_some_and(|p| p.0 > mint);
            let drop_h = h.partition_point(|p| p.0 <= mint);
            let sub = if overlap {
                super::stats::hists_size(&h[drop_h..])
            } else {
                super::stats::hists_size(h)
            };
            delta -= sub;
            self.hists.drop_front(drop_h);
        }
        loop {
            let p = match self.pending.take() {
                Some(p) => p,
                None if self.exhausted => break,
                None => {
                    let next = if self.floats.is_empty() && self.hists.is_empty() {
                        self.iter.seek(mint.saturating_add(1))
                    } else {
                        self.iter.next_point()
                    };
                    match next {
                        Some(p) => p,
                        None => {
                            self.exhausted = true;
                            break;
                        }
                    }
                }
            };
            if p.t > maxt {
                self.pending = Some(p);
                break;
            }
            if p.t <= mint || is_stale(&p) || p.t <= self.last_t {
                continue;
            }
            self.last_t = p.t;
            match p.v {
                PointValue::Float(f) => {
                    delta += 1;
                    self.floats.push((p.t, f));
                }
                PointValue::Histogram(h) => {
                    delta += super::stats::hpoint_size(&h);
                    self.hists.push((p.t, h));
                }
            }
        }
        self.held_delta = delta;
        Window {
            floats: self.floats.live(),
            hists: self.hists.live(),
        }
    }

    /// Returns the current window without moving it.
    pub(crate) fn current(&self) -> Window<'_> {
        Window {
            floats: self.floats.live(),
            hists: self.hists.live(),
        }
    }
}

/// The windows of a range-vector expression (matrix selector or subquery).
#[derive(Debug)]
pub(crate) struct RangeWindows {
    pub(crate) series: Vec<Buffered>,
    /// Range in milliseconds.
    pub(crate) range: i64,
    /// Fixed evaluation time from `@`, if any.
    pub(crate) at: Option<i64>,
    /// Offset in milliseconds.
    pub(crate) offset: i64,
    /// Samples held by the expression's own result (a subquery's), released with the windows.
    pub(crate) held: i64,
}

impl RangeWindows {
    pub(crate) fn len(&self) -> usize {
        self.series.len()
    }

    pub(crate) fn labels(&self, i: usize) -> &Arc<Labels> {
        &self.series[i].labels
    }

    pub(crate) fn drop_name(&self, i: usize) -> bool {
        self.series[i].drop_name
    }

    /// Returns the reference (right end) of the window at step time `ts`.
    pub(crate) fn ref_time(&self, ts: i64) -> i64 {
        self.at.unwrap_or(ts) - self.offset
    }

    /// Returns the points of series `i` in the window evaluated at step time `ts`.
    pub(crate) fn window_at(&mut self, i: usize, ts: i64) -> Window<'_> {
        let r = self.ref_time(ts);
        let range = self.range;
        self.series[i].window(r - range, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_model::stale_nan;

    fn pts(v: &[(i64, f64)]) -> Box<dyn SampleIterator> {
        Box::new(VecIter::new(
            v.iter()
                .map(|(t, f)| Point {
                    t: *t,
                    v: PointValue::Float(*f),
                })
                .collect(),
        ))
    }

    #[test]
    fn window_is_left_open_and_right_closed() {
        let mut b = Buffered::new(
            Arc::new(Labels::empty()),
            false,
            pts(&[(0, 1.0), (10, 2.0), (20, 3.0)]),
        );
        let w: Vec<i64> = b.window(0, 20).floats.iter().map(|p| p.0).collect();
        assert_eq!(w, vec![10, 20]);
        let w: Vec<i64> = b.window(10, 30).floats.iter().map(|p| p.0).collect();
        assert_eq!(w, vec![20]);
    }

    #[test]
    fn window_skips_staleness_markers() {
        let mut b = Buffered::new(
            Arc::new(Labels::empty()),
            false,
            pts(&[(0, 1.0), (10, stale_nan()), (20, 3.0)]),
        );
        let w: Vec<i64> = b.window(-1, 20).floats.iter().map(|p| p.0).collect();
        assert_eq!(w, vec![0, 20]);
    }
}
