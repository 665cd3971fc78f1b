//! Typed starters for Strata and its peers, a remote_write/remote_read client, and `wait_until`.

pub mod api;
pub mod client;
pub mod peers;
pub mod process;
pub mod prometheus;

pub use client::Strata;
pub use process::wait_until;
