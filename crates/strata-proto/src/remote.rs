//! Remote write 1.0 and remote read messages (`package prometheus`, `remote.proto`).

use crate::types::{ChunkedSeries, LabelMatcher, MetricMetadata, ReadHints, TimeSeries};

/// A remote write 1.0 request: `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series with their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Metric metadata (tag 2 is reserved by the protocol).
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// A remote read request: `prometheus.ReadRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadRequest {
    /// The queries; answered in this order.
    #[prost(message, repeated, tag = "1")]
    pub queries: Vec<Query>,
    /// Response types the client accepts, in order of preference; empty means `SAMPLES`.
    #[prost(enumeration = "read_request::ResponseType", repeated, tag = "2")]
    pub accepted_response_types: Vec<i32>,
}

/// Nested types of [`ReadRequest`].
pub mod read_request {
    /// How a remote read response is encoded.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum ResponseType {
        /// One snappy-compressed `ReadResponse` with raw samples.
        Samples = 0,
        /// A stream of delimited `ChunkedReadResponse` frames with XOR chunks.
        StreamedXorChunks = 1,
    }
}

/// One remote read query.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Query {
    /// Start of the range in milliseconds, inclusive.
    #[prost(int64, tag = "1")]
    pub start_timestamp_ms: i64,
    /// End of the range in milliseconds, inclusive.
    #[prost(int64, tag = "2")]
    pub end_timestamp_ms: i64,
    /// Label matchers, all of which must match.
    #[prost(message, repeated, tag = "3")]
    pub matchers: Vec<LabelMatcher>,
    /// Hints about the querying engine's use of the data.
    #[prost(message, optional, tag = "4")]
    pub hints: Option<ReadHints>,
}

/// A `SAMPLES` remote read response: `prometheus.ReadResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadResponse {
    /// One result per query, in request order.
    #[prost(message, repeated, tag = "1")]
    pub results: Vec<QueryResult>,
}

/// The series of one query.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryResult {
    /// Matching series; samples in time order.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// One frame of a `STREAMED_XOR_CHUNKS` remote read response.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChunkedReadResponse {
    /// Series with their chunks.
    #[prost(message, repeated, tag = "1")]
    pub chunked_series: Vec<ChunkedSeries>,
    /// Index of the query in `ReadRequest.queries` that these series answer.
    #[prost(int64, tag = "2")]
    pub query_index: i64,
}
