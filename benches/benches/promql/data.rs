//! The data set of the PromQL benchmark, shared by the criterion bench (`benches/promql.rs`) and
//! the remote_write loader of `scripts/bench-promql` (`examples/promql_load.rs`), so that both
//! measure the same series and samples.
//!
//! - `node_cpu_seconds_total{cpu,instance,job,mode}`: 125 hosts × 10 CPUs × 8 modes = 10,000
//!   counters from `strata_model::synth` (1/100 s ticks, 1 s scrapes with node_exporter-like
//!   jitter);
//! - `http_request_duration_seconds_bucket{handler,instance,job,le}`: a classic histogram with
//!   Prometheus' default 11 buckets + `+Inf`, over 20 instances × 10 handlers = 2,400 series,
//!   scraped every second on the grid.
//!
//! Everything is deterministic given the start time.

use strata_model::Labels;
use strata_model::synth::{SplitMix64, SynthSeries, node_exporter_host};

/// Hosts of the node series.
pub(crate) const NODE_HOSTS: usize = 125;
/// CPUs per host (8 modes each).
pub(crate) const NODE_CPUS: usize = 10;
/// Instances of the HTTP histogram.
pub(crate) const HIST_INSTANCES: usize = 20;
/// Handlers per instance.
pub(crate) const HIST_HANDLERS: usize = 10;
/// Upper bounds of the histogram's buckets (Prometheus' `DefBuckets`), `+Inf` last.
pub(crate) const BUCKETS: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];
/// Seconds of data per series (one sample per second).
pub(crate) const SECONDS: usize = 3600;

/// Returns the 10,000 `node_cpu_seconds_total` generators, first sample at `start_ms`.
pub(crate) fn node_series(start_ms: i64) -> Vec<SynthSeries> {
    (0..NODE_HOSTS)
        .flat_map(|h| node_exporter_host(h, NODE_CPUS, start_ms))
        .filter(|s| s.labels.metric_name() == Some("node_cpu_seconds_total"))
        .collect()
}

/// One histogram (one instance and handler): the cumulative counts of its 12 bucket series.
#[derive(Debug, Clone)]
pub(crate) struct HistGroup {
    /// Labels of the bucket series, in [`BUCKETS`] order.
    pub(crate) labels: Vec<Labels>,
    rng: SplitMix64,
    counts: [u64; 12],
    /// Mean requests per second.
    rate: u64,
    /// Typical latency in seconds.
    scale: f64,
    start_ms: i64,
    step: i64,
}

impl HistGroup {
    /// Returns the timestamp and the 12 cumulative bucket counts of the next second.
    pub(crate) fn next_step(&mut self) -> (i64, [f64; 12]) {
        let t = self.start_ms + self.step * 1000;
        let out = self.counts.map(|c| c as f64);
        let n = self.rng.below(2 * self.rate + 1);
        let mut per_bucket = [0u64; 12];
        for _ in 0..n {
            // A long-tailed latency: scale × u^-0.7 for u uniform in (0, 1].
            let u = 1.0 - self.rng.unit();
            let lat = self.scale * u.powf(-0.7);
            let i = BOUNDS.iter().position(|&b| lat <= b).unwrap_or(11);
            per_bucket[i] += 1;
        }
        let mut cum = 0;
        for (c, add) in self.counts.iter_mut().zip(per_bucket) {
            cum += add;
            *c += cum;
        }
        self.step += 1;
        (t, out)
    }
}

/// Numeric upper bounds of the first 11 buckets.
const BOUNDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Returns the 200 histogram groups (2,400 bucket series), first sample at `start_ms`.
pub(crate) fn hist_groups(start_ms: i64) -> Vec<HistGroup> {
    let mut out = Vec::with_capacity(HIST_INSTANCES * HIST_HANDLERS);
    for i in 0..HIST_INSTANCES {
        for h in 0..HIST_HANDLERS {
            let mut rng = SplitMix64::new(0x00b0_c4e7 ^ ((i as u64) << 16) ^ h as u64);
            let instance = format!("web-{i:02}:8080");
            let handler = format!("/api/v1/endpoint{h}");
            let labels = BUCKETS
                .iter()
                .map(|le| {
                    Labels::from_pairs([
                        ("__name__", "http_request_duration_seconds_bucket"),
                        ("handler", handler.as_str()),
                        ("instance", instance.as_str()),
                        ("job", "web"),
                        ("le", le),
                    ])
                    .expect("valid labels")
                })
                .collect();
            let rate = 5 + rng.below(40);
            let scale = 0.002 + 0.02 * rng.unit();
            // Counters have been running for a while.
            let start = rng.below(1_000_000);
            out.push(HistGroup {
                labels,
                rng,
                counts: [start; 12],
                rate,
                scale,
                start_ms,
                step: 0,
            });
        }
    }
    out
}
