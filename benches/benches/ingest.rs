//! Ingest benchmark of the shard engine: applying `ShardBatch`es (the Raft entry payload) into
//! the head, the decode-free append path that every replica runs for every sample.
//!
//! Data: `HOSTS` synthetic node_exporter hosts (`strata_model::synth`, ≈ 165 series each),
//! 10 seconds of 1-s samples per series per batch. Batch building and the periodic flush run in
//! criterion's untimed setup, so the figure is the apply path alone, in samples/s.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use strata_model::synth::{self, SynthSeries};
use strata_model::{Sample, SeriesId, ShardBatch, ShardBatchBuilder, ShardId};
use strata_storage::{Db, Shard, StorageConfig};

/// Hosts generated (≈ 165 series each).
const HOSTS: usize = 10;
/// Seconds of samples per series in one batch.
const SECONDS_PER_BATCH: usize = 10;
/// Batches between two (untimed) flushes.
const FLUSH_EVERY: u64 = 6;

struct Source {
    series: Vec<SynthSeries>,
    canon: Vec<(SeriesId, Vec<u8>)>,
}

impl Source {
    fn new() -> Self {
        let series = synth::node_exporter_hosts(HOSTS);
        let canon = series
            .iter()
            .map(|s| (s.labels.series_id(), s.labels.to_canonical()))
            .collect();
        Source { series, canon }
    }

    fn next_batch(&mut self) -> ShardBatch {
        let mut b = ShardBatchBuilder::new();
        for (s, (id, c)) in self.series.iter_mut().zip(&self.canon) {
            let samples: Vec<Sample> = s
                .take_samples(SECONDS_PER_BATCH)
                .into_iter()
                .map(|(t, v)| Sample::new(t, v))
                .collect();
            b.push_series(*id, c, &samples);
        }
        b.finish()
    }
}

fn bench_apply(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = StorageConfig::default();
    let db: Arc<Db> = Db::open(dir.path(), &config).expect("open db");
    let shard = Shard::open(db, ShardId(0), config).expect("open shard");
    let mut source = Source::new();
    let samples_per_batch = (source.series.len() * SECONDS_PER_BATCH) as u64;
    let mut index = 0u64;
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(samples_per_batch));
    group.bench_function("apply_head", |b| {
        b.iter_batched(
            || {
                if index > 0 && index.is_multiple_of(FLUSH_EVERY) {
                    shard.flush().expect("flush");
                }
                index += 1;
                (index, source.next_batch())
            },
            |(i, batch)| black_box(shard.apply(i, &batch).expect("apply")),
            BatchSize::SmallInput,
        );
    });
    group.finish();
    let s = shard.stats();
    println!(
        "ingest: series={} samples_appended={} chunks_flushed={} head_memory/series={} B",
        s.head_series,
        s.samples_appended,
        s.chunks_flushed,
        s.head_memory_bytes / s.head_series.max(1)
    );
}

criterion_group!(benches, bench_apply);
criterion_main!(benches);
