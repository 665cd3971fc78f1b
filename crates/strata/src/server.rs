//! `strata server`: every role in one process over one node's shards.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use prometheus_client::registry::Registry;
use strata_api::{ApiLimits, ApiState, Metrics};
use strata_cluster::{Node, NodeConfig};
use tokio::net::TcpListener;
use tracing::info;

use crate::cli::ServerArgs;

/// Turns `strata server` flags into the node's configuration.
pub(crate) fn node_config(args: &ServerArgs) -> NodeConfig {
    let mut c = NodeConfig {
        data_dir: args.data.data_dir.clone(),
        advertise_addr: args.listen.listen.to_string(),
        ..NodeConfig::default()
    };
    if let Some(n) = args.cluster.shards {
        c.shard_count = n;
    }
    c.storage.retention = args.data.retention;
    c.storage.out_of_order_window = args.data.out_of_order_window;
    c.storage.flush_interval = args.data.flush_interval;
    c.storage.flush_log_bytes = args.data.flush_log_bytes.0;
    c
}

/// Turns `strata server` flags into the HTTP limits.
pub(crate) fn api_limits(args: &ServerArgs) -> ApiLimits {
    ApiLimits {
        max_write_compressed_bytes: args.limits.max_write_bytes,
        max_write_decompressed_bytes: args.limits.max_write_decompressed_bytes,
        max_series_per_write: args.limits.max_series_per_write,
        max_samples_per_write: args.limits.max_samples_per_write,
        max_read_samples_per_query: args.limits.max_read_samples,
        query_timeout: args.limits.query_timeout,
        max_query_samples: args.limits.query_max_samples,
        lookback_delta: args.limits.query_lookback_delta,
        max_concurrent_queries: args.limits.query_max_concurrency,
        per_step_stats: args.limits.query_per_step_stats,
        ..ApiLimits::default()
    }
}

/// Runs the server until SIGINT or SIGTERM, then shuts down cleanly (flushing every shard).
pub(crate) async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let config = node_config(&args);
    let limits = api_limits(&args);
    limits.validate().context("invalid limits")?;
    info!(data_dir = %config.data_dir.display(), shards = config.shard_count, "starting node");
    let node = Node::start(config).await.context("starting storage node")?;

    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    node.register_metrics(&mut registry);
    let ready_node = node.clone();
    let state = ApiState::new(
        Arc::new(node.clone()),
        Arc::new(node.clone()),
        Arc::new(move || ready_node.is_ready()),
        limits,
        metrics,
        Arc::new(registry),
    )
    .context("api state")?;
    let app = strata_api::router(state);

    let listener = TcpListener::bind(args.listen.listen)
        .await
        .with_context(|| format!("binding {}", args.listen.listen))?;
    info!(addr = %args.listen.listen, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("http server")?;
    info!("shutting down: flushing shards");
    tokio::time::timeout(Duration::from_secs(60), node.shutdown())
        .await
        .context("shutdown timed out")?
        .context("shutdown")?;
    info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    #[test]
    fn server_flags_become_node_config_and_limits() {
        let cli = Cli::try_parse_from([
            "strata",
            "server",
            "--data-dir",
            "/tmp/x",
            "--retention",
            "30d",
            "--shards",
            "3",
            "--max-write-decompressed-bytes",
            "1MiB",
            "--query-timeout",
            "30s",
        ])
        .unwrap();
        let Command::Server(a) = cli.command else {
            panic!("not server")
        };
        let c = node_config(&a);
        assert_eq!(c.shard_count, 3);
        assert_eq!(c.storage.retention, Duration::from_secs(30 * 86400));
        assert_eq!(c.data_dir, std::path::PathBuf::from("/tmp/x"));
        let l = api_limits(&a);
        assert_eq!(l.max_write_decompressed_bytes.0, 1 << 20);
        assert_eq!(l.query_timeout, Duration::from_secs(30));
        assert_eq!(l.lookback_delta, Duration::from_secs(300));
        assert!(l.validate().is_ok());
    }
}
