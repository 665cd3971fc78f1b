//! Metrics of the HTTP API, registered in the registry the binary passes in.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Handler label value of remote write.
pub const HANDLER_WRITE: &str = "write";
/// Handler label value of remote read.
pub const HANDLER_READ: &str = "read";

/// Labels of a per-reason counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why samples were rejected (a bounded set, see [`crate::write::RejectCause`]).
    pub reason: &'static str,
}

/// Labels of a per-handler metric.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandlerLabels {
    /// The endpoint (`write`, `read`).
    pub handler: &'static str,
}

/// Labels of the request counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The endpoint (`write`, `read`).
    pub handler: &'static str,
    /// The HTTP status code answered.
    pub code: u16,
}

type HistogramFamily = Family<HandlerLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

fn size_histogram() -> Histogram {
    Histogram::new(exponential_buckets(256.0, 4.0, 12))
}

/// The API's metrics. Cheap to clone: every field is a shared handle.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// `strata_api_ingested_samples_total`: float samples stored by remote write.
    pub ingested_samples: Counter,
    /// `strata_api_rejected_samples_total{reason}`: samples not stored, by reason.
    pub rejected_samples: Family<ReasonLabels, Counter>,
    /// `strata_api_ignored_exemplars_total`: exemplars received and dropped (not stored yet).
    pub ignored_exemplars: Counter,
    /// `strata_api_requests_total{handler,code}`: requests answered, by status code.
    pub requests: Family<RequestLabels, Counter>,
    /// `strata_api_request_duration_seconds{handler}`: time to answer a request.
    pub request_duration_seconds: HistogramFamily,
    /// `strata_api_request_body_bytes{handler}`: request body size as sent (compressed).
    pub request_body_bytes: HistogramFamily,
    /// `strata_api_write_decompressed_bytes`: remote write body size after snappy.
    pub write_decompressed_bytes: Histogram,
    /// `strata_api_remote_read_inflight`: remote read requests running or waiting.
    pub remote_read_inflight: Gauge,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Metrics {
            ingested_samples: Counter::default(),
            rejected_samples: Family::default(),
            ignored_exemplars: Counter::default(),
            requests: Family::default(),
            request_duration_seconds: Family::new_with_constructor(duration_histogram),
            request_body_bytes: Family::new_with_constructor(size_histogram),
            write_decompressed_bytes: size_histogram(),
            remote_read_inflight: Gauge::default(),
        };
        registry.register(
            "strata_api_ingested_samples",
            "Float samples stored through remote write",
            m.ingested_samples.clone(),
        );
        registry.register(
            "strata_api_rejected_samples",
            "Samples received through remote write but not stored, by reason",
            m.rejected_samples.clone(),
        );
        registry.register(
            "strata_api_ignored_exemplars",
            "Exemplars received through remote write and dropped (exemplars are not stored)",
            m.ignored_exemplars.clone(),
        );
        registry.register(
            "strata_api_requests",
            "HTTP requests answered, by handler and status code",
            m.requests.clone(),
        );
        registry.register(
            "strata_api_request_duration_seconds",
            "Time to answer an HTTP request, by handler",
            m.request_duration_seconds.clone(),
        );
        registry.register(
            "strata_api_request_body_bytes",
            "Size of request bodies as sent (compressed), by handler",
            m.request_body_bytes.clone(),
        );
        registry.register(
            "strata_api_write_decompressed_bytes",
            "Size of remote write bodies after snappy decompression",
            m.write_decompressed_bytes.clone(),
        );
        registry.register(
            "strata_api_remote_read_inflight",
            "Remote read requests being served or waiting for a slot",
            m.remote_read_inflight.clone(),
        );
        m
    }

    /// Adds `n` rejected samples with `reason`.
    pub fn reject(&self, reason: &'static str, n: u64) {
        if n > 0 {
            self.rejected_samples
                .get_or_create(&ReasonLabels { reason })
                .inc_by(n);
        }
    }

    /// Records one answered request.
    pub fn observe_request(&self, handler: &'static str, code: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { handler, code })
            .inc();
        self.request_duration_seconds
            .get_or_create(&HandlerLabels { handler })
            .observe(seconds);
    }
}
