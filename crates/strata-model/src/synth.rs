//! Deterministic synthetic data that looks like node_exporter scraped every second.
//!
//! Used by benchmarks, load generators and tests to get realistic, compressible-as-real-data
//! series without real hosts. Every series is an infinite iterator of `(timestamp_ms, value)`;
//! nothing is materialised, so a load generator can stream `S` series over `T` seconds with
//! `O(S)` memory. Output depends only on the host index, the series and the start time, so two
//! processes generate the same data.
//!
//! What each [`Kind`] imitates (families from node_exporter 1.x and the Go client):
//!
//! | kind | families | shape |
//! |---|---|---|
//! | `CpuSeconds` | `node_cpu_seconds_total{cpu,mode}`, `node_schedstat_*_seconds_total` | counters of 1/100 s ticks (2 decimals), idle ≈ 0.9/s, user ≈ 0.05/s; schedstat in ns (9 decimals) |
//! | `Memory` | `node_memory_*_bytes` | integer byte gauges in 4 KiB pages, many constant, others drifting |
//! | `Network` | `node_network_{receive,transmit}_{bytes,packets,errs,drop}_total` | integer counters with bursty increments; errors almost never move |
//! | `Disk` | `node_disk_*_bytes_total`, `*_completed_total`, `*_time_seconds_total` | sector-sized byte counters, op counters, ms-resolution seconds (3 decimals) |
//! | `Filesystem` | `node_filesystem_{size,avail,free}_bytes`, `files`, `files_free` | mostly constant, small occasional changes |
//! | `Load` | `node_load1/5/15`, `node_procs_running` | 2-decimal gauges that the kernel updates every 5 s; small integers |
//! | `FloatGauge` | `node_hwmon_temp_celsius`, `node_timex_offset_seconds`, `node_timex_frequency_adjustment_ratio`, `node_time_seconds` | millidegrees (3 decimals), ns offsets (9 decimals), computed full-precision floats |
//! | `Kernel` | `node_context_switches_total`, `node_intr_total`, `node_forks_total` | integer counters with large increments |
//! | `GoRuntime` | `go_goroutines`, `go_memstats_*`, `go_gc_duration_seconds` | integer gauges and counters, ns-resolution durations, a float ratio |
//! | `Process` | `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_open_fds`, … | 2-decimal counter, page-sized gauges, constants |
//! | `ScrapeDuration` | `node_scrape_collector_duration_seconds{collector}` | a fresh ns-resolution duration every scrape (least compressible) |
//! | `Constant` | `node_uname_info`, `node_boot_time_seconds`, `*_success`, `go_info` | never change |
//!
//! Timestamps are 1000 ms apart per host; about 2% of scrapes are off the grid by ±1..5 ms
//! (Prometheus aligns jitter up to 2 ms to the grid, larger jitter remains). All series of a
//! host share the same timestamps.

mod host;

use crate::labels::Labels;

/// Default first timestamp of generated data (2023-11-14T22:13:20Z), in milliseconds.
pub const DEFAULT_START_MS: i64 = 1_700_000_000_000;

/// Scrape interval of generated data, in milliseconds.
pub const INTERVAL_MS: i64 = 1000;

/// Share of scrapes, in parts per thousand, whose timestamp is off the grid.
const JITTER_PER_MILLE: u64 = 20;

/// The family of metrics a synthetic series imitates; see the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// CPU time counters in ticks (`node_cpu_seconds_total`).
    CpuSeconds,
    /// Memory byte gauges (`node_memory_*_bytes`).
    Memory,
    /// Network byte/packet counters.
    Network,
    /// Disk byte, operation and time counters.
    Disk,
    /// Filesystem sizes and inode counts.
    Filesystem,
    /// Load averages and process counts.
    Load,
    /// Float gauges with many digits (temperatures, time offsets, ratios).
    FloatGauge,
    /// Kernel event counters (context switches, interrupts, forks).
    Kernel,
    /// Go runtime metrics of the exporter.
    GoRuntime,
    /// Process metrics of the exporter.
    Process,
    /// Per-collector scrape durations.
    ScrapeDuration,
    /// Info metrics and other constants.
    Constant,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 12] = [
        Kind::CpuSeconds,
        Kind::Memory,
        Kind::Network,
        Kind::Disk,
        Kind::Filesystem,
        Kind::Load,
        Kind::FloatGauge,
        Kind::Kernel,
        Kind::GoRuntime,
        Kind::Process,
        Kind::ScrapeDuration,
        Kind::Constant,
    ];

    /// Returns a short lowercase name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::CpuSeconds => "cpu_seconds",
            Kind::Memory => "memory",
            Kind::Network => "network",
            Kind::Disk => "disk",
            Kind::Filesystem => "filesystem",
            Kind::Load => "load",
            Kind::FloatGauge => "float_gauge",
            Kind::Kernel => "kernel",
            Kind::GoRuntime => "go_runtime",
            Kind::Process => "process",
            Kind::ScrapeDuration => "scrape_duration",
            Kind::Constant => "constant",
        }
    }
}

/// A small, fast, deterministic PRNG (splitmix64).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Returns a generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// Returns the next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }

    /// Returns a uniform integer in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
        }
    }

    /// Returns a uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Returns true with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// The splitmix64 finaliser: a fixed bijective mix of 64 bits.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How a series' value evolves, in integer `units` shown as `units / scale` unless noted.
#[derive(Debug, Clone)]
enum Model {
    /// Never changes.
    Constant(f64),
    /// Counter: each step adds `base + below(spread + 1)` units, plus with probability `burst_p`
    /// up to `burst` more; the total is multiplied by `granularity`.
    Counter {
        units: i64,
        scale: f64,
        base: i64,
        spread: u64,
        burst_p: f64,
        burst: u64,
        granularity: i64,
    },
    /// Random walk: with probability `p` moves by up to ±`step` × `granularity` units, within
    /// `[lo, hi]`; updated only every `every` steps.
    Walk {
        units: i64,
        scale: f64,
        p: f64,
        step: i64,
        granularity: i64,
        lo: i64,
        hi: i64,
        every: u64,
    },
    /// A fresh value each step: `base + below(spread)` units.
    Noise { base: i64, spread: u64, scale: f64 },
    /// Wall-clock seconds with sub-millisecond noise (`node_time_seconds`): a full float.
    TimeSeconds,
    /// A computed ratio `1 + ppm / 65536e6` that changes now and then: a full float.
    Ratio { ppm: i64, p: f64 },
}

/// One synthetic series: its labels, its kind and the state of its generator.
///
/// Iterating yields `(timestamp_ms, value)` forever, one sample per second.
#[derive(Debug, Clone)]
pub struct SynthSeries {
    /// The series' labels, `__name__` included.
    pub labels: Labels,
    /// The metric family it imitates.
    pub kind: Kind,
    model: Model,
    rng: SplitMix64,
    host_seed: u64,
    start_ms: i64,
    step: u64,
}

impl SynthSeries {
    /// Returns the index of the next sample (0 before the first).
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Returns the timestamp of sample `step` of the host this series belongs to.
    pub fn timestamp_at(&self, step: u64) -> i64 {
        host_timestamp(self.host_seed, self.start_ms, step)
    }

    /// Returns the next sample and advances the series by one second.
    pub fn next_sample(&mut self) -> (i64, f64) {
        let t = self.timestamp_at(self.step);
        let v = self.advance();
        self.step += 1;
        (t, v)
    }

    /// Returns the next `n` samples (convenience for tests and benches).
    pub fn take_samples(&mut self, n: usize) -> Vec<(i64, f64)> {
        (0..n).map(|_| self.next_sample()).collect()
    }

    /// Produces the current value, then moves the model one step.
    fn advance(&mut self) -> f64 {
        let rng = &mut self.rng;
        let step = self.step;
        match &mut self.model {
            Model::Constant(v) => *v,
            Model::Counter {
                units,
                scale,
                base,
                spread,
                burst_p,
                burst,
                granularity,
            } => {
                let v = *units as f64 / *scale;
                let mut inc = *base + rng.below(*spread + 1) as i64;
                if *burst_p > 0.0 && rng.chance(*burst_p) {
                    inc += rng.below(*burst + 1) as i64;
                }
                *units += inc * *granularity;
                v
            }
            Model::Walk {
                units,
                scale,
                p,
                step: max_step,
                granularity,
                lo,
                hi,
                every,
            } => {
                let v = *units as f64 / *scale;
                if step.is_multiple_of((*every).max(1)) && rng.chance(*p) {
                    let span = (2 * *max_step + 1) as u64;
                    let d = (rng.below(span) as i64 - *max_step) * *granularity;
                    *units = (*units + d).clamp(*lo, *hi);
                }
                v
            }
            Model::Noise {
                base,
                spread,
                scale,
            } => (*base + rng.below(*spread) as i64) as f64 / *scale,
            Model::TimeSeconds => {
                let t = host_timestamp(self.host_seed, self.start_ms, step);
                t as f64 / 1000.0 + rng.below(1_000_000) as f64 * 1e-9
            }
            Model::Ratio { ppm, p } => {
                if rng.chance(*p) {
                    *ppm += rng.below(201) as i64 - 100;
                }
                1.0 + *ppm as f64 / 65_536e6
            }
        }
    }
}

impl Iterator for SynthSeries {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        Some(self.next_sample())
    }
}

/// Returns the scrape timestamp of `step` for a host: on the 1 s grid, ~2% jittered ±1..5 ms.
fn host_timestamp(host_seed: u64, start_ms: i64, step: u64) -> i64 {
    let grid = start_ms + step as i64 * INTERVAL_MS;
    let h = mix64(host_seed ^ step.wrapping_mul(0xd6e8_feb8_6659_fd93));
    if h % 1000 < JITTER_PER_MILLE {
        let mag = 1 + ((h >> 20) % 5) as i64;
        if (h >> 40) & 1 == 0 {
            grid + mag
        } else {
            grid - mag
        }
    } else {
        grid
    }
}

/// Returns the series of `hosts` node_exporter hosts with 4 CPUs each, starting at
/// [`DEFAULT_START_MS`]. Host `i` is `instance="host-{i:04}:9100"`.
pub fn node_exporter_hosts(hosts: usize) -> Vec<SynthSeries> {
    (0..hosts)
        .flat_map(|h| node_exporter_host(h, 4, DEFAULT_START_MS))
        .collect()
}

/// Returns the series of one node_exporter host (≈ 160 series with 4 CPUs).
pub fn node_exporter_host(host: usize, cpus: usize, start_ms: i64) -> Vec<SynthSeries> {
    let host_seed = mix64(0x5eed_0000 ^ host as u64);
    let instance = format!("host-{host:04}:9100");
    host::build(host_seed, start_ms, instance, cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_the_same_data_twice() {
        let mut a = node_exporter_hosts(2);
        let mut b = node_exporter_hosts(2);
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter_mut().zip(b.iter_mut()) {
            assert_eq!(x.labels, y.labels);
            let xs = x.take_samples(50);
            let ys = y.take_samples(50);
            assert!(
                xs.iter()
                    .zip(&ys)
                    .all(|(p, q)| p.0 == q.0 && p.1.to_bits() == q.1.to_bits())
            );
        }
    }

    #[test]
    fn series_of_a_host_share_timestamps_and_ids_are_unique() {
        let mut host = node_exporter_host(7, 4, DEFAULT_START_MS);
        assert!(host.len() > 150, "{}", host.len());
        let ts: Vec<i64> = host[0].take_samples(500).iter().map(|s| s.0).collect();
        for s in host.iter_mut().skip(1) {
            let other: Vec<i64> = s.take_samples(500).iter().map(|s| s.0).collect();
            assert_eq!(ts, other);
        }
        let jittered = ts
            .iter()
            .enumerate()
            .filter(|&(i, &t)| t != DEFAULT_START_MS + i as i64 * INTERVAL_MS)
            .count();
        assert!(jittered > 0 && jittered < 40, "{jittered}");
        let mut ids: Vec<_> = node_exporter_hosts(3)
            .iter()
            .map(|s| s.labels.series_id())
            .collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }

    #[test]
    fn counters_never_decrease_and_cpu_values_have_two_decimals() {
        for mut s in node_exporter_host(0, 2, DEFAULT_START_MS) {
            let xs = s.take_samples(300);
            if s.labels
                .metric_name()
                .is_some_and(|n| n.ends_with("_total"))
            {
                assert!(xs.windows(2).all(|w| w[1].1 >= w[0].1), "{}", s.labels);
            }
            if s.labels.metric_name() == Some("node_cpu_seconds_total") {
                for &(_, v) in &xs {
                    let n = (v * 100.0).round();
                    assert_eq!((n / 100.0).to_bits(), v.to_bits());
                }
            }
        }
    }
}
