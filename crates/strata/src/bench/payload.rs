//! Encodes request bodies on producer threads, ahead of the senders, within a memory budget.
//!
//! Each worker has one producer thread that walks the worker's [`WorkerPlan`] and sends encoded
//! bodies down a channel. A shared [`ByteBudget`] bounds the bytes queued: when everything fits,
//! all bodies are encoded before the clock starts; otherwise producers keep encoding during the run.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::bail;
use bytes::Bytes;
use strata_proto::{Label, Sample, TimeSeries, WriteRequest};
use tokio::sync::{mpsc, oneshot};

use super::plan::WorkerPlan;
use super::source::SeriesSource;

/// How often a producer waiting for budget re-checks whether the run was stopped.
const BUDGET_POLL: Duration = Duration::from_millis(100);

/// One encoded remote_write body and the number of samples it carries.
#[derive(Debug)]
pub(crate) struct EncodedRequest {
    /// Snappy-compressed protobuf `WriteRequest`.
    pub(crate) body: Bytes,
    /// Samples in the request.
    pub(crate) samples: u64,
}

/// A bound on bytes held by queued request bodies, shared by producers (which wait) and senders
/// (which give bytes back once a body is sent).
#[derive(Debug)]
pub(crate) struct ByteBudget {
    used: Mutex<usize>,
    freed: Condvar,
    cap: usize,
}

impl ByteBudget {
    /// Returns a budget of `cap` bytes.
    pub(crate) fn new(cap: usize) -> Self {
        ByteBudget {
            used: Mutex::new(0),
            freed: Condvar::new(),
            cap,
        }
    }

    /// Takes `n` bytes, waiting while that would exceed the cap (a body larger than the whole cap is
    /// let through when nothing else is held). Calls `on_wait` once before the first wait. Returns
    /// false, without taking anything, once `stop` is set.
    pub(crate) fn acquire(&self, n: usize, stop: &AtomicBool, mut on_wait: impl FnMut()) -> bool {
        let mut used = match self.used.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut waited = false;
        while *used > 0 && *used + n > self.cap {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            if !waited {
                on_wait();
                waited = true;
            }
            used = match self.freed.wait_timeout(used, BUDGET_POLL) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        *used += n;
        true
    }

    /// Gives back `n` bytes taken by [`Self::acquire`].
    pub(crate) fn release(&self, n: usize) {
        let mut used = match self.used.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *used = used.saturating_sub(n);
        drop(used);
        self.freed.notify_all();
    }
}

/// What one producer thread needs.
#[derive(Debug)]
pub(crate) struct Producer {
    /// The worker's share of the data.
    pub(crate) plan: WorkerPlan,
    /// Labels and generators of every series.
    pub(crate) source: Arc<SeriesSource>,
    /// Bound on queued body bytes, shared by all producers.
    pub(crate) budget: Arc<ByteBudget>,
    /// Set when senders stop early; the producer then exits.
    pub(crate) stop: Arc<AtomicBool>,
    /// Counts bodies encoded by all producers.
    pub(crate) encoded: Arc<AtomicU64>,
    /// Where bodies go.
    pub(crate) tx: mpsc::UnboundedSender<EncodedRequest>,
    /// Fired once: when the producer first waits for budget, or when it is done.
    pub(crate) ready: oneshot::Sender<()>,
}

impl Producer {
    /// Encodes the worker's batches in order until done, stopped, or the receiver is gone.
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let Producer {
            plan,
            source,
            budget,
            stop,
            encoded,
            tx,
            ready,
        } = self;
        let mut ready = Some(ready);
        let mut fire = || {
            if let Some(r) = ready.take() {
                let _ = r.send(());
            }
        };
        let mut generators = source.generators(plan.series.clone());
        for range in plan.batches() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let mut timeseries = Vec::with_capacity((range.end - range.start) as usize);
            for pos in range.clone() {
                // Time-major order: each call advances `series` to the step `plan.at` names.
                let (series, _step) = plan.at(pos);
                let Some((timestamp, value)) = generators.next_sample(series) else {
                    bail!("series {series} is outside the generator's range");
                };
                timeseries.push(one_sample_series(source.labels(series), timestamp, value));
            }
            let req = WriteRequest {
                timeseries,
                metadata: Vec::new(),
            };
            let body = Bytes::from(req.to_snappy_body()?);
            if !budget.acquire(body.len(), &stop, &mut fire) {
                break;
            }
            let len = body.len();
            encoded.fetch_add(1, Ordering::Relaxed);
            let msg = EncodedRequest {
                body,
                samples: range.end - range.start,
            };
            if tx.send(msg).is_err() {
                budget.release(len);
                break;
            }
        }
        fire();
        Ok(())
    }
}

/// Returns a time series entry holding one sample, as Prometheus' remote_write queues send them.
fn one_sample_series(labels: &[Label], timestamp: i64, value: f64) -> TimeSeries {
    TimeSeries {
        labels: labels.to_vec(),
        samples: vec![Sample { value, timestamp }],
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_blocks_until_released_and_honours_stop() {
        let budget = Arc::new(ByteBudget::new(10));
        let stop = Arc::new(AtomicBool::new(false));
        assert!(budget.acquire(8, &stop, || {}));
        // Larger than the cap but nothing else held: let through.
        let big = ByteBudget::new(10);
        assert!(big.acquire(50, &stop, || {}));

        let (b2, s2) = (budget.clone(), stop.clone());
        let waiter = std::thread::spawn(move || {
            let mut waited = false;
            let ok = b2.acquire(5, &s2, || waited = true);
            (ok, waited)
        });
        budget.release(8);
        let (ok, _) = waiter.join().unwrap();
        assert!(ok);

        // Now 5 held; asking for 8 waits until stopped.
        let (b3, s3) = (budget.clone(), stop.clone());
        let waiter = std::thread::spawn(move || b3.acquire(8, &s3, || {}));
        stop.store(true, Ordering::Relaxed);
        assert!(!waiter.join().unwrap());
    }
}
