//! The result of a `strata bench write` run, as text for people and JSON for scripts.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::procstat::{DiskUsage, ProcSnapshot};

/// Everything a `strata bench write` run measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct WriteBenchReport {
    /// Whether `Display` renders the report as one line of JSON (`--json`) instead of text.
    #[serde(skip)]
    pub(crate) json_output: bool,
    /// The remote_write endpoint that was loaded.
    pub(crate) url: String,
    /// Distinct series sent.
    pub(crate) series: usize,
    /// Seconds of data per series.
    pub(crate) seconds: u64,
    /// Samples per request.
    pub(crate) batch_samples: usize,
    /// Requests in flight at once.
    pub(crate) concurrency: usize,
    /// Timestamp of the first sample, in milliseconds since the epoch.
    pub(crate) start_ms: i64,
    /// Samples the run meant to send (series × seconds, or fewer under `--max-requests`).
    pub(crate) samples_planned: u64,
    /// Samples in requests the receiver accepted (2xx).
    pub(crate) samples_sent: u64,
    /// Samples in requests given up on.
    pub(crate) samples_failed: u64,
    /// Requests accepted.
    pub(crate) requests_ok: u64,
    /// Requests given up on (final 4xx, retries exhausted, deadline).
    pub(crate) requests_failed: u64,
    /// Attempts repeated after a 5xx, 429 or connection error.
    pub(crate) retries: u64,
    /// Non-2xx answers by HTTP status, over all attempts.
    pub(crate) errors_by_status: BTreeMap<u16, u64>,
    /// Attempts with no HTTP answer.
    pub(crate) transport_errors: u64,
    /// The first error seen, for diagnosis.
    pub(crate) first_error: Option<String>,
    /// Compressed body bytes of accepted requests.
    pub(crate) body_bytes_sent: u64,
    /// Share of the requests encoded before the clock started (1.0: the generator cost nothing
    /// during the measurement).
    pub(crate) prebuilt_fraction: f64,
    /// Seconds spent encoding request bodies before the clock started.
    pub(crate) prebuild_secs: f64,
    /// Wall-clock seconds from the first request to the last answer.
    pub(crate) elapsed_secs: f64,
    /// Accepted samples per wall-clock second.
    pub(crate) samples_per_sec: f64,
    /// Whether the wall-clock deadline stopped the run early.
    pub(crate) deadline_hit: bool,
    /// CPU and memory of the receiver process, with `--pid`.
    pub(crate) server: Option<ServerCost>,
    /// Bytes on disk of the receiver's data directory, with `--data-dir`.
    pub(crate) disk: Option<DiskCost>,
}

/// CPU time and memory of the receiver process across the run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ServerCost {
    /// CPU seconds (user + system) the receiver spent from just before the first request until
    /// the end of the settle period.
    pub(crate) cpu_seconds: f64,
    /// [`Self::cpu_seconds`] per million accepted samples.
    pub(crate) cpu_seconds_per_million_samples: f64,
    /// Resident memory before the first request, in bytes.
    pub(crate) rss_before_bytes: u64,
    /// Resident memory after the load (and settle period), in bytes.
    pub(crate) rss_after_bytes: u64,
    /// Peak resident memory since the receiver started, in bytes.
    pub(crate) hwm_bytes: u64,
    /// [`Self::rss_after_bytes`] per active series.
    pub(crate) rss_bytes_per_series: f64,
    /// Growth of resident memory during the run, per active series.
    pub(crate) rss_delta_bytes_per_series: f64,
}

/// Bytes on disk of the receiver's data directory after the run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DiskCost {
    /// Allocated bytes, as `du -s -B1` reports.
    pub(crate) allocated_bytes: u64,
    /// Sum of file lengths.
    pub(crate) apparent_bytes: u64,
    /// [`Self::allocated_bytes`] per accepted sample.
    pub(crate) bytes_per_sample: f64,
}

impl ServerCost {
    /// Derives the per-sample and per-series figures from readings before and after the load.
    pub(crate) fn from_snapshots(
        before: &ProcSnapshot,
        after: &ProcSnapshot,
        samples: u64,
        series: usize,
    ) -> Self {
        let cpu_seconds = (after.cpu_seconds - before.cpu_seconds).max(0.0);
        let series = series.max(1) as f64;
        ServerCost {
            cpu_seconds,
            cpu_seconds_per_million_samples: per(cpu_seconds, samples as f64 / 1e6),
            rss_before_bytes: before.rss_bytes,
            rss_after_bytes: after.rss_bytes,
            hwm_bytes: after.hwm_bytes,
            rss_bytes_per_series: after.rss_bytes as f64 / series,
            rss_delta_bytes_per_series: (after.rss_bytes as f64 - before.rss_bytes as f64) / series,
        }
    }
}

impl DiskCost {
    /// Derives bytes per sample from a disk reading.
    pub(crate) fn from_usage(usage: DiskUsage, samples: u64) -> Self {
        DiskCost {
            allocated_bytes: usage.allocated_bytes,
            apparent_bytes: usage.apparent_bytes,
            bytes_per_sample: per(usage.allocated_bytes as f64, samples as f64),
        }
    }
}

/// Returns `x / d`, or 0 when `d` is 0.
fn per(x: f64, d: f64) -> f64 {
    if d > 0.0 { x / d } else { 0.0 }
}

impl WriteBenchReport {
    /// Returns the report as one line of JSON.
    pub(crate) fn to_json(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string(self)?)
    }

    /// Returns whether every planned sample was accepted.
    pub(crate) fn is_complete(&self) -> bool {
        self.samples_sent == self.samples_planned && self.requests_failed == 0
    }
}

impl fmt::Display for WriteBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.json_output {
            let json = self.to_json().map_err(|_| fmt::Error)?;
            return f.write_str(&json);
        }
        writeln!(f, "target            {}", self.url)?;
        writeln!(
            f,
            "data              {} series × {} s from {} ms, {} samples/request, concurrency {}",
            self.series, self.seconds, self.start_ms, self.batch_samples, self.concurrency
        )?;
        writeln!(
            f,
            "samples sent      {} of {} ({} failed){}",
            self.samples_sent,
            self.samples_planned,
            self.samples_failed,
            if self.deadline_hit {
                ", deadline reached"
            } else {
                ""
            }
        )?;
        if !self.is_complete() {
            writeln!(
                f,
                "result            INCOMPLETE: not every sample was accepted"
            )?;
        }
        writeln!(
            f,
            "throughput        {:.0} samples/s over {:.2} s ({:.1} body bytes/sample)",
            self.samples_per_sec,
            self.elapsed_secs,
            per(self.body_bytes_sent as f64, self.samples_sent as f64)
        )?;
        writeln!(
            f,
            "requests          {} ok, {} failed, {} retries, {} transport errors",
            self.requests_ok, self.requests_failed, self.retries, self.transport_errors
        )?;
        if !self.errors_by_status.is_empty() {
            let by: Vec<String> = self
                .errors_by_status
                .iter()
                .map(|(s, n)| format!("{s}×{n}"))
                .collect();
            writeln!(f, "errors by status  {}", by.join(", "))?;
        }
        if let Some(e) = &self.first_error {
            writeln!(f, "first error       {e}")?;
        }
        writeln!(
            f,
            "prebuilt          {:.0}% of requests encoded in {:.2} s before the clock started",
            self.prebuilt_fraction * 100.0,
            self.prebuild_secs
        )?;
        if let Some(s) = &self.server {
            writeln!(
                f,
                "server cpu        {:.2} s = {:.3} CPU-s per million samples",
                s.cpu_seconds, s.cpu_seconds_per_million_samples
            )?;
            writeln!(
                f,
                "server memory     RSS {} MiB ({:.0} B/series; {:.0} B/series growth), peak {} MiB",
                s.rss_after_bytes >> 20,
                s.rss_bytes_per_series,
                s.rss_delta_bytes_per_series,
                s.hwm_bytes >> 20
            )?;
        }
        if let Some(d) = &self.disk {
            writeln!(
                f,
                "disk              {} bytes allocated ({} apparent) = {:.3} bytes/sample",
                d.allocated_bytes, d.apparent_bytes, d.bytes_per_sample
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_per_sample_and_per_series_costs() {
        let before = ProcSnapshot {
            cpu_seconds: 1.0,
            rss_bytes: 100,
            hwm_bytes: 100,
        };
        let after = ProcSnapshot {
            cpu_seconds: 4.0,
            rss_bytes: 1100,
            hwm_bytes: 1200,
        };
        let c = ServerCost::from_snapshots(&before, &after, 2_000_000, 10);
        assert!((c.cpu_seconds_per_million_samples - 1.5).abs() < 1e-9);
        assert!((c.rss_bytes_per_series - 110.0).abs() < 1e-9);
        assert!((c.rss_delta_bytes_per_series - 100.0).abs() < 1e-9);
        let d = DiskCost::from_usage(
            DiskUsage {
                allocated_bytes: 3000,
                apparent_bytes: 2500,
            },
            2000,
        );
        assert!((d.bytes_per_sample - 1.5).abs() < 1e-9);
        assert_eq!(
            DiskCost::from_usage(DiskUsage::default(), 0).bytes_per_sample,
            0.0
        );
    }
}
