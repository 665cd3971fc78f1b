//! Logging setup: the only place a tracing subscriber is installed.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs a `RUST_LOG`-style filtered subscriber (default `info`, openraft at `warn`) writing text or JSON to stderr.
/// Text is coloured only when stderr is a terminal (not in containers or log files).
pub(crate) fn init_logging(format: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,openraft=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
