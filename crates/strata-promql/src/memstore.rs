//! An in-memory [`Queryable`] for tests: the promqltest runner and other crates' tests use it.

use std::collections::BTreeMap;
use std::sync::Arc;

use strata_model::{Labels, Matcher};

use crate::queryable::{Point, Queryable, QueryableError, SampleIterator, SelectHints, Series};

/// Series held in memory, sorted by labels, points in time order.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    series: BTreeMap<Labels, Vec<Point>>,
}

/// Iterates a shared slice of points.
#[derive(Debug)]
struct SliceIter {
    points: Arc<[Point]>,
    pos: usize,
}

impl SampleIterator for SliceIter {
    fn next_point(&mut self) -> Option<Point> {
        let p = self.points.get(self.pos).cloned();
        self.pos += 1;
        p
    }

    fn seek(&mut self, t: i64) -> Option<Point> {
        let rest = &self.points[self.pos.min(self.points.len())..];
        self.pos += rest.partition_point(|p| p.t < t);
        self.next_point()
    }
}

impl MemStore {
    /// Returns an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a point; points of one series are kept sorted and a later point with the same
    /// timestamp replaces the earlier one.
    pub fn append(&mut self, labels: Labels, point: Point) {
        let pts = self.series.entry(labels).or_default();
        match pts.last() {
            Some(last) if last.t < point.t => pts.push(point),
            None => pts.push(point),
            _ => match pts.binary_search_by(|p| p.t.cmp(&point.t)) {
                Ok(i) => pts[i] = point,
                Err(i) => pts.insert(i, point),
            },
        }
    }

    /// Removes every series.
    pub fn clear(&mut self) {
        self.series.clear();
    }

    /// Returns the number of series.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    fn matching<'a>(
        &'a self,
        mint: i64,
        maxt: i64,
        matchers: &'a [Matcher],
    ) -> impl Iterator<Item = (&'a Labels, &'a Vec<Point>)> + 'a {
        self.series.iter().filter(move |(l, pts)| {
            matchers.iter().all(|m| m.matches_labels(l))
                && pts.iter().any(|p| p.t >= mint && p.t <= maxt)
        })
    }
}

impl Queryable for MemStore {
    fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, QueryableError> {
        Ok(self
            .matching(hints.mint, hints.maxt, matchers)
            .map(|(l, pts)| {
                let lo = pts.partition_point(|p| p.t < hints.mint);
                let hi = pts.partition_point(|p| p.t <= hints.maxt);
                let points: Arc<[Point]> = pts[lo..hi].to_vec().into();
                Series {
                    labels: l.clone(),
                    samples: Box::new(SliceIter { points, pos: 0 }),
                }
            })
            .collect())
    }

    fn label_names(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QueryableError> {
        let mut names: Vec<String> = self
            .matching(mint, maxt, matchers)
            .flat_map(|(l, _)| l.iter().map(|x| x.name.clone()))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(
        &self,
        name: &str,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QueryableError> {
        let mut vals: Vec<String> = self
            .matching(mint, maxt, matchers)
            .filter_map(|(l, _)| l.get(name).map(str::to_string))
            .collect();
        vals.sort();
        vals.dedup();
        Ok(vals)
    }
}
