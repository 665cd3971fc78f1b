//! PromQL evaluation with Prometheus 3.5 semantics (in progress).
//!
//! The engine evaluates the AST of the `promql-parser` crate over the [`Queryable`] trait, which
//! knows nothing of where series come from: the single-node store, the cluster fan-out and the
//! in-memory test store used by the promqltest runner all implement it.

#![forbid(unsafe_code)]

pub mod histogram;
pub mod queryable;

pub use histogram::FloatHistogram;
pub use queryable::{
    Point, PointValue, Queryable, QueryableError, SampleIterator, SelectHints, Series,
};
