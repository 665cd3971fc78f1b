//! Limits of the HTTP API ([`ApiLimits`]) and the human-readable byte size type they use.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// A size in bytes, written in configuration as an integer or with a unit: `"512KiB"`,
/// `"32MiB"`, `"1GiB"`, `"10MB"` (decimal units are powers of 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Returns `n` kibibytes.
    pub const fn kib(n: u64) -> Self {
        ByteSize(n * 1024)
    }

    /// Returns `n` mebibytes.
    pub const fn mib(n: u64) -> Self {
        ByteSize(n * 1024 * 1024)
    }

    /// Returns the size as `usize`, saturating on 32-bit targets.
    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
        for (scale, unit) in UNITS {
            if self.0 >= scale && self.0.is_multiple_of(scale) {
                return write!(f, "{}{unit}", self.0 / scale);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("invalid byte size {s:?}: expected a number and a unit"))?;
        let scale: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "KB" | "kB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            other => return Err(format!("invalid byte size unit {other:?} in {s:?}")),
        };
        n.checked_mul(scale)
            .map(ByteSize)
            .ok_or_else(|| format!("byte size {s:?} overflows"))
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(ByteSize(n)),
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Limits of the remote write, remote read and query endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ApiLimits {
    /// Largest accepted remote write body as sent (snappy-compressed). Default `32MiB`.
    pub max_write_compressed_bytes: ByteSize,
    /// Largest remote write body after decompression, checked against snappy's declared length
    /// before any buffer is allocated. Default `128MiB`.
    pub max_write_decompressed_bytes: ByteSize,
    /// Most series accepted in one remote write request. Default 500,000.
    pub max_series_per_write: u64,
    /// Most float samples accepted in one remote write request. Default 2,000,000.
    pub max_samples_per_write: u64,
    /// Most labels (`__name__` included) one series may have. Default 128.
    pub max_labels_per_series: u32,
    /// Largest accepted remote read body as sent (snappy-compressed). Default `32MiB`.
    pub max_read_compressed_bytes: ByteSize,
    /// Largest remote read body after decompression. Default `32MiB`.
    pub max_read_decompressed_bytes: ByteSize,
    /// Most samples one remote read query may return (as Prometheus'
    /// `--storage.remote.read-sample-limit`); exceeding it fails the request with 400.
    /// Default 50,000,000.
    pub max_read_samples_per_query: u64,
    /// Target size of one `STREAMED_XOR_CHUNKS` frame; a frame may exceed it by one chunk.
    /// Default `1MiB`.
    pub max_read_frame_bytes: ByteSize,
    /// Most remote read requests served at once; more wait. Default 10.
    pub max_concurrent_reads: u32,
    /// Longest a PromQL query may run (as Prometheus' `--query.timeout`); a request's `timeout`
    /// parameter can only shorten it. Default `2m`.
    #[serde(with = "humantime_serde")]
    pub query_timeout: Duration,
    /// Most samples a PromQL query may hold in memory at once (as Prometheus'
    /// `--query.max-samples`); exceeding it fails the query with 422. Default 50,000,000.
    pub max_query_samples: u64,
    /// Default lookback delta of instant selectors (as Prometheus' `--query.lookback-delta`);
    /// a request's `lookback_delta` parameter overrides it. Default `5m`.
    #[serde(with = "humantime_serde")]
    pub lookback_delta: Duration,
    /// Most PromQL queries evaluated at once (as Prometheus' `--query.max-concurrency`); more
    /// wait. Default 20.
    pub max_concurrent_queries: u32,
    /// Whether `stats=all` adds `totalQueryableSamplesPerStep` (as Prometheus'
    /// `--enable-feature=promql-per-step-stats`). Default off, as in Prometheus.
    pub per_step_stats: bool,
    /// Most series one `/api/v1/series` request may return when it has no smaller `limit`
    /// parameter; beyond it the request fails with 422 instead of building a huge answer.
    /// Default 1,000,000.
    pub max_series_per_request: u64,
    /// Most label names or values one `/api/v1/labels` or `/api/v1/label/<name>/values`
    /// request may return when it has no smaller `limit`; beyond it the request fails with 422.
    /// Default 1,000,000.
    pub max_label_values_per_request: u64,
    /// Largest form-encoded body of a query API `POST` (Go's `ParseForm` limit). Default `10MiB`.
    pub max_query_form_bytes: ByteSize,
    /// Most series `/api/v1/status/tsdb` inspects; beyond it the statistics cover the first
    /// ones only and the answer carries a warning. Default 1,000,000.
    pub max_tsdb_status_series: u64,
    /// Time window, ending now, over which `/api/v1/status/tsdb` counts series (Strata has no
    /// single head block). Default `3h`.
    #[serde(with = "humantime_serde")]
    pub tsdb_status_window: Duration,
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            max_write_compressed_bytes: ByteSize::mib(32),
            max_write_decompressed_bytes: ByteSize::mib(128),
            max_series_per_write: 500_000,
            max_samples_per_write: 2_000_000,
            max_labels_per_series: 128,
            max_read_compressed_bytes: ByteSize::mib(32),
            max_read_decompressed_bytes: ByteSize::mib(32),
            max_read_samples_per_query: 50_000_000,
            max_read_frame_bytes: ByteSize::mib(1),
            max_concurrent_reads: 10,
            query_timeout: Duration::from_secs(120),
            max_query_samples: 50_000_000,
            lookback_delta: Duration::from_secs(300),
            max_concurrent_queries: 20,
            per_step_stats: false,
            max_series_per_request: 1_000_000,
            max_label_values_per_request: 1_000_000,
            max_query_form_bytes: ByteSize::mib(10),
            max_tsdb_status_series: 1_000_000,
            tsdb_status_window: Duration::from_secs(3 * 3600),
        }
    }
}

impl ApiLimits {
    /// Checks that every limit is usable.
    pub fn validate(&self) -> Result<()> {
        let nonzero = [
            (
                "max-write-compressed-bytes",
                self.max_write_compressed_bytes.0,
            ),
            (
                "max-write-decompressed-bytes",
                self.max_write_decompressed_bytes.0,
            ),
            ("max-series-per-write", self.max_series_per_write),
            ("max-samples-per-write", self.max_samples_per_write),
            (
                "max-labels-per-series",
                u64::from(self.max_labels_per_series),
            ),
            (
                "max-read-compressed-bytes",
                self.max_read_compressed_bytes.0,
            ),
            (
                "max-read-decompressed-bytes",
                self.max_read_decompressed_bytes.0,
            ),
            (
                "max-read-samples-per-query",
                self.max_read_samples_per_query,
            ),
            ("max-concurrent-reads", u64::from(self.max_concurrent_reads)),
            ("query-timeout", duration_ms(self.query_timeout)),
            ("max-query-samples", self.max_query_samples),
            ("lookback-delta", duration_ms(self.lookback_delta)),
            (
                "max-concurrent-queries",
                u64::from(self.max_concurrent_queries),
            ),
            ("max-series-per-request", self.max_series_per_request),
            (
                "max-label-values-per-request",
                self.max_label_values_per_request,
            ),
            ("max-query-form-bytes", self.max_query_form_bytes.0),
            ("max-tsdb-status-series", self.max_tsdb_status_series),
            ("tsdb-status-window", duration_ms(self.tsdb_status_window)),
        ];
        for (name, v) in nonzero {
            if v == 0 {
                return Err(Error::InvalidConfig(format!(
                    "{name} must be greater than 0"
                )));
            }
        }
        if self.max_read_frame_bytes < ByteSize::kib(1) {
            return Err(Error::InvalidConfig(format!(
                "max-read-frame-bytes must be at least 1KiB, got {}",
                self.max_read_frame_bytes
            )));
        }
        Ok(())
    }
}

/// Returns a duration in whole milliseconds, saturating.
fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Serde for durations written in human units (`"2m"`, `"1h30m"`, `"500ms"`).
mod humantime_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_sizes() {
        assert_eq!("32MiB".parse::<ByteSize>(), Ok(ByteSize::mib(32)));
        assert_eq!("512 KiB".parse::<ByteSize>(), Ok(ByteSize::kib(512)));
        assert_eq!("10MB".parse::<ByteSize>(), Ok(ByteSize(10_000_000)));
        assert_eq!("7".parse::<ByteSize>(), Ok(ByteSize(7)));
        assert!("7 parsecs".parse::<ByteSize>().is_err());
        assert!("MiB".parse::<ByteSize>().is_err());
        assert!("99999999999999GiB".parse::<ByteSize>().is_err());
        assert_eq!(ByteSize::mib(32).to_string(), "32MiB");
    }

    #[test]
    fn limits_deserialize_kebab_case_and_validate() {
        let l: ApiLimits = serde_json::from_str(
            r#"{"max-write-compressed-bytes": "1MiB", "max-series-per-write": 10}"#,
        )
        .unwrap();
        assert_eq!(l.max_write_compressed_bytes, ByteSize::mib(1));
        assert_eq!(l.max_series_per_write, 10);
        assert_eq!(
            l.max_samples_per_write,
            ApiLimits::default().max_samples_per_write
        );
        l.validate().unwrap();
        assert!(serde_json::from_str::<ApiLimits>(r#"{"bogus": 1}"#).is_err());
        let q: ApiLimits = serde_json::from_str(
            r#"{"query-timeout": "30s", "lookback-delta": "1m30s", "max-query-samples": 5}"#,
        )
        .unwrap();
        assert_eq!(q.query_timeout, Duration::from_secs(30));
        assert_eq!(q.lookback_delta, Duration::from_secs(90));
        assert_eq!(q.max_query_samples, 5);
        assert_eq!(
            serde_json::to_value(&q).unwrap()["query-timeout"],
            serde_json::json!("30s")
        );
        assert!(serde_json::from_str::<ApiLimits>(r#"{"query-timeout": "soon"}"#).is_err());
        let zero = ApiLimits {
            query_timeout: Duration::ZERO,
            ..ApiLimits::default()
        };
        assert!(zero.validate().is_err());
        let bad = ApiLimits {
            max_concurrent_reads: 0,
            ..ApiLimits::default()
        };
        assert!(bad.validate().is_err());
    }
}
