//! End-to-end tests: the real `strata` binary as a process on loopback, driven over HTTP and by
//! real Prometheus, node_exporter and promtool processes (fetched by `scripts/fetch-peers`).

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::type_complexity
)]

mod harness;

mod bad_input;
mod crash;
mod differential;
mod grafana;
mod prometheus_roundtrip;
mod promtool;
