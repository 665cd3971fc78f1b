//! The HTTP surface of Strata: Prometheus remote write 1.0 (`POST /api/v1/write`), remote read
//! (`POST /api/v1/read`, samples and streamed XOR chunks), the Prometheus 3.5 HTTP query API
//! (`/api/v1/query`, `/api/v1/query_range`, `/api/v1/series`, `/api/v1/labels`,
//! `/api/v1/label/<name>/values`, `/api/v1/metadata`, status endpoints, …), `/-/healthy`,
//! `/-/ready` and `/metrics`, plus the one table that turns an [`strata_model::ErrorKind`] into
//! an HTTP status and a Prometheus `errorType` ([`status_for_kind`]).
//!
//! The crate knows nothing of storage or clustering: writes go to a
//! [`strata_model::WriteSink`], reads to a [`strata_promql::Queryable`], readiness to a probe
//! closure; the binary wires concrete types into an [`ApiState`] and serves [`router`]. It builds
//! without RocksDB or openraft.
//!
//! Invariants:
//! - no input makes a handler panic; every body is bounded by a limit checked before it is
//!   buffered (compressed size) or allocated (snappy's declared decompressed size);
//! - 2xx on a write means every accepted sample is durable (the sink resolved); 400 means the
//!   request must not be retried (bad data, or samples refused after the rest were stored);
//!   5xx and 429 only for retryable sink failures;
//! - series are hashed and routed exactly as `strata_model::Labels` would: the canonical label
//!   bytes are built from the request's label slices, so `SeriesId`s agree everywhere;
//! - query API answers use Prometheus' exact JSON (float strings in Go's shortest form,
//!   timestamps as float seconds) and are serialized straight into the response body, never
//!   through a `serde_json::Value`; every answer size is bounded by an [`ApiLimits`] field.
//!
//! Key design choice: remote write is decoded by a zero-copy protobuf reader
//! ([`strata_proto::WriteRequestReader`]). Label names and values stay `&[u8]` slices of the
//! decompressed body; they are validated in place (order, duplicates, UTF-8 with an ASCII fast
//! path), and the canonical bytes are built and hashed directly. There is no allocation per
//! series, label or sample: about 0.25 CPU-s per million samples. The cost is that the label
//! rules are re-implemented on byte slices here rather than reusing `Labels::from_pairs`; a
//! proptest checks that both accept the same series with identical canonical bytes.

#![forbid(unsafe_code)]

mod body;
pub mod config;
pub mod error;
pub mod metadata;
pub mod metrics;
mod ops;
mod query;
pub mod read;
mod state;
pub mod write;

pub use config::{ApiLimits, ByteSize};
pub use error::{Error, Result, json_error_response, plain_error_response, status_for_kind};
pub use metadata::{MetadataEntry, MetadataStore};
pub use metrics::Metrics;
pub use state::{ApiState, ReadinessProbe, router};
pub use write::{DecodedWrite, InvalidSeries, RejectCause, decode_write_request};
