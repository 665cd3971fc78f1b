//! The storage seam of the query engine.
//!
//! A [`Queryable`] selects series by matchers over a time range and hands back, per series, its
//! labels and a [`SampleIterator`]. Iterators decode lazily (from compressed chunks, in the real
//! store) so that memory follows the samples a query's windows hold, not the whole range.
//! Methods are synchronous: async callers run them on a blocking thread.

use std::fmt;
use std::sync::Arc;

use strata_model::{ErrorKind, Labels, Matcher};

use crate::FloatHistogram;

/// The value of one point: a float or a native histogram.
#[derive(Debug, Clone, PartialEq)]
pub enum PointValue {
    /// A float sample; NaN payloads (the staleness marker) are kept bit-exact.
    Float(f64),
    /// A native histogram sample.
    Histogram(Arc<FloatHistogram>),
}

/// One point of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The value.
    pub v: PointValue,
}

/// Iterates the points of one series in increasing time order.
pub trait SampleIterator: Send + fmt::Debug {
    /// Returns the next point, or `None` at the end.
    fn next_point(&mut self) -> Option<Point>;

    /// Advances to the first point with timestamp `>= t` and returns it; never moves backwards
    /// (if the current position is already past `t`, returns the next point). Implementations
    /// skip whole chunks where they can.
    fn seek(&mut self, t: i64) -> Option<Point> {
        loop {
            let p = self.next_point()?;
            if p.t >= t {
                return Some(p);
            }
        }
    }
}

/// One selected series.
#[derive(Debug)]
pub struct Series {
    /// The series' labels, `__name__` included.
    pub labels: Labels,
    /// Its points within the selected range (a store may return a few outside it).
    pub samples: Box<dyn SampleIterator>,
}

/// What the engine will do with a selection, so that a store can prune.
#[derive(Debug, Clone, Default)]
pub struct SelectHints {
    /// Earliest timestamp needed, inclusive, in milliseconds.
    pub mint: i64,
    /// Latest timestamp needed, inclusive, in milliseconds.
    pub maxt: i64,
    /// Query step in milliseconds (0 for instant queries).
    pub step_ms: i64,
    /// Range of the enclosing range selector in milliseconds, 0 if none.
    pub range_ms: i64,
    /// Name of the function the selection feeds, if any.
    pub func: Option<String>,
}

/// A store could not answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct QueryableError {
    /// How callers should treat it.
    pub kind: ErrorKind,
    /// What happened, lowercase, no trailing period.
    pub message: String,
}

/// A source of series for the engine and the read APIs.
pub trait Queryable: Send + Sync {
    /// Returns the series matching all `matchers` that have points in `[hints.mint, hints.maxt]`,
    /// sorted by labels.
    fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, QueryableError>;

    /// Returns the sorted, unique label names of series in `[mint, maxt]` that match all
    /// `matchers` (all series when `matchers` is empty).
    fn label_names(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QueryableError>;

    /// Returns the sorted, unique values of label `name` among series in `[mint, maxt]` that match
    /// all `matchers`.
    fn label_values(
        &self,
        name: &str,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QueryableError>;
}
