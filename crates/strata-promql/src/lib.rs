//! PromQL evaluation with Prometheus 3.5 semantics.
//!
//! The engine evaluates the AST of the `promql-parser` crate (behind this crate's own
//! [`parse()`], which papers over the parser's known gaps) over the [`Queryable`] trait, which
//! knows nothing of where series come from: the single-node store, the cluster fan-out and the
//! in-memory [`MemStore`] used by the promqltest runner all implement it.
//!
//! Invariants: results follow Prometheus 3.5 exactly (lookback delta, left-open range windows,
//! staleness markers, extrapolation, `__name__` dropping with delayed removal); errors carry
//! Prometheus' error classes through [`Error::kind`].
//!
//! Key design choice: evaluation is step-wise and streaming. Every node produces its value per
//! step; selectors pull samples from the store's iterators with `seek`, keeping only the points
//! of the current window per series, so memory follows the windows and the per-step results, not
//! the selected range. The cost: a node's per-step results are materialised before its parent
//! consumes them (as in Prometheus), so wide range queries hold `series × steps` results.

#![forbid(unsafe_code)]

pub mod annotations;
pub mod engine;
pub mod error;
pub(crate) mod eval;
mod functions;
pub mod histogram;
pub mod memstore;
pub mod parse;
pub mod promqltest;
pub mod queryable;
pub mod value;

pub use annotations::{Annotations, Level};
pub use engine::{Engine, EngineConfig, QueryOpts};
pub use error::{Error, Result};
pub use histogram::FloatHistogram;
pub use memstore::MemStore;
pub use parse::parse;
pub use queryable::{
    Point, PointValue, Queryable, QueryableError, SampleIterator, SelectHints, Series,
};
pub use value::{QueryResult, QueryStats, RangeSeries, Sample, Value};
