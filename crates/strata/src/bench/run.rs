//! Runs a write benchmark: encode ahead, send with bounded concurrency until the data, the request
//! limit or the deadline runs out, then measure the receiver.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::args::WriteBenchArgs;
use super::payload::{ByteBudget, EncodedRequest, Producer};
use super::plan::WorkerPlan;
use super::procstat::{ProcSnapshot, clock_ticks_per_sec, disk_usage, read_proc};
use super::report::{DiskCost, ServerCost, WriteBenchReport};
use super::sender::{SendStats, build_client, send_with_retries};
use super::source::SeriesSource;

/// How often progress is logged during the sending phase.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Counters shared by the sender tasks.
#[derive(Debug, Default)]
struct Progress {
    samples_sent: AtomicU64,
    samples_failed: AtomicU64,
    body_bytes_sent: AtomicU64,
    requests_claimed: AtomicU64,
    deadline_hit: AtomicBool,
}

/// Sets its flag when dropped.
#[derive(Debug)]
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Sends simulated node_exporter-like 1-second data to `args.url` and returns what it measured.
pub(crate) async fn run_write_bench(args: WriteBenchArgs) -> anyhow::Result<WriteBenchReport> {
    args.validate()?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let start_ms = args.resolve_start_ms(now_ms);
    let deadline = Instant::now() + Duration::from_secs(args.deadline_secs);
    let ticks = clock_ticks_per_sec();
    if let Some(pid) = args.pid {
        read_proc(pid, ticks).with_context(|| format!("cannot measure process {pid}"))?;
    }

    // Encode ahead.
    let prebuild_start = Instant::now();
    let source = Arc::new(
        tokio::task::spawn_blocking({
            let n = args.series;
            move || SeriesSource::new(n, start_ms)
        })
        .await??,
    );
    let plans = WorkerPlan::split(
        args.series,
        args.seconds,
        args.batch_samples,
        args.concurrency,
    );
    let total_requests: u64 = plans.iter().map(WorkerPlan::total_batches).sum();
    let budget = Arc::new(ByteBudget::new(args.buffer_mib.saturating_mul(1 << 20)));
    let stop = Arc::new(AtomicBool::new(false));
    // Whatever way this function returns, producers waiting for budget see `stop` and exit.
    let _stop_producers = StopOnDrop(stop.clone());
    let encoded = Arc::new(AtomicU64::new(0));
    let mut receivers = Vec::with_capacity(plans.len());
    let mut ready = Vec::with_capacity(plans.len());
    let mut producers = Vec::with_capacity(plans.len());
    for (w, plan) in plans.into_iter().enumerate() {
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let producer = Producer {
            plan,
            source: source.clone(),
            budget: budget.clone(),
            stop: stop.clone(),
            encoded: encoded.clone(),
            tx,
            ready: ready_tx,
        };
        let handle = std::thread::Builder::new()
            .name(format!("bench-encode-{w}"))
            .spawn(move || producer.run())
            .context("starting an encoder thread")?;
        producers.push(handle);
        receivers.push(rx);
        ready.push(ready_rx);
    }
    for r in ready {
        // An Err means the producer died early; its error surfaces when it is joined.
        let _ = tokio::time::timeout_at(deadline, r).await;
    }
    let prebuild_secs = prebuild_start.elapsed().as_secs_f64();
    let prebuilt_fraction = encoded.load(Ordering::Relaxed) as f64 / total_requests.max(1) as f64;
    tracing::info!(
        requests = total_requests,
        prebuilt = format!("{:.0}%", prebuilt_fraction * 100.0),
        secs = format!("{prebuild_secs:.2}"),
        "request bodies encoded; sending"
    );

    // Send.
    let before = match args.pid {
        Some(pid) => Some(read_proc(pid, ticks)?),
        None => None,
    };
    let client = build_client(
        Duration::from_millis(args.request_timeout_ms),
        args.concurrency,
    )?;
    let progress = Arc::new(Progress::default());
    let url: Arc<str> = Arc::from(args.url.as_str());
    let t0 = Instant::now();
    let mut senders = Vec::with_capacity(receivers.len());
    for rx in receivers {
        senders.push(tokio::spawn(send_worker(
            rx,
            client.clone(),
            url.clone(),
            budget.clone(),
            progress.clone(),
            args.max_requests,
            args.max_retries,
            deadline,
        )));
    }
    let reporter = tokio::spawn(report_progress(progress.clone(), t0));
    let mut stats = SendStats::default();
    for s in senders {
        stats.merge(&s.await?);
    }
    let elapsed_secs = t0.elapsed().as_secs_f64();
    reporter.abort();
    stop.store(true, Ordering::Relaxed);
    for p in producers {
        let joined = tokio::task::spawn_blocking(move || p.join()).await?;
        match joined {
            Ok(r) => r?,
            Err(_) => bail!("an encoder thread panicked"),
        }
    }

    // Measure the receiver.
    if let Some(flush) = &args.flush_url {
        flush_receiver(&client, flush).await?;
    }
    if args.settle_secs > 0 {
        tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    }
    let samples_sent = progress.samples_sent.load(Ordering::Relaxed);
    let samples_failed = progress.samples_failed.load(Ordering::Relaxed);
    let server = match (args.pid, before) {
        (Some(pid), Some(before)) => {
            let after: ProcSnapshot = read_proc(pid, ticks)?;
            Some(ServerCost::from_snapshots(
                &before,
                &after,
                samples_sent,
                args.series,
            ))
        }
        _ => None,
    };
    let disk = match &args.data_dir {
        Some(dir) => {
            let dir = dir.clone();
            let usage = tokio::task::spawn_blocking(move || disk_usage(&dir)).await??;
            Some(DiskCost::from_usage(usage, samples_sent))
        }
        None => None,
    };
    let samples_planned = match args.max_requests {
        Some(_) => samples_sent + samples_failed,
        None => args.total_samples(),
    };
    Ok(WriteBenchReport {
        json_output: args.json,
        url: args.url.clone(),
        series: args.series,
        seconds: args.seconds,
        batch_samples: args.batch_samples,
        concurrency: args.concurrency,
        start_ms,
        samples_planned,
        samples_sent,
        samples_failed,
        requests_ok: stats.requests_ok,
        requests_failed: stats.requests_failed,
        retries: stats.retries,
        errors_by_status: stats.errors_by_status,
        transport_errors: stats.transport_errors,
        first_error: stats.first_error,
        body_bytes_sent: progress.body_bytes_sent.load(Ordering::Relaxed),
        prebuilt_fraction,
        prebuild_secs,
        elapsed_secs,
        samples_per_sec: if elapsed_secs > 0.0 {
            samples_sent as f64 / elapsed_secs
        } else {
            0.0
        },
        deadline_hit: progress.deadline_hit.load(Ordering::Relaxed),
        server,
        disk,
    })
}

/// Sends one worker's bodies in order, one at a time, until they run out, the global request
/// limit is reached, or the deadline passes.
#[allow(clippy::too_many_arguments)]
async fn send_worker(
    mut rx: mpsc::UnboundedReceiver<EncodedRequest>,
    client: reqwest::Client,
    url: Arc<str>,
    budget: Arc<ByteBudget>,
    progress: Arc<Progress>,
    max_requests: Option<u64>,
    max_retries: u32,
    deadline: Instant,
) -> SendStats {
    let mut stats = SendStats::default();
    loop {
        let next = tokio::select! {
            m = rx.recv() => m,
            () = tokio::time::sleep_until(deadline) => {
                progress.deadline_hit.store(true, Ordering::Relaxed);
                None
            }
        };
        let Some(req) = next else { break };
        let len = req.body.len();
        if let Some(max) = max_requests
            && progress.requests_claimed.fetch_add(1, Ordering::Relaxed) >= max
        {
            budget.release(len);
            break;
        }
        let ok =
            send_with_retries(&client, &url, req.body, max_retries, deadline, &mut stats).await;
        budget.release(len);
        if ok {
            progress
                .samples_sent
                .fetch_add(req.samples, Ordering::Relaxed);
            progress
                .body_bytes_sent
                .fetch_add(len as u64, Ordering::Relaxed);
        } else {
            progress
                .samples_failed
                .fetch_add(req.samples, Ordering::Relaxed);
        }
        if Instant::now() >= deadline {
            progress.deadline_hit.store(true, Ordering::Relaxed);
            break;
        }
    }
    // Dropping `rx` makes this worker's producer stop.
    stats
}

/// Logs the accepted samples and the rate every [`PROGRESS_EVERY`] until aborted.
async fn report_progress(progress: Arc<Progress>, t0: Instant) {
    let mut tick = tokio::time::interval_at(t0 + PROGRESS_EVERY, PROGRESS_EVERY);
    loop {
        tick.tick().await;
        let sent = progress.samples_sent.load(Ordering::Relaxed);
        let secs = t0.elapsed().as_secs_f64();
        tracing::info!(
            samples = sent,
            rate = format!("{:.0}/s", sent as f64 / secs.max(1e-9)),
            "sending"
        );
    }
}

/// Asks the receiver to flush what it buffers in memory (e.g. VictoriaMetrics' `/internal/force_flush`).
async fn flush_receiver(client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let resp = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("flush request to {url}"))?;
    if !resp.status().is_success() {
        bail!("flush request to {url} answered {}", resp.status());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
