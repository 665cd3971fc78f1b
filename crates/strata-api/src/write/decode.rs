//! The pure part of remote write: body bytes in, per-shard batches and rejections out.

use std::collections::BTreeMap;

use strata_model::{SeriesId, ShardBatch, ShardBatchBuilder, ShardId};
use strata_proto::{TimeSeriesView, WriteRequestReader};

use super::RejectCause;
use super::labels::{check_utf8, encode_canonical, format_series, normalize_labels};
use crate::config::ApiLimits;
use crate::error::{Error, Result};

/// How many invalid series a response names; the rest are counted.
pub const MAX_REPORTED_SERIES: usize = 10;

/// Shard counts up to this use a dense vector of builders, larger ones a map.
const DENSE_SHARDS: u32 = 4096;

/// One series of a request that was not stored, for the error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSeries {
    /// The rule it broke.
    pub cause: RejectCause,
    /// The series as sent, in Prometheus notation (invalid UTF-8 replaced).
    pub series: String,
    /// What exactly is wrong.
    pub detail: String,
}

/// A decoded, validated remote write request, ready for the sink.
#[derive(Debug, Default)]
pub struct DecodedWrite {
    /// One batch per shard that has series, in shard order.
    pub batches: Vec<(ShardId, ShardBatch)>,
    /// Series accepted into `batches`.
    pub accepted_series: u64,
    /// Float samples accepted into `batches`.
    pub accepted_samples: u64,
    /// Samples (floats and histograms) not stored, per cause, indexed like [`RejectCause::ALL`].
    pub rejected_samples: [u64; RejectCause::ALL.len()],
    /// Series with at least one rejected sample.
    pub invalid_series: u64,
    /// The first [`MAX_REPORTED_SERIES`] invalid series.
    pub first_invalid: Vec<InvalidSeries>,
    /// Exemplars received (dropped: Strata does not store exemplars yet).
    pub exemplars: u64,
    /// Metric metadata sent with the request (`WriteRequest.metadata`).
    pub metadata: Vec<(String, crate::metadata::MetadataEntry)>,
}

impl DecodedWrite {
    /// Returns the total number of samples not stored.
    pub fn rejected_total(&self) -> u64 {
        self.rejected_samples.iter().sum()
    }

    fn reject(&mut self, cause: RejectCause, samples: u64, series: String, detail: String) {
        self.rejected_samples[cause as usize] += samples;
        self.invalid_series += 1;
        if self.first_invalid.len() < MAX_REPORTED_SERIES {
            self.first_invalid.push(InvalidSeries {
                cause,
                series,
                detail,
            });
        }
    }
}

/// Decodes a remote write 1.0 body (snappy block format + protobuf `WriteRequest`), validates
/// every series and groups them per shard.
///
/// Whole-request problems (empty or corrupt body, limits exceeded) are errors. Series that
/// break a label rule, and native histogram samples, are left out and reported in
/// [`DecodedWrite::first_invalid`]: the caller stores the rest and then answers 400, as
/// Prometheus does. Never panics, whatever `compressed` holds.
pub fn decode_write_request(
    compressed: &[u8],
    shard_count: u32,
    limits: &ApiLimits,
) -> Result<DecodedWrite> {
    if compressed.is_empty() {
        return Err(Error::BadData("empty request body".into()));
    }
    let raw =
        strata_proto::decompress_snappy(compressed, limits.max_write_decompressed_bytes.as_usize())
            .map_err(|e| match e {
                strata_proto::Error::TooLarge {
                    declared_bytes,
                    limit_bytes,
                } => Error::TooLarge(format!(
                    "request body decompresses to {declared_bytes} bytes, above the limit of \
             {limit_bytes} bytes (max-write-decompressed-bytes)"
                )),
                other => Error::BadData(other.to_string()),
            })?;
    decode_write_body(&raw, shard_count, limits)
}

/// Decodes and validates an already decompressed `WriteRequest`; see [`decode_write_request`].
///
/// The body is read with the zero-copy [`WriteRequestReader`]: labels stay slices of `raw`
/// until their canonical bytes are copied once into the shard batch. The whole body is read
/// before anything is returned, so a corrupt tail rejects the whole request.
pub fn decode_write_body(raw: &[u8], shard_count: u32, limits: &ApiLimits) -> Result<DecodedWrite> {
    let max_labels = usize::try_from(limits.max_labels_per_series).unwrap_or(usize::MAX);
    let mut out = DecodedWrite::default();
    let mut builders = ShardBuilders::new(shard_count, raw.len());
    let mut canonical = Vec::with_capacity(256);
    let mut reader = WriteRequestReader::new(raw);
    let mut ts = TimeSeriesView::default();
    let (mut series, mut samples) = (0u64, 0u64);
    while reader
        .next_series(&mut ts)
        .map_err(|e| Error::BadData(format!("corrupt protobuf WriteRequest: {e}")))?
    {
        series += 1;
        samples += (ts.samples.len() + ts.histograms) as u64;
        check_request_size(series, samples, limits)?;
        out.exemplars += ts.exemplars as u64;
        let histograms = ts.histograms as u64;
        if let Err(problem) = normalize_labels(&mut ts.labels, max_labels) {
            let n = ts.samples.len() as u64 + histograms;
            out.reject(problem.cause, n, format_series(&ts.labels), problem.detail);
            continue;
        }
        canonical.clear();
        encode_canonical(&ts.labels, &mut canonical);
        if let Err(problem) = check_utf8(&ts.labels, &canonical) {
            let n = ts.samples.len() as u64 + histograms;
            out.reject(problem.cause, n, format_series(&ts.labels), problem.detail);
            continue;
        }
        if histograms > 0 {
            out.reject(
                RejectCause::NativeHistogram,
                histograms,
                format_series(&ts.labels),
                "native histogram samples are not supported yet".into(),
            );
        }
        if ts.samples.is_empty() {
            continue;
        }
        let id = SeriesId::from_canonical(&canonical);
        builders
            .get(id.shard(shard_count))
            .push_series(id, &canonical, &ts.samples);
        out.accepted_series += 1;
        out.accepted_samples += ts.samples.len() as u64;
    }
    out.batches = builders.finish();
    out.metadata = crate::metadata::scan_write_metadata(raw);
    Ok(out)
}

fn check_request_size(series: u64, samples: u64, limits: &ApiLimits) -> Result<()> {
    if series > limits.max_series_per_write {
        return Err(Error::TooLarge(format!(
            "request has more than {} series (max-series-per-write)",
            limits.max_series_per_write
        )));
    }
    if samples > limits.max_samples_per_write {
        return Err(Error::TooLarge(format!(
            "request has more than {} samples (max-samples-per-write)",
            limits.max_samples_per_write
        )));
    }
    Ok(())
}

/// Per-shard batch builders: a vector indexed by shard for usual shard counts, a map beyond.
struct ShardBuilders {
    shards: ShardMap,
    /// Bytes reserved for each builder when it is created.
    capacity: usize,
}

enum ShardMap {
    Dense(Vec<Option<ShardBatchBuilder>>),
    Sparse(BTreeMap<ShardId, ShardBatchBuilder>),
}

impl ShardBuilders {
    /// Builders for `shard_count` shards of a request whose protobuf body is `body_len` bytes.
    ///
    /// Each builder reserves its share of the body plus an eighth (a batch holds a little less
    /// than the protobuf bytes of its series, and hashing spreads series evenly over shards):
    /// growing by doubling instead cost a copy per step and fresh memory each time, ≈ 7% of the
    /// server's CPU under load (page faults zeroing new pages, `docs/api-ingest.md`).
    fn new(shard_count: u32, body_len: usize) -> Self {
        let n = shard_count.max(1);
        let share = body_len / n as usize;
        let shards = if n <= DENSE_SHARDS {
            ShardMap::Dense((0..n).map(|_| None).collect())
        } else {
            ShardMap::Sparse(BTreeMap::new())
        };
        ShardBuilders {
            shards,
            capacity: (share + share / 8 + 64).min(body_len + 64),
        }
    }

    fn get(&mut self, shard: ShardId) -> &mut ShardBatchBuilder {
        let capacity = self.capacity;
        let make = || ShardBatchBuilder::with_capacity(capacity);
        match &mut self.shards {
            ShardMap::Dense(v) => {
                let i = (shard.0 as usize).min(v.len() - 1);
                v[i].get_or_insert_with(make)
            }
            ShardMap::Sparse(m) => m.entry(shard).or_insert_with(make),
        }
    }

    fn finish(self) -> Vec<(ShardId, ShardBatch)> {
        match self.shards {
            ShardMap::Dense(v) => v
                .into_iter()
                .enumerate()
                .filter_map(|(i, b)| b.map(|b| (ShardId(i as u32), b.finish())))
                .collect(),
            ShardMap::Sparse(m) => m.into_iter().map(|(s, b)| (s, b.finish())).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_model::{Labels, STALE_NAN_BITS, Sample};
    use strata_proto::{Histogram, Label, TimeSeries, WriteRequest};

    fn series(labels: &[(&'static str, &'static str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
            samples: samples
                .iter()
                .map(|&(t, v)| strata_proto::Sample {
                    value: v,
                    timestamp: t,
                })
                .collect(),
            exemplars: Vec::new(),
            histograms: Vec::new(),
        }
    }

    fn body(ts: Vec<TimeSeries>) -> Vec<u8> {
        WriteRequest {
            timeseries: ts,
            metadata: Vec::new(),
        }
        .to_snappy_body()
        .unwrap()
    }

    #[test]
    fn routes_series_to_shards_with_exact_values() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let mut ts = Vec::new();
        for i in 0..50 {
            let name: &'static str = Box::leak(format!("m{i}").into_boxed_str());
            ts.push(series(
                &[("job", "x"), ("__name__", name)],
                &[(1, 1.0), (2, stale)],
            ));
        }
        let d = decode_write_request(&body(ts), 8, &ApiLimits::default()).unwrap();
        assert_eq!(d.accepted_series, 50);
        assert_eq!(d.accepted_samples, 100);
        assert!(d.batches.len() > 1);
        for (shard, batch) in &d.batches {
            for s in batch.series() {
                let l = Labels::decode_canonical(s.labels).unwrap();
                assert_eq!(l.series_id(), s.id);
                assert_eq!(s.id.shard(8), *shard);
                let got: Vec<Sample> = s.samples().collect();
                assert_eq!(got[1].v.to_bits(), STALE_NAN_BITS);
            }
        }
    }

    #[test]
    fn keeps_valid_series_and_reports_invalid_ones() {
        let mut with_hist = series(&[("__name__", "h")], &[(1, 1.0)]);
        with_hist.histograms.push(Histogram::default());
        let ts = vec![
            series(&[("__name__", "ok")], &[(1, 1.0)]),
            series(&[("job", "nameless")], &[(1, 1.0), (2, 2.0)]),
            with_hist,
        ];
        let d = decode_write_request(&body(ts), 4, &ApiLimits::default()).unwrap();
        assert_eq!(d.accepted_series, 2);
        assert_eq!(d.accepted_samples, 2);
        assert_eq!(
            d.rejected_samples[RejectCause::MissingMetricName as usize],
            2
        );
        assert_eq!(d.rejected_samples[RejectCause::NativeHistogram as usize], 1);
        assert_eq!(d.first_invalid[0].series, "{job=\"nameless\"}");
    }

    #[test]
    fn whole_request_errors() {
        let l = ApiLimits::default();
        assert!(matches!(
            decode_write_request(b"", 1, &l),
            Err(Error::BadData(_))
        ));
        assert!(matches!(
            decode_write_request(b"\xff\xff", 1, &l),
            Err(Error::BadData(_))
        ));
        let junk = strata_proto::compress_snappy(b"\xff\xff\xff\xff").unwrap();
        assert!(matches!(
            decode_write_request(&junk, 1, &l),
            Err(Error::BadData(_))
        ));
        let small = ApiLimits {
            max_series_per_write: 1,
            ..ApiLimits::default()
        };
        let b = body(vec![
            series(&[("__name__", "a")], &[]),
            series(&[("__name__", "b")], &[]),
        ]);
        assert!(matches!(
            decode_write_request(&b, 1, &small),
            Err(Error::TooLarge(_))
        ));
    }

    /// Prints remote write decode throughput on node_exporter-like requests (2,000 series of
    /// 6 labels, one sample each). Run with
    /// `cargo test --release -p strata-api --lib -- --ignored --nocapture decode_throughput`.
    #[test]
    #[ignore = "measurement, run by hand in release mode"]
    fn decode_throughput() {
        let modes = [
            "idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice",
        ];
        let mut bodies = Vec::new();
        for req in 0..10i64 {
            let mut ts = Vec::new();
            for i in 0..2000i64 {
                let n = req * 2000 + i;
                let instance = format!("host-{:04}.example.internal:9100", n / 100);
                let cpu = (n % 100 / 8).to_string();
                let labels = [
                    ("__name__", "node_cpu_seconds_total"),
                    ("cpu", cpu.as_str()),
                    ("instance", instance.as_str()),
                    ("job", "node"),
                    ("mode", modes[(n % 8) as usize]),
                    ("region", "eu-west-1"),
                ];
                let mut s = series(&[], &[(1_700_000_000_000 + n, n as f64 * 0.01)]);
                s.labels = labels
                    .iter()
                    .map(|(a, b)| Label::new(a.to_string(), b.to_string()))
                    .collect();
                ts.push(s);
            }
            bodies.push(body(ts));
        }
        // Nanoseconds this thread spent on a CPU (not wall time: the machine may be shared).
        let cpu_ns = || -> Option<f64> {
            let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
            s.split_whitespace().next()?.parse().ok()
        };
        let limits = ApiLimits::default();
        let rounds = 50;
        let cpu_start = cpu_ns();
        let start = std::time::Instant::now();
        let mut samples = 0u64;
        for _ in 0..rounds {
            for b in &bodies {
                samples += decode_write_request(b, 64, &limits)
                    .unwrap()
                    .accepted_samples;
            }
        }
        let wall = start.elapsed().as_secs_f64();
        let secs = match (cpu_start, cpu_ns()) {
            (Some(a), Some(b)) => (b - a) / 1e9,
            _ => wall,
        };
        let bytes: usize = bodies.iter().map(Vec::len).sum();
        println!(
            "decoded {samples} samples in {secs:.3} CPU-s ({wall:.3} s wall): {:.2} M samples/s, {:.3} CPU-s per million samples, {:.1} compressed bytes/sample",
            samples as f64 / secs / 1e6,
            secs / (samples as f64 / 1e6),
            bytes as f64 / 20_000.0
        );
    }

    mod prop {
        use std::collections::{BTreeMap, BTreeSet};

        use proptest::prelude::*;

        use super::*;

        fn label_pair() -> impl Strategy<Value = (String, String)> {
            (
                prop_oneof![Just("__name__".to_owned()), "[a-cü]{0,2}"],
                prop_oneof!["[x-zé]{0,2}", "é{64,66}"],
            )
        }

        fn arb_series() -> impl Strategy<Value = (Vec<(String, String)>, usize)> {
            (proptest::collection::vec(label_pair(), 0..5), 0usize..4)
        }

        /// The rules, stated with the model's `Labels`: no empty or repeated name, a non-empty
        /// `__name__`; then the canonical bytes are the model's.
        fn oracle(pairs: &[(String, String)]) -> Option<Labels> {
            let names: BTreeSet<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
            if names.len() != pairs.len() || names.contains("") {
                return None;
            }
            let labels = Labels::from_pairs(pairs.iter().cloned()).ok()?;
            labels.metric_name()?;
            Some(labels)
        }

        proptest! {
            #[test]
            fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
                let l = ApiLimits::default();
                let _ = decode_write_request(&data, 8, &l);
                let body = strata_proto::compress_snappy(&data).unwrap();
                let _ = decode_write_request(&body, 8, &l);
            }

            #[test]
            fn byte_level_validation_agrees_with_the_model(input in proptest::collection::vec(arb_series(), 0..6)) {
                let mut ts = Vec::new();
                let mut want: BTreeMap<SeriesId, u64> = BTreeMap::new();
                let mut want_rejected = 0u64;
                for (pairs, n) in &input {
                    let samples: Vec<(i64, f64)> = (0..*n as i64).map(|t| (t, t as f64)).collect();
                    let labels: Vec<(&str, &str)> =
                        pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
                    let mut s = series(&[], &samples);
                    s.labels = labels.iter().map(|(a, b)| Label::new(a.to_string(), b.to_string())).collect();
                    ts.push(s);
                    match oracle(pairs) {
                        Some(l) if *n > 0 => *want.entry(l.series_id()).or_default() += *n as u64,
                        Some(_) => {}
                        None => want_rejected += *n as u64,
                    }
                }
                let d = decode_write_request(&body(ts), 8, &ApiLimits::default()).unwrap();
                let mut got: BTreeMap<SeriesId, u64> = BTreeMap::new();
                for (_, b) in &d.batches {
                    for s in b.series() {
                        prop_assert_eq!(Labels::decode_canonical(s.labels).unwrap().series_id(), s.id);
                        *got.entry(s.id).or_default() += s.sample_count() as u64;
                    }
                }
                prop_assert_eq!(got, want);
                prop_assert_eq!(d.rejected_total(), want_rejected);
            }
        }
    }
}
