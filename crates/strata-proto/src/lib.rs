//! Protobuf wire types of Strata: Prometheus remote write 1.0 and 2.0, remote read (samples and
//! streamed XOR chunks), and helpers to encode, compress and frame them.
//!
//! The messages are hand-written `prost` structs that follow Prometheus' `prompb` field numbers,
//! so no `.proto` compiler runs at build time. Key design choice: label names and values (and the
//! 2.0 symbols table) are protobuf `bytes` fields backed by [`bytes::Bytes`]. The wire format is
//! the same as `string`, and decoding from a `Bytes` body makes each label a slice of that body:
//! no allocation per label on the ingest path. The cost is that these fields are not checked as
//! UTF-8 on decode; receivers (`strata-api`) validate each series' labels themselves. The ingest
//! hot path goes further with [`WriteRequestReader`], a zero-copy reader that yields each series
//! as borrowed slices without allocating or touching reference counts.
//!
//! Invariants: bodies are compressed with snappy's *block* format; a decompressed size is checked
//! against the caller's limit before any buffer is allocated ([`decompress_snappy`]).

#![forbid(unsafe_code)]

pub mod codec;
pub mod error;
pub mod frame;
pub mod remote;
pub mod types;
pub mod view;
pub mod write_v2;

pub use codec::{
    PROTOBUF_CONTENT_TYPE, REMOTE_WRITE_VERSION_1, REMOTE_WRITE_VERSION_HEADER,
    STREAMED_CONTENT_TYPE, WRITE_V1_PROTO, WRITE_V2_PROTO, compress_snappy, decode_snappy,
    decompress_snappy, encode_snappy, labels_to_proto, snappy_decompressed_len,
};
pub use error::{Error, Result};
pub use frame::{crc32c, decode_frame, decode_frames, encode_frame};
pub use remote::{
    ChunkedReadResponse, Query, QueryResult, ReadRequest, ReadResponse, WriteRequest, read_request,
};
pub use types::{
    BucketSpan, Chunk, ChunkedSeries, Exemplar, Histogram, Label, LabelMatcher, MetricMetadata,
    ReadHints, Sample, TimeSeries, chunk, histogram, label_matcher, metric_metadata,
};
pub use view::{LabelRef, TimeSeriesView, WriteRequestReader};
