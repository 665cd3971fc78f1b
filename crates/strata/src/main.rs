//! The `strata` binary: parses the command line, installs logging, and starts the chosen role.

mod bench;
mod cli;
mod server;
mod telemetry;

use clap::Parser;

use crate::cli::{BenchCommand, Cli, Command};

/// mimalloc instead of glibc's malloc: the ingest and query paths allocate many short-lived
/// buffers from many threads, where glibc's per-thread arenas showed up as ~20% of a query
/// profile (docs/benchmarks-promql.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init_logging(&cli.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("strata")
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Server(args) => server::run(args).await,
            Command::Bench(BenchCommand::Write(args)) => {
                let report = bench::run_write_bench(args).await?;
                println!("{report}");
                Ok(())
            }
        }
    })
}
