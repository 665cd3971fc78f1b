//! Messages shared by remote write 1.0 and remote read (`package prometheus`, `types.proto`).
//!
//! String fields of labels are declared as protobuf `bytes`: the wire format is identical, and
//! decoding from a [`bytes::Bytes`] body then yields slices of that body instead of one `String`
//! allocation per label. UTF-8 validity is the receiver's job (`strata-api` checks it once per
//! series).

use bytes::Bytes;

/// One label: a name and a value, as raw bytes borrowed from the decoded body.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message)]
pub struct Label {
    /// The label name (UTF-8 on a valid request).
    #[prost(bytes = "bytes", tag = "1")]
    pub name: Bytes,
    /// The label value (UTF-8 on a valid request).
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
}

impl Label {
    /// Returns a label from anything convertible to bytes (`&'static str`, `String`, `Vec<u8>`).
    pub fn new(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A float sample.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value; NaN payloads (the staleness marker) travel bit-exact.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// An exemplar attached to a series.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    /// Exemplar labels (for example a trace id); may be empty.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The observed value.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// A span of consecutive populated buckets of a native histogram.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct BucketSpan {
    /// Gap to the previous span, or the start index of the first span.
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    /// Number of consecutive buckets.
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

/// A native histogram sample (integer or float flavour).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    /// Count of observations.
    #[prost(oneof = "histogram::Count", tags = "1, 2")]
    pub count: Option<histogram::Count>,
    /// Sum of observations.
    #[prost(double, tag = "3")]
    pub sum: f64,
    /// Bucket schema (-4..=8 for exponential schemas, -53 for custom buckets).
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    /// Width of the zero bucket.
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    /// Count in the zero bucket.
    #[prost(oneof = "histogram::ZeroCount", tags = "6, 7")]
    pub zero_count: Option<histogram::ZeroCount>,
    /// Spans of negative buckets.
    #[prost(message, repeated, tag = "8")]
    pub negative_spans: Vec<BucketSpan>,
    /// Delta-encoded negative bucket counts (integer histograms).
    #[prost(sint64, repeated, tag = "9")]
    pub negative_deltas: Vec<i64>,
    /// Absolute negative bucket counts (float histograms).
    #[prost(double, repeated, tag = "10")]
    pub negative_counts: Vec<f64>,
    /// Spans of positive buckets.
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    /// Delta-encoded positive bucket counts (integer histograms).
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    /// Absolute positive bucket counts (float histograms).
    #[prost(double, repeated, tag = "13")]
    pub positive_counts: Vec<f64>,
    /// Counter-reset hint.
    #[prost(enumeration = "histogram::ResetHint", tag = "14")]
    pub reset_hint: i32,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
    /// Custom bucket bounds (schema -53).
    #[prost(double, repeated, tag = "16")]
    pub custom_values: Vec<f64>,
}

/// Nested types of [`Histogram`].
pub mod histogram {
    /// The observation count of a histogram.
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum Count {
        /// Integer count.
        #[prost(uint64, tag = "1")]
        CountInt(u64),
        /// Float count.
        #[prost(double, tag = "2")]
        CountFloat(f64),
    }

    /// The zero-bucket count of a histogram.
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum ZeroCount {
        /// Integer count.
        #[prost(uint64, tag = "6")]
        ZeroCountInt(u64),
        /// Float count.
        #[prost(double, tag = "7")]
        ZeroCountFloat(f64),
    }

    /// Whether a counter reset happened before this histogram.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum ResetHint {
        /// Unknown: test for a reset explicitly.
        Unknown = 0,
        /// The first histogram after a counter reset.
        Yes = 1,
        /// No counter reset since the previous histogram.
        No = 2,
        /// A gauge histogram: resets do not apply.
        Gauge = 3,
    }
}

/// One series with its samples, exemplars and histograms.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// The series labels, `__name__` included; senders sort them by name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Float samples in time order.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Exemplars.
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    /// Native histogram samples.
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// Metadata of one metric family.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    /// The metric type.
    #[prost(enumeration = "metric_metadata::MetricType", tag = "1")]
    pub r#type: i32,
    /// The family name.
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// Help text.
    #[prost(string, tag = "4")]
    pub help: String,
    /// Unit.
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// Nested types of [`MetricMetadata`].
pub mod metric_metadata {
    /// The type of a metric family, as in Prometheus.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum MetricType {
        /// Unknown type.
        Unknown = 0,
        /// Counter.
        Counter = 1,
        /// Gauge.
        Gauge = 2,
        /// Classic histogram.
        Histogram = 3,
        /// Gauge histogram.
        Gaugehistogram = 4,
        /// Summary.
        Summary = 5,
        /// Info metric.
        Info = 6,
        /// State set.
        Stateset = 7,
    }
}

/// A label matcher of a remote read query.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelMatcher {
    /// The comparison.
    #[prost(enumeration = "label_matcher::Type", tag = "1")]
    pub r#type: i32,
    /// The label name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// The value or regex.
    #[prost(string, tag = "3")]
    pub value: String,
}

/// Nested types of [`LabelMatcher`].
pub mod label_matcher {
    /// The comparison a matcher performs.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Type {
        /// `=`.
        Eq = 0,
        /// `!=`.
        Neq = 1,
        /// `=~`.
        Re = 2,
        /// `!~`.
        Nre = 3,
    }
}

/// What the querying engine will do with a remote read selection.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadHints {
    /// Query step in milliseconds.
    #[prost(int64, tag = "1")]
    pub step_ms: i64,
    /// The surrounding function or aggregation.
    #[prost(string, tag = "2")]
    pub func: String,
    /// Start time in milliseconds.
    #[prost(int64, tag = "3")]
    pub start_ms: i64,
    /// End time in milliseconds.
    #[prost(int64, tag = "4")]
    pub end_ms: i64,
    /// Label names of the aggregation's grouping.
    #[prost(string, repeated, tag = "5")]
    pub grouping: Vec<String>,
    /// Whether the grouping is `by` (true) or `without`.
    #[prost(bool, tag = "6")]
    pub by: bool,
    /// Range of the range selector in milliseconds.
    #[prost(int64, tag = "7")]
    pub range_ms: i64,
}

/// A compressed chunk of one series.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Chunk {
    /// Timestamp of the first sample, in milliseconds.
    #[prost(int64, tag = "1")]
    pub min_time_ms: i64,
    /// Timestamp of the last sample, in milliseconds.
    #[prost(int64, tag = "2")]
    pub max_time_ms: i64,
    /// The chunk encoding (Prometheus `chunkenc.Encoding`).
    #[prost(enumeration = "chunk::Encoding", tag = "3")]
    pub r#type: i32,
    /// The encoded chunk bytes.
    #[prost(bytes = "bytes", tag = "4")]
    pub data: Bytes,
}

/// Nested types of [`Chunk`].
pub mod chunk {
    /// A chunk encoding; values match Prometheus' `chunkenc.Encoding`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Encoding {
        /// Unknown encoding.
        Unknown = 0,
        /// Gorilla XOR float chunk.
        Xor = 1,
        /// Integer native histogram chunk.
        Histogram = 2,
        /// Float native histogram chunk.
        FloatHistogram = 3,
    }
}

/// One series with its chunks, as streamed by remote read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChunkedSeries {
    /// The series labels, sorted by name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Chunks in start-time order; they may overlap.
    #[prost(message, repeated, tag = "2")]
    pub chunks: Vec<Chunk>,
}
