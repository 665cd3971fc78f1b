//! Query results: scalars, strings, instant vectors and range vectors (matrices).

use std::sync::Arc;

use strata_model::Labels;

use crate::FloatHistogram;
use crate::annotations::Annotations;
pub use crate::eval::stats::QueryStats;

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub labels: Labels,
    /// Timestamp in milliseconds.
    pub t: i64,
    /// The float value (0 when `h` is set).
    pub f: f64,
    /// The histogram value, when the sample is a native histogram.
    pub h: Option<Arc<FloatHistogram>>,
}

/// One series of a range vector: float points and histogram points, each in time order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Float points `(t, f)`.
    pub floats: Vec<(i64, f64)>,
    /// Histogram points.
    pub histograms: Vec<(i64, Arc<FloatHistogram>)>,
}

/// The value a query produces.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar at a timestamp (ms).
    Scalar {
        /// Timestamp in milliseconds.
        t: i64,
        /// The value.
        v: f64,
    },
    /// A string at a timestamp (ms).
    String {
        /// Timestamp in milliseconds.
        t: i64,
        /// The value.
        v: String,
    },
    /// An instant vector.
    Vector(Vec<Sample>),
    /// A range vector, sorted by labels.
    Matrix(Vec<RangeSeries>),
}

impl Value {
    /// Returns the Prometheus API name of the value type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// A successful query: its value and the annotations raised while evaluating it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The value.
    pub value: Value,
    /// Warnings and infos, deduplicated, in the order raised.
    pub annotations: Annotations,
    /// Samples read and held, counted as Prometheus 3.5 counts them (`stats=all`).
    pub stats: QueryStats,
}

impl QueryResult {
    /// Returns the warning messages.
    pub fn warnings(&self) -> Vec<String> {
        self.annotations.warnings()
    }

    /// Returns the info messages.
    pub fn infos(&self) -> Vec<String> {
        self.annotations.infos()
    }
}
