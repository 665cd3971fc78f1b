//! `strata bench write`: an end-to-end load generator for any remote_write 1.0 receiver.
//!
//! It sends simulated node_exporter-like 1-second data (N series × T seconds, timestamps 1 s apart
//! from a fixed recent start) as fast as the receiver accepts it, with bounded concurrency, and
//! reports accepted samples per second and errors by HTTP status. Given the receiver's pid and data
//! directory it also reports the receiver's CPU-seconds per million samples, resident memory per
//! active series and bytes on disk per sample.
//!
//! Key design choice: request bodies are encoded ahead on producer threads, within a memory budget
//! (`--buffer-mib`); when the whole data fits, encoding finishes before the clock starts, so on a
//! small machine the generator does not compete with the receiver for CPU beyond sending HTTP.
//! Every series is owned by one worker that sends its requests in order, so samples of a series
//! arrive in timestamp order even with many requests in flight.

pub(crate) mod args;
pub(crate) mod payload;
pub(crate) mod plan;
pub(crate) mod procstat;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod sender;
pub(crate) mod source;

pub(crate) use args::WriteBenchArgs;
pub(crate) use run::run_write_bench;
