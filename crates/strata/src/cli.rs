//! Command-line interface: one subcommand per role, shared option groups flattened into each.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use strata_api::ByteSize;

/// Strata: a distributed, Prometheus-compatible time-series database.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about)]
pub(crate) struct Cli {
    /// Log format.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"], env = "STRATA_LOG_FORMAT")]
    pub(crate) log_format: String,
    /// What to run.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The roles and tools of the `strata` binary.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Runs every role (ingest, storage, query) in one process: a one-node cluster.
    Server(ServerArgs),
    /// Load generators and other benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Sends node_exporter-like 1-second data with remote_write and reports throughput and cost.
    Write(crate::bench::WriteBenchArgs),
}

/// Where to listen.
#[derive(Debug, Clone, Args)]
pub(crate) struct ListenArgs {
    /// Address for the HTTP API (remote_write, remote_read, Prometheus API, /metrics).
    #[arg(long, default_value = "0.0.0.0:9201", env = "STRATA_LISTEN")]
    pub(crate) listen: SocketAddr,
}

/// Where and how data is stored.
#[derive(Debug, Clone, Args)]
pub(crate) struct DataArgs {
    /// Directory holding the node's RocksDB (data, postings and Raft log).
    #[arg(long, default_value = "./data", env = "STRATA_DATA_DIR")]
    pub(crate) data_dir: PathBuf,
    /// How long samples are kept; whole time partitions older than this are dropped.
    #[arg(long, default_value = "15d", value_parser = humantime::parse_duration, env = "STRATA_RETENTION")]
    pub(crate) retention: Duration,
    /// How far behind the newest sample of a series an older sample is still accepted (0: none).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration, env = "STRATA_OUT_OF_ORDER_WINDOW")]
    pub(crate) out_of_order_window: Duration,
    /// How often each shard persists its head to RocksDB so the Raft log can be purged.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, env = "STRATA_FLUSH_INTERVAL")]
    pub(crate) flush_interval: Duration,
    /// A shard flushes before its interval once the Raft entries applied since its last flush
    /// reach this size (bounds memory, log and crash replay when a sender catches up), e.g. 64MiB.
    #[arg(long, default_value = "64MiB", value_parser = parse_size, env = "STRATA_FLUSH_LOG_BYTES")]
    pub(crate) flush_log_bytes: ByteSize,
}

/// Cluster shape.
#[derive(Debug, Clone, Args)]
pub(crate) struct ClusterArgs {
    /// Number of shards (Raft groups) series are hashed over; fixed when the data directory is
    /// created. Default: the number of CPU cores.
    #[arg(long, env = "STRATA_SHARDS")]
    pub(crate) shards: Option<u32>,
}

/// Request limits of the remote write and remote read endpoints.
#[derive(Debug, Clone, Args)]
pub(crate) struct LimitArgs {
    /// Largest accepted remote write body as sent (snappy-compressed), e.g. 32MiB.
    #[arg(long, default_value = "32MiB", value_parser = parse_size, env = "STRATA_MAX_WRITE_BYTES")]
    pub(crate) max_write_bytes: ByteSize,
    /// Largest remote write body after decompression (checked before allocating), e.g. 128MiB.
    #[arg(long, default_value = "128MiB", value_parser = parse_size, env = "STRATA_MAX_WRITE_DECOMPRESSED_BYTES")]
    pub(crate) max_write_decompressed_bytes: ByteSize,
    /// Most series accepted in one remote write request.
    #[arg(long, default_value_t = 500_000, env = "STRATA_MAX_SERIES_PER_WRITE")]
    pub(crate) max_series_per_write: u64,
    /// Most samples accepted in one remote write request.
    #[arg(
        long,
        default_value_t = 2_000_000,
        env = "STRATA_MAX_SAMPLES_PER_WRITE"
    )]
    pub(crate) max_samples_per_write: u64,
    /// Longest a PromQL query may run before it fails with a timeout (like `--query.timeout`).
    #[arg(long, default_value = "2m", value_parser = humantime::parse_duration, env = "STRATA_QUERY_TIMEOUT")]
    pub(crate) query_timeout: Duration,
    /// Most samples a PromQL query may hold in memory at once (like `--query.max-samples`).
    #[arg(long, default_value_t = 50_000_000, env = "STRATA_QUERY_MAX_SAMPLES")]
    pub(crate) query_max_samples: u64,
    /// How far back an instant selector looks for the latest sample (like `--query.lookback-delta`).
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration, env = "STRATA_QUERY_LOOKBACK_DELTA")]
    pub(crate) query_lookback_delta: Duration,
    /// Most PromQL queries evaluated at once; more wait (like `--query.max-concurrency`).
    #[arg(long, default_value_t = 20, env = "STRATA_QUERY_MAX_CONCURRENCY")]
    pub(crate) query_max_concurrency: u32,
    /// Whether `stats=all` query answers include per-step sample counts (like Prometheus'
    /// `--enable-feature=promql-per-step-stats`).
    #[arg(long, env = "STRATA_QUERY_PER_STEP_STATS")]
    pub(crate) query_per_step_stats: bool,
    /// Most samples one remote read query may return.
    #[arg(long, default_value_t = 50_000_000, env = "STRATA_MAX_READ_SAMPLES")]
    pub(crate) max_read_samples: u64,
}

/// `strata server` options.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServerArgs {
    #[command(flatten)]
    /// Listening address.
    pub(crate) listen: ListenArgs,
    #[command(flatten)]
    /// Storage options.
    pub(crate) data: DataArgs,
    #[command(flatten)]
    /// Cluster options.
    pub(crate) cluster: ClusterArgs,
    #[command(flatten)]
    /// Limits.
    pub(crate) limits: LimitArgs,
}

/// Parses a byte size such as `512`, `64KiB`, `32MiB` or `1GiB`.
pub(crate) fn parse_size(s: &str) -> Result<ByteSize, String> {
    s.parse::<ByteSize>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_sizes() {
        assert_eq!(parse_size("32MiB"), Ok(ByteSize(32 << 20)));
        assert_eq!(parse_size("512"), Ok(ByteSize(512)));
        assert!(parse_size("1XB").is_err());
    }

    #[test]
    fn server_defaults_are_documented_ones() {
        let cli = Cli::try_parse_from(["strata", "server"]).unwrap();
        let Command::Server(a) = cli.command else {
            panic!("not server")
        };
        assert_eq!(a.listen.listen.to_string(), "0.0.0.0:9201");
        assert_eq!(a.data.data_dir, PathBuf::from("./data"));
        assert_eq!(a.data.retention, Duration::from_secs(15 * 86400));
        assert_eq!(a.data.out_of_order_window, Duration::ZERO);
    }
}
