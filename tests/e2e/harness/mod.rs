//! Typed starters for Strata and its peers, a remote_write/remote_read client, and `wait_until`.

pub mod api;
pub mod client;
pub mod peers;
pub mod prometheus;
pub mod process;

pub use client::{ReadSeries, Strata};
pub use process::{ChildProcess, free_port, wait_until};
