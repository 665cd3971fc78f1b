//! The simulated series: node_exporter-like hosts from [`strata_model::synth`], cut to the asked
//! number of series, with each series' labels encoded once as protobuf label pairs.

use std::ops::Range;

use anyhow::bail;
use bytes::Bytes;
use strata_model::synth::{SynthSeries, node_exporter_host};
use strata_proto::Label;

/// CPUs per simulated host (≈ 160 series per host with 4).
const CPUS_PER_HOST: usize = 4;

/// Labels and generator state (at step 0) of every simulated series.
#[derive(Debug)]
pub(crate) struct SeriesSource {
    series: Vec<SynthSeries>,
    labels: Vec<Vec<Label>>,
}

impl SeriesSource {
    /// Builds the first `count` series of hosts 0, 1, … whose first sample is at `start_ms`.
    pub(crate) fn new(count: usize, start_ms: i64) -> anyhow::Result<Self> {
        let mut series = Vec::with_capacity(count);
        let mut host = 0usize;
        while series.len() < count {
            let generated = node_exporter_host(host, CPUS_PER_HOST, start_ms);
            if generated.is_empty() {
                bail!("the synthetic host generator produced no series");
            }
            let missing = count - series.len();
            series.extend(generated.into_iter().take(missing));
            host += 1;
        }
        let labels = series
            .iter()
            .map(|s| {
                s.labels
                    .iter()
                    .map(|l| {
                        Label::new(
                            Bytes::copy_from_slice(l.name.as_bytes()),
                            Bytes::copy_from_slice(l.value.as_bytes()),
                        )
                    })
                    .collect()
            })
            .collect();
        Ok(SeriesSource { series, labels })
    }

    /// Returns the protobuf labels of series `i` (cheap to clone: they share one buffer each).
    pub(crate) fn labels(&self, i: usize) -> &[Label] {
        self.labels.get(i).map_or(&[], Vec::as_slice)
    }

    /// Returns fresh generators (at step 0) for the series in `range`, to be walked in time order.
    pub(crate) fn generators(&self, range: Range<usize>) -> SampleGen {
        let start = range.start.min(self.series.len());
        let end = range.end.min(self.series.len());
        SampleGen {
            offset: start,
            series: self.series[start..end].to_vec(),
        }
    }
}

/// Stateful generators of a contiguous group of series.
#[derive(Debug)]
pub(crate) struct SampleGen {
    offset: usize,
    series: Vec<SynthSeries>,
}

impl SampleGen {
    /// Returns the next `(timestamp_ms, value)` of series `i` (a global index within the group's
    /// range). Each call advances that series by one second; `None` outside the range.
    pub(crate) fn next_sample(&mut self, i: usize) -> Option<(i64, f64)> {
        let s = self.series.get_mut(i.checked_sub(self.offset)?)?;
        Some(s.next_sample())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_hosts_to_the_asked_series_count_with_unique_labels() {
        let src = SeriesSource::new(500, 1_000_000).unwrap();
        assert_eq!(src.series.len(), 500);
        let mut seen = std::collections::HashSet::new();
        for i in 0..500 {
            let l = src.labels(i);
            assert!(l.iter().any(|x| x.name.as_ref() == b"__name__"));
            assert!(seen.insert(l.to_vec()), "duplicate labels at {i}");
        }
        assert!(src.labels(500).is_empty());
    }

    #[test]
    fn generators_restart_at_step_zero_and_advance_in_time() {
        let src = SeriesSource::new(200, 1_000_000).unwrap();
        let mut g = src.generators(100..200);
        assert!(g.next_sample(99).is_none());
        let (t0, _) = g.next_sample(150).unwrap();
        let (t1, _) = g.next_sample(150).unwrap();
        assert!((t0 - 1_000_000).abs() <= 5, "{t0}");
        assert!(t1 > t0);
        let mut again = src.generators(150..151);
        assert_eq!(again.next_sample(150).unwrap().0, t0);
    }
}
