//! Bytes per sample on disk and head memory per series, on node_exporter-like synthetic data.

use strata_model::synth;

use super::*;

/// Ingests `hosts` synthetic node_exporter hosts for `seconds` seconds in 15-s entries, flushing
/// every minute; returns (samples, series).
pub(crate) fn ingest_synth(shard: &Shard, hosts: usize, seconds: usize) -> (u64, u64) {
    let mut series = synth::node_exporter_hosts(hosts);
    let canon: Vec<(SeriesId, Vec<u8>)> = series
        .iter()
        .map(|s| (s.labels.series_id(), s.labels.to_canonical()))
        .collect();
    let mut samples = 0u64;
    let mut index = 0u64;
    for sec in (0..seconds).step_by(15) {
        let mut b = ShardBatchBuilder::new();
        for (s, (id, c)) in series.iter_mut().zip(&canon) {
            let ss: Vec<Sample> = s
                .take_samples(15)
                .into_iter()
                .map(|(t, v)| Sample::new(t, v))
                .collect();
            samples += ss.len() as u64;
            b.push_series(*id, c, &ss);
        }
        index += 1;
        let out = shard.apply(index, &b.finish()).unwrap();
        assert_eq!(out.rejected, 0);
        if (sec + 15) % 60 == 0 {
            shard.flush().unwrap();
        }
    }
    shard.flush().unwrap();
    (samples, canon.len() as u64)
}

/// Measures on-disk bytes per sample of closed chunks after compaction. Run with
/// `cargo test -p strata-storage --release -- --ignored --nocapture bytes_per_sample`.
#[test]
#[ignore = "measurement: takes a while in debug builds"]
fn bytes_per_sample_of_node_exporter_data() {
    for chunk_max_samples in [600, 900, 1800] {
        let config = StorageConfig {
            chunk_max_samples,
            ..StorageConfig::default()
        };
        let f = Fixture::new(config);
        // End half-way through a chunk, so the head memory figure is a typical one.
        let seconds = 4 * 3_600 + chunk_max_samples as usize / 2;
        let (samples, series) = ingest_synth(&f.shard, 10, seconds);
        println!("chunk-max-samples={chunk_max_samples}");
        report(&f, samples, series);
    }
}

/// A short version of the measurement that always runs: checks the figure stays low.
#[test]
fn flushed_chunks_are_compact() {
    let f = Fixture::new(StorageConfig {
        chunk_max_samples: 600,
        ..StorageConfig::default()
    });
    let (samples, series) = ingest_synth(&f.shard, 1, 1_800);
    let s = f.shard.stats();
    assert!(s.samples_flushed > samples / 2, "{s:?}");
    let bps = s.chunk_bytes_flushed as f64 / s.samples_flushed as f64;
    assert!(bps < 1.5, "chunk bytes per sample {bps:.3}");
    report(&f, samples, series);
}

fn report(f: &Fixture, samples: u64, series: u64) {
    // A flush with nothing new, as a stopped node's last one: idle series get their segments
    // replaced by one compacted record.
    f.shard.flush().unwrap();
    f.db.flush_memtables().unwrap();
    f.db.compact_all().unwrap();
    let s = f.shard.stats();
    let sizes = f.db.property_sizes().unwrap();
    let sst = |name: &str| {
        sizes
            .iter()
            .find(|c| c.name == name)
            .map_or(0, |c| c.total_sst_bytes)
    };
    let chunks = sst(crate::db::CF_CHUNKS);
    let all: u64 = sizes.iter().map(|c| c.total_sst_bytes).sum();
    println!(
        "series={series} samples={samples} flushed={} chunk_value_bytes/sample={:.3} \
         chunks_sst/sample={:.3} all_sst/sample={:.3} (incl. head segments {} B, postings {} B, series {} B) \
         head_memory/series={} B",
        s.samples_flushed,
        s.chunk_bytes_flushed as f64 / s.samples_flushed.max(1) as f64,
        chunks as f64 / s.samples_flushed.max(1) as f64,
        all as f64 / samples.max(1) as f64,
        sst(crate::db::CF_HEAD),
        sst(crate::db::CF_POSTINGS),
        sst(crate::db::CF_SERIES),
        s.head_memory_bytes / s.head_series.max(1),
    );
}
