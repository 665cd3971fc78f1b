//! Command-line flags of `strata bench write`.

use std::path::PathBuf;

use anyhow::bail;

/// Upper bound on `--concurrency`: each worker owns a producer thread and a connection.
pub(crate) const MAX_CONCURRENCY: usize = 256;

/// Upper bound on `--batch-samples`, so one request body stays well under receivers' size limits.
pub(crate) const MAX_BATCH_SAMPLES: usize = 1_000_000;

/// Flags of `strata bench write`: sends simulated node_exporter-like 1-second data to a
/// remote_write 1.0 receiver as fast as it accepts it, and reports throughput and (optionally) the
/// receiver's CPU, memory and disk cost.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WriteBenchArgs {
    /// remote_write 1.0 endpoint of the receiver.
    #[arg(
        long,
        env = "STRATA_BENCH_URL",
        default_value = "http://127.0.0.1:9201/api/v1/write"
    )]
    pub(crate) url: String,

    /// Number of distinct series (active series on the receiver).
    #[arg(long, env = "STRATA_BENCH_SERIES", default_value_t = 10_000)]
    pub(crate) series: usize,

    /// Seconds of simulated data per series, one sample per second (total samples = series × seconds).
    #[arg(long, env = "STRATA_BENCH_SECONDS", default_value_t = 600)]
    pub(crate) seconds: u64,

    /// Samples per remote_write request (one sample per time series entry, as Prometheus sends).
    #[arg(long, env = "STRATA_BENCH_BATCH_SAMPLES", default_value_t = 2000)]
    pub(crate) batch_samples: usize,

    /// Requests in flight at once; the series are split into this many disjoint groups, each sent in
    /// time order by one worker, so no series ever receives samples out of order.
    #[arg(long, env = "STRATA_BENCH_CONCURRENCY", default_value_t = 4)]
    pub(crate) concurrency: usize,

    /// Timestamp of the first sample, in milliseconds since the epoch [default: now − seconds,
    /// rounded down to the minute, so the data ends about now and no retention drops it].
    #[arg(long, env = "STRATA_BENCH_START_MS")]
    pub(crate) start_ms: Option<i64>,

    /// Stops after this many requests (all workers together) [default: no limit but the data].
    #[arg(long, env = "STRATA_BENCH_MAX_REQUESTS")]
    pub(crate) max_requests: Option<u64>,

    /// Wall-clock limit of the sending phase, in seconds; the run stops there and reports what was
    /// sent.
    #[arg(long, env = "STRATA_BENCH_DEADLINE_SECS", default_value_t = 900)]
    pub(crate) deadline_secs: u64,

    /// Retries of one request after a 5xx, 429 or connection error (exponential backoff from
    /// 50 ms to 2 s); other 4xx answers are never retried.
    #[arg(long, env = "STRATA_BENCH_MAX_RETRIES", default_value_t = 8)]
    pub(crate) max_retries: u32,

    /// Timeout of one HTTP request, in milliseconds.
    #[arg(
        long,
        env = "STRATA_BENCH_REQUEST_TIMEOUT_MS",
        default_value_t = 30_000
    )]
    pub(crate) request_timeout_ms: u64,

    /// Memory for request bodies encoded ahead of sending, in MiB. When all the data fits, it is
    /// encoded before the clock starts, so encoding costs no CPU during the measurement.
    #[arg(long, env = "STRATA_BENCH_BUFFER_MIB", default_value_t = 1024)]
    pub(crate) buffer_mib: usize,

    /// Process id of the receiver, to measure its CPU time and memory before and after the load.
    #[arg(long, env = "STRATA_BENCH_PID")]
    pub(crate) pid: Option<u32>,

    /// Data directory of the receiver, to measure its bytes on disk after the load.
    #[arg(long, env = "STRATA_BENCH_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,

    /// URL requested (GET) after the load to make the receiver flush, e.g. VictoriaMetrics'
    /// `http://127.0.0.1:8428/internal/force_flush`.
    #[arg(long, env = "STRATA_BENCH_FLUSH_URL")]
    pub(crate) flush_url: Option<String>,

    /// Seconds to wait after the load (and flush) before measuring CPU, memory and disk, so that
    /// background work caused by the load is counted.
    #[arg(long, env = "STRATA_BENCH_SETTLE_SECS", default_value_t = 0)]
    pub(crate) settle_secs: u64,

    /// Prints the report as one JSON object instead of text.
    #[arg(long, env = "STRATA_BENCH_JSON")]
    pub(crate) json: bool,
}

impl WriteBenchArgs {
    /// Checks the flags for values the run cannot honour.
    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            bail!("--url must be an http:// URL, got {:?}", self.url);
        }
        if self.series == 0 || self.seconds == 0 {
            bail!("--series and --seconds must be positive");
        }
        if self.batch_samples == 0 || self.batch_samples > MAX_BATCH_SAMPLES {
            bail!("--batch-samples must be in 1..={MAX_BATCH_SAMPLES}");
        }
        if self.concurrency == 0 || self.concurrency > MAX_CONCURRENCY {
            bail!("--concurrency must be in 1..={MAX_CONCURRENCY}");
        }
        if self.concurrency > self.series {
            bail!("--concurrency must not exceed --series (each worker owns whole series)");
        }
        if self.series as u128 * self.seconds as u128 > u64::MAX as u128 {
            bail!("--series × --seconds overflows");
        }
        if self.deadline_secs == 0 || self.request_timeout_ms == 0 {
            bail!("--deadline-secs and --request-timeout-ms must be positive");
        }
        if self.buffer_mib == 0 {
            bail!("--buffer-mib must be positive");
        }
        Ok(())
    }

    /// Returns the first sample's timestamp: `--start-ms`, or now − seconds rounded down to the minute.
    pub(crate) fn resolve_start_ms(&self, now_ms: i64) -> i64 {
        self.start_ms.unwrap_or_else(|| {
            let start = now_ms.saturating_sub(self.seconds.saturating_mul(1000) as i64);
            start - start.rem_euclid(60_000)
        })
    }

    /// Returns the total number of samples the run would send without `--max-requests`.
    pub(crate) fn total_samples(&self) -> u64 {
        self.series as u64 * self.seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: WriteBenchArgs,
    }

    fn parse(extra: &[&str]) -> WriteBenchArgs {
        let mut argv = vec!["bench"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn defaults_are_valid_and_describe_six_million_samples() {
        let a = parse(&[]);
        a.validate().unwrap();
        assert_eq!(a.total_samples(), 6_000_000);
        assert_eq!(a.batch_samples, 2000);
    }

    #[test]
    fn start_defaults_to_a_minute_boundary_before_now() {
        let a = parse(&["--seconds", "600"]);
        let now = 1_764_000_123_456;
        let start = a.resolve_start_ms(now);
        assert_eq!(start % 60_000, 0);
        assert!(start <= now - 600_000 && start > now - 660_000);
        assert_eq!(parse(&["--start-ms", "5"]).resolve_start_ms(now), 5);
    }

    #[test]
    fn rejects_flags_that_cannot_be_honoured() {
        assert!(parse(&["--series", "0"]).validate().is_err());
        assert!(
            parse(&["--series", "2", "--concurrency", "3"])
                .validate()
                .is_err()
        );
        assert!(parse(&["--batch-samples", "0"]).validate().is_err());
        assert!(parse(&["--url", "ftp://x"]).validate().is_err());
        assert!(parse(&["--deadline-secs", "0"]).validate().is_err());
    }
}
