//! Splits the simulated data into per-worker request batches.
//!
//! The series are split into disjoint contiguous groups, one per worker. A worker walks its data in
//! time order: all of its series at step 0, then all at step 1, and so on, cut into batches of a
//! fixed number of samples. Because one worker sends its requests one after the other and owns its
//! series alone, every series reaches the receiver in timestamp order even with many requests in
//! flight (receivers such as Prometheus reject out-of-order samples).

use std::ops::Range;

/// The share of the data one worker sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkerPlan {
    /// Indices of the series this worker owns.
    pub(crate) series: Range<usize>,
    /// Number of 1-second steps of data per series.
    pub(crate) steps: u64,
    /// Samples per request (the last request may hold fewer).
    pub(crate) batch_samples: usize,
}

impl WorkerPlan {
    /// Splits `series` series into `workers` near-equal contiguous groups (sizes differ by at most
    /// one). `workers` must be between 1 and `series`.
    pub(crate) fn split(
        series: usize,
        steps: u64,
        batch_samples: usize,
        workers: usize,
    ) -> Vec<Self> {
        let workers = workers.clamp(1, series.max(1));
        (0..workers)
            .map(|w| WorkerPlan {
                series: (w * series / workers)..((w + 1) * series / workers),
                steps,
                batch_samples: batch_samples.max(1),
            })
            .collect()
    }

    /// Returns the number of samples this worker sends.
    pub(crate) fn total_samples(&self) -> u64 {
        self.series.len() as u64 * self.steps
    }

    /// Returns the number of requests this worker sends.
    pub(crate) fn total_batches(&self) -> u64 {
        self.total_samples().div_ceil(self.batch_samples as u64)
    }

    /// Returns the linear sample positions of each batch, in sending order.
    pub(crate) fn batches(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        let total = self.total_samples();
        let b = self.batch_samples as u64;
        (0..self.total_batches()).map(move |i| (i * b)..((i + 1) * b).min(total))
    }

    /// Returns the (series index, step) of linear position `pos` (time-major order).
    pub(crate) fn at(&self, pos: u64) -> (usize, u64) {
        let width = self.series.len().max(1) as u64;
        (self.series.start + (pos % width) as usize, pos / width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_series_into_disjoint_groups_covering_all() {
        let plans = WorkerPlan::split(10, 3, 4, 3);
        assert_eq!(plans.len(), 3);
        assert_eq!(plans[0].series, 0..3);
        assert_eq!(plans[1].series, 3..6);
        assert_eq!(plans[2].series, 6..10);
        let total: u64 = plans.iter().map(WorkerPlan::total_samples).sum();
        assert_eq!(total, 30);
    }

    #[test]
    fn batches_cover_every_sample_once_in_time_order_per_series() {
        let plan = WorkerPlan::split(7, 5, 3, 1).remove(0);
        let mut seen = Vec::new();
        for range in plan.batches() {
            assert!(range.end - range.start <= 3);
            seen.extend(range.map(|p| plan.at(p)));
        }
        assert_eq!(seen.len(), 35);
        assert_eq!(plan.total_batches(), 12);
        for s in 0..7 {
            let steps: Vec<u64> = seen
                .iter()
                .filter(|(x, _)| *x == s)
                .map(|(_, t)| *t)
                .collect();
            assert_eq!(steps, vec![0, 1, 2, 3, 4]);
        }
    }

    #[test]
    fn never_makes_more_workers_than_series() {
        assert_eq!(WorkerPlan::split(2, 1, 1, 5).len(), 2);
    }
}
